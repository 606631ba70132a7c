//! Pure translation of a [`Listing`] into what MongoDB is sent: the filter, the requested sort and
//! the projection. No I/O here; the tests below are the main guard of the translation.

use mongodb::bson::{doc, Bson, Document};

use super::cursor::{self, Walk};
use super::query::{DateRange, Departments, LiteralPattern, RoomName, RoomsQuery};
use super::scope::Scope;

/// What one listing asks of MongoDB: the parsed query, its `agents` resolved to user ids, and the
/// scope authorization gave the user. The find and the count are built from the same value.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub query: RoomsQuery,
    /// `agents` as user ids (§4): for each value the `_id` of the user whose `_id` or `username`
    /// it is, or the value itself when it names no user.
    pub agent_ids: Option<Vec<String>>,
    pub scope: Scope,
    /// A keyset walk (`cursor`), with where its last page ended.
    pub walk: Option<Walk>,
}

impl Listing {
    /// Every room the query matches, its `agents` taken as ids (tests, benchmarks).
    pub fn unrestricted(query: RoomsQuery) -> Self {
        Listing {
            agent_ids: query.agents.clone(),
            query,
            scope: Scope::All,
            walk: None,
        }
    }
}

/// The filter of the contract, built in its order: later keys overwrite earlier ones in place, as
/// assignments to a JavaScript object do (so `queued` wins over `open` and `onhold`). The scope's
/// clause comes first in `$and` (where Rocket.Chat puts it), beside the `customFields` clauses,
/// never instead of them, so nothing a client sends widens it.
pub fn to_filter(listing: &Listing) -> Document {
    let q = &listing.query;
    let mut filter = doc! { "t": "l" };
    if let Some(ids) = &listing.agent_ids {
        filter.insert("servedBy._id", doc! { "$in": ids });
    }
    match &q.room_name {
        Some(RoomName::Exact(name)) => {
            filter.insert("fname", name.as_str());
        }
        Some(RoomName::Contains(text)) => {
            filter.insert("fname", contains(text));
        }
        None => {}
    }
    match &q.departments {
        Some(Departments::One(id)) => {
            filter.insert("departmentId", id.as_str());
        }
        Some(Departments::Any(ids)) => {
            filter.insert("departmentId", doc! { "$in": ids });
        }
        None => {}
    }
    match q.open {
        Some(true) => {
            filter.insert("open", doc! { "$exists": true });
            filter.insert("onHold", doc! { "$ne": true });
            filter.insert("servedBy", doc! { "$exists": true });
        }
        Some(false) => {
            filter.insert("open", doc! { "$exists": false });
            filter.insert("onHold", doc! { "$ne": true });
        }
        None => {}
    }
    if let Some(range) = date_range(&q.created_at) {
        filter.insert("ts", range);
    }
    if let Some(range) = date_range(&q.closed_at) {
        filter.insert("closedAt", range);
    }
    if let Some(tags) = &q.tags {
        filter.insert("tags", doc! { "$in": tags });
    }
    if !q.custom_fields.is_empty() {
        let clauses: Vec<Document> = q
            .custom_fields
            .iter()
            .map(|(key, value)| doc! { format!("livechatData.{key}"): contains(value) })
            .collect();
        filter.insert("$and", clauses);
    }
    if q.onhold {
        filter.insert("onHold", doc! { "$exists": true, "$eq": true });
    }
    if q.queued {
        filter.insert("servedBy", doc! { "$exists": false });
        filter.insert("open", true);
        filter.insert("onHold", doc! { "$ne": true });
    }
    // For a restricted user `units` only narrows their own units (in the scope's clause, §3b):
    // a room of one of those units' departments is found through its `departmentId` even where
    // its `departmentAncestors` is missing or stale, as in Rocket.Chat.
    if let (Some(units), false) = (&q.units, listing.scope.is_restricted()) {
        filter.insert("departmentAncestors", doc! { "$in": units });
    }
    if let Some(since) = q.updated_since {
        filter.insert("_updatedAt", doc! { "$gte": since });
    }
    if let Some(clause) = listing.scope.clause(q.units.as_deref()) {
        and(&mut filter, 0, clause);
    }
    if let Some(after) = listing.walk.as_ref().and_then(|w| w.after.as_ref()) {
        let clause = cursor::resume_clause(&walk_sort(listing), after);
        let end = filter.get_array("$and").map_or(0, |clauses| clauses.len());
        and(&mut filter, end, clause);
    }
    filter
}

/// Puts `clause` at `at` in the filter's `$and`, which is added (at the end) when there is none.
fn and(filter: &mut Document, at: usize, clause: Document) {
    match filter.get_mut("$and") {
        Some(Bson::Array(clauses)) => clauses.insert(at, Bson::Document(clause)),
        _ => {
            filter.insert("$and", vec![clause]);
        }
    }
}

