//! [`plan_sort`]: the sort to send for a listing, chosen from the index list (contract §4b), and
//! the indexes `livechat-rooms indexes` recommends. Pure.

use mongodb::bson::{doc, Document};

use super::indexes::{Filter, IndexSpec};

/// How the sort sent was served, as `/metrics` counts listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortServed {
    /// An index serves the sort and the `_id` tie-breaker after it.
    IndexWithTieBreaker,
    /// An index serves the sort, not the tie-breaker: the sort is sent alone, as Rocket.Chat's.
    Index,
    /// No index serves it: MongoDB sorts in memory (or on disk), so the tie-breaker is added.
    Blocking,
    /// The index list could not be read: the sort is sent as Rocket.Chat sends it.
    Unknown,
}

impl SortServed {
    pub const ALL: [SortServed; 4] = [
        SortServed::IndexWithTieBreaker,
        SortServed::Index,
        SortServed::Blocking,
        SortServed::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortServed::IndexWithTieBreaker => "index_with_tie_breaker",
            SortServed::Index => "index",
            SortServed::Blocking => "blocking",
            SortServed::Unknown => "unknown",
        }
    }
}

/// The sort to send, how it is served, and by which index.
#[derive(Debug, Clone, PartialEq)]
pub struct SortPlan {
    pub sort: Vec<(String, i32)>,
    pub served: SortServed,
    pub index: Option<String>,
}

/// The contract's choice (§4b): the requested sort followed by `_id: 1` if an index serves that;
/// else the requested sort alone if an index serves it; else (a blocking sort whatever is sent)
/// with `_id: 1`. Without an index list, the requested sort as Rocket.Chat sends it.
pub fn plan_sort(
    indexes: Option<&[IndexSpec]>,
    filter: &Document,
    requested: &[(String, i32)],
) -> SortPlan {
    let Some(indexes) = indexes else {
        return SortPlan {
            sort: requested.to_vec(),
            served: SortServed::Unknown,
            index: None,
        };
    };
    let filter = Filter::new(filter);
    let mut with_tie_breaker = requested.to_vec();
    if !requested.iter().any(|(k, _)| k == "_id") {
        with_tie_breaker.push(("_id".to_owned(), 1));
    }
    let serving = |sort: &[(String, i32)]| {
        indexes
            .iter()
            .find(|index| index.serves(&filter, sort))
            .map(|index| index.name.clone())
    };
    if let Some(index) = serving(&with_tie_breaker) {
        return SortPlan {
            sort: with_tie_breaker,
            served: SortServed::IndexWithTieBreaker,
            index: Some(index),
        };
    }
    if let Some(index) = serving(requested) {
        return SortPlan {
            sort: requested.to_vec(),
            served: SortServed::Index,
            index: Some(index),
        };
    }
    SortPlan {
        sort: with_tie_breaker,
        served: SortServed::Blocking,
        index: None,
    }
}

/// The indexes `livechat-rooms indexes` recommends (and `--create` creates when missing): the
/// default listing's sort with its tie-breaker, and the `updatedSince` walk's order.
pub fn recommended() -> Vec<IndexSpec> {
    let livechat = || Some(doc! { "t": "l" });
    vec![
        IndexSpec::new(
            "livechat_rooms_ts_id",
            &[("ts", -1), ("_id", 1)],
            livechat(),
        ),
        IndexSpec::new(
            "livechat_rooms_updated_at_id",
            &[("_updatedAt", 1), ("_id", 1)],
            livechat(),
        ),
    ]
}

