//! `TestApp`: the real service on port 0, against a fresh database (named per test) loaded from
//! `fixtures/`, on the MongoDB server `MONGO_URL` points at.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use livechat_rooms::config::Config;
use livechat_rooms::fixtures;
use livechat_rooms::startup::Application;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;
use serde_json::Value;

pub use crate::programs::*;
pub use crate::proxy::{FlakyDatabase, Link};

pub const ROOMS: &str = "/api/v1/livechat/rooms";

/// `(X-User-Id, X-Auth-Token)` of the fixture users (see fixtures/README.md).
pub type Creds = Option<(&'static str, &'static str)>;
pub const MANAGER: Creds = Some(("manager-id", "manager-token"));
pub const PAT_USER: Creds = Some(("pat-user-id", "pat-token"));
pub const AGENT: Creds = Some(("agent-1-id", "agent-token"));
pub const PLAIN_USER: Creds = Some(("plain-user-id", "user-token"));
pub const ANONYMOUS: Creds = None;
/// The livechat rooms of `fixtures/rocketchat_room.json`: the total of an unfiltered listing. Tests
/// that need other rooms insert them in their own database rather than grow the shared fixtures.
pub const LIVECHAT_ROOMS: u64 = 45;
/// An empty listing, for [`Reply::assert_rooms`].
pub const NO_ROOMS: &[&str] = &[];

pub const UNAUTHORIZED_BODY: &str = r#"{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}"#;
pub const FORBIDDEN_BODY: &str = r#"{"success":false,"error":"unauthorized"}"#;

static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);
static LOG: Once = Once::new();

pub struct TestApp {
    pub address: String,
    pub db: Database,
    pub client: reqwest::Client,
}

