//! `livechat-rooms indexes`: for the listings clients send, whether an index of `rocketchat_room`
//! serves the sort and which, and the recommended indexes that are missing. Pure: the index list
//! is read (and `--create` writes) in `main.rs`.

use std::fmt::Write as _;

use crate::rooms::indexes::IndexSpec;
use crate::rooms::sort_plan::{self, SortServed};
use crate::rooms::{filter, Listing, RoomsQuery};

/// The listings worth a look: the default, each sort the Current Chats page offers, and the
/// filters that pin a field Rocket.Chat indexes (department, agent, tag).
pub const LISTINGS: [(&str, &str); 12] = [
    ("default (newest first)", ""),
    ("oldest first", r#"sort={"ts":1}"#),
    ("by name", r#"sort={"fname":1}"#),
    ("by last message", r#"sort={"lm":-1}"#),
    ("by department", r#"sort={"departmentId":1}"#),
    ("by agent", r#"sort={"servedBy.username":1}"#),
    ("by status", r#"sort={"open":-1}"#),
    ("one department", "departmentId=x"),
    ("one agent", "agents=x"),
    ("one tag", "tags=x"),
    ("open rooms", "open=true"),
    (
        "changed since (updatedSince walk)",
        r#"sort={"_updatedAt":1}"#,
    ),
];

/// The report, and the recommended indexes `indexes` lacks (by content, whatever their names).
pub fn report(indexes: &[IndexSpec]) -> (String, Vec<IndexSpec>) {
    let mut out = String::new();
    let _ = writeln!(out, "listing: sort sent -> how MongoDB serves it");
    for (name, query) in LISTINGS {
        let query = RoomsQuery::from_query_string(query).expect("the listings parse");
        let listing = Listing::unrestricted(query);
        let filter = filter::to_filter(&listing);
        let plan = sort_plan::plan_sort(Some(indexes), &filter, &listing.query.requested_sort());
        let sort = filter::sort_document(&plan.sort);
        let served = match (plan.served, &plan.index) {
            (SortServed::IndexWithTieBreaker, Some(index)) => {
                format!("index {index}, with the _id tie-breaker")
            }
            (SortServed::Index, Some(index)) => {
                format!(
                    "index {index} (no tie-breaker: rooms with equal keys may move between pages)"
                )
            }
            _ => {
                "BLOCKING SORT: no index serves it; MongoDB reads and sorts every match".to_owned()
            }
        };
        let _ = writeln!(out, "  {name}: {sort} -> {served}");
    }
    // The live feed's poll: `_updatedAt` ≥ a moment, in `_updatedAt` order, `{_id, _updatedAt}`.
    let changes =
        mongodb::bson::doc! {"t": "l", "_updatedAt": {"$gte": mongodb::bson::DateTime::MIN}};
    let plan = sort_plan::plan_sort(Some(indexes), &changes, &[("_updatedAt".to_owned(), 1)]);
    let _ = match (plan.served, &plan.index) {
        (SortServed::Index | SortServed::IndexWithTieBreaker, Some(index)) => writeln!(
            out,
            "live feed (what changed, once per LIVE_POLL_MS): index {index}, a range of the \
             newest entries"
        ),
        _ => writeln!(
            out,
            "live feed (what changed, once per LIVE_POLL_MS): NO INDEX on _updatedAt: every \
             poll reads every room; create livechat_rooms_updated_at_id"
        ),
    };
    let missing: Vec<IndexSpec> = sort_plan::recommended()
        .into_iter()
        .filter(|wanted| !sort_plan::has_equivalent(indexes, wanted))
        .collect();
    if missing.is_empty() {
        let _ = writeln!(out, "every recommended index is there");
    } else {
        let _ = writeln!(
            out,
            "recommended indexes missing (`livechat-rooms indexes --create` creates them):"
        );
        for index in &missing {
            let _ = writeln!(out, "  {}", index.to_create_entry());
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    fn rocket_chat() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new("_id_", &[("_id", 1)], None),
            IndexSpec::new("t_1_ts_1", &[("t", 1), ("ts", 1)], None),
            IndexSpec::new(
                "departmentId_1_ts_1",
                &[("departmentId", 1), ("ts", 1)],
                Some(doc! {"t": "l"}),
            ),
        ]
    }

    #[test]
    fn the_report_says_how_each_listing_is_served_and_what_is_missing() {
        let (text, missing) = report(&rocket_chat());
        assert!(
            text.contains(
                r#"default (newest first): { "ts": -1 } -> index t_1_ts_1 (no tie-breaker"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"by department: { "departmentId": 1 } -> index departmentId_1_ts_1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"by name: { "fname": 1, "_id": 1 } -> BLOCKING SORT"#),
            "{text}"
        );
        assert!(
            text.contains("live feed (what changed, once per LIVE_POLL_MS): NO INDEX"),
            "{text}"
        );
        assert_eq!(missing, sort_plan::recommended());
        let mut all = rocket_chat();
        all.extend(sort_plan::recommended());
        let (text, missing) = report(&all);
        assert!(missing.is_empty());
        assert!(text.contains(r#"default (newest first): { "ts": -1, "_id": 1 } -> index livechat_rooms_ts_id, with the _id tie-breaker"#), "{text}");
        assert!(text.contains("every recommended index is there"), "{text}");
        assert!(
            text.contains("live feed (what changed, once per LIVE_POLL_MS): index livechat_rooms_updated_at_id"),
            "{text}"
        );
    }
}
