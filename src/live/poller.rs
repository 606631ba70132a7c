//! The one task that asks MongoDB what changed, for every live stream of the process: at most
//! once per `LIVE_POLL_MS`, and only while a stream is open. Each group with a change gets one
//! read of its changed rooms; a failed read is retried at the next poll, and a failed poll leaves
//! the watermark where it was, so after an outage the streams resume without a gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::{now_ms, SKEW_MS};
use super::hub::{lock, Change, Group, Hub};
use super::reads::{changed_since, read_group, with_removals};
use crate::db::DbError;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, at: i64) -> Change {
        Change::sample(id, at)
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
