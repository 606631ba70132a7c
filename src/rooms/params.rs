//! The raw query string, read the way Rocket.Chat's `qs` reads it, and nothing more: every value is
//! still text. Validation and typing happen in [`super::query`].
//!
//! `qs` (6.17) rules kept here: `a[]=x&a[]=y`, `a[0]=x&a[1]=y` (indices below 20) and repeated
//! `a=x&a=y` give arrays of at most 20 items; a single `a=x` is a string; `a[b]=x`, an index of 20 or
//! more, or more than 20 items give an object;
//! `+` is a space and percent-escapes are decoded, a component that does not decode is kept as it came;
//! only the first 1000 pairs count.

/// `qs`'s `arrayLimit`: indices below it are array indices, and an array of more items is an object.
const ARRAY_LIMIT: usize = 20;
/// Pairs `qs` reads before it ignores the rest (its `parameterLimit`).
const PARAMETER_LIMIT: usize = 1000;

/// One query parameter as `qs` would have produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QsValue {
    Str(String),
    Array(Vec<String>),
    /// An object, or an array holding something other than strings; only ever invalid here.
    Object,
}

impl QsValue {
    /// JavaScript's `String(value)`, as Rocket.Chat interpolates a parameter into a message or test.
    pub fn to_js_string(&self) -> String {
        match self {
            QsValue::Str(s) => s.clone(),
            QsValue::Array(items) => items.join(","),
            QsValue::Object => "[object Object]".to_owned(),
        }
    }
}

/// Rocket.Chat's query-string names for this endpoint, each still raw. Unknown names are ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawRoomsParams {
    pub agents: Option<QsValue>,
    pub department_id: Option<QsValue>,
    pub open: Option<QsValue>,
    pub created_at: Option<QsValue>,
    pub closed_at: Option<QsValue>,
    pub tags: Option<QsValue>,
    pub custom_fields: Option<QsValue>,
    pub room_name: Option<QsValue>,
    pub onhold: Option<QsValue>,
    pub queued: Option<QsValue>,
    pub units: Option<QsValue>,
    pub offset: Option<QsValue>,
    pub count: Option<QsValue>,
    pub sort: Option<QsValue>,
    pub fields: Option<QsValue>,
}

impl RawRoomsParams {
    /// Reads a raw query string (without the `?`). Never fails: anything odd becomes a value that
    /// validation rejects or a name that is ignored.
    pub fn from_query_string(query: &str) -> Self {
        // `qs` first gathers the values of identical keys, in order of first appearance...
        let mut keys: Vec<(&'static str, Slot, String, Vec<String>)> = Vec::new();
        for part in query
            .split('&')
            .take(PARAMETER_LIMIT)
            .filter(|p| !p.is_empty())
        {
            // `qs` splits at `]=` when present, so a bracketed key may itself hold `=`.
            let split_at = part.find("]=").map(|i| i + 1).or_else(|| part.find('='));
            let (key, value) = match split_at {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, ""),
            };
            let key = decode(key);
            let (name, slot) = split_key(&key);
            let Some(name) = known_name(name) else {
                continue;
            };
            let value = decode(value);
            match keys.iter_mut().find(|(_, _, k, _)| *k == key) {
                Some((_, _, _, values)) => values.push(value),
                None => keys.push((name, slot, key, vec![value])),
            }
        }
        // ...then merges the keys of each name in that order.
        let mut slots: Vec<(&'static str, Vec<KeyValues>)> = Vec::new();
        for (name, slot, _, values) in keys {
            match slots.iter_mut().find(|(n, _)| *n == name) {
                Some((_, entries)) => entries.push((slot, values)),
                None => slots.push((name, vec![(slot, values)])),
            }
        }
        let mut params = RawRoomsParams::default();
        for (name, entries) in slots {
            let value = Some(combine(entries));
            match name {
                "agents" => params.agents = value,
                "departmentId" => params.department_id = value,
                "open" => params.open = value,
                "createdAt" => params.created_at = value,
                "closedAt" => params.closed_at = value,
                "tags" => params.tags = value,
                "customFields" => params.custom_fields = value,
                "roomName" => params.room_name = value,
                "onhold" => params.onhold = value,
                "queued" => params.queued = value,
                "units" => params.units = value,
                "offset" => params.offset = value,
                "count" => params.count = value,
                "sort" => params.sort = value,
                _ => params.fields = value,
            }
        }
        params
    }
}

/// Every parameter name the service reads (the OpenAPI document lists exactly these).
pub const KNOWN_NAMES: [&str; 15] = [
    "agents",
    "departmentId",
    "open",
    "createdAt",
    "closedAt",
    "tags",
    "customFields",
    "roomName",
    "onhold",
    "queued",
    "units",
    "offset",
    "count",
    "sort",
    "fields",
];

fn known_name(name: &str) -> Option<&'static str> {
    KNOWN_NAMES.iter().copied().find(|known| *known == name)
}

