//! [`LiveStream`]: one client's live feed, written piece by piece: the opening lines, the rooms
//! it asked to catch up on (`updatedSince`, or what it missed since its `Last-Event-ID`), then
//! what the poller hands its group, with a comment when idle, a check of its user every
//! `LIVE_RECHECK_MS`, and a clean end on shutdown.

use actix_web::web::{self, Bytes};
use futures::stream::ReadyChunks;
use futures::{FutureExt as _, StreamExt as _};
use mongodb::bson::{DateTime, Document, RawDocumentBuf};
use mongodb::Cursor;
use tokio::time::Instant;

use super::event::{self, now_ms, EventId, Kind, SKEW_MS};
use super::hub::{lock, Batch, Check, LiveEvent, Subscription, TooManyStreams};
use super::reads::{self, catch_up, held_rooms, watch_of};
use crate::auth::{AuthUser, Credentials};
use crate::db::{Admission, DbError};
use crate::error::ApiError;
use crate::guard::{self, Guard};
use crate::rooms::filter::Listing;
use crate::rooms::RoomsQuery;
use crate::state::WorkerState;

/// A piece of the catch-up is sent once it holds this much.
const FLUSH_BYTES: usize = 64 * 1024;
/// A resume reads the changes it missed by id when there are at most this many; more are read as
/// an `updatedSince` catch-up (then rooms that left meanwhile are not told).
const MAX_REPLAYED_CHANGES: usize = 5_000;

/// Where a stream starts.
pub enum Start {
    /// No `updatedSince`: from now.
    Now,
    /// `updatedSince`: every room of the filter changed since then first.
    Since(DateTime),
    /// `Last-Event-ID`: right after that event.
    Resume(EventId),
}

enum Phase {
    /// Catching up from a cursor in `_updatedAt` order.
    /// Boxed: an idle stream is `Live` and should not carry a cursor's room.
    CatchUp(Box<ReadyChunks<Cursor<RawDocumentBuf>>>),
    /// Catching up with events read by id (a resume).
    Replay(Vec<LiveEvent>),
    Live,
    Done,
}

/// One open stream. It holds a place among the requests working against the database only
/// while it catches up.
pub struct LiveStream {
    state: web::Data<WorkerState>,
    subscription: Subscription,
    phase: Phase,
    opened: bool,
    /// Ended by the service (a reason counted); else by the client when dropped.
    ended: bool,
    admission: Option<Admission>,
    credentials: Credentials,
    query: RoomsQuery,
    /// The scope's clause when the stream opened: a check that finds another one ends the stream.
    scope_clause: Option<Document>,
    fingerprint: [u8; 16],
    /// Where the stream's first connection started (in every id).
    origin: i64,
    /// Events older than this are not this stream's (a stream from now).
    floor: Option<i64>,
    /// The newest `_updatedAt` sent: where a reconnect resumes (less the skew window).
    position: i64,
    sent_any: bool,
    next_heartbeat: Instant,
    closing: tokio::sync::watch::Receiver<bool>,
}

impl LiveStream {
    /// Subscribes and starts the catch-up. `guard` passed the preamble; `query` passed the
    /// route's permission rule.
    pub async fn open(
        state: web::Data<WorkerState>,
        guard: Guard,
        credentials: Credentials,
        query: RoomsQuery,
        start: Start,
        fingerprint: [u8; 16],
    ) -> Result<Self, ApiError> {
        let agent_ids = match &query.agents {
            Some(values) => Some(state.agent_ids(values).await?.to_vec()),
            None => None,
        };
        let listing = Listing {
            query: super::watched(&query),
            agent_ids,
            scope: guard.scope.clone(),
            walk: None,
        };
        let scope_clause = guard.scope.clause(query.units.as_deref());
        let subscription = state
            .process
            .live
            .subscribe(
                watch_of(&listing),
                credentials.user_id(),
                credentials.hashed_token(),
            )
            .map_err(|TooManyStreams(n)| ApiError::TooManyStreams(n))?;
        // (where the stream began, what it takes from the first event, where it is, what is next)
        let (origin, floor, position, phase) = match start {
            Start::Now => {
                let now = now_ms();
                (now, Some(now), now, Phase::Live)
            }
            Start::Since(since) => {
                let since = since.timestamp_millis();
                let rooms = catch_up(&state, &subscription.group.watch, since).await?;
                (since, None, since, Phase::CatchUp(Box::new(rooms)))
            }
            Start::Resume(id) => {
                let phase = resume(&state, &subscription, id).await?;
                (id.origin, None, id.updated_at, phase)
            }
        };
        let config = state.process.live_config;
        let closing = state.process.live.closing();
        let admission = match phase {
            Phase::Live | Phase::Replay(_) => None,
            _ => Some(guard.admission),
        };
        Ok(LiveStream {
            subscription,
            phase,
            opened: false,
            ended: false,
            admission,
            next_heartbeat: Instant::now() + config.heartbeat,
            state,
            credentials,
            query,
            scope_clause,
            fingerprint,
            origin,
            floor,
            position,
            sent_any: false,
            closing,
        })
    }

