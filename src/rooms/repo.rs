//! The only code that reads rooms. Documents stay raw BSON ([`RawDocumentBuf`]) all the way to the
//! renderer, and arrive batch by batch from a cursor, so no page is ever held whole.

use std::future::IntoFuture as _;

use mongodb::bson::RawDocumentBuf;
use mongodb::Cursor;

use super::indexes::IndexSpec;
use super::sort_plan::{self, SortServed};
use super::{filter, Listing};
use crate::db::{Db, DbError};

/// Rooms per cursor batch: bounds what a listing holds at once (a batch of large rooms is a few
/// MB) while a page of up to this many rooms still arrives in one round trip.
pub const BATCH_SIZE: u32 = 500;

/// What [`find_page`] sent: the cursor, with its first batch; how its sort is served; and the
/// sort itself, with whether `_id: 1` was added to the requested one.
pub struct Page {
    pub rooms: Cursor<RawDocumentBuf>,
    pub served: SortServed,
    pub sort: Vec<(String, i32)>,
    pub tie_breaker: bool,
}

/// `find` with the listing's filter, the sort [`sort_plan::plan_sort`] picks on `indexes` (a
/// walk's later pages keep its first page's), `skip` = offset (none on a walk), projection and
/// `limit` (`None`: no limit; then a sort no index serves may use the disk).
pub async fn find_page(
    db: &Db,
    listing: &Listing,
    limit: Option<u64>,
    indexes: Option<&[IndexSpec]>,
) -> Result<Page, DbError> {
    let query = &listing.query;
    let filter = filter::to_filter(listing);
    let requested = query.requested_sort();
    let plan = sort_plan::plan_sort(indexes, &filter, &requested);
    let (sort, tie_breaker) = match listing.walk.as_ref().and_then(|w| w.tie_breaker) {
        Some(kept) => (filter::walk_sort(listing), kept),
        None => {
            let added = plan.sort.len() > requested.len();
            (plan.sort, added)
        }
    };
    let mut find = db
        .rooms()
        .find(filter)
        .sort(filter::sort_document(&sort))
        .batch_size(BATCH_SIZE)
        .max_time(db.query_timeout());
    // A walk never skips: it resumes by its filter.
    if listing.walk.is_none() {
        find = find.skip(query.offset);
    }
    if let Some(projection) = filter::to_projection(query) {
        find = find.projection(projection);
    }
    match limit {
        // Positive: a negative limit would mean "one batch only" to MongoDB.
        Some(limit) => find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX)),
        None if plan.served == SortServed::Blocking => find = find.allow_disk_use(true),
        None => {}
    }
    let rooms = db
        .call("rooms.find", find.into_future())
        .await
        .map_err(DbError::Listing)?;
    Ok(Page {
        rooms,
        served: plan.served,
        sort,
        tie_breaker,
    })
}

/// `countDocuments` with the listing's filter: the listing's `total`.
pub async fn count(db: &Db, listing: &Listing) -> Result<u64, DbError> {
    let count = db
        .rooms()
        .count_documents(filter::to_filter(listing))
        .max_time(db.query_timeout())
        .into_future();
    db.call("rooms.count", count)
        .await
        .map_err(DbError::Listing)
}

/// The `total` a page already tells, once its cursor is done: a page that stopped short of its
/// limit, and has rooms or starts at the first room, holds the last matching room, so every match
/// is counted in `offset + sent`. `None` when only `countDocuments` can tell (a full page, or an
/// empty page past the end).
pub fn total_from_page(offset: u64, limit: Option<u64>, sent: u64) -> Option<u64> {
    let short = limit.is_none_or(|limit| sent < limit);
    (short && (sent > 0 || offset == 0)).then(|| offset + sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_short_of_its_limit_tells_the_total() {
        assert_eq!(total_from_page(0, Some(25), 3), Some(3));
        assert_eq!(total_from_page(50, Some(25), 3), Some(53));
        assert_eq!(total_from_page(0, Some(25), 0), Some(0));
        assert_eq!(total_from_page(0, None, 45), Some(45));
        assert_eq!(total_from_page(10, None, 35), Some(45));
        assert_eq!(total_from_page(0, None, 0), Some(0));
    }

    #[test]
    fn a_full_page_or_an_empty_page_past_the_end_needs_a_count() {
        assert_eq!(total_from_page(0, Some(25), 25), None);
        assert_eq!(total_from_page(100, Some(1), 1), None);
        assert_eq!(total_from_page(100, Some(25), 0), None);
        assert_eq!(total_from_page(100, None, 0), None);
    }
}