/// One distinct key of a name, with every value given under it.
type KeyValues = (Slot, Vec<String>);

/// Where one `key=value` pair puts its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// `a=x`
    Plain,
    /// `a[]=x`
    Push,
    /// `a[3]=x`
    Index(usize),
    /// `a[b]=x`, `a[0][b]=x`, `a[21]=x`: an object or a nested value.
    Nested,
}

/// Splits `name[...]` into the name and the slot, as `qs` 6.17 does: the first bracket pair decides
/// (`[]` push, `[3]` an index below the array limit, anything else an object key), a second pair
/// makes a nested value, text after the last `]` is ignored, and an unclosed bracket is an object.
fn split_key(key: &str) -> (&str, Slot) {
    let Some(open) = key.find('[').filter(|&i| i > 0) else {
        return (key, Slot::Plain);
    };
    let (name, rest) = key.split_at(open);
    let Some(close) = rest.find(']') else {
        return (name, Slot::Nested);
    };
    let inner = &rest[1..close];
    if inner.contains('[') || rest[close + 1..].contains('[') {
        return (name, Slot::Nested);
    }
    if inner.is_empty() {
        return (name, Slot::Push);
    }
    match inner.parse::<usize>() {
        // Only canonical indices ("1", not "01" or "+1") below the limit.
        Ok(i) if i < ARRAY_LIMIT && i.to_string() == inner => (name, Slot::Index(i)),
        _ => (name, Slot::Nested),
    }
}

/// Puts together the keys given for one name (each with its values), merging them in order as
/// `qs` does: a value goes to its index when that index is still free and is appended otherwise;
/// holes are dropped at the end; more than [`ARRAY_LIMIT`] items, or a repeated `a[i]` key (a nested
/// array), make an object.
fn combine(mut keys: Vec<KeyValues>) -> QsValue {
    if let [(Slot::Plain, values)] = keys.as_mut_slice() {
        if values.len() == 1 {
            return QsValue::Str(values.remove(0));
        }
    }
    let mut items: Vec<Option<String>> = Vec::new();
    for (slot, values) in keys {
        // The key's values as `qs` lays them out before merging: at an index, or appended (a
        // single plain value merged into an array).
        let source: Vec<(Option<usize>, String)> = match slot {
            Slot::Nested => return QsValue::Object,
            Slot::Index(_) if values.len() > 1 => return QsValue::Object,
            Slot::Index(i) => values.into_iter().map(|v| (Some(i), v)).collect(),
            Slot::Plain if values.len() == 1 => values.into_iter().map(|v| (None, v)).collect(),
            Slot::Push | Slot::Plain => values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Some(i), v))
                .collect(),
        };
        for (index, value) in source {
            let index = index.unwrap_or(items.len());
            match items.get_mut(index) {
                Some(free @ None) => *free = Some(value),
                Some(Some(_)) => items.push(Some(value)),
                None => {
                    items.resize(index, None);
                    items.push(Some(value));
                }
            }
        }
    }
    let items: Vec<String> = items.into_iter().flatten().collect();
    if items.len() > ARRAY_LIMIT {
        return QsValue::Object;
    }
    QsValue::Array(items)
}

