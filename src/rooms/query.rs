//! [`RoomsQuery`]: the validated, typed form of the request. Every rule of the contract's parameter
//! table is checked here, once; nothing downstream looks at raw text again.

use mongodb::bson::DateTime;
use serde_json::Value;

use super::params::{Kind, Param, QsValue, RawRoomsParams};
use crate::js;

/// MongoDB refuses a sort of more keys than this (the `_id` tie-breaker counts).
pub const MAX_SORT_KEYS: usize = 32;
/// MongoDB refuses a regular expression longer than this many bytes (its
/// `RegexMatchExpression::kMaxPatternSize`: "Regular expression is too long").
pub const MAX_REGEX_BYTES: usize = 32_764;
/// `customFields` keys beyond this are refused: each is one regular-expression clause.
pub const MAX_CUSTOM_FIELDS: usize = 100;

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

/// `roomName`: a case-insensitive substring of `fname`, or, in double quotes, the exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomName {
    Contains(LiteralPattern),
    Exact(String),
}

/// User text as a MongoDB regular expression that matches it literally: every metacharacter of
/// Rocket.Chat's `escapeRegExp` gets a backslash, and NUL (which a pattern may not hold) becomes
/// `\x00`. Never longer than MongoDB takes ([`MAX_REGEX_BYTES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralPattern(String);

