//! The raw query string, read the way Rocket.Chat's `qs` reads it, and nothing more: every value is
//! still text. Validation and typing happen in [`super::query`].
//!
//! `qs` rules kept here: `a[]=x&a[]=y`, `a[0]=x&a[1]=y` (indices up to 20, in index order) and repeated
//! `a=x&a=y` give arrays; a single `a=x` is a string; `a[b]=x` (or an index above 20) gives an object;
//! `+` is a space and percent-escapes are decoded, a component that does not decode is kept as it came;
//! only the first 1000 pairs count.

/// Highest array index `qs` reads as an index (its `arrayLimit`); above it the key is an object key.
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
        let mut slots: Vec<(&'static str, Vec<(Slot, String)>)> = Vec::new();
        for part in query
            .split('&')
            .filter(|p| !p.is_empty())
            .take(PARAMETER_LIMIT)
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
            match slots.iter_mut().find(|(n, _)| *n == name) {
                Some((_, entries)) => entries.push((slot, value)),
                None => slots.push((name, vec![(slot, value)])),
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

/// Splits `name[...]` into the name and the slot, as `qs` does. A key whose brackets do not close is
/// a plain name (so it is unknown and ignored).
fn split_key(key: &str) -> (&str, Slot) {
    let Some(open) = key.find('[').filter(|&i| i > 0) else {
        return (key, Slot::Plain);
    };
    let (name, rest) = key.split_at(open);
    let Some(first_close) = rest.find(']') else {
        return (key, Slot::Plain);
    };
    let inner = &rest[1..first_close];
    if inner.contains('[') {
        return (key, Slot::Plain);
    }
    if first_close + 1 != rest.len() {
        return (name, Slot::Nested);
    }
    if inner.is_empty() {
        return (name, Slot::Push);
    }
    match inner.parse::<usize>() {
        // `qs` takes only canonical indices ("1", not "01" or "+1") up to its limit.
        Ok(i) if i <= ARRAY_LIMIT && i.to_string() == inner => (name, Slot::Index(i)),
        _ => (name, Slot::Nested),
    }
}

/// Puts together every value given under one name.
fn combine(mut entries: Vec<(Slot, String)>) -> QsValue {
    if entries.len() == 1 && entries[0].0 == Slot::Plain {
        return QsValue::Str(entries.remove(0).1);
    }
    if entries.iter().any(|(slot, _)| *slot == Slot::Nested) {
        return QsValue::Object;
    }
    let mut indexed: Vec<(usize, String)> = Vec::new();
    let mut appended: Vec<String> = Vec::new();
    for (slot, value) in entries {
        match slot {
            Slot::Index(i) => {
                // Two values at one index make a nested array in `qs`: not an array of strings.
                if indexed.iter().any(|(j, _)| *j == i) {
                    return QsValue::Object;
                }
                indexed.push((i, value));
            }
            _ => appended.push(value),
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    let mut items: Vec<String> = indexed.into_iter().map(|(_, v)| v).collect();
    items.extend(appended);
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
    fn an_index_above_the_array_limit_gives_an_object() {
        let p = RawRoomsParams::from_query_string("agents[21]=a");
        assert_eq!(p.agents, Some(QsValue::Object));
        let p = RawRoomsParams::from_query_string("agents[20]=a");
        assert_eq!(p.agents, arr(&["a"]));
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
    fn unknown_and_unclosed_keys_are_ignored() {
        let p = RawRoomsParams::from_query_string("foo=1&agents[=x&&=y");
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
