//! [`Hub`]: the live streams of the process, grouped by what they watch. Streams with the same
//! filter, scope and projection share one [`Group`]: the poller reads their rooms once per change
//! and hands every subscriber the same rendered events. Each subscriber has a bounded channel;
//! one that falls behind is dropped (it resumes with `Last-Event-ID`) and never holds the others.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::web::Bytes;
use mongodb::bson::{Bson, Document, RawDocument, RawDocumentBuf};
use tokio::sync::{mpsc, watch, Notify};

use super::event::Kind;
use crate::metrics::live::LiveMetrics;
use crate::render;

/// Polls' batches a subscriber may have waiting; a subscriber further behind is dropped.
const CHANNEL_BATCHES: usize = 32;
/// Rooms a group remembers having sent (to tell which changed rooms left it); past this every
/// changed room that does not match is sent as removed.
pub const MAX_MEMBERS: usize = 100_000;

/// A room that changed: the JSON of its `_id` (`{"_id":…}`, also the data of a removed event),
/// the `_id` itself, its new `_updatedAt` and, when it was read, its creation (`ts`), in
/// milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: Box<[u8]>,
    pub id: Bson,
    pub updated_at: i64,
    pub created_at: Option<i64>,
}

impl Change {
    /// From a document with `_id` and `_updatedAt`; `None` without them.
    pub fn of(doc: &RawDocument) -> Option<Self> {
        let id = doc.get("_id").ok()??;
        let updated_at = doc.get_datetime("_updatedAt").ok()?.timestamp_millis();
        Some(Change {
            key: id_json(id)?,
            id: Bson::try_from(id.to_raw_bson()).ok()?,
            updated_at,
            created_at: doc.get_datetime("ts").ok().map(|ts| ts.timestamp_millis()),
        })
    }
}

#[cfg(test)]
impl Change {
    /// A change of the room with this string id at `at` (tests).
    pub(crate) fn sample(id: &str, at: i64) -> Change {
        Change {
            key: format!(r#"{{"_id":"{id}"}}"#).into_bytes().into(),
            id: Bson::String(id.into()),
            updated_at: at,
            created_at: None,
        }
    }
}

/// `{"_id":<the id as the listing renders it>}`.
pub fn id_json(id: mongodb::bson::RawBsonRef<'_>) -> Option<Box<[u8]>> {
    let mut doc = RawDocumentBuf::new();
    doc.append("_id", id.to_raw_bson());
    let mut out = Vec::with_capacity(32);
    render::document(&mut out, &doc).ok()?;
    Some(out.into_boxed_slice())
}

/// One event as the poller made it for a group: what it says, the room's `_updatedAt`
/// (milliseconds) and its data line (the room, or `{"_id":…}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub kind: Kind,
    pub updated_at: i64,
    pub data: Bytes,
    /// A removed room the group had sent: every stream of it tells its client. Otherwise (a
    /// room that changed and does not match, never sent by the group) a stream tells its client
    /// only if the room existed when the stream began (`created_at` at or before its origin, or
    /// unknown): a client that showed a listing then may hold it.
    pub held: bool,
    pub created_at: Option<i64>,
}

/// What one poll brought a group, in `_updatedAt` order.
pub type Batch = Arc<[LiveEvent]>;

/// What a group of streams watches.
pub struct Watch {
    /// The listing's filter (with the user's scope, without `updatedSince`).
    pub filter: Document,
    /// The projection sent (the client's `fields`, `_updatedAt` kept).
    pub projection: Option<Document>,
    /// `_updatedAt` was added to the projection: it is left out when rendering.
    pub strip_updated_at: bool,
}

impl Watch {
    /// The group key: streams with equal keys share reads.
    fn key(&self) -> Vec<u8> {
        let mut key = Vec::new();
        self.filter
            .to_writer(&mut key)
            .expect("a filter serialises");
        if let Some(projection) = &self.projection {
            projection
                .to_writer(&mut key)
                .expect("a projection serialises");
        }
        key.push(u8::from(self.strip_updated_at));
        key
    }
}

/// Rooms a group has sent, by the JSON of their `_id`.
#[derive(Default)]
pub struct Members {
    ids: HashSet<Box<[u8]>>,
    /// More than [`MAX_MEMBERS`]: every changed room that does not match counts as a member.
    overflow: bool,
}

impl Members {
    pub fn add(&mut self, id: &[u8]) {
        if self.ids.len() >= MAX_MEMBERS {
            self.overflow = true;
        } else if !self.ids.contains(id) {
            self.ids.insert(id.into());
        }
    }