/// `qs`'s decoder: `+` is a space, then `decodeURIComponent`; on a malformed escape or bytes that are
/// not UTF-8 the text is kept with only `+` replaced.
fn decode(component: &str) -> String {
    let spaced = component.replace('+', " ");
    if !spaced.contains('%') {
        return spaced;
    }
    let bytes = spaced.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => return spaced,
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or(spaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<QsValue> {
        Some(QsValue::Str(v.to_owned()))
    }

    fn arr(v: &[&str]) -> Option<QsValue> {
        Some(QsValue::Array(v.iter().map(|x| x.to_string()).collect()))
    }

    #[test]
    fn a_single_plain_value_is_a_string() {
        let p = RawRoomsParams::from_query_string("roomName=Ada&open=true");
        assert_eq!(p.room_name, s("Ada"));
        assert_eq!(p.open, s("true"));
    }

    #[test]
    fn bracket_pairs_give_an_array() {
        let p = RawRoomsParams::from_query_string("agents[]=a&agents[]=b");
        assert_eq!(p.agents, arr(&["a", "b"]));
    }

    #[test]
    fn one_bracket_pair_gives_an_array_of_one() {
        assert_eq!(
            RawRoomsParams::from_query_string("tags[]=x").tags,
            arr(&["x"])
        );
    }

    #[test]
    fn indexed_pairs_give_an_array_in_index_order() {
        let p = RawRoomsParams::from_query_string("units[1]=b&units[0]=a");
        assert_eq!(p.units, arr(&["a", "b"]));
    }

    #[test]
    fn repeated_plain_keys_give_an_array() {
        let p = RawRoomsParams::from_query_string("departmentId=a&departmentId=b");
        assert_eq!(p.department_id, arr(&["a", "b"]));
    }

    #[test]
    fn named_bracket_keys_give_an_object() {
        let p = RawRoomsParams::from_query_string("departmentId[test]=true");
        assert_eq!(p.department_id, Some(QsValue::Object));
    }

    #[test]
    fn an_index_from_the_array_limit_up_gives_an_object() {
        let p = RawRoomsParams::from_query_string("agents[20]=a");
        assert_eq!(p.agents, Some(QsValue::Object));
        let p = RawRoomsParams::from_query_string("agents[19]=a");
        assert_eq!(p.agents, arr(&["a"]));
    }

    #[test]
    fn a_repeated_index_key_is_a_nested_array() {
        let p = RawRoomsParams::from_query_string("agents[0]=a&agents[0]=b");
        assert_eq!(p.agents, Some(QsValue::Object));
    }

    #[test]
    fn more_than_twenty_values_give_an_object() {
        let twenty = vec!["agents[]=a"; 20].join("&");
        assert_eq!(
            RawRoomsParams::from_query_string(&twenty).agents,
            arr(&["a"; 20])
        );
        let query = vec!["agents=a"; 21].join("&");
        assert_eq!(
            RawRoomsParams::from_query_string(&query).agents,
            Some(QsValue::Object)
        );
    }

    #[test]
    fn values_merge_in_order_and_a_taken_index_appends() {
        let p = RawRoomsParams::from_query_string("agents=1&agents[]=2&agents=3");
        assert_eq!(p.agents, arr(&["1", "3", "2"]));
        let p = RawRoomsParams::from_query_string("agents[]=a&agents[0]=b");
        assert_eq!(p.agents, arr(&["a", "b"]));
        let p = RawRoomsParams::from_query_string("agents=a&agents[5]=b");
        assert_eq!(p.agents, arr(&["a", "b"]));
        let p = RawRoomsParams::from_query_string("agents[1]=y&agents[]=x");
        assert_eq!(p.agents, arr(&["x", "y"]));
    }

    #[test]
    fn unclosed_brackets_and_trailing_text_follow_qs() {
        assert_eq!(
            RawRoomsParams::from_query_string("agents[=x").agents,
            Some(QsValue::Object)
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents[a]b=x").agents,
            Some(QsValue::Object)
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents[]]=x").agents,
            arr(&["x"])
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents[[a]]=x").agents,
            Some(QsValue::Object)
        );
        assert_eq!(RawRoomsParams::from_query_string("agents]=x").agents, None);
    }

    #[test]
    fn nested_array_entries_give_an_object() {
        let p = RawRoomsParams::from_query_string("agents[0][x]=a");
        assert_eq!(p.agents, Some(QsValue::Object));
    }

    #[test]
    fn percent_escapes_and_plus_are_decoded_in_keys_and_values() {
        let p = RawRoomsParams::from_query_string("room%4Eame=Ada+L%C3%B6we&agents%5B%5D=x%26y");
        assert_eq!(p.room_name, s("Ada Löwe"));
        assert_eq!(p.agents, arr(&["x&y"]));
    }

    #[test]
    fn a_malformed_escape_keeps_the_text() {
        let p = RawRoomsParams::from_query_string("roomName=100%+off&tags[]=%FF");
        assert_eq!(p.room_name, s("100% off"));
        assert_eq!(p.tags, arr(&["%FF"]));
    }

    #[test]
    fn a_key_without_value_is_an_empty_string() {
        assert_eq!(
            RawRoomsParams::from_query_string("roomName").room_name,
            s("")
        );
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let p = RawRoomsParams::from_query_string("foo=1&foo[a]=2&[]=x&&=y");
        assert_eq!(p, RawRoomsParams::default());
    }

    #[test]
    fn json_values_keep_their_equals_signs() {
        let p = RawRoomsParams::from_query_string("customFields=%7B%22a%22%3A%22b%3Dc%22%7D");
        assert_eq!(p.custom_fields, s(r#"{"a":"b=c"}"#));
        let p = RawRoomsParams::from_query_string("roomName=a=b");
        assert_eq!(p.room_name, s("a=b"));
    }

    #[test]
    fn pairs_beyond_the_parameter_limit_are_ignored() {
        let query = format!("{}&roomName=late", "x=1&".repeat(PARAMETER_LIMIT));
        assert_eq!(RawRoomsParams::from_query_string(&query).room_name, None);
    }

    #[test]
    fn js_string_of_values_follows_javascript() {
        assert_eq!(
            QsValue::Array(vec!["a".into(), "b".into()]).to_js_string(),
            "a,b"
        );
        assert_eq!(QsValue::Object.to_js_string(), "[object Object]");
    }
}
