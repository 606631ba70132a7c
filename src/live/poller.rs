//! The one task that asks MongoDB what changed, for every live stream of the process: at most
//! once per `LIVE_POLL_MS`, and only while a stream is open. Each group with a change gets one
//! read of its changed rooms; a failed read is retried at the next poll, and a failed poll leaves
//! the watermark where it was, so after an outage the streams resume without a gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use mongodb::bson::{doc, Bson, DateTime, RawDocument, RawDocumentBuf};

use super::event::{Kind, SKEW_MS};
use super::hub::{id_json, lock, Change, Group, Hub, LiveEvent, Members, Watch};
use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::render;
use crate::state::WorkerState;

/// Runs until the hub closes. `state` has a database handle of this task's own runtime.
pub async fn run(state: WorkerState, every: Duration) {
    let hub = state.process.live.clone();
    let mut closing = hub.closing();
    let mut seen = Seen::default();
    loop {
        if *closing.borrow() {
            return;
        }
        if hub.is_idle() {
            // Nothing to serve: forget where the changes were, and wait for a stream.
            seen = Seen::default();
            tokio::select! {
                _ = hub.wake.notified() => {}
                _ = closing.changed() => {}
            }
            continue;
        }
        let started = Instant::now();
        let result = poll(&state, &hub, &mut seen).await;
        hub.metrics
            .poll(started.elapsed().as_secs_f64(), result.is_ok());
        if let Err(err) = result {
            log::warn!("live feed: reading what changed failed ({err}); trying again");
        }
        tokio::select! {
            _ = tokio::time::sleep_until((started + every).into()) => {}
            _ = closing.changed() => {}
        }
    }
}

/// The changes seen in the last [`SKEW_MS`] (a later read sees them again) and the newest
/// `_updatedAt` seen.
#[derive(Default)]
struct Seen {
    watermark: Option<i64>,
    recent: HashMap<Box<[u8]>, i64>,
}

impl Seen {
    /// Where the next read starts.
    fn since(&self) -> i64 {
        self.watermark.unwrap_or_else(now_ms) - SKEW_MS
    }

    /// The changes not seen before; moves the watermark and forgets what it has passed.
    fn fresh(&mut self, changes: Vec<Change>) -> Vec<Change> {
        let fresh: Vec<Change> = changes
            .into_iter()
            .filter(|c| {
                let known = self.recent.get(&c.key) == Some(&c.updated_at);
                if !known {
                    self.recent.insert(c.key.clone(), c.updated_at);
                }
                !known
            })
            .collect();
        if let Some(newest) = fresh.iter().map(|c| c.updated_at).max() {
            self.watermark = Some(self.watermark.map_or(newest, |w| w.max(newest)));
        }
        if self.watermark.is_none() {
            // Nothing seen yet: start from now, so an idle collection is not read from its start.
            self.watermark = Some(now_ms());
        }
        let horizon = self.since() - 1_000;
        self.recent.retain(|_, at| *at >= horizon);
        fresh
    }
}

pub fn now_ms() -> i64 {
    DateTime::now().timestamp_millis()
}

async fn poll(state: &WorkerState, hub: &Arc<Hub>, seen: &mut Seen) -> Result<(), DbError> {
    let changes = changed_since(&state.db, seen.since()).await?;
    let fresh = seen.fresh(changes);
    let groups = hub.groups();
    futures::future::join_all(groups.iter().map(|group| serve(state, hub, group, &fresh))).await;
    Ok(())
}

/// Reads `group`'s changed rooms (with any whose read failed before) and publishes its events.
async fn serve(state: &WorkerState, hub: &Hub, group: &Group, fresh: &[Change]) {
    let mut changes = std::mem::take(&mut *lock(&group.pending));
    for change in fresh {
        match changes.iter_mut().find(|c| c.key == change.key) {
            Some(known) => known.updated_at = known.updated_at.max(change.updated_at),
            None => changes.push(change.clone()),
        }
    }
    if changes.is_empty() {
        return;
    }
    hub.metrics.group_read();
    match read_group(state, &group.watch, &changes).await {
        Ok(matched) => {
            let events = {
                let mut members = lock(&group.members);
                with_removals(matched, &changes, &mut members)
            };
            if !events.is_empty() {
                group.publish(&Arc::from(events), &hub.metrics);
            }
        }
        Err(err) => {
            log::warn!("live feed: reading changed rooms failed ({err}); trying again");
            lock(&group.pending).extend(changes);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, at: i64) -> Change {
        Change {
            key: format!(r#"{{"_id":"{id}"}}"#).into_bytes().into(),
            id: Bson::String(id.into()),
            updated_at: at,
            created_at: None,
        }
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

    #[test]
    fn a_change_is_fresh_once_and_the_watermark_moves() {
        let mut seen = Seen {
            watermark: Some(100_000),
            ..Seen::default()
        };
        assert_eq!(seen.since(), 95_000);
        let fresh = seen.fresh(vec![change("a", 99_000), change("b", 101_000)]);
        assert_eq!(fresh.len(), 2);
        assert_eq!(seen.since(), 96_000);
        // Read again within the window: nothing new, unless it changed again.
        let fresh = seen.fresh(vec![change("a", 99_000), change("b", 102_000)]);
        assert_eq!(fresh, vec![change("b", 102_000)]);
        // A late change from a slow clock, within the window, is fresh.
        let fresh = seen.fresh(vec![change("c", 98_000)]);
        assert_eq!(fresh.len(), 1);
        assert_eq!(seen.watermark, Some(102_000));
    }
}
