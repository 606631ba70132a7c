//! [`RoomsQuery`]: the validated, typed form of the request. Every rule of the contract's parameter
//! table is checked here, once; nothing downstream looks at raw text again.

use mongodb::bson::DateTime;
use serde_json::Value;

use super::params::{QsValue, RawRoomsParams};

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
    Contains(String),
    Exact(String),
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
    pub custom_fields: Vec<(String, String)>,
    /// `onhold`: only rooms on hold.
    pub onhold: bool,
    /// `queued`: only queued rooms (open, not served, not on hold).
    pub queued: bool,
    /// `units`: rooms whose `departmentAncestors` hold any of these.
    pub units: Option<Vec<String>>,
    /// `offset`: rooms to skip (default 0).
    pub offset: u64,
    /// `count`: the requested page size; the effective limit also depends on the settings
    /// ([`crate::settings::Pagination::limit`]).
    pub count: Option<u64>,
    pub sort: Option<SortSpec>,
    pub fields: Option<FieldSpec>,
}

impl TryFrom<RawRoomsParams> for RoomsQuery {
    type Error = ParamError;

    /// Checks the parameters in a fixed order, so the first error reported does not depend on the
    /// order of the query string: the lists and plain strings, then pagination, `sort`, `fields`,
    /// the date ranges and `customFields`.
    fn try_from(raw: RawRoomsParams) -> Result<Self, Self::Error> {
        let agents = string_array("agents", raw.agents)?;
        let departments = departments(raw.department_id)?;
        let open = match plain_string("open", raw.open)?.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        let tags = string_array("tags", raw.tags)?;
        let room_name = plain_string("roomName", raw.room_name)?.and_then(room_name);
        let units = string_array("units", raw.units)?;
        let offset = non_negative("offset", raw.offset)?.unwrap_or(0);
        let count = non_negative("count", raw.count)?;
        let sort = json_query(JsonQueryParam::Sort, raw.sort, sort_spec)?;
        let fields =
            json_query(JsonQueryParam::Fields, raw.fields, field_spec)?.filter(|f| !f.0.is_empty());
        let created_at = date_range("createdAt", raw.created_at)?;
        let closed_at = date_range("closedAt", raw.closed_at)?;
        let custom_fields = custom_fields(raw.custom_fields)?;
        Ok(RoomsQuery {
            agents,
            room_name,
            departments,
            open,
            created_at,
            closed_at,
            tags,
            custom_fields,
            onhold: is_truthy_flag(raw.onhold.as_ref()),
            queued: is_truthy_flag(raw.queued.as_ref()),
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

fn string_array(
    name: &'static str,
    value: Option<QsValue>,
) -> Result<Option<Vec<String>>, ParamError> {
    match value {
        None => Ok(None),
        Some(QsValue::Array(items)) => Ok(Some(items)),
        Some(_) => Err(ParamError::NotStringArray(name)),
    }
}

fn plain_string(name: &'static str, value: Option<QsValue>) -> Result<Option<String>, ParamError> {
    match value {
        None => Ok(None),
        Some(QsValue::Str(s)) => Ok(Some(s)),
        Some(_) => Err(ParamError::NotString(name)),
    }
}

fn departments(value: Option<QsValue>) -> Result<Option<Departments>, ParamError> {
    match value {
        None => Ok(None),
        // Rocket.Chat's client sends "" or "undefined" for "all departments".
        Some(QsValue::Str(s)) if s.is_empty() || s == "undefined" => Ok(None),
        Some(QsValue::Str(s)) => Ok(Some(Departments::One(s))),
        Some(QsValue::Array(items)) => Ok(Some(Departments::Any(items))),
        Some(QsValue::Object) => Err(ParamError::NotStringOrArray("departmentId")),
    }
}

fn room_name(name: String) -> Option<RoomName> {
    if name.is_empty() {
        None
    } else if name.starts_with('"') && name.ends_with('"') {
        // As JavaScript's `slice(1, -1)`: a lone `"` is the empty exact name.
        let inner = name
            .get(1..name.len().saturating_sub(1))
            .unwrap_or_default();
        Some(RoomName::Exact(inner.to_owned()))
    } else {
        Some(RoomName::Contains(name))
    }
}

/// Rocket.Chat's `['t', 'true', '1'].includes(`${value}`)`.
fn is_truthy_flag(value: Option<&QsValue>) -> bool {
    value.is_some_and(|v| matches!(v.to_js_string().as_str(), "t" | "true" | "1"))
}

/// Digits only. An empty value counts as absent (Rocket.Chat's `parseInt("") || default`); a value
/// too large for MongoDB saturates (it skips everything, or is capped by the upper limit anyway).
fn non_negative(name: &'static str, value: Option<QsValue>) -> Result<Option<u64>, ParamError> {
    match value {
        None => Ok(None),
        Some(QsValue::Str(s)) if s.is_empty() => Ok(None),
        Some(QsValue::Str(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
            let n = s.parse::<u64>().unwrap_or(u64::MAX);
            Ok(Some(n.min(i64::MAX as u64)))
        }
        Some(_) => Err(ParamError::NotNonNegativeInteger(name)),
    }
}

fn json_query<T>(
    param: JsonQueryParam,
    value: Option<QsValue>,
    read: fn(Value) -> Option<T>,
) -> Result<Option<T>, ParamError> {
    let raw = match value {
        None => return Ok(None),
        Some(QsValue::Str(s)) if s.is_empty() => return Ok(None),
        Some(QsValue::Str(s)) => s,
        Some(other) => other.to_js_string(),
    };
    serde_json::from_str::<Value>(&raw)
        .ok()
        .and_then(read)
        .map(Some)
        .ok_or(ParamError::InvalidJsonQuery { param, raw })
}

fn sort_spec(value: Value) -> Option<SortSpec> {
    let Value::Object(map) = value else {
        return None;
    };
    map.into_iter()
        .map(|(key, dir)| {
            let dir = match dir.as_f64() {
                Some(1.0) => Direction::Asc,
                Some(-1.0) => Direction::Desc,
                _ => return None,
            };
            is_field_path(&key).then_some((key, dir))
        })
        .collect::<Option<Vec<_>>>()
        .map(SortSpec)
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

fn date_range(name: &'static str, value: Option<QsValue>) -> Result<DateRange, ParamError> {
    let raw = match value {
        None => return Ok(DateRange::default()),
        Some(QsValue::Str(s)) if s.is_empty() => return Ok(DateRange::default()),
        Some(QsValue::Str(s)) => s,
        Some(_) => return Err(ParamError::NotJsonObject(name)),
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&raw) else {
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

fn custom_fields(value: Option<QsValue>) -> Result<Vec<(String, String)>, ParamError> {
    let raw = match value {
        None => return Ok(Vec::new()),
        Some(QsValue::Str(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(QsValue::Str(s)) => s,
        Some(_) => return Err(ParamError::InvalidCustomFields),
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&raw) else {
        return Err(ParamError::InvalidCustomFields);
    };
    map.into_iter()
        .map(|(key, value)| {
            if key.is_empty() || key.starts_with('$') || key.contains('.') || key.contains('\0') {
                return Err(ParamError::InvalidCustomFields);
            }
            let text = match value {
                Value::String(s) => s,
                other => js_json_text(&other),
            };
            Ok((key, text))
        })
        .collect()
}

/// `JSON.stringify` of a parsed JSON value: numbers as JavaScript prints doubles.
fn js_json_text(value: &Value) -> String {
    let mut out = Vec::new();
    write_js_json(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

fn write_js_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => crate::render::number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => crate::render::string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_js_json(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::render::string(out, key);
                out.push(b':');
                write_js_json(out, item);
            }
            out.push(b'}');
        }
    }
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

    #[test]
    fn agents_as_a_plain_string_is_rejected() {
        assert_eq!(
            err("agents=invalid"),
            r#"The "agents" query parameter must be an array of strings"#
        );
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
    fn department_id_as_string_or_array() {
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
    fn open_as_an_array_is_rejected() {
        assert_eq!(
            err("open[]=true"),
            r#"The "open" query parameter must be a string"#
        );
    }

    #[test]
    fn open_other_than_true_or_false_is_ignored() {
        assert_eq!(parse("open=true").unwrap().open, Some(true));
        assert_eq!(parse("open=false").unwrap().open, Some(false));
        assert_eq!(parse("open=yes").unwrap().open, None);
        assert_eq!(parse("open=TRUE").unwrap().open, None);
    }

    #[test]
    fn tags_and_units_as_plain_strings_are_rejected() {
        assert_eq!(
            err("tags=invalid"),
            r#"The "tags" query parameter must be an array of strings"#
        );
        assert_eq!(
            err("units=invalid"),
            r#"The "units" query parameter must be an array of strings"#
        );
    }

    #[test]
    fn room_name_as_an_array_is_rejected() {
        assert_eq!(
            err("roomName[]=invalid"),
            r#"The "roomName" query parameter must be a string"#
        );
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
            Some(RoomName::Contains("Ada".into()))
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
        // JavaScript's `${['true']}` is "true".
        assert!(parse("onhold[]=true").unwrap().onhold);
    }

    #[test]
    fn offset_and_count_must_be_non_negative_integers() {
        for v in ["-1", "1.5", "abc", "1e2", " 1", "+1"] {
            assert_eq!(
                err(&format!("offset={}", v.replace('+', "%2B"))),
                r#"The "offset" query parameter must be a non-negative integer"#,
                "{v}"
            );
            assert_eq!(
                err(&format!("count={}", v.replace('+', "%2B"))),
                r#"The "count" query parameter must be a non-negative integer"#
            );
        }
        assert_eq!(
            err("count[]=1"),
            r#"The "count" query parameter must be a non-negative integer"#
        );
    }

    #[test]
    fn offset_and_count_are_read() {
        let q = parse("offset=5&count=0").unwrap();
        assert_eq!((q.offset, q.count), (5, Some(0)));
        assert_eq!(parse("count=").unwrap().count, None);
        assert_eq!(
            parse("offset=99999999999999999999999").unwrap().offset,
            i64::MAX as u64
        );
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
            err("closedAt[]=x"),
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
        assert_eq!(
            err("customFields[a]=b"),
            r#"The "customFields" query parameter must be a valid JSON."#
        );
    }

    #[test]
    fn custom_fields_values_become_text() {
        let q = parse(r#"customFields={"docId":"031041","n":1.0,"b":true,"o":{"x":[1.5,null]}}"#)
            .unwrap();
        assert_eq!(
            q.custom_fields,
            vec![
                ("docId".into(), "031041".into()),
                ("n".into(), "1".into()),
                ("b".into(), "true".into()),
                ("o".into(), r#"{"x":[1.5,null]}"#.into()),
            ]
        );
        assert!(parse("customFields={}").unwrap().custom_fields.is_empty());
    }

    #[test]
    fn the_first_error_follows_the_fixed_order() {
        assert_eq!(
            err("customFields=x&agents=y&count=-1"),
            r#"The "agents" query parameter must be an array of strings"#
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
            if let Ok(q) = RoomsQuery::from_query_string(&query) {
                let _ = crate::rooms::filter::to_filter(&q);
            }
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
