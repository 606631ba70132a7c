//! [`AppState`]: what every request shares, built once at start-up.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::{Document, RawDocumentBuf};
use mongodb::{Collection, Database};

use crate::metrics::Metrics;
use crate::settings::PaginationCache;

pub const USERS: &str = "users";
pub const PERMISSIONS: &str = "rocketchat_permissions";
pub const SETTINGS: &str = "rocketchat_settings";
pub const ROOMS: &str = "rocketchat_room";
pub const DEPARTMENTS: &str = "rocketchat_livechat_department";

pub struct AppState {
    pub users: Collection<Document>,
    pub permissions: Collection<Document>,
    pub rooms: Collection<RawDocumentBuf>,
    pub departments: Collection<RawDocumentBuf>,
    pub pagination: PaginationCache,
    /// Sent as `maxTimeMS` with every database call.
    pub query_timeout: Duration,
    pub metrics: Arc<Metrics>,
    /// For `/ready`'s ping.
    pub db: Database,
}

impl AppState {
    pub fn new(db: &Database, query_timeout: Duration) -> Self {
        AppState {
            users: db.collection(USERS),
            permissions: db.collection(PERMISSIONS),
            rooms: db.collection(ROOMS),
            departments: db.collection(DEPARTMENTS),
            pagination: PaginationCache::new(db.collection(SETTINGS), query_timeout),
            query_timeout,
            metrics: Arc::new(Metrics::new()),
            db: db.clone(),
        }
    }
}
