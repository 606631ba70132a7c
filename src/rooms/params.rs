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

/// Every parameter the service reads, in the order they are checked (so the first error reported
/// does not depend on the order of the query string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    Agents,
    DepartmentId,
    Open,
    Tags,
    RoomName,
    Units,
    Offset,
    Count,
    Sort,
    Fields,
    CreatedAt,
    ClosedAt,
    CustomFields,
    Onhold,
    Queued,
    Cursor,
    UpdatedSince,
}

/// The type Rocket.Chat 8's validator (`isGETLivechatRoomsParams`) gives a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An array of strings; one plain value is a one-element array.
    List,
    /// A string or an array of strings.
    TextOrList,
    /// A string.
    Text,
    /// A number (numeric text, or a one-element array of it).
    Number,
}

/// The one table of parameter names: each [`Param`] at its own index, with its query-string name
/// (Rocket.Chat's) and its type.
const TABLE: [(Param, &str, Kind); Param::COUNT] = [
    (Param::Agents, "agents", Kind::List),
    (Param::DepartmentId, "departmentId", Kind::TextOrList),
    (Param::Open, "open", Kind::Text),
    (Param::Tags, "tags", Kind::List),
    (Param::RoomName, "roomName", Kind::Text),
    (Param::Units, "units", Kind::List),
    (Param::Offset, "offset", Kind::Number),
    (Param::Count, "count", Kind::Number),
    (Param::Sort, "sort", Kind::Text),
    (Param::Fields, "fields", Kind::Text),
    (Param::CreatedAt, "createdAt", Kind::Text),
    (Param::ClosedAt, "closedAt", Kind::Text),
    (Param::CustomFields, "customFields", Kind::Text),
    (Param::Onhold, "onhold", Kind::Text),
    (Param::Queued, "queued", Kind::Text),
    (Param::Cursor, "cursor", Kind::Text),
    (Param::UpdatedSince, "updatedSince", Kind::Text),
];

impl Param {
    /// Every parameter, in checking order.
    /// How many there are: the last variant's index, plus one (a variant added without updating
    /// this leaves TABLE with more entries than its type: a compile error).
    pub const COUNT: usize = Param::UpdatedSince as usize + 1;

    /// Every parameter, in checking order. Building it checks, at compile time, that each
    /// [`Param`] stands at its own index of the table.
    pub const ALL: [Param; Param::COUNT] = {
        let mut all = [Param::Agents; Param::COUNT];
        let mut i = 0;
        while i < TABLE.len() {
            assert!(TABLE[i].0 as usize == i, "TABLE is in Param's order");
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    fn index(self) -> usize {
        self as usize
    }

    /// The query-string name.
    pub fn name(self) -> &'static str {
        TABLE[self.index()].1
    }

    pub fn kind(self) -> Kind {
        TABLE[self.index()].2
    }

    pub fn from_name(name: &str) -> Option<Param> {
        TABLE
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(p, _, _)| *p)
    }
}

/// The query string's values by parameter, each still raw. Unknown names are ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawRoomsParams {
    values: [Option<QsValue>; Param::COUNT],
}

