//! Keyset paging (contract §7): a [`Walk`] resumes where the last page ended, at the last room's
//! sort values, skipping the rooms already returned at exactly those values. It needs no `_id`
//! tie-breaker in the sort, so a walk in the default order runs on Rocket.Chat's `{t: 1, ts: 1}`.
//!
//! A cursor is `base64url(payload) "." base64url(mac)`: the payload is JSON (the listing's
//! fingerprint, whether the sort carries `_id`, the last sort values and the ids seen at them, as
//! canonical Extended JSON), the mac its HMAC-SHA256 (first 16 bytes) under the service's cursor
//! key. The fingerprint binds it to the user, the filter and the sort. Nothing in it reaches
//! MongoDB except as a value: values go behind `$eq`, `$gt`, `$lt` and `$nin` only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use mongodb::bson::{doc, Bson, Document, RawBsonRef, RawDocument};
use sha2::{Digest as _, Sha256};

use super::typing::ParamError;
pub use super::typing::MAX_SEEN;

/// The payload's version: a cursor of another version is refused.
const VERSION: u64 = 1;

/// The key cursors are signed with; the same on every instance that shares it.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    /// From `CURSOR_SECRET`, or when it is unset from the database's name, so instances reading
    /// one database agree without configuration.
    pub fn new(secret: Option<&str>, database: &str) -> Self {
        let mut hash = Sha256::new();
        match secret {
            Some(secret) => hash.update(secret.as_bytes()),
            None => {
                hash.update(b"livechat-rooms cursor key\0");
                hash.update(database.as_bytes());
            }
        }
        CursorKey(hash.finalize().into())
    }

    /// The first 16 bytes of HMAC-SHA256 of `payload` under this key (cursors, live event ids).
    pub fn mac(&self, payload: &[u8]) -> [u8; 16] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        full[..16].try_into().expect("32 bytes")
    }
}

/// A `cursor` parameter as it came: empty (from the start) or two base64url parts. Whether it is
/// genuine is only known with the key and the listing ([`Walk::resume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorToken {
    Start,
    Resume { payload: Vec<u8>, mac: Vec<u8> },
}

impl CursorToken {
    pub fn parse(text: &str) -> Result<Self, ParamError> {
        if text.is_empty() {
            return Ok(CursorToken::Start);
        }
        let (payload, mac) = text.split_once('.').ok_or(ParamError::InvalidCursor)?;
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| ParamError::InvalidCursor)
        };
        Ok(CursorToken::Resume {
            payload: decode(payload)?,
            mac: decode(mac)?,
        })
    }
}

/// Where the last page ended: its last room's sort values, and the ids of the rooms returned with
/// exactly those values.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub values: Vec<Bson>,
    pub seen: Vec<Bson>,
}

/// A keyset walk over one listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    /// Binds the walk to its user, filter and sort.
    pub fingerprint: [u8; 16],
    /// Whether `_id: 1` follows the requested sort: decided on the first page (where it is free,
    /// or the sort is blocking anyway), then kept, so every page sorts alike.
    pub tie_breaker: Option<bool>,
    /// `None` on the first page.
    pub after: Option<Position>,
}

impl Walk {
    /// The walk a token continues, or a 400 naming `cursor` for a token that was altered, is of
    /// another version, or belongs to another user, filter or sort.
    pub fn resume(
        token: &CursorToken,
        key: &CursorKey,
        fingerprint: [u8; 16],
        sort_len: usize,
    ) -> Result<Self, ParamError> {
        let CursorToken::Resume { payload, mac } = token else {
            return Ok(Walk {
                fingerprint,
                tie_breaker: None,
                after: None,
            });
        };
        if key.mac(payload).as_slice() != mac.as_slice() {
            return Err(ParamError::InvalidCursor);
        }
        let read = || -> Option<Walk> {
            let json: serde_json::Value = serde_json::from_slice(payload).ok()?;
            let field = |name: &str| json.get(name);
            if field("v")?.as_u64()? != VERSION {
                return None;
            }
            if field("f")?.as_str()? != hex(&fingerprint) {
                return None;
            }
            let tie_breaker = field("t")?.as_bool()?;
            let bson_list = |name: &str| -> Option<Vec<Bson>> {
                field(name)?
                    .as_array()?
                    .iter()
                    .map(|v| Bson::try_from(v.clone()).ok())
                    .collect()
            };
            let values = bson_list("k")?;
            let seen = bson_list("s")?;
            let keys = sort_len + usize::from(tie_breaker);
            (values.len() == keys && !seen.is_empty() && seen.len() <= MAX_SEEN).then_some(Walk {
                fingerprint,
                tie_breaker: Some(tie_breaker),
                after: Some(Position { values, seen }),
            })
        };
        read().ok_or(ParamError::InvalidCursor)
    }