    /// The next piece of the body; `None` once the stream has ended.
    pub async fn next_piece(&mut self) -> Option<Bytes> {
        let mut out = Vec::new();
        if !self.opened {
            self.opened = true;
            event::opening(&mut out);
        }
        if matches!(self.phase, Phase::Live) {
            if out.is_empty() {
                self.live_piece(&mut out).await;
            }
            return Some(out.into());
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Done => (!out.is_empty()).then(|| out.into()),
            Phase::Live => {
                self.phase = Phase::Live;
                Some(out.into())
            }
            Phase::Replay(events) => {
                self.write(&mut out, &events);
                self.phase = Phase::Live;
                Some(out.into())
            }
            Phase::CatchUp(mut rooms) => {
                match self.catch_up_piece(&mut rooms, &mut out).await {
                    Ok(true) => {
                        self.admission = None;
                        self.phase = Phase::Live;
                    }
                    Ok(false) => self.phase = Phase::CatchUp(rooms),
                    Err(err) => {
                        log::warn!("live stream: catching up failed ({err}); it ends");
                        self.end(&mut out, "failed", "database unavailable");
                    }
                }
                Some(out.into())
            }
        }
    }

    /// Waits for the next thing to write while live: events, a heartbeat, a check, or the end.
    async fn live_piece(&mut self, out: &mut Vec<u8>) {
        enum Next {
            Batch(Option<Batch>),
            Heartbeat,
            Checked(bool),
            Closing,
        }
        loop {
            let next = tokio::select! {
                batch = self.subscription.events.recv() => Next::Batch(batch),
                _ = tokio::time::sleep_until(self.next_heartbeat) => Next::Heartbeat,
                changed = self.subscription.checks.changed() => Next::Checked(changed.is_ok()),
                _ = self.closing.wait_for(|closed| *closed) => Next::Closing,
            };
            match next {
                Next::Batch(Some(batch)) => {
                    if self.write_batch(out, &batch) {
                        return;
                    }
                }
                // Dropped by the hub: it fell behind. It resumes by its last id.
                Next::Batch(None) => return self.end(out, "slow", "too slow, reconnect"),
                Next::Heartbeat => {
                    event::comment(out, "keep-alive");
                    self.next_heartbeat = Instant::now() + self.state.process.live_config.heartbeat;
                    return;
                }
                Next::Checked(true) => {
                    let check = self.subscription.checks.borrow_and_update().clone();
                    if !self.still_allowed(check).await {
                        return self.end(out, "revoked", "access changed");
                    }
                }
                // The checks stopped: only the process's end does that.
                Next::Checked(false) => {
                    return self.end(out, "shutdown", "server shutting down, reconnect");
                }
                Next::Closing => {
                    return self.end(out, "shutdown", "server shutting down, reconnect");
                }
            }
        }
    }

    /// Writes the events of `batch` that are this stream's; whether there were any.
    fn write_batch(&mut self, out: &mut Vec<u8>, batch: &Batch) -> bool {
        let before = out.len();
        self.write(out, batch);
        out.len() > before
    }

    fn write(&mut self, out: &mut Vec<u8>, events: &[LiveEvent]) {
        let key = &self.state.process.cursor_key;
        let mut written = 0;
        for ev in events {
            // A stream from now takes nothing older than its start, until it has sent something:
            // from then on, what is within the skew window of it.
            let late = ev.updated_at < self.position - SKEW_MS;
            if late || (self.floor.is_some_and(|floor| ev.updated_at < floor) && !self.sent_any) {
                continue;
            }
            // A room that never matched for this stream's group is told only if it existed
            // before the stream began: its client may hold it from a listing of then.
            let unknown_to_client = ev.created_at.is_some_and(|at| at >= self.origin);
            if ev.kind == Kind::Removed && !ev.held && unknown_to_client {
                continue;
            }

            self.sent_any = true;
            self.position = self.position.max(ev.updated_at);
            let id = EventId {
                updated_at: self.position,
                origin: self.origin,
            }
            .encode(key, &self.fingerprint);
            event::event(out, &id, ev.kind, &ev.data);
            self.state.metrics().live.event(ev.kind == Kind::Room);
            written += 1;
        }
        if written > 0 {
            self.next_heartbeat = Instant::now() + self.state.process.live_config.heartbeat;
        }
    }