impl RawRoomsParams {
    /// Reads a raw query string (without the `?`). Never fails: anything odd becomes a value that
    /// validation rejects or a name that is ignored.
    pub fn from_query_string(query: &str) -> Self {
        // `qs` first gathers the values of identical keys, in order of first appearance...
        let mut keys: Vec<(Param, Slot, String, Vec<String>)> = Vec::new();
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
            let Some(param) = Param::from_name(name) else {
                continue;
            };
            let value = decode(value);
            match keys.iter_mut().find(|(_, _, k, _)| *k == key) {
                Some((_, _, _, values)) => values.push(value),
                None => keys.push((param, slot, key, vec![value])),
            }
        }
        // ...then merges the keys of each name in that order.
        let mut slots: Vec<(Param, Vec<KeyValues>)> = Vec::new();
        for (param, slot, _, values) in keys {
            match slots.iter_mut().find(|(p, _)| *p == param) {
                Some((_, entries)) => entries.push((slot, values)),
                None => slots.push((param, vec![(slot, values)])),
            }
        }
        let mut params = RawRoomsParams::default();
        for (param, entries) in slots {
            params.values[param.index()] = Some(combine(entries));
        }
        params
    }

    pub fn get(&self, param: Param) -> Option<&QsValue> {
        self.values[param.index()].as_ref()
    }

    /// Takes the value out (validation consumes each once).
    pub fn take(&mut self, param: Param) -> Option<QsValue> {
        self.values[param.index()].take()
    }
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
pub fn decode(component: &str) -> String {
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
        assert_eq!(p.get(Param::RoomName).cloned(), s("Ada"));
        assert_eq!(p.get(Param::Open).cloned(), s("true"));
    }

    #[test]
    fn bracket_pairs_give_an_array() {
        let p = RawRoomsParams::from_query_string("agents[]=a&agents[]=b");
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["a", "b"]));
    }

    #[test]
    fn one_bracket_pair_gives_an_array_of_one() {
        assert_eq!(
            RawRoomsParams::from_query_string("tags[]=x")
                .get(Param::Tags)
                .cloned(),
            arr(&["x"])
        );
    }

    #[test]
    fn indexed_pairs_give_an_array_in_index_order() {
        let p = RawRoomsParams::from_query_string("units[1]=b&units[0]=a");
        assert_eq!(p.get(Param::Units).cloned(), arr(&["a", "b"]));
    }

    #[test]
    fn repeated_plain_keys_give_an_array() {
        let p = RawRoomsParams::from_query_string("departmentId=a&departmentId=b");
        assert_eq!(p.get(Param::DepartmentId).cloned(), arr(&["a", "b"]));
    }

    #[test]
    fn named_bracket_keys_give_an_object() {
        let p = RawRoomsParams::from_query_string("departmentId[test]=true");
        assert_eq!(p.get(Param::DepartmentId).cloned(), Some(QsValue::Object));
    }

    #[test]
    fn an_index_from_the_array_limit_up_gives_an_object() {
        let p = RawRoomsParams::from_query_string("agents[20]=a");
        assert_eq!(p.get(Param::Agents).cloned(), Some(QsValue::Object));
        let p = RawRoomsParams::from_query_string("agents[19]=a");
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["a"]));
    }

    #[test]
    fn a_repeated_index_key_is_a_nested_array() {
        let p = RawRoomsParams::from_query_string("agents[0]=a&agents[0]=b");
        assert_eq!(p.get(Param::Agents).cloned(), Some(QsValue::Object));
    }

    #[test]
    fn more_than_twenty_values_give_an_object() {
        let twenty = vec!["agents[]=a"; 20].join("&");
        assert_eq!(
            RawRoomsParams::from_query_string(&twenty)
                .get(Param::Agents)
                .cloned(),
            arr(&["a"; 20])
        );
        let query = vec!["agents=a"; 21].join("&");
        assert_eq!(
            RawRoomsParams::from_query_string(&query)
                .get(Param::Agents)
                .cloned(),
            Some(QsValue::Object)
        );
    }

    #[test]
    fn values_merge_in_order_and_a_taken_index_appends() {
        let p = RawRoomsParams::from_query_string("agents=1&agents[]=2&agents=3");
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["1", "3", "2"]));
        let p = RawRoomsParams::from_query_string("agents[]=a&agents[0]=b");
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["a", "b"]));
        let p = RawRoomsParams::from_query_string("agents=a&agents[5]=b");
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["a", "b"]));
        let p = RawRoomsParams::from_query_string("agents[1]=y&agents[]=x");
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["x", "y"]));
    }

    #[test]
    fn unclosed_brackets_and_trailing_text_follow_qs() {
        assert_eq!(
            RawRoomsParams::from_query_string("agents[=x")
                .get(Param::Agents)
                .cloned(),
            Some(QsValue::Object)
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents[a]b=x")
                .get(Param::Agents)
                .cloned(),
            Some(QsValue::Object)
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents[]]=x")
                .get(Param::Agents)
                .cloned(),
            arr(&["x"])
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents[[a]]=x")
                .get(Param::Agents)
                .cloned(),
            Some(QsValue::Object)
        );
        assert_eq!(
            RawRoomsParams::from_query_string("agents]=x")
                .get(Param::Agents)
                .cloned(),
            None
        );
    }

    #[test]
    fn nested_array_entries_give_an_object() {
        let p = RawRoomsParams::from_query_string("agents[0][x]=a");
        assert_eq!(p.get(Param::Agents).cloned(), Some(QsValue::Object));
    }

    #[test]
    fn percent_escapes_and_plus_are_decoded_in_keys_and_values() {
        let p = RawRoomsParams::from_query_string("room%4Eame=Ada+L%C3%B6we&agents%5B%5D=x%26y");
        assert_eq!(p.get(Param::RoomName).cloned(), s("Ada Löwe"));
        assert_eq!(p.get(Param::Agents).cloned(), arr(&["x&y"]));
    }

    #[test]
    fn a_malformed_escape_keeps_the_text() {
        let p = RawRoomsParams::from_query_string("roomName=100%+off&tags[]=%FF");
        assert_eq!(p.get(Param::RoomName).cloned(), s("100% off"));
        assert_eq!(p.get(Param::Tags).cloned(), arr(&["%FF"]));
    }

    #[test]
    fn a_key_without_value_is_an_empty_string() {
        assert_eq!(
            RawRoomsParams::from_query_string("roomName")
                .get(Param::RoomName)
                .cloned(),
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
        assert_eq!(p.get(Param::CustomFields).cloned(), s(r#"{"a":"b=c"}"#));
        let p = RawRoomsParams::from_query_string("roomName=a=b");
        assert_eq!(p.get(Param::RoomName).cloned(), s("a=b"));
    }

    #[test]
    fn pairs_beyond_the_parameter_limit_are_ignored() {
        let query = format!("{}&roomName=late", "x=1&".repeat(PARAMETER_LIMIT));
        assert_eq!(
            RawRoomsParams::from_query_string(&query)
                .get(Param::RoomName)
                .cloned(),
            None
        );
    }

    #[test]
    fn the_table_holds_each_parameter_at_its_own_index() {
        for (i, param) in Param::ALL.iter().enumerate() {
            assert_eq!(param.index(), i);
            assert_eq!(Param::from_name(param.name()), Some(*param));
        }
    }
}
