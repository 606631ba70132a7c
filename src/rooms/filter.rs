//! Pure translation of a [`RoomsQuery`] into what MongoDB is sent: the filter, the sort and the
//! projection. No I/O here; the tests below are the main guard of the translation.

use mongodb::bson::{doc, Bson, Document};

use super::query::{DateRange, Departments, Direction, LiteralPattern, RoomName, RoomsQuery};

/// The filter of the contract, built in its order: later keys overwrite earlier ones in place, as
/// assignments to a JavaScript object do (so `queued` wins over `open` and `onhold`).
pub fn to_filter(q: &RoomsQuery) -> Document {
    let mut filter = doc! { "t": "l" };
    if let Some(agents) = &q.agents {
        filter.insert(
            "$or",
            vec![
                doc! { "servedBy._id": { "$in": agents } },
                doc! { "servedBy.username": { "$in": agents } },
            ],
        );
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
    if let Some(units) = &q.units {
        filter.insert("departmentAncestors", doc! { "$in": units });
    }
    filter
}

/// The sort sent to MongoDB: the requested one (default `{"ts": -1}`), then `_id: 1` so that rooms
/// with equal keys keep one order across pages.
pub fn to_sort(q: &RoomsQuery) -> Document {
    let mut sort = Document::new();
    match &q.sort {
        Some(spec) => {
            for (key, dir) in &spec.0 {
                sort.insert(key.as_str(), if *dir == Direction::Asc { 1 } else { -1 });
            }
        }
        None => {
            sort.insert("ts", -1);
        }
    }
    if !sort.contains_key("_id") {
        sort.insert("_id", 1);
    }
    sort
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
        to_filter(&RoomsQuery::from_query_string(query).unwrap())
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
                doc! {"t": "l", "$or": [
                    {"servedBy._id": {"$in": ["a", "b"]}},
                    {"servedBy.username": {"$in": ["a", "b"]}},
                ]},
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
                "$or",
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
    fn default_sort_is_newest_first_then_id() {
        assert_eq!(to_sort(&RoomsQuery::default()), doc! {"ts": -1, "_id": 1});
    }

    #[test]
    fn requested_sort_gets_the_id_tie_breaker() {
        let q = RoomsQuery::from_query_string(r#"sort={"open":-1,"fname":1}"#).unwrap();
        assert_eq!(to_sort(&q), doc! {"open": -1, "fname": 1, "_id": 1});
        let q = RoomsQuery::from_query_string(r#"sort={"_id":-1,"ts":1}"#).unwrap();
        assert_eq!(to_sort(&q), doc! {"_id": -1, "ts": 1});
        let q = RoomsQuery::from_query_string("sort={}").unwrap();
        assert_eq!(to_sort(&q), doc! {"_id": 1});
    }

    #[test]
    fn fields_become_the_projection() {
        let q = RoomsQuery::from_query_string(r#"fields={"fname":1,"_id":0}"#).unwrap();
        assert_eq!(to_projection(&q), Some(doc! {"fname": 1, "_id": 0}));
        assert_eq!(to_projection(&RoomsQuery::default()), None);
    }
}