/// The HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub cache_control: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    /// A response header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `_id`s of the rooms, in order.
    pub fn ids(&self) -> Vec<String> {
        let json = self.json();
        let rooms = json["rooms"]
            .as_array()
            .unwrap_or_else(|| panic!("no rooms: {}", self.body));
        rooms
            .iter()
            .map(|r| r["_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// `(count, offset, total)` of the envelope.
    pub fn page(&self) -> (u64, u64, u64) {
        let json = self.json();
        let n = |k: &str| {
            json[k]
                .as_u64()
                .unwrap_or_else(|| panic!("no {k}: {}", self.body))
        };
        (n("count"), n("offset"), n("total"))
    }

    /// Asserts a 200 listing with exactly these room ids and this total (count is their number,
    /// `success` is true, the envelope keys are in contract order).
    #[track_caller]
    pub fn assert_rooms(&self, ids: &[impl AsRef<str>], offset: u64, total: u64) {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.ids(), ids, "{}", self.body);
        assert_eq!(
            self.page(),
            (ids.len() as u64, offset, total),
            "{}",
            self.body
        );
        let tail = format!(
            r#"],"count":{},"offset":{offset},"total":{total},"success":true}}"#,
            ids.len()
        );
        assert!(
            self.body.starts_with(r#"{"rooms":["#) && self.body.ends_with(&tail),
            "{}",
            self.body
        );
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, body: &str) {
        assert_eq!((self.status, self.body.as_str()), (status, body));
        assert_eq!(self.content_type, "application/json");
    }

    /// A 400 with `{"success":false,"error":<message>}`.
    #[track_caller]
    pub fn assert_bad_request(&self, message: &str) {
        let body = serde_json::to_string(&serde_json::json!({"success": false, "error": message}))
            .unwrap();
        self.assert_error(400, &body);
    }
}

/// A sample's value in Prometheus's text format.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until a value the service holds for `max_age_ms` has expired. A wait for a time bound, not
/// a sleep standing in for synchronisation: the bound is what is under test.
pub async fn wait_out_the_cache(max_age_ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(max_age_ms + 50)).await;
}

/// Percent-encodes a query value completely, so JSON and odd characters arrive as written.
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether the test server stores and projects as MongoDB does. `scripts/test` names the server in
/// `TEST_DB_SERVER`: `mongoeco` does; `nx` (nx-27017) does not, and the tests that need a
/// workaround for it say so where they use this. Unset (a `MONGO_URL` given by hand, such as a real
/// MongoDB) counts as exact.
pub fn server_is_exact() -> bool {
    std::env::var("TEST_DB_SERVER").as_deref() != Ok("nx")
}

/// True (and says so) when the test server is nx-27017, which keeps no index specifications
/// (directions, partial filters): a test of what the service sends MongoDB, decided from them,
/// runs on mongoeco and on a real MongoDB.
pub fn skipped_on_nx(test: &str) -> bool {
    let skip = std::env::var("TEST_DB_SERVER").as_deref() == Ok("nx");
    if skip {
        eprintln!("{test}: skipped on nx-27017 (it keeps no index specifications)");
    }
    skip
}

pub fn mongo_url() -> String {
    std::env::var("MONGO_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| livechat_rooms::config::DEFAULT_MONGO_URL.to_owned())
}

/// Which database a test service reads.
pub enum TestDb {
    /// A new one, loaded from `fixtures/`.
    Fixtures,
    /// A new one, left empty.
    Empty,
    /// One another test service already uses.
    Existing(String),
}

/// The service against a fresh database holding the fixtures, read through a [`FlakyDatabase`]
/// proxy that starts in `link`, with these environment variables set.
pub async fn spawn_app_behind_proxy(link: Link, env: &[(&str, &str)]) -> (TestApp, FlakyDatabase) {
    spawn_app_behind_proxy_after(link, env, async |_| {}).await
}

/// As [`spawn_app_behind_proxy`], with `prepare` run on the loaded database before the service
/// starts (to create indexes, units, users).
pub async fn spawn_app_behind_proxy_after(
    link: Link,
    env: &[(&str, &str)],
    prepare: impl AsyncFnOnce(&Database),
) -> (TestApp, FlakyDatabase) {
    let loaded = spawn_app().await;
    prepare(&loaded.db).await;
    let name = loaded.db.name().to_owned();
    let database = FlakyDatabase::start(link, &name).await;
    let app = spawn_app_with(&database.url, env, TestDb::Existing(name)).await;
    (app, database)
}

/// The service against a fresh database holding the fixtures.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&mongo_url(), &[], TestDb::Fixtures).await
}

/// The service against `mongo_url`, with these environment variables (e.g. `QUERY_TIMEOUT_MS`)
/// set besides the address.
pub async fn spawn_app_with(mongo_url: &str, env: &[(&str, &str)], db: TestDb) -> TestApp {
    LOG.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            let _ =
                env_logger::Builder::from_env(env_logger::Env::new().default_filter_or("debug"))
                    .try_init();
        }
    });
    let name = match &db {
        TestDb::Existing(name) => name.clone(),
        _ => format!(
            "lc_test_{}_{}",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::SeqCst)
        ),
    };
    let mut config = Config::from_lookup(|var| match var {
        "MONGO_URL" => Some(mongo_url.to_owned()),
        "BIND_IP" => Some("127.0.0.1".to_owned()),
        "PORT" => Some("0".to_owned()),
        _ => env
            .iter()
            .find(|(name, _)| *name == var)
            .map(|(_, value)| (*value).to_owned())
            // A test server busy with the other tests (and a browser starting) may be slow to
            // answer the driver's heartbeat; the tests of fast failure set the service's default
            // (500) themselves.
            .or_else(|| (var == "SERVER_SELECTION_TIMEOUT_MS").then(|| "15000".to_owned())),
    })
    .expect("test settings are valid");
    config.database = Some(name);
    let load = matches!(db, TestDb::Fixtures);
    let db = livechat_rooms::startup::connect(&config)
        .await
        .expect("MONGO_URL is a MongoDB URL");
    if load {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        fixtures::load_dir(&db, &dir, fixtures::Existing::Refuse)
            .await
            .unwrap_or_else(|e| {
                panic!("loading fixtures into {mongo_url} failed (is the server up?): {e}")
            });
    }
    let app = Application::build(config)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    /// `GET path_and_query` with the given credentials.
    pub async fn get(&self, path_and_query: &str, creds: Creds) -> Reply {
        self.request(reqwest::Method::GET, path_and_query, creds)
            .await
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        creds: Creds,
    ) -> Reply {
        self.request_with_headers(method, path_and_query, creds, &[])
            .await
    }

    /// As [`TestApp::request`], with these headers besides the credentials.
    pub async fn request_with_headers(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        creds: Creds,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path_and_query}", self.address);
        send(&self.client, method, &url, creds, headers).await
    }

    /// `GET /api/v1/livechat/rooms?<query>` sent in the background, for a request that must wait
    /// while the test does something else; the handle gives its answer.
    pub fn spawn_get_rooms(&self, query: &str, creds: Creds) -> tokio::task::JoinHandle<Reply> {
        let client = self.client.clone();
        let url = format!("{}{ROOMS}?{query}", self.address);
        tokio::spawn(async move { send(&client, reqwest::Method::GET, &url, creds, &[]).await })
    }

    /// `GET /api/v1/livechat/rooms?<query>`; `query` is sent as written.
    pub async fn get_rooms(&self, query: &str, creds: Creds) -> Reply {
        self.get(&format!("{ROOMS}?{query}"), creds).await
    }

    /// `GET /api/v1/livechat/rooms` with these parameters, each value percent-encoded whole (the
    /// names are sent as written, so `agents[]` stays a bracketed key).
    pub async fn get_rooms_with(&self, params: &[(&str, &str)], creds: Creds) -> Reply {
        let query: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{name}={}", enc(value)))
            .collect();
        self.get_rooms(&query.join("&"), creds).await
    }

    /// Waits until `n` requests besides the `/metrics` requests asking are being answered; fails
    /// after 30 s instead of hanging.
    pub async fn wait_for_requests_in_flight(&self, n: u32) {
        let answering = async {
            loop {
                let text = self.get("/metrics", ANONYMOUS).await.body;
                let in_flight = metric(&text, "livechat_rooms_http_requests_in_flight");
                if in_flight.unwrap_or(0.0) >= f64::from(n + 1) {
                    break;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), answering)
            .await
            .expect("the requests reach the service within 30 s");
    }

    /// Sets a Rocket.Chat setting in this test's database. The document is replaced whole: the
    /// SQLite-backed test server stores a `$set` of `false` as `0`.
    pub async fn set_setting(&self, id: &str, value: impl Into<Bson>) {
        self.db
            .collection::<Document>("rocketchat_settings")
            .replace_one(doc! {"_id": id}, doc! {"_id": id, "value": value.into()})
            .upsert(true)
            .await
            .expect("setting replaced");
    }

    /// Replaces a permission's roles in this test's database.
    pub async fn set_permission_roles(&self, id: &str, roles: &[&str]) {
        self.db
            .collection::<Document>("rocketchat_permissions")
            .update_one(doc! {"_id": id}, doc! {"$set": {"roles": roles}})
            .await
            .expect("permission updated");
    }

    pub async fn insert_room(&self, room: Document) {
        self.db
            .collection::<Document>("rocketchat_room")
            .insert_one(room)
            .await
            .expect("room inserted");
    }
}

