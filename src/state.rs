//! [`WorkerState`]: what one HTTP worker's requests share (its own database handle), and
//! [`ProcessState`], what every worker shares: the metrics, the rate limiter's counters and the
//! values read from Rocket.Chat's database and held in memory, each with its bound.

use std::sync::Arc;
use std::time::Duration;

use crate::api_settings::{self, ApiSettings};
use crate::auth::Permissions;
use crate::cache::{Cached, Keyed};
use crate::config::LiveConfig;
use crate::db::{Db, DbError, Departments};
use crate::live::hub::Hub;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::rooms::cursor::CursorKey;
use crate::rooms::indexes::IndexSpec;

/// How long the index list of `rocketchat_room` is held (contract §4b: re-read at most every
/// minute).
pub const INDEXES_MAX_AGE: Duration = Duration::from_secs(60);
/// Users (or agent lists) whose units or ids are held at once.
const MAX_HELD_USERS: usize = 10_000;

/// One HTTP worker's state: its own database handle, and what the whole process shares.
pub struct WorkerState {
    pub db: Db,
    pub process: ProcessState,
}

/// What all HTTP workers share.
#[derive(Clone)]
pub struct ProcessState {
    pub metrics: Arc<Metrics>,
    /// `HTTP_FORWARDED_COUNT`, for the rate limiter's client address.
    pub forwarded_count: usize,
    /// `OMNICHANNEL_UNIT_RESTRICTIONS` is not `off`: Enterprise unit restrictions apply where the
    /// data has units.
    pub unit_restrictions: bool,
    pub rate_limiter: Arc<RateLimiter>,
    /// A stop has been asked for (`SHUTDOWN_DELAY_SECS`): `/ready` answers 503.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Signs keyset cursors (`CURSOR_SECRET`, else the database's name).
    pub cursor_key: CursorKey,
    /// The live streams (contract §7); its poller is started by `startup`.
    pub live: Arc<Hub>,
    pub live_config: LiveConfig,
    settings: Arc<Cached<ApiSettings>>,
    permissions: Arc<Cached<Permissions>>,
    departments: Arc<Cached<Departments>>,
    /// `None` held: the list could not be read (said once at WARN).
    indexes: Arc<Cached<Option<Vec<IndexSpec>>>>,
    units_of_user: Arc<Keyed<Vec<String>>>,
    agent_ids: Arc<Keyed<Vec<String>>>,
}

impl ProcessState {
    /// `cache_max_age`: how old permissions, departments, units and agent ids may be.
    pub fn new(
        metrics: Arc<Metrics>,
        cache_max_age: Duration,
        forwarded_count: usize,
        unit_restrictions: bool,
        cursor_key: CursorKey,
        live_config: LiveConfig,
    ) -> Self {
        ProcessState {
            live: Hub::new(live_config.max_streams, metrics.live.clone()),
            live_config,
            metrics,
            cursor_key,
            forwarded_count,
            unit_restrictions,
            rate_limiter: Arc::new(RateLimiter::default()),
            draining: Arc::default(),
            settings: Cached::new("settings", api_settings::MAX_AGE),
            permissions: Cached::new("permissions", cache_max_age),
            departments: Cached::new("departments", cache_max_age),
            indexes: Cached::new("indexes", INDEXES_MAX_AGE),
            units_of_user: Keyed::new("units of a user", cache_max_age, MAX_HELD_USERS),
            agent_ids: Keyed::new("agent ids", cache_max_age, MAX_HELD_USERS),
        }
    }
}

impl WorkerState {
    pub fn metrics(&self) -> &Metrics {
        &self.process.metrics
    }

    pub async fn settings(&self) -> Result<Arc<ApiSettings>, DbError> {
        let db = self.db.clone();
        let metrics = self.process.metrics.clone();
        self.process
            .settings
            .get(move || async move {
                let settings = ApiSettings::from_documents(&db.settings(&api_settings::IDS).await?);
                metrics
                    .rest
                    .set_user_agent_label(settings.prometheus_user_agent);
                Ok(settings)
            })
            .await
    }

    pub async fn permissions(&self) -> Result<Arc<Permissions>, DbError> {
        let db = self.db.clone();
        self.process
            .permissions
            .get(move || async move { Permissions::read(&db).await })
            .await
    }

    pub async fn departments(&self) -> Result<Arc<Departments>, DbError> {
        let db = self.db.clone();
        self.process
            .departments
            .get(move || async move { db.departments().await })
            .await
    }

    /// The index list of `rocketchat_room`, `None` when it cannot be read (no `listIndexes`
    /// privilege, an error): then sorts are sent as Rocket.Chat sends them.
    pub async fn indexes(&self) -> Result<Arc<Option<Vec<IndexSpec>>>, DbError> {
        let db = self.db.clone();
        self.process
            .indexes
            .get(move || async move { Ok(db.room_indexes().await.inspect_err(warn_once).ok()) })
            .await
    }

    /// The units a restricted user may see (their monitor and agent rows).
    pub async fn units_of_user(&self, user_id: &str) -> Result<Arc<Vec<String>>, DbError> {
        let (db, id) = (self.db.clone(), user_id.to_owned());
        self.process
            .units_of_user
            .get(user_id, move || async move { db.units_of_user(&id).await })
            .await
    }

    /// `agents` values as user ids ([`Db::agent_ids`]).
    pub async fn agent_ids(&self, values: &[String]) -> Result<Arc<Vec<String>>, DbError> {
        let (db, owned) = (self.db.clone(), values.to_vec());
        self.process
            .agent_ids
            .get(&values.join("\0"), move || async move {
                db.agent_ids(&owned).await
            })
            .await
    }
}

/// The first failure to read the index list is a WARN (the operator should grant `listIndexes`);
/// later ones are DEBUG.
fn warn_once(err: &DbError) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        log::debug!("cannot read the indexes of rocketchat_room: {err}");
    } else {
        log::warn!(
            "cannot read the indexes of rocketchat_room ({err}): sorts are sent as Rocket.Chat \
             sends them, without the _id tie-breaker; grant listIndexes on it"
        );
    }
}
