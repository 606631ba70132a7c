//! The typed values parameters become: [`LiteralPattern`] (user text matched literally),
//! [`DateRange`], [`SortSpec`], [`FieldSpec`]; and the readers of the JSON-valued parameters
//! (`sort`, `fields`, `createdAt`, `closedAt`, `customFields`), each checked once here.

use mongodb::bson::DateTime;
use serde_json::Value;

use super::typing::{
    JsonQueryParam, ParamError, MAX_CUSTOM_FIELDS, MAX_REGEX_BYTES, MAX_SORT_KEYS,
};
use crate::js;

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

pub(super) fn json_param(value: Option<String>) -> Option<(String, Option<Value>)> {
    let raw = value.filter(|s| !s.is_empty())?;
    let parsed = serde_json::from_str(&raw).ok();
    Some((raw, parsed))
}

pub(super) fn json_query<T>(
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

pub(super) fn sort_spec(value: Value) -> Option<SortSpec> {
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

pub(super) fn field_spec(value: Value) -> Option<FieldSpec> {
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

pub(super) fn date_range(
    name: &'static str,
    value: Option<String>,
) -> Result<DateRange, ParamError> {
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

pub(super) fn custom_fields(
    value: Option<String>,
) -> Result<Vec<(String, LiteralPattern)>, ParamError> {
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
    use crate::rooms::query::testing::{err, parse};

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn pattern(text: &str) -> LiteralPattern {
        LiteralPattern::new(text).unwrap()
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
}