    /// Whether a changed room that no longer matches was sent (and so is now removed).
    pub fn take(&mut self, id: &[u8]) -> bool {
        self.ids.remove(id) || self.overflow
    }
}

/// Streams watching the same thing.
pub struct Group {
    key: Vec<u8>,
    pub watch: Watch,
    subscribers: Mutex<Vec<(u64, mpsc::Sender<Batch>)>>,
    pub members: Mutex<Members>,
    /// Changes whose read failed, read again at the next poll: `(JSON of _id, _id, _updatedAt)`.
    pub pending: Mutex<Vec<Change>>,
}

impl Group {
    /// Hands `batch` to every subscriber; one whose channel is full is dropped. Returns how many
    /// took it.
    pub fn publish(&self, batch: &Batch, metrics: &LiveMetrics) -> usize {
        let mut subscribers = lock(&self.subscribers);
        subscribers.retain(|(_, tx)| match tx.try_send(batch.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics.ended("slow");
                log::info!("a live stream fell behind and was dropped (it resumes by its id)");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        subscribers.len()
    }
}

/// The process's live streams.
pub struct Hub {
    groups: Mutex<HashMap<Vec<u8>, Arc<Group>>>,
    streams: AtomicUsize,
    max_streams: usize,
    next_id: AtomicU64,
    /// Wakes the poller when a stream opens.
    pub wake: Notify,
    closing: watch::Sender<bool>,
    /// Every stream's user, by stream: checked together, once per `LIVE_RECHECK_MS`.
    sessions: Mutex<HashMap<u64, Arc<Session>>>,
    /// Starts the poller, at the first stream (a process that serves none starts nothing).
    starter: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    pub metrics: Arc<LiveMetrics>,
}

/// One stream's place in the hub; leaving it (dropping) unsubscribes.
pub struct Subscription {
    hub: Arc<Hub>,
    pub group: Arc<Group>,
    id: u64,
    pub events: mpsc::Receiver<Batch>,
    /// What the last check of the stream's user found.
    pub checks: watch::Receiver<Check>,
}

/// What a check of a stream's user by its credentials found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Not checked since the stream opened.
    Pending,
    /// The token is still the user's; their roles now.
    Valid(Vec<String>),
    /// No such user, or the token is gone (logged out, revoked, expired and removed).
    Revoked,
}

/// A stream's user as the checks need it: the id and the hashed token (never the token).
pub struct Session {
    pub user_id: String,
    pub hashed_token: String,
    pub check: watch::Sender<Check>,
}

/// `MAX_STREAMS` are open.
#[derive(Debug, thiserror::Error)]
#[error("{0} live streams are open (MAX_STREAMS)")]
pub struct TooManyStreams(pub usize);

impl Hub {
    pub fn new(max_streams: usize, metrics: Arc<LiveMetrics>) -> Arc<Self> {
        Arc::new(Hub {
            groups: Mutex::default(),
            streams: AtomicUsize::new(0),
            max_streams,
            next_id: AtomicU64::new(0),
            wake: Notify::new(),
            closing: watch::Sender::new(false),
            sessions: Mutex::default(),
            starter: Mutex::default(),
            metrics,
        })
    }

    /// What starts the poller, run when the first stream opens.
    pub fn on_first_stream(&self, start: Box<dyn FnOnce() + Send>) {
        *lock(&self.starter) = Some(start);
    }

    /// A place for one more stream watching `watch` for the user with this id and hashed token,
    /// or [`TooManyStreams`].
    pub fn subscribe(
        self: &Arc<Self>,
        watch: Watch,
        user_id: &str,
        hashed_token: &str,
    ) -> Result<Subscription, TooManyStreams> {
        let open = self.streams.fetch_add(1, Ordering::SeqCst);
        if open >= self.max_streams {
            self.streams.fetch_sub(1, Ordering::SeqCst);
            return Err(TooManyStreams(self.max_streams));
        }
        if let Some(start) = lock(&self.starter).take() {
            start();
        }
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let key = watch.key();
        let group = {
            let mut groups = lock(&self.groups);
            let group = groups
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Group {
                        key,
                        watch,
                        subscribers: Mutex::default(),
                        members: Mutex::default(),
                        pending: Mutex::default(),
                    })
                })
                .clone();
            lock(&group.subscribers).push((id, tx));
            group
        };
        let (check, checks) = watch::channel(Check::Pending);
        let session = Session {
            user_id: user_id.to_owned(),
            hashed_token: hashed_token.to_owned(),
            check,
        };
        lock(&self.sessions).insert(id, Arc::new(session));
        self.metrics.streams.inc();
        self.wake.notify_one();
        Ok(Subscription {
            hub: self.clone(),
            group,
            id,
            events: rx,
            checks,
        })
    }

    /// The groups with subscribers now.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        lock(&self.groups).values().cloned().collect()
    }

    /// Every open stream's user.
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        lock(&self.sessions).values().cloned().collect()
    }

    pub fn is_idle(&self) -> bool {
        lock(&self.groups).is_empty()
    }

    /// Ends every stream (shutdown): each closes its body cleanly, so clients reconnect
    /// elsewhere.
    pub fn close(&self) {
        self.closing.send_replace(true);
        self.wake.notify_one();
    }

    /// Turns `true` when the hub closes.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut groups = lock(&self.hub.groups);
        let empty = {
            let mut subscribers = lock(&self.group.subscribers);
            subscribers.retain(|(id, _)| *id != self.id);
            subscribers.is_empty()
        };
        if empty {
            groups.remove(&self.group.key);
        }
        drop(groups);
        lock(&self.hub.sessions).remove(&self.id);
        self.hub.streams.fetch_sub(1, Ordering::SeqCst);
        self.hub.metrics.streams.dec();
    }
}

