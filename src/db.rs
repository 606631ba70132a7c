//! [`Db`]: the one handle on Rocket.Chat's database. It owns the collections, the query timeout
//! (sent as `maxTimeMS`, and enforced here too, for a server that stops answering), the metrics
//! every call is timed by, and the bound on requests working against the database at once.

use std::collections::HashMap;
use std::future::{Future, IntoFuture as _};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt as _, TryStreamExt as _};
use mongodb::bson::{doc, rawdoc, Bson, Document, RawDocumentBuf};
use mongodb::options::{ReadPreference, SelectionCriteria};
use mongodb::{Collection, Database};
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;
use crate::rooms::indexes::IndexSpec;
use crate::rooms::scope::UnitTree;

/// The names of the collections read (never written).
pub mod collection {
    pub const USERS: &str = "users";
    pub const PERMISSIONS: &str = "rocketchat_permissions";
    pub const SETTINGS: &str = "rocketchat_settings";
    pub const ROOMS: &str = "rocketchat_room";
    pub const DEPARTMENTS: &str = "rocketchat_livechat_department";
    pub const UNIT_MONITORS: &str = "rocketchat_livechat_unit_monitors";
    pub const DEPARTMENT_AGENTS: &str = "rocketchat_livechat_department_agents";
}

/// What the service waits beyond `QUERY_TIMEOUT_MS` for the server's own `maxTimeMS` error before
/// it gives up on the call itself.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Driver(#[from] mongodb::error::Error),
    /// The listing's own `find` or `count` failed: a command error here is about the query built
    /// from the request.
    #[error("the listing's query failed: {0}")]
    Listing(#[source] mongodb::error::Error),
    /// No answer within the query timeout and its margin (a frozen server, a lost network).
    #[error("no answer from the database within {0:?}")]
    Deadline(Duration),
    /// `MAX_IN_FLIGHT` requests were already working against the database.
    #[error("{0} requests are already working against the database")]
    Busy(usize),
}

/// MongoDB's `Unauthorized`: the user's roles do not grant the action.
const UNAUTHORIZED: i32 = 13;

/// The collection and action each operation needs (the README's `livechatRoomsReader` role).
fn privilege_of(operation: &str) -> (&'static str, &'static str) {
    match operation {
        "users.find_one" | "users.find" => (collection::USERS, "find"),
        "permissions.find" => (collection::PERMISSIONS, "find"),
        "settings.find" => (collection::SETTINGS, "find"),
        "departments.find" => (collection::DEPARTMENTS, "find"),
        "unit_monitors.find" => (collection::UNIT_MONITORS, "find"),
        "department_agents.find" => (collection::DEPARTMENT_AGENTS, "find"),
        "rooms.list_indexes" => (collection::ROOMS, "listIndexes"),
        _ => (collection::ROOMS, "find"),
    }
}

fn say_if_unauthorized(operation: &'static str, err: &mongodb::error::Error) {
    if matches!(err.kind.as_ref(), mongodb::error::ErrorKind::Command(cmd) if cmd.code == UNAUTHORIZED)
    {
        say_missing_privilege(operation);
    }
}

/// Once per operation and process: which privilege the MongoDB user lacks. `listIndexes` has its
/// own WARN (the service then sorts as Rocket.Chat does, see `state.rs`).
fn say_missing_privilege(operation: &'static str) {
    static SAID: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if operation == "rooms.list_indexes" || said.contains(&operation) {
        return;
    }
    said.push(operation);
    let (collection, action) = privilege_of(operation);
    log::error!(
        "the MongoDB user of MONGO_URL may not {action} on {collection} (Unauthorized): requests \
         that need it get 503; grant it (README, \"Configuration\": the livechatRoomsReader role)"
    );
}

/// A failure the operator must mend in `MONGO_URL` or on the server, not a passing outage: said
/// once at ERROR, in words that name what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misconfiguration {
    /// The server refused the user and password (the driver's reason, which never holds the
    /// password).
    Credentials(String),
    /// The TLS handshake failed on the server's certificate (the driver's reason).
    Certificate(String),
    /// The user's roles lack a privilege (`Unauthorized`): said by [`Db::call`], which knows the
    /// collection and the action.
    Privilege,
}

impl DbError {
    /// Whether this is a failure the operator must mend rather than an outage.
    pub fn misconfiguration(&self) -> Option<Misconfiguration> {
        let (DbError::Driver(err) | DbError::Listing(err)) = self else {
            return None;
        };
        match err.kind.as_ref() {
            mongodb::error::ErrorKind::Authentication { message, .. } => {
                return Some(Misconfiguration::Credentials(message.clone()))
            }
            mongodb::error::ErrorKind::Command(cmd) if cmd.code == UNAUTHORIZED => {
                return Some(Misconfiguration::Privilege)
            }
            _ => {}
        }
        certificate_cause(&err.to_string()).map(Misconfiguration::Certificate)
    }
}

