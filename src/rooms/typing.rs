//! Each parameter typed as Rocket.Chat 8's validator types it (`isGETLivechatRoomsParams`, ajv
//! with `coerceTypes: "array"`), before anything looks at what the text means; and [`ParamError`],
//! every 400 a parameter can get. `scripts/js-check` compares [`TypedParams`] with the published
//! validator.

use super::params::{Kind, Param, QsValue, RawRoomsParams};
use crate::js;

/// MongoDB refuses a sort of more keys than this (the `_id` tie-breaker counts).
pub const MAX_SORT_KEYS: usize = 32;
/// MongoDB refuses a regular expression longer than this many bytes (its
/// `RegexMatchExpression::kMaxPatternSize`: "Regular expression is too long").
pub const MAX_REGEX_BYTES: usize = 32_764;
/// `customFields` keys beyond this are refused: each is one regular-expression clause.
pub const MAX_CUSTOM_FIELDS: usize = 100;
/// The most ids a cursor holds of rooms that share the last sort values: a cursor rides in the
/// URL, which the service bounds at 32 KiB.
pub const MAX_SEEN: usize = 500;

/// A parameter the client got wrong. Its `Display` is the `error` text of the 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("The \"{0}\" query parameter must be an array of strings")]
    NotStringArray(&'static str),
    #[error("The \"{0}\" query parameter must be a string or an array of strings")]
    NotStringOrArray(&'static str),
    #[error("The \"{0}\" query parameter must be a string")]
    NotString(&'static str),
    #[error("The \"{0}\" query parameter must be a valid JSON object")]
    NotJsonObject(&'static str),
    #[error("The \"{0}.{1}\" query parameter must be a valid date.")]
    InvalidDate(&'static str, &'static str),
    #[error("The \"customFields\" query parameter must be a valid JSON.")]
    InvalidCustomFields,
    #[error("The \"{0}\" query parameter must be a non-negative integer")]
    NotNonNegativeInteger(&'static str),
    /// Longer than MongoDB takes as a regular expression once escaped ([`MAX_REGEX_BYTES`]).
    #[error("The \"{0}\" query parameter is too long")]
    TooLong(&'static str),
    #[error("The \"customFields\" query parameter may have at most {MAX_CUSTOM_FIELDS} keys")]
    TooManyCustomFields,
    #[error("The \"{0}\" query parameter must be a valid date.")]
    InvalidDateParam(&'static str),
    /// Altered, of another version, or made for another user, filter or sort.
    #[error("The \"cursor\" query parameter is not a cursor of this listing (altered, or made for another user, filter or sort)")]
    InvalidCursor,
    #[error("The \"cursor\" query parameter cannot be combined with \"offset\"")]
    CursorWithOffset,
    #[error(
        "The \"cursor\" query parameter needs the JSON response, which carries the next cursor"
    )]
    CursorNeedsJson,
    /// A live stream's `Last-Event-ID` that is not an id of this stream.
    #[error("The \"Last-Event-ID\" header (or \"lastEventId\" parameter) is not an event id of this stream (altered, or sent to another user or filter)")]
    InvalidLastEventId,
    #[error("The \"sort\" query parameter cannot be combined with \"updatedSince\" and \"cursor\": that walk goes in _updatedAt order")]
    SortWithUpdatedSinceWalk,
    #[error("The \"fields\" query parameter must keep _id and the sort keys with \"cursor\"")]
    CursorNeedsSortKeys,
    /// More rooms share the last sort values than a cursor can hold ([`MAX_SEEN`]).
    #[error("The \"cursor\" walk met more than {MAX_SEEN} rooms with the same sort values; sort by a key with fewer ties")]
    TooManyTies,
    /// `sort` or `fields`: these keep Rocket.Chat's `parseJsonQuery` body, see [`JsonQueryParam`].
    #[error("Invalid {} parameter provided: \"{raw}\" [{}]", .param.name(), .param.error_type())]
    InvalidJsonQuery { param: JsonQueryParam, raw: String },
}

/// The two parameters Rocket.Chat reads with `parseJsonQuery`, whose errors have their own shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonQueryParam {
    Sort,
    Fields,
}

impl JsonQueryParam {
    pub fn name(self) -> &'static str {
        match self {
            JsonQueryParam::Sort => "sort",
            JsonQueryParam::Fields => "fields",
        }
    }

    /// The `errorType` of the 400 body.
    pub fn error_type(self) -> &'static str {
        match self {
            JsonQueryParam::Sort => "error-invalid-sort",
            JsonQueryParam::Fields => "error-invalid-fields",
        }
    }
}

/// A parameter's value typed as Rocket.Chat 8's validator types it (ajv, `coerceTypes: "array"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    Text(String),
    List(Vec<String>),
    /// `count`/`offset`: `parseInt` of the number, checked non-negative and safe.
    Number(u64),
}