/// The sort of a walk's later pages: the requested one, with `_id: 1` if the first page had it.
pub fn walk_sort(listing: &Listing) -> Vec<(String, i32)> {
    let mut sort = listing.query.requested_sort();
    if listing.walk.as_ref().and_then(|w| w.tie_breaker) == Some(true) {
        sort.push(("_id".to_owned(), 1));
    }
    sort
}

/// The filter a cursor is bound to: the query's own clauses, before `agents` are resolved and any
/// restriction is added (both may change during a walk without making it another listing).
pub fn walk_fingerprint(user_id: &str, query: &RoomsQuery) -> [u8; 16] {
    let own = Listing::unrestricted(query.clone());
    cursor::fingerprint(user_id, &to_filter(&own), &query.requested_sort())
}

/// A sort as the document MongoDB takes.
pub fn sort_document(sort: &[(String, i32)]) -> Document {
    sort.iter()
        .map(|(k, d)| (k.clone(), Bson::Int32(*d)))
        .collect()
}

/// The projection from `fields`, if any.
pub fn to_projection(q: &RoomsQuery) -> Option<Document> {
    q.fields.as_ref().map(|spec| {
        spec.0
            .iter()
            .map(|(key, include)| (key.clone(), Bson::Int32(i32::from(*include))))
            .collect()
    })
}

/// A case-insensitive match of `text` anywhere, with `text` taken literally.
fn contains(pattern: &LiteralPattern) -> Document {
    doc! { "$regex": pattern.as_str(), "$options": "i" }
}