/// The TLS reason in a driver error's text (`invalid peer certificate: UnknownIssuer`, ...).
fn certificate_cause(text: &str) -> Option<String> {
    let at = text
        .find("invalid peer certificate")
        .or_else(|| text.find("certificate"))?;
    let cause = &text[at..];
    let end = cause.find([',', '}', '\n']).unwrap_or(cause.len());
    Some(cause[..end].trim().to_owned())
}

/// What the departments collection holds, read at once: names to attach to rooms, and the units.
#[derive(Debug, Default)]
pub struct Departments {
    /// By id: `{_id, name}` in that order (without `name` when it has none).
    pub names: HashMap<String, RawDocumentBuf>,
    pub units: Arc<UnitTree>,
}

/// What the handles of all HTTP workers share: the timeout, the metrics and the in-flight count.
#[derive(Clone)]
pub struct DbShared {
    query_timeout: Duration,
    metrics: Arc<Metrics>,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
}

impl DbShared {
    pub fn new(query_timeout: Duration, max_in_flight: usize, metrics: Arc<Metrics>) -> Self {
        DbShared {
            query_timeout,
            metrics,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
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
    unit_monitors: Collection<Document>,
    department_agents: Collection<Document>,
    shared: DbShared,
}

/// A place among the requests working against the database; given back when dropped.
pub type Admission = OwnedSemaphorePermit;

impl Db {
    pub fn new(database: &Database, shared: DbShared) -> Self {
        Db {
            database: database.clone(),
            users: database.collection(collection::USERS),
            permissions: database.collection(collection::PERMISSIONS),
            settings: database.collection(collection::SETTINGS),
            rooms: database.collection(collection::ROOMS),
            departments: database.collection(collection::DEPARTMENTS),
            unit_monitors: database.collection(collection::UNIT_MONITORS),
            department_agents: database.collection(collection::DEPARTMENT_AGENTS),
            shared,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    pub fn query_timeout(&self) -> Duration {
        self.shared.query_timeout
    }

    pub fn users(&self) -> &Collection<RawDocumentBuf> {
        &self.users
    }

    pub fn rooms(&self) -> &Collection<RawDocumentBuf> {
        &self.rooms
    }

    /// One database call, timed as `operation` in the metrics. A read the MongoDB user is not
    /// allowed (`Unauthorized`, code 13) fails the request like any error (never a listing
    /// without what could not be read) and is said once at ERROR, naming the collection and the
    /// action the role lacks.
    pub fn call<'a, T: 'a>(
        &'a self,
        operation: &'static str,
        call: impl Future<Output = mongodb::error::Result<T>> + 'a,
    ) -> impl Future<Output = mongodb::error::Result<T>> + 'a {
        self.metrics()
            .db_call_observed(operation, call, say_if_unauthorized)
    }

    /// A place for one more request, or [`DbError::Busy`] at once when all are taken.
    pub fn admit(&self) -> Result<Admission, DbError> {
        let shared = &self.shared;
        shared.in_flight.clone().try_acquire_owned().map_err(|_| {
            shared.metrics.request_shed();
            DbError::Busy(shared.max_in_flight)
        })
    }

    /// Runs `work` (database calls and what lies between them) within the query timeout and its
    /// margin; past it the work is dropped (its connections are closed, not reused) and the
    /// answer is [`DbError::Deadline`].
    ///
    /// Not an `async fn`: that would hold `work` twice, as its argument and inside the timeout it
    /// awaits, and the caller's future with it.
    pub fn deadline<T, E: From<DbError>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> impl Future<Output = Result<T, E>> {
        let limit = self.query_timeout() + DEADLINE_MARGIN;
        actix_web::rt::time::timeout(limit, work)
            .map(move |outcome| outcome.unwrap_or_else(|_| Err(DbError::Deadline(limit).into())))
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
        Ok(self.call(operation, find).await?)
    }

    /// The roles of the user with this id and hashed login token, `None` when there is no such
    /// user or token. Read from the primary when there is one, whatever `MONGO_URL`'s read
    /// preference: a token written a moment ago is not yet on a lagging secondary.
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
            .selection_criteria(SelectionCriteria::ReadPreference(
                ReadPreference::PrimaryPreferred {
                    options: Default::default(),
                },
            ))
            .into_future();
        let user = self.call("users.find_one", find).await?;
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

    /// Every department's `{_id, name}` and where it stands among the units. The pair is rebuilt
    /// here so its key order does not depend on how a server orders an inclusion projection.
    pub async fn departments(&self) -> Result<Departments, DbError> {
        let found = self
            .find_all(
                "departments.find",
                &self.departments,
                Document::new(),
                doc! { "name": 1, "type": 1, "ancestors": 1 },
            )
            .await?;
        let mut departments = Departments::default();
        let mut units = UnitTree::default();
        for dept in found {
            let Ok(id) = dept.get_str("_id") else {
                continue;
            };
            let mut pair = rawdoc! { "_id": id };
            if let Ok(Some(name)) = dept.get("name") {
                pair.append("name", name.to_raw_bson());
            }
            departments.names.insert(id.to_owned(), pair);
            if dept.get_str("type") == Ok("u") {
                units.has_units = true;
                continue;
            }
            let ancestors = match dept.get_array("ancestors") {
                Ok(ancestors) => ancestors
                    .into_iter()
                    .filter_map(|a| Some(a.ok()?.as_str()?.to_owned()))
                    .collect(),
                Err(_) => Vec::new(),
            };
            units.departments.push((id.to_owned(), ancestors));
        }
        departments.units = Arc::new(units);
        Ok(departments)
    }

    /// The units a restricted user may see (Rocket.Chat's `getUnitsFromUser`): those they
    /// monitor, and the departments they serve as an agent.
    pub async fn units_of_user(&self, user_id: &str) -> Result<Vec<String>, DbError> {
        let (monitored, served) = futures::try_join!(
            self.find_all(
                "unit_monitors.find",
                &self.unit_monitors,
                doc! { "monitorId": user_id },
                doc! { "unitId": 1 },
            ),
            self.find_all(
                "department_agents.find",
                &self.department_agents,
                doc! { "agentId": user_id },
                doc! { "departmentId": 1 },
            ),
        )?;
        let mut units: Vec<String> = Vec::new();
        let rows = monitored.iter().map(|m| m.get_str("unitId"));
        for id in rows
            .chain(served.iter().map(|a| a.get_str("departmentId")))
            .flatten()
        {
            if !units.iter().any(|u| u == id) {
                units.push(id.to_owned());
            }
        }
        Ok(units)
    }

    /// `agents` values as user ids: for each value, the `_id` of every user whose `_id` or
    /// `username` it is (both indexed), or the value itself when it names no user. In the order
    /// of the values, without repeats.
    pub async fn agent_ids(&self, values: &[String]) -> Result<Vec<String>, DbError> {
        let filter = doc! { "$or": [
            { "_id": { "$in": values } },
            { "username": { "$in": values } },
        ] };
        let users = self
            .find_all(
                "users.find",
                &self.users.clone_with_type::<Document>(),
                filter,
                doc! { "username": 1 },
            )
            .await?;
        let mut ids: Vec<String> = Vec::new();
        for value in values {
            let named = users.iter().filter(|u| {
                u.get_str("_id") == Ok(value.as_str())
                    || u.get_str("username") == Ok(value.as_str())
            });
            let mut found = false;
            for id in named.filter_map(|u| u.get_str("_id").ok()) {
                found = true;
                if !ids.iter().any(|i| i == id) {
                    ids.push(id.to_owned());
                }
            }
            if !found && !ids.contains(value) {
                ids.push(value.clone());
            }
        }
        Ok(ids)
    }

    /// The indexes of `rocketchat_room` (`listIndexes`; a collection has at most 64, so the first
    /// batch holds them all), read as `MONGO_URL`'s read preference says (`run_command` alone
    /// would read the primary).
    pub async fn room_indexes(&self) -> Result<Vec<IndexSpec>, DbError> {
        let mut list = self
            .database
            .run_command(doc! { "listIndexes": collection::ROOMS });
        if let Some(criteria) = self.database.selection_criteria() {
            list = list.selection_criteria(criteria.clone());
        }
        let list = list.into_future();
        let reply = self.call("rooms.list_indexes", list).await?;
        let batch = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .map_err(|e| mongodb::error::Error::custom(format!("listIndexes reply: {e}")))?;
        Ok(batch
            .iter()
            .filter_map(|entry| match entry {
                Bson::Document(entry) => IndexSpec::from_list_entry(entry),
                _ => None,
            })
            .collect())
    }

    /// MongoDB's `ping`, for `/ready`.
    pub async fn ping(&self) -> Result<(), DbError> {
        let ping = self.database.run_command(doc! { "ping": 1 }).into_future();
        self.call("ping", ping).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_certificate_reason_is_cut_out_of_the_drivers_text() {
        let text = "Kind: Server selection timeout: No available servers. Topology: { Type: Single, Servers: [ { Address: localhost:1, Type: Unknown, Error: Kind: I/O error: invalid peer certificate: UnknownIssuer, labels: {} } ] }";
        assert_eq!(
            super::certificate_cause(text).as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        assert_eq!(
            super::certificate_cause("Kind: I/O error: connection refused"),
            None
        );
    }
}