impl LiteralPattern {
    /// `None` when the escaped text is too long for MongoDB.
    pub fn new(text: &str) -> Option<Self> {
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            match c {
                '.' | '*' | '+' | '?' | '^' | '$' | '{' | '}' | '(' | ')' | '|' | '[' | ']'
                | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '\0' => out.push_str("\\x00"),
                _ => out.push(c),
            }
        }
        (out.len() <= MAX_REGEX_BYTES).then_some(LiteralPattern(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `departmentId`: one department or any of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departments {
    One(String),
    Any(Vec<String>),
}

/// A range of dates; either bound may be absent. Both absent adds no filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    pub start: Option<DateTime>,
    pub end: Option<DateTime>,
}

/// Sort direction of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// `sort`: field paths and directions in the order given. `None` in [`RoomsQuery`] means the
/// default `{"ts": -1}`; an empty list sorts by the `_id` tie-breaker alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortSpec(pub Vec<(String, Direction)>);

/// `fields`: a projection that MongoDB accepts: all inclusions (optionally with `_id` excluded) or all
/// exclusions, with no path that is a prefix of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec(pub Vec<(String, bool)>);

/// The request, validated. Field docs say what each parameter means; the filter it makes is
/// [`super::filter::to_filter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomsQuery {
    /// `agents`: rooms served by any of these agents (id or username).
    pub agents: Option<Vec<String>>,
    pub room_name: Option<RoomName>,
    pub departments: Option<Departments>,
    /// `open`: `Some(true)` open rooms being served, `Some(false)` closed rooms.
    pub open: Option<bool>,
    /// `createdAt`: range on `ts`.
    pub created_at: DateRange,
    /// `closedAt`: range on `closedAt`.
    pub closed_at: DateRange,
    /// `tags`: rooms with any of these tags.
    pub tags: Option<Vec<String>>,
    /// `customFields`: per key, a case-insensitive substring of `livechatData.<key>`, in the order given.
    pub custom_fields: Vec<(String, LiteralPattern)>,
    /// `onhold`: only rooms on hold.
    pub onhold: bool,
    /// `queued`: only queued rooms (open, not served, not on hold).
    pub queued: bool,
    /// `units`: rooms whose `departmentAncestors` hold any of these.
    pub units: Option<Vec<String>>,
    /// `offset`: rooms to skip (default 0).
    pub offset: u64,
    /// `count`: the requested page size; the effective limit also depends on the settings
    /// ([`crate::api_settings::Pagination::limit`]).
    pub count: Option<u64>,
    pub sort: Option<SortSpec>,
    pub fields: Option<FieldSpec>,
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

    fn take(&mut self, param: Param) -> Option<Typed> {
        let i = self.0.iter().position(|(p, _)| *p == param)?;
        Some(self.0.swap_remove(i).1)
    }

    fn text(&mut self, param: Param) -> Option<String> {
        match self.take(param)? {
            Typed::Text(s) => Some(s),
            _ => None,
        }
    }

    fn list(&mut self, param: Param) -> Option<Vec<String>> {
        match self.take(param)? {
            Typed::List(items) => Some(items),
            _ => None,
        }
    }

    fn number(&mut self, param: Param) -> Option<u64> {
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

impl TryFrom<RawRoomsParams> for RoomsQuery {
    type Error = ParamError;

    /// Types every parameter first (in [`Param::ALL`] order), then checks what the text says in the
    /// same order, so the first error reported does not depend on the order of the query string.
    fn try_from(raw: RawRoomsParams) -> Result<Self, Self::Error> {
        let mut p = TypedParams::coerce(raw)?;
        let agents = p.list(Param::Agents);
        let departments = match p.take(Param::DepartmentId) {
            Some(Typed::Text(id)) => departments(id),
            Some(Typed::List(ids)) => Some(Departments::Any(ids)),
            _ => None,
        };
        let open = match p.text(Param::Open).as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        let tags = p.list(Param::Tags);
        let room_name = p
            .text(Param::RoomName)
            .map(room_name)
            .transpose()?
            .flatten();
        let units = p.list(Param::Units);
        let offset = p.number(Param::Offset).unwrap_or(0);
        let count = p.number(Param::Count);
        let sort = json_query(JsonQueryParam::Sort, p.text(Param::Sort), sort_spec)?;
        let fields = json_query(JsonQueryParam::Fields, p.text(Param::Fields), field_spec)?
            .filter(|f| !f.0.is_empty());
        let created_at = date_range("createdAt", p.text(Param::CreatedAt))?;
        let closed_at = date_range("closedAt", p.text(Param::ClosedAt))?;
        let custom_fields = custom_fields(p.text(Param::CustomFields))?;
        Ok(RoomsQuery {
            agents,
            room_name,
            departments,
            open,
            created_at,
            closed_at,
            tags,
            custom_fields,
            onhold: is_truthy_flag(p.text(Param::Onhold)),
            queued: is_truthy_flag(p.text(Param::Queued)),
            units,
            offset,
            count,
            sort,
            fields,
        })
    }
}

impl RoomsQuery {
    /// Reads and validates a raw query string.
    pub fn from_query_string(query: &str) -> Result<Self, ParamError> {
        RawRoomsParams::from_query_string(query).try_into()
    }

    /// True when `agents` is exactly one id equal to `user_id` (an agent listing their own rooms).
    pub fn is_only_agent(&self, user_id: &str) -> bool {
        matches!(self.agents.as_deref(), Some([only]) if only == user_id)
    }
}

/// Rocket.Chat's client sends "" or "undefined" for "all departments".
fn departments(id: String) -> Option<Departments> {
    (!id.is_empty() && id != "undefined").then_some(Departments::One(id))
}

fn room_name(name: String) -> Result<Option<RoomName>, ParamError> {
    Ok(if name.is_empty() {
        None
    } else if name.starts_with('"') && name.ends_with('"') {
        // As JavaScript's `slice(1, -1)`: a lone `"` is the empty exact name.
        let inner = name
            .get(1..name.len().saturating_sub(1))
            .unwrap_or_default();
        Some(RoomName::Exact(inner.to_owned()))
    } else {
        let pattern = LiteralPattern::new(&name).ok_or(ParamError::TooLong("roomName"))?;
        Some(RoomName::Contains(pattern))
    })
}

/// Rocket.Chat's `['t', 'true', '1'].includes(value)`.
fn is_truthy_flag(value: Option<String>) -> bool {
    matches!(value.as_deref(), Some("t" | "true" | "1"))
}

/// The JSON a text parameter holds: `None` when it is absent or empty (no filter, the default),
/// else the text with what it parses to (`None`: not JSON).
fn json_param(value: Option<String>) -> Option<(String, Option<Value>)> {
    let raw = value.filter(|s| !s.is_empty())?;
    let parsed = serde_json::from_str(&raw).ok();
    Some((raw, parsed))
}

fn json_query<T>(
    param: JsonQueryParam,
    value: Option<String>,
    read: fn(Value) -> Option<T>,
) -> Result<Option<T>, ParamError> {
    let Some((raw, json)) = json_param(value) else {
        return Ok(None);
    };
    json.and_then(read)
        .map(Some)
        .ok_or(ParamError::InvalidJsonQuery { param, raw })
}

fn sort_spec(value: Value) -> Option<SortSpec> {
    let Value::Object(map) = value else {
        return None;
    };
    let spec = map
        .into_iter()
        .map(|(key, dir)| {
            let dir = match dir.as_f64() {
                Some(1.0) => Direction::Asc,
                Some(-1.0) => Direction::Desc,
                _ => return None,
            };
            is_field_path(&key).then_some((key, dir))
        })
        .collect::<Option<Vec<_>>>()?;
    // What MongoDB is sent: these keys and the `_id` tie-breaker unless `_id` is one of them.
    let sent = spec.len() + usize::from(!spec.iter().any(|(key, _)| key == "_id"));
    (sent <= MAX_SORT_KEYS).then_some(SortSpec(spec))
}

fn field_spec(value: Value) -> Option<FieldSpec> {
    let Value::Object(map) = value else {
        return None;
    };
    let spec = map
        .into_iter()
        .map(|(key, include)| {
            let include = match include.as_f64() {
                Some(1.0) => true,
                Some(0.0) => false,
                _ => return None,
            };
            is_field_path(&key).then_some((key, include))
        })
        .collect::<Option<Vec<_>>>()?;
    // 1 and 0 may not mix; the one exception is `"_id": 0` in an inclusion.
    let has = |wanted: bool| {
        spec.iter()
            .any(|(key, include)| *include == wanted && key != "_id")
    };
    let id_included = spec.iter().any(|(key, include)| *include && key == "_id");
    let mixed = has(false) && (has(true) || id_included);
    let collides = spec.iter().enumerate().any(|(i, (a, _))| {
        spec[i + 1..].iter().any(|(b, _)| {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            long.strip_prefix(short.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        })
    });
    (!mixed && !collides).then_some(FieldSpec(spec))
}

/// A field path MongoDB reads as such: no empty segment, no segment starting with `$`, no NUL.
fn is_field_path(key: &str) -> bool {
    !key.is_empty()
        && !key.contains('\0')
        && key
            .split('.')
            .all(|seg| !seg.is_empty() && !seg.starts_with('$'))
}

fn date_range(name: &'static str, value: Option<String>) -> Result<DateRange, ParamError> {
    let Some((_, json)) = json_param(value) else {
        return Ok(DateRange::default());
    };
    let Some(Value::Object(map)) = json else {
        return Err(ParamError::NotJsonObject(name));
    };
    let bound = |which: &'static str| match map.get(which) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => crate::jsdate::parse(s)
            .map(|ms| Some(DateTime::from_millis(ms)))
            .ok_or(ParamError::InvalidDate(name, which)),
        Some(_) => Err(ParamError::InvalidDate(name, which)),
    };
    Ok(DateRange {
        start: bound("start")?,
        end: bound("end")?,
    })
}

fn custom_fields(value: Option<String>) -> Result<Vec<(String, LiteralPattern)>, ParamError> {
    let Some((_, json)) = json_param(value) else {
        return Ok(Vec::new());
    };
    let Some(Value::Object(map)) = json else {
        return Err(ParamError::InvalidCustomFields);
    };
    if map.len() > MAX_CUSTOM_FIELDS {
        return Err(ParamError::TooManyCustomFields);
    }
    map.into_iter()
        .map(|(key, value)| {
            // One path segment: `livechatData.<key>` must name a field of `livechatData`.
            if !is_field_path(&key) || key.contains('.') {
                return Err(ParamError::InvalidCustomFields);
            }
            let text = match value {
                Value::String(s) => s,
                other => js::json_text(&other),
            };
            let pattern = LiteralPattern::new(&text).ok_or(ParamError::TooLong("customFields"))?;
            Ok((key, pattern))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<RoomsQuery, ParamError> {
        RoomsQuery::from_query_string(q)
    }

    fn err(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn no_parameters_give_the_default_query() {
        assert_eq!(parse("").unwrap(), RoomsQuery::default());
    }

    fn pattern(text: &str) -> LiteralPattern {
        LiteralPattern::new(text).unwrap()
    }

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
    fn department_id_empty_or_undefined_means_no_filter() {
        assert_eq!(parse("departmentId=").unwrap().departments, None);
        assert_eq!(parse("departmentId=undefined").unwrap().departments, None);
    }

    #[test]
    fn department_id_is_read_as_one_id_or_a_list() {
        assert_eq!(
            parse("departmentId=d1").unwrap().departments,
            Some(Departments::One("d1".into()))
        );
        assert_eq!(
            parse("departmentId[]=d1").unwrap().departments,
            Some(Departments::Any(vec!["d1".into()]))
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
    fn open_other_than_true_or_false_is_ignored() {
        assert_eq!(parse("open=true").unwrap().open, Some(true));
        assert_eq!(parse("open=false").unwrap().open, Some(false));
        assert_eq!(parse("open=yes").unwrap().open, None);
        assert_eq!(parse("open=TRUE").unwrap().open, None);
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
    fn a_room_name_too_long_for_a_mongodb_pattern_is_rejected() {
        let fits = "a".repeat(MAX_REGEX_BYTES);
        assert!(parse(&format!("roomName={fits}")).is_ok());
        // Each `.` is escaped to two bytes.
        let dots = ".".repeat(MAX_REGEX_BYTES / 2 + 1);
        assert_eq!(
            err(&format!("roomName={dots}")),
            r#"The "roomName" query parameter is too long"#
        );
        // An exact name is no pattern.
        assert!(parse(&format!("roomName=%22{dots}%22")).is_ok());
    }

    #[test]
    fn room_name_in_quotes_is_exact() {
        assert_eq!(
            parse("roomName=%22Ada%22").unwrap().room_name,
            Some(RoomName::Exact("Ada".into()))
        );
        assert_eq!(
            parse("roomName=%22").unwrap().room_name,
            Some(RoomName::Exact(String::new()))
        );
        assert_eq!(
            parse("roomName=Ada").unwrap().room_name,
            Some(RoomName::Contains(pattern("Ada")))
        );
        assert_eq!(parse("roomName=").unwrap().room_name, None);
    }

    #[test]
    fn onhold_and_queued_accept_t_true_and_1() {
        for v in ["t", "true", "1"] {
            assert!(parse(&format!("onhold={v}")).unwrap().onhold, "{v}");
            assert!(parse(&format!("queued={v}")).unwrap().queued, "{v}");
        }
        for v in ["false", "0", "yes", "", "True"] {
            assert!(!parse(&format!("onhold={v}")).unwrap().onhold, "{v}");
        }
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
    fn sort_is_read_in_order() {
        assert_eq!(
            parse(r#"sort={"open":1,"ts":-1}"#).unwrap().sort,
            Some(SortSpec(vec![
                ("open".into(), Direction::Asc),
                ("ts".into(), Direction::Desc)
            ]))
        );
        assert_eq!(parse("sort={}").unwrap().sort, Some(SortSpec(vec![])));
    }

    #[test]
    fn invalid_sort_is_rejected_with_the_raw_text() {
        for raw in [
            r#"{"ts":2}"#,
            r#"{"ts":true}"#,
            "[1]",
            "nope",
            r#"{"$where":1}"#,
            r#"{"a..b":1}"#,
            r#"{"":1}"#,
        ] {
            assert_eq!(
                parse(&format!("sort={}", raw.replace('+', "%2B"))).unwrap_err(),
                ParamError::InvalidJsonQuery {
                    param: JsonQueryParam::Sort,
                    raw: raw.into()
                }
            );
        }
        assert_eq!(
            err(r#"sort={"ts":0}"#),
            r#"Invalid sort parameter provided: "{"ts":0}" [error-invalid-sort]"#
        );
    }

    #[test]
    fn a_sort_of_more_keys_than_mongodb_takes_is_rejected() {
        let keys = |n: usize| {
            let fields: Vec<String> = (0..n).map(|i| format!(r#""k{i}":1"#)).collect();
            format!("{{{}}}", fields.join(","))
        };
        // The `_id` tie-breaker makes 32.
        assert!(parse(&format!("sort={}", keys(31))).is_ok());
        let raw = keys(32);
        assert_eq!(
            parse(&format!("sort={raw}")).unwrap_err(),
            ParamError::InvalidJsonQuery {
                param: JsonQueryParam::Sort,
                raw: raw.clone()
            }
        );
        // With `_id` among them, no tie-breaker is added.
        let with_id = raw.replacen(r#""k0""#, r#""_id""#, 1);
        assert!(parse(&format!("sort={with_id}")).is_ok());
    }

    #[test]
    fn fields_accept_inclusion_or_exclusion() {
        assert_eq!(
            parse(r#"fields={"fname":1,"_id":0}"#).unwrap().fields,
            Some(FieldSpec(vec![
                ("fname".into(), true),
                ("_id".into(), false)
            ]))
        );
        assert_eq!(
            parse(r#"fields={"msgs":0}"#).unwrap().fields,
            Some(FieldSpec(vec![("msgs".into(), false)]))
        );
        assert_eq!(parse("fields={}").unwrap().fields, None);
        assert_eq!(
            parse(r#"fields={"_id":0}"#).unwrap().fields,
            Some(FieldSpec(vec![("_id".into(), false)]))
        );
        assert_eq!(
            parse(r#"fields={"_id":1}"#).unwrap().fields,
            Some(FieldSpec(vec![("_id".into(), true)]))
        );
    }

    #[test]
    fn fields_mixing_inclusion_and_exclusion_are_rejected() {
        for raw in [
            r#"{"fname":1,"ts":0}"#,
            r#"{"_id":1,"ts":0}"#,
            r#"{"a":1,"a.b":1}"#,
            r#"{"a":true}"#,
            r#"{"a.$":1}"#,
            r#"{"a":2}"#,
        ] {
            assert_eq!(
                parse(&format!("fields={raw}")).unwrap_err(),
                ParamError::InvalidJsonQuery {
                    param: JsonQueryParam::Fields,
                    raw: raw.into()
                },
                "{raw}"
            );
        }
    }

    #[test]
    fn created_at_must_be_a_json_object() {
        for raw in ["invalid", "[]", "null", "1", r#""2018""#] {
            assert_eq!(
                err(&format!("createdAt={raw}")),
                r#"The "createdAt" query parameter must be a valid JSON object"#
            );
        }
        assert_eq!(
            err("closedAt=%5B%5D"),
            r#"The "closedAt" query parameter must be a valid JSON object"#
        );
    }

    #[test]
    fn created_at_bounds_must_be_dates() {
        assert_eq!(
            err(r#"createdAt={"start":"nope"}"#),
            r#"The "createdAt.start" query parameter must be a valid date."#
        );
        assert_eq!(
            err(r#"closedAt={"end":5}"#),
            r#"The "closedAt.end" query parameter must be a valid date."#
        );
    }

    #[test]
    fn missing_null_or_empty_bounds_are_ignored() {
        let q = parse(r#"createdAt={"start":null,"end":""}&closedAt={}"#).unwrap();
        assert_eq!(q.created_at, DateRange::default());
        assert_eq!(q.closed_at, DateRange::default());
    }

    #[test]
    fn created_at_bounds_are_read() {
        let q =
            parse(r#"createdAt={"start":"2018-01-26","end":"2018-01-26T00:11:22.345Z"}"#).unwrap();
        assert_eq!(
            q.created_at.start,
            Some(DateTime::from_millis(ms("2018-01-26T00:00:00Z")))
        );
        assert_eq!(
            q.created_at.end,
            Some(DateTime::from_millis(ms("2018-01-26T00:11:22.345Z")))
        );
    }

    #[test]
    fn custom_fields_must_be_a_json_object() {
        for raw in [
            "invalid",
            "string",
            "[]",
            "null",
            "1",
            r#"{"":"x"}"#,
            r#"{"$where":"x"}"#,
            r#"{"a.b":"x"}"#,
            r#"{"a\u0000":"x"}"#,
        ] {
            assert_eq!(
                err(&format!("customFields={raw}")),
                r#"The "customFields" query parameter must be a valid JSON."#,
                "{raw}"
            );
        }
    }

    #[test]
    fn custom_fields_are_bounded_in_keys_and_length() {
        let keys = |n: usize| {
            let fields: Vec<String> = (0..n).map(|i| format!(r#""k{i}":"v""#)).collect();
            format!("{{{}}}", fields.join(","))
        };
        assert!(parse(&format!("customFields={}", keys(MAX_CUSTOM_FIELDS))).is_ok());
        assert_eq!(
            err(&format!("customFields={}", keys(MAX_CUSTOM_FIELDS + 1))),
            r#"The "customFields" query parameter may have at most 100 keys"#
        );
        let long = format!(r#"{{"k":"{}"}}"#, "+".repeat(MAX_REGEX_BYTES / 2 + 1));
        assert_eq!(
            err(&format!("customFields={}", long.replace('+', "%2B"))),
            r#"The "customFields" query parameter is too long"#
        );
    }

    #[test]
    fn custom_fields_values_become_text() {
        let q = parse(r#"customFields={"docId":"031041","n":1.0,"b":true,"o":{"x":[1.5,null]}}"#)
            .unwrap();
        assert_eq!(
            q.custom_fields,
            vec![
                ("docId".into(), pattern("031041")),
                ("n".into(), pattern("1")),
                ("b".into(), pattern("true")),
                ("o".into(), pattern(r#"{"x":[1.5,null]}"#)),
            ]
        );
        assert!(parse("customFields={}").unwrap().custom_fields.is_empty());
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

    #[test]
    fn only_agent_means_exactly_the_user_alone() {
        assert!(parse("agents[]=u1").unwrap().is_only_agent("u1"));
        assert!(!parse("agents[]=u1&agents[]=u1")
            .unwrap()
            .is_only_agent("u1"));
        assert!(!parse("agents[]=u2").unwrap().is_only_agent("u1"));
        assert!(!parse("").unwrap().is_only_agent("u1"));
    }
}
