//! [`Cached`]: a value read from the database and held in memory for at most `max_age`. Past half
//! of that it is re-read in the background while the held value keeps serving, so in steady traffic
//! no request waits for it; only a value older than `max_age` (the first request, an idle spell, a
//! failing database) is read on the request's own path. A stale value is never served past
//! `max_age`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::db::DbError;

pub struct Cached<T> {
    name: &'static str,
    max_age: Duration,
    held: RwLock<Option<(Instant, Arc<T>)>>,
    refreshing: AtomicBool,
}

impl<T: Send + Sync + 'static> Cached<T> {
    pub fn new(name: &'static str, max_age: Duration) -> Arc<Self> {
        Arc::new(Cached {
            name,
            max_age,
            held: RwLock::new(None),
            refreshing: AtomicBool::new(false),
        })
    }

    /// The held value if it is young enough, else what `load` reads (which is then held). The age
    /// of a value counts from when its read began.
    pub async fn get<F, Fut>(self: &Arc<Self>, load: F) -> Result<Arc<T>, DbError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, DbError>> + 'static,
    {
        let held = self.held.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((read_at, value)) = held {
            let age = read_at.elapsed();
            if age < self.max_age {
                if age >= self.max_age / 2 && !self.refreshing.swap(true, Ordering::AcqRel) {
                    self.refresh_in_background(load());
                }
                return Ok(value);
            }
        }
        let started = Instant::now();
        let value = load().await?;
        Ok(self.hold(started, value))
    }

    fn refresh_in_background(
        self: &Arc<Self>,
        load: impl Future<Output = Result<T, DbError>> + 'static,
    ) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let started = Instant::now();
            match load.await {
                Ok(value) => {
                    this.hold(started, value);
                }
                // The held value expires on time; a request past that reads it itself.
                Err(err) => {
                    crate::metrics::HELD_VALUE_REFRESH_FAILURES
                        .with_label_values(&[this.name])
                        .inc();
                    log::warn!("re-reading {} failed: {err}", this.name)
                }
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }

    fn hold(&self, read_at: Instant, value: T) -> Arc<T> {
        let value = Arc::new(value);
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        // A slower, older read never replaces a newer one.
        if held.as_ref().is_none_or(|(at, _)| *at <= read_at) {
            *held = Some((read_at, value.clone()));
        }
        value
    }
}

/// One [`Cached`] value per key (a user, a list of agents), each held and refreshed as `Cached`
/// holds its one. At most `capacity` keys are held; past that the table starts over, which costs
/// the next requests a read each and never serves a value past its age.
pub struct Keyed<T> {
    name: &'static str,
    max_age: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Arc<Cached<T>>>>,
}

impl<T: Send + Sync + 'static> Keyed<T> {
    pub fn new(name: &'static str, max_age: Duration, capacity: usize) -> Arc<Self> {
        Arc::new(Keyed {
            name,
            max_age,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// The value held for `key` if it is young enough, else what `load` reads.
    pub async fn get<F, Fut>(&self, key: &str, load: F) -> Result<Arc<T>, DbError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, DbError>> + 'static,
    {
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if !entries.contains_key(key) && entries.len() >= self.capacity {
                entries.clear();
            }
            entries
                .entry(key.to_owned())
                .or_insert_with(|| Cached::new(self.name, self.max_age))
                .clone()
        };
        entry.get(load).await
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counting_load(
        reads: &Arc<AtomicUsize>,
    ) -> impl FnOnce() -> std::future::Ready<Result<usize, DbError>> {
        let reads = reads.clone();
        move || std::future::ready(Ok(reads.fetch_add(1, Ordering::SeqCst) + 1))
    }

    #[actix_web::test]
    async fn a_young_value_is_served_without_reading() {
        let cache = Cached::new("test", Duration::from_secs(60));
        let reads = Arc::new(AtomicUsize::new(0));
        assert_eq!(*cache.get(counting_load(&reads)).await.unwrap(), 1);
        assert_eq!(*cache.get(counting_load(&reads)).await.unwrap(), 1);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[actix_web::test]
    async fn a_value_past_its_max_age_is_read_again_before_it_is_served() {
        let cache = Cached::new("test", Duration::from_millis(20));
        let reads = Arc::new(AtomicUsize::new(0));
        assert_eq!(*cache.get(counting_load(&reads)).await.unwrap(), 1);
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        assert_eq!(*cache.get(counting_load(&reads)).await.unwrap(), 2);
    }

    #[actix_web::test]
    async fn keys_are_held_apart_and_bounded_in_number() {
        let keyed: Arc<Keyed<usize>> = Keyed::new("test", Duration::from_secs(60), 2);
        let reads = Arc::new(AtomicUsize::new(0));
        assert_eq!(*keyed.get("a", counting_load(&reads)).await.unwrap(), 1);
        assert_eq!(*keyed.get("b", counting_load(&reads)).await.unwrap(), 2);
        assert_eq!(*keyed.get("a", counting_load(&reads)).await.unwrap(), 1);
        assert_eq!(*keyed.get("c", counting_load(&reads)).await.unwrap(), 3);
        assert_eq!(keyed.len(), 1);
        assert_eq!(*keyed.get("a", counting_load(&reads)).await.unwrap(), 4);
    }

    #[actix_web::test]
    async fn a_failed_read_is_an_error_not_a_stale_value() {
        let cache: Arc<Cached<usize>> = Cached::new("test", Duration::from_millis(1));
        let failing = || std::future::ready(Err(DbError::Busy(0)));
        assert!(cache.get(failing).await.is_err());
    }
}
