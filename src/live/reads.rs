//! The live feed's reads of rooms, shared by the poller and the streams: what changed (by the
//! `_updatedAt` index), a group's changed rooms (by `_id`), a catch-up from a moment (in
//! `_updatedAt` order), the rooms a resumed stream holds; and how a read becomes events.

use futures::stream::ReadyChunks;
use futures::{StreamExt as _, TryStreamExt as _};
use mongodb::bson::{doc, Bson, DateTime, RawDocument, RawDocumentBuf};
use mongodb::Cursor;

use super::event::Kind;
use super::hub::{id_json, Change, LiveEvent, Members, Watch};
use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::render;
use crate::rooms::filter::{self, Listing};
use crate::state::WorkerState;

/// What a stream of `listing` watches: its filter and projection, `_updatedAt` read even where
/// `fields` leaves it out (it places each event), and then left out of the rendered room.
pub fn watch_of(listing: &Listing) -> Watch {
    let filter = filter::to_filter(listing);
    let mut projection = filter::to_projection(&listing.query);
    let mut strip_updated_at = false;
    if let Some(p) = &mut projection {
        let inclusion = p.iter().any(|(k, v)| k != "_id" && v.as_i32() == Some(1));
        match p.get_i32("_updatedAt") {
            Ok(0) => {
                p.remove("_updatedAt");
                strip_updated_at = true;
            }
            Err(_) if inclusion => {
                p.insert("_updatedAt", 1);
                strip_updated_at = true;
            }
            _ => {}
        }
    }
    Watch {
        filter,
        projection,
        strip_updated_at,
    }
}

/// `{_id, _updatedAt, ts}` of every livechat room with `_updatedAt` ≥ `since` (milliseconds),
/// oldest first: a range of the `{_updatedAt: 1}` index, fetching the changed rooms only.
pub async fn changed_since(db: &Db, since: i64) -> Result<Vec<Change>, DbError> {
    let find = db
        .rooms()
        .find(doc! {"t": "l", "_updatedAt": {"$gte": DateTime::from_millis(since)}})
        .projection(doc! {"_id": 1, "_updatedAt": 1, "ts": 1})
        .sort(doc! {"_updatedAt": 1})
        .max_time(db.query_timeout());
    let read = async { find.await?.try_collect::<Vec<RawDocumentBuf>>().await };
    let docs = db.call("live.changes", read).await?;
    Ok(docs.iter().filter_map(|d| Change::of(d)).collect())
}

/// The rooms of `changes` that are in `watch`, rendered, in `_updatedAt` order, each with its key.
pub async fn read_group(
    state: &WorkerState,
    watch: &Watch,
    changes: &[Change],
) -> Result<Vec<(Box<[u8]>, LiveEvent)>, ApiError> {
    let ids: Vec<Bson> = changes.iter().map(|c| c.id.clone()).collect();
    let filter = doc! {"$and": [watch.filter.clone(), {"_id": {"$in": ids}}]};
    let db = &state.db;
    let mut find = db
        .rooms()
        .find(filter)
        .sort(doc! {"_updatedAt": 1})
        .max_time(db.query_timeout());
    if let Some(projection) = &watch.projection {
        find = find.projection(projection.clone());
    }
    let read = async { find.await?.try_collect::<Vec<RawDocumentBuf>>().await };
    let rooms = db
        .call("live.rooms", read)
        .await
        .map_err(DbError::Listing)?;
    let departments = state.departments().await?;
    let department_of = |id: &str| departments.names.get(id).map(|d| d.as_ref());
    rooms
        .iter()
        .map(|room| room_event(room, watch, department_of))
        .collect()
}

/// A room as its event: its key, and the room rendered as the JSON listing renders it.
pub fn room_event<'d>(
    room: &RawDocument,
    watch: &Watch,
    department_of: impl Fn(&str) -> Option<&'d RawDocument>,
) -> Result<(Box<[u8]>, LiveEvent), ApiError> {
    let updated_at = room
        .get_datetime("_updatedAt")
        .map_or(0, |d| d.timestamp_millis());
    let key = room
        .get("_id")
        .ok()
        .flatten()
        .and_then(id_json)
        .unwrap_or_default();
    let mut data = Vec::with_capacity(room.as_bytes().len() + 64);
    if watch.strip_updated_at {
        render::room(&mut data, true, &without_updated_at(room), department_of)?;
    } else {
        render::room(&mut data, true, room, department_of)?;
    }
    Ok((
        key,
        LiveEvent {
            kind: Kind::Room,
            updated_at,
            data: data.into(),
            held: true,
            created_at: None,
        },
    ))
}

/// `room` less its `_updatedAt`, which was read only to place the event.
fn without_updated_at(room: &RawDocument) -> RawDocumentBuf {
    let mut out = RawDocumentBuf::new();
    for (key, value) in room.iter().flatten() {
        if key != "_updatedAt" {
            out.append(key, value.to_raw_bson());
        }
    }
    out
}

/// The events of one read: the rooms that matched, and a removed event for every changed room
/// that did not, marked `held` where the group had sent it; in `_updatedAt` order. The members
/// follow.
pub fn with_removals(
    matched: Vec<(Box<[u8]>, LiveEvent)>,
    changes: &[Change],
    members: &mut Members,
) -> Vec<LiveEvent> {
    let mut events = Vec::with_capacity(changes.len());
    for change in changes {
        if matched.iter().any(|(key, _)| *key == change.key) {
            continue;
        }
        events.push(LiveEvent {
            kind: Kind::Removed,
            updated_at: change.updated_at,
            data: change.key.to_vec().into(),
            held: members.take(&change.key),
            created_at: change.created_at,
        });
    }
    for (key, event) in matched {
        members.add(&key);
        events.push(event);
    }
    // Stable: rooms keep the read's order among equal times.
    events.sort_by_key(|e| e.updated_at);
    events
}