/// Every parameter given, typed; the first step of validation and what `scripts/js-check` compares
/// with the published validator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedParams(Vec<(Param, Typed)>);

impl TypedParams {
    /// Types each parameter in [`Param::ALL`] order; the first type error is the answer.
    pub fn coerce(mut raw: RawRoomsParams) -> Result<Self, ParamError> {
        let mut typed = Vec::new();
        for param in Param::ALL {
            if let Some(value) = raw.take(param) {
                if let Some(value) = coerce(param, value)? {
                    typed.push((param, value));
                }
            }
        }
        Ok(TypedParams(typed))
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Param, Typed)> {
        self.0.iter()
    }

    pub(super) fn take(&mut self, param: Param) -> Option<Typed> {
        let i = self.0.iter().position(|(p, _)| *p == param)?;
        Some(self.0.swap_remove(i).1)
    }

    pub(super) fn text(&mut self, param: Param) -> Option<String> {
        match self.take(param)? {
            Typed::Text(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn list(&mut self, param: Param) -> Option<Vec<String>> {
        match self.take(param)? {
            Typed::List(items) => Some(items),
            _ => None,
        }
    }

    pub(super) fn number(&mut self, param: Param) -> Option<u64> {
        match self.take(param)? {
            Typed::Number(n) => Some(n),
            _ => None,
        }
    }
}

/// One parameter's type, as the validator coerces it: a plain value given for a list is a list of
/// one; numeric text as `Number()` reads it (or a one-element array of it); a string given as an
/// array or object is refused (deliberately: ajv would take `open[]=true` as `true`). `None`: the
/// validator reads it as `null` (no value).
fn coerce(param: Param, value: QsValue) -> Result<Option<Typed>, ParamError> {
    let name = param.name();
    match (param.kind(), value) {
        (Kind::List, QsValue::Str(s)) => Ok(Some(Typed::List(vec![s]))),
        (Kind::List | Kind::TextOrList, QsValue::Array(items)) => Ok(Some(Typed::List(items))),
        (Kind::List, _) => Err(ParamError::NotStringArray(name)),
        (Kind::TextOrList | Kind::Text, QsValue::Str(s)) => Ok(Some(Typed::Text(s))),
        (Kind::TextOrList, _) => Err(ParamError::NotStringOrArray(name)),
        (Kind::Text, _) => Err(ParamError::NotString(name)),
        (Kind::Number, QsValue::Str(s)) => number(name, &s),
        (Kind::Number, QsValue::Array(items)) if items.len() == 1 => number(name, &items[0]),
        (Kind::Number, _) => Err(ParamError::NotNonNegativeInteger(name)),
    }
}

/// Numeric text: empty is no value; otherwise `Number(text)`, which must be a finite, non-negative,
/// safe number (deliberately stricter than Rocket.Chat), truncated as `parseInt` does.
fn number(name: &'static str, text: &str) -> Result<Option<Typed>, ParamError> {
    if text.is_empty() {
        return Ok(None);
    }
    match js::string_to_number(text) {
        // `-0` is not negative.
        Some(n) if (0.0..=js::MAX_SAFE_INTEGER).contains(&n) => {
            Ok(Some(Typed::Number(js::parse_int_of(n))))
        }
        _ => Err(ParamError::NotNonNegativeInteger(name)),
    }
}

#[cfg(test)]
mod tests {
    use crate::rooms::query::testing::{err, parse};
    use crate::rooms::query::RoomsQuery;

    #[test]
    fn a_plain_value_for_a_list_is_a_list_of_one() {
        let q = parse("agents=ag1&tags=vip&units=u1").unwrap();
        assert_eq!(q.agents, Some(vec!["ag1".into()]));
        assert_eq!(q.tags, Some(vec!["vip".into()]));
        assert_eq!(q.units, Some(vec!["u1".into()]));
        assert_eq!(parse("agents=").unwrap().agents, Some(vec![String::new()]));
    }

    #[test]
    fn agents_as_an_object_is_rejected() {
        assert_eq!(
            err("agents[a]=x"),
            r#"The "agents" query parameter must be an array of strings"#
        );
    }

    #[test]
    fn agents_as_an_array_is_accepted() {
        assert_eq!(
            parse("agents[]=a&agents[]=b").unwrap().agents,
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn department_id_as_an_object_is_rejected() {
        assert_eq!(
            err("departmentId[test]=true"),
            r#"The "departmentId" query parameter must be a string or an array of strings"#
        );
    }

    #[test]
    fn string_parameters_given_as_arrays_or_objects_are_rejected() {
        for (query, name) in [
            ("open[]=true", "open"),
            ("roomName[]=x", "roomName"),
            ("sort[]=%7B%7D", "sort"),
            ("fields[]=%7B%7D", "fields"),
            ("createdAt[]=x", "createdAt"),
            ("closedAt[x]=y", "closedAt"),
            ("customFields[]=x", "customFields"),
            ("onhold[]=t", "onhold"),
            ("queued[]=1", "queued"),
            ("createdAt[start]=2020-01-01", "createdAt"),
        ] {
            assert_eq!(
                err(query),
                format!(r#"The "{name}" query parameter must be a string"#),
                "{query}"
            );
        }
    }

    #[test]
    fn tags_and_units_as_objects_are_rejected() {
        assert_eq!(
            err("tags[a]=invalid"),
            r#"The "tags" query parameter must be an array of strings"#
        );
        assert_eq!(
            err("units[a]=invalid"),
            r#"The "units" query parameter must be an array of strings"#
        );
    }

    #[test]
    fn offset_and_count_must_be_non_negative_safe_numbers() {
        for v in [
            "-1",
            "-0.5",
            "abc",
            "Infinity",
            "1e400",
            "9007199254740992",
            "1_0",
            "-0x4",
            "0x",
        ] {
            assert_eq!(
                err(&format!("offset={v}")),
                r#"The "offset" query parameter must be a non-negative integer"#,
                "{v}"
            );
            assert_eq!(
                err(&format!("count={v}")),
                r#"The "count" query parameter must be a non-negative integer"#
            );
        }
        for q in ["count[]=1&count[]=2", "count[a]=1"] {
            assert_eq!(
                err(q),
                r#"The "count" query parameter must be a non-negative integer"#
            );
        }
    }

    #[test]
    fn offset_and_count_are_read_as_javascripts_number_then_truncated() {
        let q = parse("offset=5&count=0").unwrap();
        assert_eq!((q.offset, q.count), (5, Some(0)));
        for (text, n) in [
            ("1e1", 10),
            ("0x4", 4),
            ("%206", 6),
            ("1.5", 1),
            ("%2B5", 5),
            ("-0", 0),
            ("0.0000001", 1),
            ("%20%20", 0),
            ("9007199254740991", 9_007_199_254_740_991),
        ] {
            assert_eq!(
                parse(&format!("count={text}")).unwrap().count,
                Some(n),
                "{text}"
            );
        }
        assert_eq!(parse("count[]=5").unwrap().count, Some(5));
        assert_eq!(parse("count=").unwrap().count, None);
        assert_eq!(parse("count[]=").unwrap().count, None);
    }

    #[test]
    fn the_first_error_follows_the_fixed_order() {
        assert_eq!(
            err("customFields=x&agents[a]=y&count=-1"),
            r#"The "agents" query parameter must be an array of strings"#
        );
        // Types first: a type error wins over an earlier parameter's bad JSON.
        assert_eq!(
            err("sort=x&onhold[]=t"),
            r#"The "onhold" query parameter must be a string"#
        );
        assert_eq!(
            err("customFields=x&count=-1"),
            r#"The "count" query parameter must be a non-negative integer"#
        );
    }

    #[test]
    fn arbitrary_query_strings_never_panic() {
        // A fixed pseudo-random walk over the characters that matter to the parsers.
        #[rustfmt::skip]
        const ALPHABET: &[&str] = &[
            "agents", "roomName", "createdAt", "customFields", "sort", "fields", "count", "offset",
            "departmentId", "open", "[", "]", "[]", "[0]", "[21]", "=", "&", "%", "%7B", "%22", "%5B",
            "+", "{", "}", "\"", ":", ",", "-1", "1", "0", "start", "end", "$", ".", "\\u0000", "é", "T", "Z",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut query = String::new();
            for _ in 0..(state % 24) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                query.push_str(ALPHABET[(state >> 33) as usize % ALPHABET.len()]);
            }
            let _ = RoomsQuery::from_query_string(&query);
            state = state.wrapping_add(query.len() as u64);
        }
    }
}