fn date_range(range: &DateRange) -> Option<Document> {
    let mut bounds = Document::new();
    if let Some(start) = range.start {
        bounds.insert("$gte", start);
    }
    if let Some(end) = range.end {
        bounds.insert("$lte", end);
    }
    (!bounds.is_empty()).then_some(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::DateTime;

    fn filter(query: &str) -> Document {
        to_filter(&Listing::unrestricted(
            RoomsQuery::from_query_string(query).unwrap(),
        ))
    }

    fn ms(s: &str) -> DateTime {
        DateTime::from_millis(
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn each_parameter_makes_its_filter() {
        let cases: Vec<(&str, Document)> = vec![
            ("", doc! {"t": "l"}),
            (
                "agents[]=a&agents[]=b",
                doc! {"t": "l", "servedBy._id": {"$in": ["a", "b"]}},
            ),
            ("roomName=%22Ada%22", doc! {"t": "l", "fname": "Ada"}),
            (
                "roomName=a.b",
                doc! {"t": "l", "fname": {"$regex": "a\\.b", "$options": "i"}},
            ),
            ("departmentId=d1", doc! {"t": "l", "departmentId": "d1"}),
            (
                "departmentId[]=d1&departmentId[]=d2",
                doc! {"t": "l", "departmentId": {"$in": ["d1", "d2"]}},
            ),
            (
                "open=true",
                doc! {"t": "l", "open": {"$exists": true}, "onHold": {"$ne": true}, "servedBy": {"$exists": true}},
            ),
            (
                "open=false",
                doc! {"t": "l", "open": {"$exists": false}, "onHold": {"$ne": true}},
            ),
            (
                r#"createdAt={"start":"2018-01-26","end":"2018-01-27T10:00:00Z"}"#,
                doc! {"t": "l", "ts": {"$gte": ms("2018-01-26T00:00:00Z"), "$lte": ms("2018-01-27T10:00:00Z")}},
            ),
            (
                r#"createdAt={"end":"2018-01-27"}"#,
                doc! {"t": "l", "ts": {"$lte": ms("2018-01-27T00:00:00Z")}},
            ),
            (r#"createdAt={}"#, doc! {"t": "l"}),
            (
                r#"closedAt={"start":"2018-01-26"}"#,
                doc! {"t": "l", "closedAt": {"$gte": ms("2018-01-26T00:00:00Z")}},
            ),
            ("tags[]=x", doc! {"t": "l", "tags": {"$in": ["x"]}}),
            (
                r#"customFields={"docId":"0(3)","n":5}"#,
                doc! {"t": "l", "$and": [
                    {"livechatData.docId": {"$regex": "0\\(3\\)", "$options": "i"}},
                    {"livechatData.n": {"$regex": "5", "$options": "i"}},
                ]},
            ),
            (
                "onhold=true",
                doc! {"t": "l", "onHold": {"$exists": true, "$eq": true}},
            ),
            (
                "queued=1",
                doc! {"t": "l", "servedBy": {"$exists": false}, "open": true, "onHold": {"$ne": true}},
            ),
            (
                "units[]=u1",
                doc! {"t": "l", "departmentAncestors": {"$in": ["u1"]}},
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(filter(query), expected, "{query}");
        }
    }

    #[test]
    fn later_keys_overwrite_earlier_ones_in_place() {
        assert_eq!(
            filter("open=true&onhold=t&queued=t"),
            doc! {"t": "l", "open": true, "onHold": {"$ne": true}, "servedBy": {"$exists": false}}
        );
        assert_eq!(
            filter("open=false&onhold=1"),
            doc! {"t": "l", "open": {"$exists": false}, "onHold": {"$exists": true, "$eq": true}}
        );
    }

    #[test]
    fn all_parameters_combine_in_contract_order() {
        let q = r#"units[]=u&tags[]=t&departmentId=d&agents[]=a&roomName=r&open=false&onhold=t&customFields={"k":"v"}"#;
        let filter = filter(q);
        let keys: Vec<&String> = filter.keys().collect();
        assert_eq!(
            keys,
            [
                "t",
                "servedBy._id",
                "fname",
                "departmentId",
                "open",
                "onHold",
                "tags",
                "$and",
                "departmentAncestors"
            ]
        );
    }

    fn escape_regex(text: &str) -> String {
        LiteralPattern::new(text).unwrap().as_str().to_owned()
    }

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(
            escape_regex(r"a.b*c+d?e^f$g{h}i(j)k|l[m]n\o-p/q"),
            r"a\.b\*c\+d\?e\^f\$g\{h\}i\(j\)k\|l\[m\]n\\o-p/q"
        );
        assert_eq!(escape_regex("a\0b"), r"a\x00b");
        assert_eq!(escape_regex("Ada Löwe"), "Ada Löwe");
    }

    #[test]
    fn agents_are_matched_by_their_resolved_ids_only() {
        let mut listing =
            Listing::unrestricted(RoomsQuery::from_query_string("agents=ada").unwrap());
        listing.agent_ids = Some(vec!["u1".into(), "ada".into()]);
        assert_eq!(
            to_filter(&listing),
            doc! {"t": "l", "servedBy._id": {"$in": ["u1", "ada"]}}
        );
    }

    fn restricted(query: &str) -> Document {
        let tree = std::sync::Arc::new(super::super::scope::UnitTree {
            has_units: true,
            departments: vec![("d1".into(), vec!["u1".into()])],
        });
        let mut listing = Listing::unrestricted(RoomsQuery::from_query_string(query).unwrap());
        listing.scope = Scope::Restricted {
            units: std::sync::Arc::new(vec!["u1".into()]),
            tree,
        };
        to_filter(&listing)
    }

    #[test]
    fn the_scope_is_anded_with_every_clause_and_replaces_none() {
        let scope = doc! {"$or": [
            {"departmentAncestors": {"$in": ["u1"]}},
            {"departmentId": {"$in": ["d1"]}},
        ]};
        assert_eq!(restricted(""), doc! {"t": "l", "$and": [scope.clone()]});
        assert_eq!(
            restricted("departmentId=d9"),
            doc! {"t": "l", "departmentId": "d9", "$and": [scope.clone()]}
        );
        // customFields' clauses stay, after the scope's, in their place; `units` adds no
        // departmentAncestors clause of its own for a restricted user (it narrows the scope).
        assert_eq!(
            restricted(r#"customFields={"k":"v"}&units=u1"#),
            doc! {"t": "l", "$and": [
                scope.clone(),
                {"livechatData.k": {"$regex": "v", "$options": "i"}},
            ]}
        );
        assert_eq!(restricted("units=u1"), doc! {"t": "l", "$and": [scope]});
        // A unit the user does not have narrows to nothing.
        assert_eq!(
            restricted("units=u2"),
            doc! {"t": "l", "$and": [{"$or": [
                {"departmentAncestors": {"$in": Vec::<String>::new()}},
                {"departmentId": {"$in": Vec::<String>::new()}},
            ]}]}
        );
    }

    #[test]
    fn the_requested_sort_is_the_default_or_the_keys_in_order() {
        let sort = |q: &str| RoomsQuery::from_query_string(q).unwrap().requested_sort();
        assert_eq!(sort(""), [("ts".to_owned(), -1)]);
        assert_eq!(
            sort(r#"sort={"open":-1,"fname":1}"#),
            [("open".to_owned(), -1), ("fname".to_owned(), 1)]
        );
        assert_eq!(sort("sort={}"), []);
        assert_eq!(
            sort_document(&sort(r#"sort={"open":-1,"fname":1}"#)),
            doc! {"open": -1, "fname": 1}
        );
    }

    #[test]
    fn fields_become_the_projection() {
        let q = RoomsQuery::from_query_string(r#"fields={"fname":1,"_id":0}"#).unwrap();
        assert_eq!(to_projection(&q), Some(doc! {"fname": 1, "_id": 0}));
        assert_eq!(to_projection(&RoomsQuery::default()), None);
    }
}