    /// The cursor of the page after `position`.
    pub fn next(&self, key: &CursorKey, tie_breaker: bool, position: &Position) -> String {
        let extjson = |values: &[Bson]| -> Vec<serde_json::Value> {
            values
                .iter()
                .map(|v| v.clone().into_canonical_extjson())
                .collect()
        };
        let payload = serde_json::json!({
            "v": VERSION,
            "f": hex(&self.fingerprint),
            "t": tie_breaker,
            "k": extjson(&position.values),
            "s": extjson(&position.seen),
        });
        let payload = serde_json::to_vec(&payload).expect("JSON of JSON values");
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(key.mac(&payload))
        )
    }
}

/// What binds a cursor to its listing: the user, the filter (as the query writes it, before any
/// resolving or restriction) and the requested sort.
pub fn fingerprint(user_id: &str, filter: &Document, sort: &[(String, i32)]) -> [u8; 16] {
    let mut hash = Sha256::new();
    hash.update(user_id.as_bytes());
    hash.update([0]);
    let mut bytes = Vec::new();
    filter.to_writer(&mut bytes).expect("a filter serialises");
    hash.update(&bytes);
    for (key, dir) in sort {
        hash.update(key.as_bytes());
        hash.update([0, *dir as u8]);
    }
    let full: [u8; 32] = hash.finalize().into();
    full[..16].try_into().expect("32 bytes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MongoDB's sort order of types, bracket by bracket, each by one `$type` alias (numbers compare
/// across their types, as do strings and symbols). The null bracket holds null and a missing
/// field, which sort alike; it is matched by `$eq: null`, not by `$type`.
const BRACKETS: [&str; 13] = [
    "minKey",
    "null",
    "number",
    "string",
    "object",
    "array",
    "binData",
    "objectId",
    "bool",
    "date",
    "timestamp",
    "regex",
    "maxKey",
];
const NULL_BRACKET: usize = 1;

fn bracket(value: &Bson) -> usize {
    match value {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => NULL_BRACKET,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 2,
        Bson::Symbol(_) | Bson::String(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        Bson::MaxKey => 12,
        // Code and DB pointers cannot be sort keys of a room; they sort after strings.
        _ => 3,
    }
}

/// `{path: …}` matching a value of this bracket.
fn in_bracket(path: &str, bracket: usize) -> Document {
    if bracket == NULL_BRACKET {
        doc! { path: { "$eq": Bson::Null } }
    } else {
        doc! { path: { "$type": BRACKETS[bracket] } }
    }
}

/// The clauses, any of which a value strictly after `value` in direction `dir` matches: the same
/// bracket by `$gt`/`$lt` (comparisons stay within a bracket), and each bracket beyond it by
/// name. Each clause is an index range of its own, and each yields its rooms in sort order, so
/// MongoDB can merge them from the index; a bracket no room has costs an empty range. (Naming the
/// brackets that are not beyond under `$nor` would be shorter, but an unknown `$type` name then
/// matches everything on servers that do not know it, such as nx-27017 for "date".)
fn strictly_after(path: &str, dir: i32, value: &Bson) -> Vec<Document> {
    let here = bracket(value);
    let beyond: Vec<usize> = if dir > 0 {
        (here + 1..BRACKETS.len()).collect()
    } else {
        (0..here).collect()
    };
    let mut clauses = Vec::new();
    // Within the null bracket nothing is greater or less than null.
    if here != NULL_BRACKET {
        let op = if dir > 0 { "$gt" } else { "$lt" };
        clauses.push(doc! { path: { op: value.clone() } });
    }
    clauses.extend(beyond.iter().map(|b| in_bracket(path, *b)));
    clauses
}

/// The clause that keeps the rooms after `position` in the order `sort`: for some key, all keys
/// before it equal and it strictly after; or every key equal and the room not seen yet.
pub fn resume_clause(sort: &[(String, i32)], position: &Position) -> Document {
    let mut branches: Vec<Document> = Vec::new();
    let mut equal = Document::new();
    for ((path, dir), value) in sort.iter().zip(&position.values) {
        for after in strictly_after(path, *dir, value) {
            let mut branch = equal.clone();
            branch.extend(after);
            branches.push(branch);
        }
        equal.insert(path.as_str(), doc! { "$eq": value.clone() });
    }
    // With `_id` among the keys every key equal is the last room itself, already returned.
    if !sort.iter().any(|(path, _)| path == "_id") {
        let mut last = equal;
        last.insert("_id", doc! { "$nin": position.seen.clone() });
        branches.push(last);
    }
    doc! { "$or": branches }
}

/// A room's values of the sort keys, as MongoDB sorts by them: a dotted path through embedded
/// documents; a missing field is null.
pub fn sort_values(room: &RawDocument, sort: &[(String, i32)]) -> Vec<Bson> {
    sort.iter().map(|(path, _)| value_at(room, path)).collect()
}

fn value_at(doc: &RawDocument, path: &str) -> Bson {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    match (doc.get(head), rest) {
        (Ok(Some(RawBsonRef::Document(inner))), Some(rest)) => value_at(inner, rest),
        (Ok(Some(value)), None) => value.to_raw_bson().try_into().unwrap_or(Bson::Null),
        _ => Bson::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{rawdoc, DateTime};

    fn key() -> CursorKey {
        CursorKey::new(None, "rocketchat")
    }

    fn ts_desc() -> Vec<(String, i32)> {
        vec![("ts".to_owned(), -1)]
    }

    fn position() -> Position {
        Position {
            values: vec![Bson::DateTime(DateTime::from_millis(5))],
            seen: vec![Bson::String("r1".into()), Bson::String("r2".into())],
        }
    }

    fn walk() -> Walk {
        Walk {
            fingerprint: fingerprint("u1", &doc! {"t": "l"}, &ts_desc()),
            tie_breaker: None,
            after: None,
        }
    }

    #[test]
    fn a_cursor_resumes_where_it_was_made() {
        let text = walk().next(&key(), false, &position());
        let token = CursorToken::parse(&text).unwrap();
        let resumed = Walk::resume(&token, &key(), walk().fingerprint, 1).unwrap();
        assert_eq!(resumed.after, Some(position()));
        assert_eq!(resumed.tie_breaker, Some(false));
        // Another instance of the same database reads it too.
        let other = CursorKey::new(None, "rocketchat");
        assert!(Walk::resume(&token, &other, walk().fingerprint, 1).is_ok());
    }

    #[test]
    fn an_empty_cursor_starts_a_walk() {
        let walk = Walk::resume(&CursorToken::parse("").unwrap(), &key(), [0; 16], 1).unwrap();
        assert_eq!((walk.tie_breaker, walk.after), (None, None));
    }

    #[test]
    fn altered_foreign_or_malformed_cursors_are_refused() {
        let text = walk().next(&key(), false, &position());
        let fp = walk().fingerprint;
        let refused = |text: &str, fp: [u8; 16], key: &CursorKey| {
            CursorToken::parse(text)
                .and_then(|t| Walk::resume(&t, key, fp, 1))
                .unwrap_err()
        };
        // Each byte of the payload changed.
        let (payload, mac) = text.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let altered = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(refused(&altered, fp, &key()), ParamError::InvalidCursor);
            bytes[i] ^= 1;
        }
        // Another user, filter or sort; another key; not a cursor at all.
        let other_user = fingerprint("u2", &doc! {"t": "l"}, &ts_desc());
        let other_filter = fingerprint("u1", &doc! {"t": "l", "open": true}, &ts_desc());
        let other_sort = fingerprint("u1", &doc! {"t": "l"}, &[("ts".to_owned(), 1)]);
        for fp in [other_user, other_filter, other_sort] {
            assert_eq!(refused(&text, fp, &key()), ParamError::InvalidCursor);
        }
        let secret = CursorKey::new(Some("s3cret"), "rocketchat");
        assert_eq!(
            refused(&text, walk().fingerprint, &secret),
            ParamError::InvalidCursor
        );
        for junk in ["x", "a.b.c", "{\"$gt\":1}", "..", "%%%.%%%"] {
            assert_eq!(refused(junk, fp, &key()), ParamError::InvalidCursor);
        }
    }

    #[test]
    fn operator_shaped_values_stay_values() {
        let sneaky = Position {
            values: vec![Bson::Document(doc! {"$ne": null})],
            seen: vec![Bson::Document(doc! {"$gt": ""})],
        };
        let clause = resume_clause(&[("ts".to_owned(), -1)], &sneaky);
        // Every value sits behind an operator of the service's own choosing.
        assert_eq!(
            clause.get_array("$or").unwrap().last().unwrap(),
            &Bson::Document(doc! {"ts": {"$eq": {"$ne": null}}, "_id": {"$nin": [{"$gt": ""}]}})
        );
    }

    #[test]
    fn the_resume_clause_follows_mongodb_sort_order_across_types() {
        let at = Bson::DateTime(DateTime::from_millis(5));
        let clause = resume_clause(
            &ts_desc(),
            &Position {
                values: vec![at.clone()],
                seen: vec![Bson::String("r1".into())],
            },
        );
        assert_eq!(
            clause,
            doc! {"$or": [
                {"ts": {"$lt": at.clone()}},
                {"ts": {"$type": "minKey"}},
                {"ts": {"$eq": null}},
                {"ts": {"$type": "number"}},
                {"ts": {"$type": "string"}},
                {"ts": {"$type": "object"}},
                {"ts": {"$type": "array"}},
                {"ts": {"$type": "binData"}},
                {"ts": {"$type": "objectId"}},
                {"ts": {"$type": "bool"}},
                {"ts": {"$eq": at.clone()}, "_id": {"$nin": ["r1"]}},
            ]}
        );
        // Ascending from a date: the three brackets above it, by name.
        let clause = resume_clause(
            &[("ts".to_owned(), 1)],
            &Position {
                values: vec![at.clone()],
                seen: vec![Bson::String("r1".into())],
            },
        );
        assert_eq!(clause.get_array("$or").unwrap().len(), 5, "{clause}");
        // Two keys, ascending from null: nothing is "greater than null" within its bracket.
        let clause = resume_clause(
            &[("a".to_owned(), 1), ("b".to_owned(), 1)],
            &Position {
                values: vec![Bson::Null, Bson::Int32(3)],
                seen: vec![Bson::String("r1".into())],
            },
        );
        let branches = clause.get_array("$or").unwrap();
        // a above null: the 11 brackets above it; b above 3 with a null: $gt, then the 10
        // brackets above numbers; both equal and unseen.
        assert_eq!(branches.len(), 11 + 1 + 10 + 1, "{clause}");
        assert_eq!(
            branches[11],
            Bson::Document(doc! {"a": {"$eq": null}, "b": {"$gt": 3}})
        );
        assert_eq!(branches[0], Bson::Document(doc! {"a": {"$type": "number"}}));
    }

    #[test]
    fn with_the_id_among_the_keys_no_room_is_taken_again() {
        let clause = resume_clause(
            &[("ts".to_owned(), -1), ("_id".to_owned(), 1)],
            &Position {
                values: vec![
                    Bson::DateTime(DateTime::from_millis(5)),
                    Bson::String("r2".into()),
                ],
                seen: vec![Bson::String("r2".into())],
            },
        );
        let branches = clause.get_array("$or").unwrap();
        assert!(
            branches.iter().all(|b| !b
                .as_document()
                .unwrap()
                .get_document("_id")
                .is_ok_and(|c| c.contains_key("$nin"))),
            "{clause}"
        );
        assert!(branches.contains(&Bson::Document(
            doc! {"ts": {"$eq": DateTime::from_millis(5)}, "_id": {"$gt": "r2"}}
        )));
    }

    #[test]
    fn sort_values_follow_dotted_paths_and_missing_is_null() {
        let room =
            rawdoc! {"_id": "r", "ts": DateTime::from_millis(9), "servedBy": {"username": "ada"}};
        let sort = vec![
            ("ts".to_owned(), -1),
            ("servedBy.username".to_owned(), 1),
            ("closedAt".to_owned(), 1),
            ("ts.x".to_owned(), 1),
        ];
        assert_eq!(
            sort_values(&room, &sort),
            vec![
                Bson::DateTime(DateTime::from_millis(9)),
                Bson::String("ada".into()),
                Bson::Null,
                Bson::Null
            ]
        );
    }
}
