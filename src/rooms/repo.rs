//! The only code that reads rooms and departments from MongoDB. Documents stay raw BSON
//! ([`RawDocumentBuf`]) all the way to the renderer.

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt as _;
use mongodb::bson::{doc, rawdoc, Document, RawDocumentBuf};
use mongodb::Collection;

use crate::metrics::Metrics;

/// One page of rooms and the number of rooms the filter matches in all.
pub struct RoomsPage {
    pub rooms: Vec<RawDocumentBuf>,
    pub total: u64,
}

/// What [`find_page`] sends besides the filter.
pub struct PageOptions {
    pub sort: Document,
    pub projection: Option<Document>,
    pub skip: u64,
    /// `None`: no limit.
    pub limit: Option<u64>,
    pub max_time: Duration,
}

/// `find` and `countDocuments` with the same filter, run at the same time.
pub async fn find_page(
    rooms: &Collection<RawDocumentBuf>,
    filter: Document,
    options: PageOptions,
    metrics: &Metrics,
) -> Result<RoomsPage, mongodb::error::Error> {
    let count = rooms
        .count_documents(filter.clone())
        .max_time(options.max_time);
    let find = async {
        let mut find = rooms
            .find(filter)
            .sort(options.sort)
            .skip(options.skip)
            .max_time(options.max_time);
        if let Some(projection) = options.projection {
            find = find.projection(projection);
        }
        if let Some(limit) = options.limit {
            // Positive: a negative limit would mean "one batch only" to MongoDB.
            find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        find.await?.try_collect::<Vec<_>>().await
    };
    let (rooms, total) = futures::try_join!(
        metrics.db_call("rooms.find", find),
        metrics.db_call("rooms.count", std::future::IntoFuture::into_future(count)),
    )?;
    Ok(RoomsPage { rooms, total })
}

/// The departments (`{_id, name}`, in that order, without `name` when it has none) that the rooms
/// name by a non-empty string `departmentId`, by id. The pair is rebuilt here so its key order does
/// not depend on how a server orders an inclusion projection.
pub async fn departments_of(
    departments: &Collection<RawDocumentBuf>,
    rooms: &[RawDocumentBuf],
    max_time: Duration,
    metrics: &Metrics,
) -> Result<HashMap<String, RawDocumentBuf>, mongodb::error::Error> {
    let mut ids: Vec<&str> = rooms
        .iter()
        .filter_map(|room| department_id(room))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let find = async {
        departments
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { "name": 1 })
            .max_time(max_time)
            .await?
            .try_collect::<Vec<RawDocumentBuf>>()
            .await
    };
    let found = metrics.db_call("departments.find", find).await?;
    Ok(found
        .into_iter()
        .filter_map(|dept| {
            let id = dept.get_str("_id").ok()?;
            let mut pair = rawdoc! { "_id": id };
            if let Ok(Some(name)) = dept.get("name") {
                pair.append("name", name.to_raw_bson());
            }
            Some((id.to_owned(), pair))
        })
        .collect())
}

/// A room's `departmentId` when it is a non-empty string (Rocket.Chat attaches nothing otherwise).
pub fn department_id(room: &RawDocumentBuf) -> Option<&str> {
    room.get_str("departmentId")
        .ok()
        .filter(|id| !id.is_empty())
}