/// A lock that a panic elsewhere does not poison for good: the data are plain sets and lists.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{doc, oid::ObjectId, DateTime};

    fn watch(department: &str) -> Watch {
        Watch {
            filter: doc! {"t": "l", "departmentId": department},
            projection: None,
            strip_updated_at: false,
        }
    }

    fn hub(max: usize) -> Arc<Hub> {
        Hub::new(max, Arc::new(LiveMetrics::new()))
    }

    #[test]
    fn streams_watching_the_same_share_a_group() {
        let hub = hub(10);
        let a = hub.subscribe(watch("sales"), "u", "h").unwrap();
        let b = hub.subscribe(watch("sales"), "u", "h").unwrap();
        let c = hub.subscribe(watch("support"), "u", "h").unwrap();
        assert!(Arc::ptr_eq(&a.group, &b.group));
        assert!(!Arc::ptr_eq(&a.group, &c.group));
        assert_eq!(hub.groups().len(), 2);
        drop(a);
        assert_eq!(hub.groups().len(), 2);
        drop((b, c));
        assert!(hub.is_idle());
    }

    #[test]
    fn the_poller_starts_with_the_first_stream_only() {
        let hub = hub(10);
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        hub.on_first_stream(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(started.load(Ordering::SeqCst), 0);
        let _a = hub.subscribe(watch("x"), "u", "h").unwrap();
        let _b = hub.subscribe(watch("y"), "u", "h").unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn streams_are_bounded() {
        let hub = hub(2);
        let _a = hub.subscribe(watch("x"), "u", "h").unwrap();
        let b = hub.subscribe(watch("x"), "u", "h").unwrap();
        assert!(hub.subscribe(watch("y"), "u", "h").is_err());
        drop(b);
        assert!(hub.subscribe(watch("y"), "u", "h").is_ok());
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_dropped_alone() {
        let hub = hub(10);
        let mut fast = hub.subscribe(watch("x"), "u", "h").unwrap();
        let mut slow = hub.subscribe(watch("x"), "u", "h").unwrap();
        let batch: Batch = Arc::from(vec![]);
        for _ in 0..CHANNEL_BATCHES {
            assert_eq!(fast.group.publish(&batch, &hub.metrics), 2);
            fast.events.try_recv().unwrap();
        }
        assert_eq!(fast.group.publish(&batch, &hub.metrics), 1);
        assert!(fast.events.try_recv().is_ok());
        for _ in 0..CHANNEL_BATCHES {
            slow.events.try_recv().unwrap();
        }
        assert!(matches!(
            slow.events.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn members_tell_which_rooms_left() {
        let mut members = Members::default();
        members.add(b"\"a\"");
        assert!(members.take(b"\"a\""));
        assert!(!members.take(b"\"a\""));
        assert!(!members.take(b"\"b\""));
    }

    #[test]
    fn a_change_is_keyed_by_its_id_as_rendered() {
        let oid = ObjectId::parse_str("5f1d7f0e8c9b4a0012345678").unwrap();
        let doc = RawDocumentBuf::from_document(
            &doc! {"_id": oid, "_updatedAt": DateTime::from_millis(42)},
        )
        .unwrap();
        let change = Change::of(&doc).unwrap();
        assert_eq!(&*change.key, br#"{"_id":"5f1d7f0e8c9b4a0012345678"}"#);
        assert_eq!(change.id, Bson::ObjectId(oid));
        assert_eq!(change.updated_at, 42);
        let without = RawDocumentBuf::from_document(&doc! {"_id": "x"}).unwrap();
        assert_eq!(Change::of(&without), None);
    }
}