/// `request` with these headers and, if any, the credentials' two headers.
pub fn with_headers(
    mut request: reqwest::RequestBuilder,
    creds: Creds,
    headers: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some((user, token)) = creds {
        request = request
            .header("X-User-Id", user)
            .header("X-Auth-Token", token);
    }
    request
}

/// Sends one request and reads the answer whole.
async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    creds: Creds,
    headers: &[(&str, &str)],
) -> Reply {
    let response = with_headers(client.request(method, url), creds, headers)
        .send()
        .await
        .expect("the service answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    Reply {
        status: response.status().as_u16(),
        content_type,
        cache_control,
        headers: response.headers().clone(),
        body: response.text().await.expect("a body"),
    }
}

/// The service against an address where nothing listens (port 1), with short timeouts: every
/// database call fails at once.
pub async fn spawn_app_without_database() -> TestApp {
    spawn_app_with(
        "mongodb://127.0.0.1:1/rocketchat",
        &[
            ("QUERY_TIMEOUT_MS", "300"),
            ("SERVER_SELECTION_TIMEOUT_MS", "300"),
        ],
        TestDb::Empty,
    )
    .await
}

impl TestApp {
    /// The service binary started on `port` (by [`start_binary_logged`]), reading `db`.
    pub fn of_binary(port: u16, db: &Database) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            db: db.clone(),
            client: reqwest::Client::new(),
        }
    }
}