    /// Rooms from the catch-up cursor (waiting for a batch only when none has arrived), up to
    /// [`FLUSH_BYTES`]; `true` once the cursor is done.
    async fn catch_up_piece(
        &mut self,
        rooms: &mut ReadyChunks<Cursor<RawDocumentBuf>>,
        out: &mut Vec<u8>,
    ) -> Result<bool, ApiError> {
        let mut waited = false;
        loop {
            let batch = if waited {
                match rooms.next().now_or_never() {
                    Some(batch) => batch,
                    None => return Ok(false),
                }
            } else {
                waited = true;
                let next = async { Ok::<_, DbError>(rooms.next().await) };
                self.state.db.deadline(next).await?
            };
            let Some(batch) = batch else {
                return Ok(true);
            };
            let departments = self.state.departments().await?;
            let department_of = |id: &str| departments.names.get(id).map(|d| d.as_ref());
            let group = self.subscription.group.clone();
            let mut events = Vec::with_capacity(batch.len());
            {
                let mut members = lock(&group.members);
                for room in batch {
                    let room = room.map_err(DbError::Listing)?;
                    let (key, event) = reads::room_event(&room, &group.watch, department_of)?;
                    members.add(&key);
                    events.push(event);
                }
            }
            self.write(out, &events);
            if out.len() >= FLUSH_BYTES {
                return Ok(false);
            }
        }
    }

    /// Whether the stream may go on after a check of its user (by the process-wide
    /// [`super::recheck`]): the token still theirs, the listing still permitted by their roles,
    /// the scope unchanged. The permissions and units are the held ones; a database failure
    /// reading them keeps the stream (it is checked again at the next turn).
    async fn still_allowed(&self, check: Check) -> bool {
        let roles = match check {
            Check::Revoked => return false,
            Check::Pending => return true,
            Check::Valid(roles) => roles,
        };
        let user = AuthUser {
            id: self.credentials.user_id().to_owned(),
            roles,
        };
        let held = async {
            let (permissions, departments) =
                futures::try_join!(self.state.permissions(), self.state.departments())?;
            let scope = guard::scope_of(&self.state, &user, &departments).await?;
            Ok::<_, ApiError>((permissions.grants(&user.roles), scope))
        };
        match held.await {
            Ok((grants, scope)) => {
                guard::may_list(&user, &grants, &self.query).is_ok()
                    && scope.clause(self.query.units.as_deref()) == self.scope_clause
            }
            Err(err) => {
                log::debug!("live stream: its user could not be checked now ({err})");
                true
            }
        }
    }

    fn end(&mut self, out: &mut Vec<u8>, reason: &'static str, text: &str) {
        self.state.metrics().live.ended(reason);
        event::comment(out, text);
        self.phase = Phase::Done;
        self.ended = true;
        self.admission = None;
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        if !self.ended {
            self.state.metrics().live.ended("client");
        }
    }
}

/// What a reconnecting stream missed since `id`: the changes since its position (less the skew
/// window), read by id as the poller reads them, where a room that left the filter is told as
/// removed unless it was created after the position (whoever sent it before, its client may
/// hold it). The group learns which rooms the
/// stream has: those of its filter changed between its origin and its position.
async fn resume(
    state: &WorkerState,
    subscription: &Subscription,
    id: EventId,
) -> Result<Phase, ApiError> {
    let since = id.updated_at - SKEW_MS;
    let group = &subscription.group;
    let watch = &group.watch;
    let changes = reads::changed_since(&state.db, since).await?;
    if changes.len() > MAX_REPLAYED_CHANGES {
        return Ok(Phase::CatchUp(Box::new(
            catch_up(state, watch, since).await?,
        )));
    }
    let (matched, held) = futures::try_join!(
        async {
            if changes.is_empty() {
                Ok(Vec::new())
            } else {
                reads::read_group(state, watch, &changes).await
            }
        },
        held_rooms(state, watch, id.origin, since),
    )?;
    let mut members = lock(&group.members);
    for key in &held {
        members.add(key);
    }
    // Any room created by the position may have been sent before the reconnect.
    let mut events = reads::with_removals(matched, &changes, &mut members);
    for event in &mut events {
        event.held |= event.created_at.is_none_or(|at| at <= id.updated_at);
    }
    Ok(Phase::Replay(events))
}
