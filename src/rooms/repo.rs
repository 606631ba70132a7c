//! The only code that reads rooms. Documents stay raw BSON ([`RawDocumentBuf`]) all the way to the
//! renderer, and arrive batch by batch from a cursor, so no page is ever held whole.

use std::future::IntoFuture as _;

use mongodb::bson::{RawDocument, RawDocumentBuf};
use mongodb::Cursor;

use super::{filter, RoomsQuery};
use crate::db::{Db, DbError};

/// Rooms per cursor batch: bounds what a listing holds at once (a batch of large rooms is a few
/// MB) while a page of up to this many rooms still arrives in one round trip.
pub const BATCH_SIZE: u32 = 500;

/// The rooms of one page, still arriving, and the number of rooms the filter matches in all.
pub struct Page {
    pub rooms: Cursor<RawDocumentBuf>,
    pub total: u64,
}

/// `find` (its first batch) and `countDocuments` with the same filter, run at the same time.
/// `limit`: `None` for no limit.
pub async fn open_page(db: &Db, query: &RoomsQuery, limit: Option<u64>) -> Result<Page, DbError> {
    let filter = filter::to_filter(query);
    let count = db
        .rooms()
        .count_documents(filter.clone())
        .max_time(db.query_timeout())
        .into_future();
    let mut find = db
        .rooms()
        .find(filter)
        .sort(filter::to_sort(query))
        .skip(query.offset)
        .batch_size(BATCH_SIZE)
        .max_time(db.query_timeout());
    if let Some(projection) = filter::to_projection(query) {
        find = find.projection(projection);
    }
    if let Some(limit) = limit {
        // Positive: a negative limit would mean "one batch only" to MongoDB.
        find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    let metrics = db.metrics();
    let (rooms, total) = futures::try_join!(
        metrics.db_call("rooms.find", find.into_future()),
        metrics.db_call("rooms.count", count),
    )?;
    Ok(Page { rooms, total })
}

/// A room's `departmentId` when it is a non-empty string (Rocket.Chat attaches nothing otherwise).
pub fn department_id(room: &RawDocument) -> Option<&str> {
    room.get_str("departmentId")
        .ok()
        .filter(|id| !id.is_empty())
}
