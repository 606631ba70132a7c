//! [`AppState`]: what every request shares, built once at start-up: the database handle, the
//! values read from Rocket.Chat's database and held in memory (each with its bound), and the rate
//! limiter's counters.

use std::sync::Arc;
use std::time::Duration;

use crate::api_settings::{self, ApiSettings};
use crate::auth::Permissions;
use crate::cache::Cached;
use crate::db::{Db, DbError, DepartmentNames};
use crate::rate_limit::RateLimiter;

/// One HTTP worker's state: its own database handle, and what the whole process shares.
pub struct AppState {
    pub db: Db,
    pub process: ProcessState,
}

/// What all HTTP workers share: the rate limiter's counters and the values held in memory.
#[derive(Clone)]
pub struct ProcessState {
    /// `HTTP_FORWARDED_COUNT`, for the rate limiter's client address.
    pub forwarded_count: usize,
    pub rate_limiter: Arc<RateLimiter>,
    settings: Arc<Cached<ApiSettings>>,
    permissions: Arc<Cached<Permissions>>,
    departments: Arc<Cached<DepartmentNames>>,
}

impl ProcessState {
    /// `cache_max_age`: how old permissions and department names may be.
    pub fn new(cache_max_age: Duration, forwarded_count: usize) -> Self {
        ProcessState {
            forwarded_count,
            rate_limiter: Arc::new(RateLimiter::default()),
            settings: Cached::new("settings", api_settings::MAX_AGE),
            permissions: Cached::new("permissions", cache_max_age),
            departments: Cached::new("departments", cache_max_age),
        }
    }
}

impl AppState {
    pub async fn settings(&self) -> Result<Arc<ApiSettings>, DbError> {
        let db = self.db.clone();
        self.process
            .settings
            .get(move || async move {
                Ok(ApiSettings::from_documents(
                    &db.settings(&api_settings::IDS).await?,
                ))
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

    pub async fn departments(&self) -> Result<Arc<DepartmentNames>, DbError> {
        let db = self.db.clone();
        self.process
            .departments
            .get(move || async move { db.department_names().await })
            .await
    }
}
