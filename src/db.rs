//! [`Db`]: the one handle on Rocket.Chat's database. It owns the collections, the query timeout
//! (sent as `maxTimeMS`, and enforced here too, for a server that stops answering), the metrics
//! every call is timed by, and the bound on requests working against the database at once.

use std::collections::HashMap;
use std::future::{Future, IntoFuture as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use mongodb::bson::{doc, rawdoc, Document, RawDocumentBuf};
use mongodb::{Collection, Database};
use serde::de::DeserializeOwned;

use crate::metrics::Metrics;

/// The names of the collections read (never written).
pub mod collection {
    pub const USERS: &str = "users";
    pub const PERMISSIONS: &str = "rocketchat_permissions";
    pub const SETTINGS: &str = "rocketchat_settings";
    pub const ROOMS: &str = "rocketchat_room";
    pub const DEPARTMENTS: &str = "rocketchat_livechat_department";
}

/// What the service waits beyond `QUERY_TIMEOUT_MS` for the server's own `maxTimeMS` error before
/// it gives up on the call itself.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Driver(#[from] mongodb::error::Error),
    /// No answer within the query timeout and its margin (a frozen server, a lost network).
    #[error("no answer from the database within {0:?}")]
    Deadline(Duration),
    /// `MAX_IN_FLIGHT` requests were already working against the database.
    #[error("{0} requests are already working against the database")]
    Busy(usize),
}

/// Department names by id: `{_id, name}` in that order (without `name` when it has none).
pub type DepartmentNames = HashMap<String, RawDocumentBuf>;

/// What the handles of all HTTP workers share: the timeout, the metrics and the in-flight count.
#[derive(Clone)]
pub struct DbShared {
    query_timeout: Duration,
    metrics: Arc<Metrics>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
}

impl DbShared {
    pub fn new(query_timeout: Duration, max_in_flight: usize, metrics: Arc<Metrics>) -> Self {
        DbShared {
            query_timeout,
            metrics,
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
        }
    }
}

/// One HTTP worker's handle. Each worker has its own client, so its connection pool, its sockets
/// and the driver's tasks run on that worker's thread: a database call hands nothing to another
/// thread.
#[derive(Clone)]
pub struct Db {
    database: Database,
    users: Collection<RawDocumentBuf>,
    permissions: Collection<Document>,
    settings: Collection<Document>,
    rooms: Collection<RawDocumentBuf>,
    departments: Collection<RawDocumentBuf>,
    shared: DbShared,
}

/// A place among the requests working against the database; given back when dropped.
pub struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Db {
    pub fn new(database: &Database, shared: DbShared) -> Self {
        Db {
            database: database.clone(),
            users: database.collection(collection::USERS),
            permissions: database.collection(collection::PERMISSIONS),
            settings: database.collection(collection::SETTINGS),
            rooms: database.collection(collection::ROOMS),
            departments: database.collection(collection::DEPARTMENTS),
            shared,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    pub fn query_timeout(&self) -> Duration {
        self.shared.query_timeout
    }

    pub fn rooms(&self) -> &Collection<RawDocumentBuf> {
        &self.rooms
    }

    /// A place for one more request, or [`DbError::Busy`] at once when all are taken.
    pub fn admit(&self) -> Result<Admission, DbError> {
        let shared = &self.shared;
        let before = shared.in_flight.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(shared.in_flight.clone());
        if before >= shared.max_in_flight {
            shared.metrics.request_shed();
            return Err(DbError::Busy(shared.max_in_flight));
        }
        Ok(admission)
    }

    /// Runs `work` (database calls and what lies between them) within the query timeout and its
    /// margin; past it the work is dropped (its connections are closed, not reused) and the
    /// answer is [`DbError::Deadline`].
    pub async fn deadline<T, E: From<DbError>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let limit = self.query_timeout() + DEADLINE_MARGIN;
        match actix_web::rt::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(DbError::Deadline(limit).into()),
        }
    }

    /// `find` with a projection and `maxTimeMS`, every document collected, timed as `operation`.
    async fn find_all<T>(
        &self,
        operation: &'static str,
        collection: &Collection<T>,
        filter: Document,
        projection: Document,
    ) -> Result<Vec<T>, DbError>
    where
        T: DeserializeOwned + Send + Sync,
    {
        let find = async {
            collection
                .find(filter)
                .projection(projection)
                .max_time(self.query_timeout())
                .await?
                .try_collect::<Vec<T>>()
                .await
        };
        Ok(self.metrics().db_call(operation, find).await?)
    }

    /// The roles of the user with this id and hashed login token, `None` when there is no such
    /// user or token.
    pub async fn user_roles(
        &self,
        user_id: &str,
        hashed_token: &str,
    ) -> Result<Option<Vec<String>>, DbError> {
        let find = self
            .users
            .find_one(doc! {
                "_id": user_id,
                "services.resume.loginTokens.hashedToken": hashed_token,
            })
            .projection(doc! { "roles": 1 })
            .max_time(self.query_timeout())
            .into_future();
        let user = self.metrics().db_call("users.find_one", find).await?;
        // Read from the raw reply: roles that are not strings, or unreadable, grant nothing.
        Ok(user.map(|user| match user.get_array("roles") {
            Ok(roles) => roles
                .into_iter()
                .filter_map(|r| r.ok()?.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }))
    }

    /// The permission documents (`{_id, roles}`) with these ids.
    pub async fn permissions(&self, ids: &[&str]) -> Result<Vec<Document>, DbError> {
        let filter = doc! { "_id": { "$in": ids } };
        self.find_all(
            "permissions.find",
            &self.permissions,
            filter,
            doc! { "roles": 1 },
        )
        .await
    }

    /// The setting documents (`{_id, value}`) with these ids.
    pub async fn settings(&self, ids: &[&str]) -> Result<Vec<Document>, DbError> {
        let filter = doc! { "_id": { "$in": ids } };
        self.find_all("settings.find", &self.settings, filter, doc! { "value": 1 })
            .await
    }

    /// Every department's `{_id, name}`. The pair is rebuilt here so its key order does not depend
    /// on how a server orders an inclusion projection.
    pub async fn department_names(&self) -> Result<DepartmentNames, DbError> {
        let found = self
            .find_all(
                "departments.find",
                &self.departments,
                Document::new(),
                doc! { "name": 1 },
            )
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|dept| {
                let id = dept.get_str("_id").ok()?;
                let mut pair = rawdoc! { "_id": id };
                if let Ok(Some(name)) = dept.get("name") {
                    pair.append("name", name.to_raw_bson());
                }
                Some((id.to_owned(), pair))
            })
            .collect())
    }

    /// MongoDB's `ping`, for `/ready`.
    pub async fn ping(&self) -> Result<(), DbError> {
        let ping = self.database.run_command(doc! { "ping": 1 }).into_future();
        self.metrics().db_call("ping", ping).await?;
        Ok(())
    }
}
