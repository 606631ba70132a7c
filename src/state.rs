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

pub struct AppState {
    pub db: Db,
    /// `HTTP_FORWARDED_COUNT`, for the rate limiter's client address.
    pub forwarded_count: usize,
    pub rate_limiter: RateLimiter,
    settings: Arc<Cached<ApiSettings>>,
    permissions: Arc<Cached<Permissions>>,
    departments: Arc<Cached<DepartmentNames>>,
}

impl AppState {
    /// `cache_max_age`: how old permissions and department names may be.
    pub fn new(db: Db, cache_max_age: Duration, forwarded_count: usize) -> Self {
        AppState {
            db,
            forwarded_count,
            rate_limiter: RateLimiter::default(),
            settings: Cached::new("settings", api_settings::MAX_AGE),
            permissions: Cached::new("permissions", cache_max_age),
            departments: Cached::new("departments", cache_max_age),
        }
    }

    pub async fn settings(&self) -> Result<Arc<ApiSettings>, DbError> {
        let db = self.db.clone();
        self.settings
            .get(move || async move {
                Ok(ApiSettings::from_documents(
                    &db.settings(&api_settings::IDS).await?,
                ))
            })
            .await
    }

    pub async fn permissions(&self) -> Result<Arc<Permissions>, DbError> {
        let db = self.db.clone();
        self.permissions
            .get(move || async move { Permissions::read(&db).await })
            .await
    }

    pub async fn departments(&self) -> Result<Arc<DepartmentNames>, DbError> {
        let db = self.db.clone();
        self.departments
            .get(move || async move { db.department_names().await })
            .await
    }
}