/// The rooms of `watch` changed since `since`, oldest first.
pub async fn catch_up(
    state: &WorkerState,
    watch: &Watch,
    since: i64,
) -> Result<ReadyChunks<Cursor<RawDocumentBuf>>, ApiError> {
    let filter = doc! {"$and": [
        watch.filter.clone(),
        {"_updatedAt": {"$gte": DateTime::from_millis(since)}},
    ]};
    let db = &state.db;
    let mut find = db
        .rooms()
        .find(filter)
        .sort(doc! {"_updatedAt": 1})
        .batch_size(crate::rooms::repo::BATCH_SIZE)
        .max_time(db.query_timeout());
    if let Some(projection) = &watch.projection {
        find = find.projection(projection.clone());
    }
    let cursor = db
        .call("live.catch_up", std::future::IntoFuture::into_future(find))
        .await
        .map_err(DbError::Listing)?;
    Ok(cursor.ready_chunks(256))
}

/// The keys of the rooms of `watch` changed in `[from, to)`: those a stream that began at `from`
/// and is at `to` has been sent and holds.
pub async fn held_rooms(
    state: &WorkerState,
    watch: &Watch,
    from: i64,
    to: i64,
) -> Result<Vec<Box<[u8]>>, ApiError> {
    if from >= to {
        return Ok(Vec::new());
    }
    let filter = doc! {"$and": [
        watch.filter.clone(),
        {"_updatedAt": {"$gte": DateTime::from_millis(from), "$lt": DateTime::from_millis(to)}},
    ]};
    let db = &state.db;
    let find = db
        .rooms()
        .find(filter)
        .projection(doc! {"_id": 1})
        .max_time(db.query_timeout());
    let read =
        async { futures::TryStreamExt::try_collect::<Vec<RawDocumentBuf>>(find.await?).await };
    let docs = db.call("live.held", read).await.map_err(DbError::Listing)?;
    Ok(docs
        .iter()
        .filter_map(|d| d.get("_id").ok().flatten().and_then(id_json))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::scope::Scope;
    use crate::rooms::RoomsQuery;

    fn change(id: &str, at: i64) -> Change {
        Change::sample(id, at)
    }

    fn room(id: &str, at: i64) -> (Box<[u8]>, LiveEvent) {
        let key: Box<[u8]> = format!(r#"{{"_id":"{id}"}}"#).into_bytes().into();
        let event = LiveEvent {
            kind: Kind::Room,
            updated_at: at,
            data: key.to_vec().into(),
            held: true,
            created_at: None,
        };
        (key, event)
    }

    #[test]
    fn a_changed_room_that_does_not_match_is_held_where_it_was_sent() {
        let mut members = Members::default();
        let events = with_removals(vec![room("a", 10)], &[change("a", 10)], &mut members);
        assert_eq!(events.len(), 1);
        // a left, b never was sent: both are told, only a as held.
        let events = with_removals(
            vec![room("c", 30)],
            &[change("a", 20), change("b", 25), change("c", 30)],
            &mut members,
        );
        let kinds: Vec<(Kind, i64, bool)> = events
            .iter()
            .map(|e| (e.kind, e.updated_at, e.held))
            .collect();
        assert_eq!(
            kinds,
            [
                (Kind::Removed, 20, true),
                (Kind::Removed, 25, false),
                (Kind::Room, 30, true)
            ]
        );
        assert_eq!(&events[0].data[..], br#"{"_id":"a"}"#);
        // a is no longer held.
        let events = with_removals(vec![], &[change("a", 40)], &mut members);
        assert!(!events[0].held);
    }

    #[test]
    fn events_come_in_updated_at_order() {
        let mut members = Members::default();
        members.add(br#"{"_id":"x"}"#);
        let events = with_removals(
            vec![room("b", 5), room("c", 9)],
            &[change("x", 7), change("b", 5), change("c", 9)],
            &mut members,
        );
        let times: Vec<i64> = events.iter().map(|e| e.updated_at).collect();
        assert_eq!(times, [5, 7, 9]);
    }

    fn watch(query: &str) -> Watch {
        watch_of(&Listing {
            query: RoomsQuery::from_query_string(query).unwrap(),
            agent_ids: None,
            scope: Scope::All,
            walk: None,
        })
    }

    #[test]
    fn updated_at_is_read_even_where_fields_leave_it_out() {
        let w = watch("open=true");
        assert_eq!(w.projection, None);
        assert!(!w.strip_updated_at);
        let w = watch(r#"fields={"fname":1}"#);
        assert_eq!(w.projection, Some(doc! {"fname": 1, "_updatedAt": 1}));
        assert!(w.strip_updated_at);
        let w = watch(r#"fields={"fname":1,"_updatedAt":1}"#);
        assert_eq!(w.projection, Some(doc! {"fname": 1, "_updatedAt": 1}));
        assert!(!w.strip_updated_at);
        let w = watch(r#"fields={"msgs":0,"_updatedAt":0}"#);
        assert_eq!(w.projection, Some(doc! {"msgs": 0}));
        assert!(w.strip_updated_at);
        let w = watch(r#"fields={"msgs":0}"#);
        assert_eq!(w.projection, Some(doc! {"msgs": 0}));
        assert!(!w.strip_updated_at);
    }
}