/// Whether `indexes` already has an index with `wanted`'s keys and partial filter (by content,
/// whatever its name).
pub fn has_equivalent(indexes: &[IndexSpec], wanted: &IndexSpec) -> bool {
    indexes
        .iter()
        .any(|i| i.sorts && i.keys == wanted.keys && i.partial == wanted.partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(keys: &[(&str, i32)]) -> Vec<(String, i32)> {
        keys.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect()
    }
    /// Rocket.Chat 6.x's indexes on `rocketchat_room` that matter for sorting.
    fn rocket_chat_6() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new("_id_", &[("_id", 1)], None),
            IndexSpec::new("ts_1", &[("ts", 1)], None),
            IndexSpec::new("t_1_ts_1", &[("t", 1), ("ts", 1)], None),
        ]
    }
    /// Rocket.Chat's newest: 6.x's and the partial livechat indexes.
    fn rocket_chat_newest() -> Vec<IndexSpec> {
        let livechat = || Some(doc! { "t": "l" });
        let mut all = rocket_chat_6();
        all.extend([
            IndexSpec::new(
                "departmentId_1_ts_1",
                &[("departmentId", 1), ("ts", 1)],
                livechat(),
            ),
            IndexSpec::new("servedBy_1_ts_1", &[("servedBy", 1), ("ts", 1)], livechat()),
            IndexSpec::new("source_1_ts_1", &[("source", 1), ("ts", 1)], livechat()),
            IndexSpec::new("tags.0_1_ts_1", &[("tags.0", 1), ("ts", 1)], livechat()),
            IndexSpec::new(
                "servedBy._id_1_departmentId_1_t_1_open_1_ts_-1",
                &[
                    ("servedBy._id", 1),
                    ("departmentId", 1),
                    ("t", 1),
                    ("open", 1),
                    ("ts", -1),
                ],
                None,
            ),
        ]);
        all
    }
    fn with_recommended(mut indexes: Vec<IndexSpec>) -> Vec<IndexSpec> {
        indexes.extend(recommended());
        indexes
    }
    fn plan(
        indexes: &[IndexSpec],
        filter: Document,
        requested: &[(&str, i32)],
    ) -> (Vec<(String, i32)>, SortServed) {
        let p = plan_sort(Some(indexes), &filter, &sort(requested));
        (p.sort, p.served)
    }
    #[test]
    fn the_default_listing_on_rocket_chats_indexes_sends_the_sort_alone() {
        for indexes in [rocket_chat_6(), rocket_chat_newest()] {
            assert_eq!(
                plan(&indexes, doc! {"t": "l"}, &[("ts", -1)]),
                (sort(&[("ts", -1)]), SortServed::Index)
            );
        }
    }
    #[test]
    fn the_recommended_index_makes_the_tie_breaker_free() {
        let p = plan_sort(
            Some(&with_recommended(rocket_chat_newest())),
            &doc! {"t": "l", "open": {"$exists": true}},
            &sort(&[("ts", -1)]),
        );
        assert_eq!(p.sort, sort(&[("ts", -1), ("_id", 1)]));
        assert_eq!(p.served, SortServed::IndexWithTieBreaker);
        assert_eq!(p.index.as_deref(), Some("livechat_rooms_ts_id"));
        // Read backwards it serves the reverse order too.
        assert_eq!(
            plan(&recommended(), doc! {"t": "l"}, &[("ts", 1), ("_id", -1)]),
            (
                sort(&[("ts", 1), ("_id", -1)]),
                SortServed::IndexWithTieBreaker
            )
        );
    }
    #[test]
    fn with_no_index_on_the_sort_the_tie_breaker_is_added() {
        let only_id = vec![IndexSpec::new("_id_", &[("_id", 1)], None)];
        assert_eq!(
            plan(&only_id, doc! {"t": "l"}, &[("ts", -1)]),
            (sort(&[("ts", -1), ("_id", 1)]), SortServed::Blocking)
        );
        assert_eq!(
            plan(&rocket_chat_newest(), doc! {"t": "l"}, &[("fname", 1)]),
            (sort(&[("fname", 1), ("_id", 1)]), SortServed::Blocking)
        );
    }
    #[test]
    fn without_an_index_list_the_sort_is_rocket_chats() {
        let p = plan_sort(None, &doc! {"t": "l"}, &sort(&[("ts", -1)]));
        assert_eq!(
            (p.sort, p.served),
            (sort(&[("ts", -1)]), SortServed::Unknown)
        );
    }
    #[test]
    fn an_empty_sort_is_the_tie_breaker_on_the_id_index() {
        assert_eq!(
            plan(&rocket_chat_6(), doc! {"t": "l"}, &[]),
            (sort(&[("_id", 1)]), SortServed::IndexWithTieBreaker)
        );
    }
    #[test]
    fn a_sort_that_holds_id_is_sent_as_requested() {
        assert_eq!(
            plan(&rocket_chat_6(), doc! {"t": "l"}, &[("_id", -1), ("ts", 1)]),
            (sort(&[("_id", -1), ("ts", 1)]), SortServed::Blocking)
        );
        assert_eq!(
            plan(&rocket_chat_6(), doc! {"t": "l"}, &[("_id", -1)]),
            (sort(&[("_id", -1)]), SortServed::IndexWithTieBreaker)
        );
    }
    #[test]
    fn recommended_indexes_are_recognised_by_content() {
        let mut present = rocket_chat_newest();
        assert!(!has_equivalent(&present, &recommended()[0]));
        let mut renamed = recommended()[0].clone();
        renamed.name = "mine".into();
        present.push(renamed);
        assert!(has_equivalent(&present, &recommended()[0]));
        assert_eq!(
            recommended()[0].to_create_entry(),
            doc! {"key": {"ts": -1, "_id": 1}, "name": "livechat_rooms_ts_id", "partialFilterExpression": {"t": "l"}}
        );
    }
}
