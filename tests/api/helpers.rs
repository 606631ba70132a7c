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

pub const DEFAULT_MONGO_URL: &str = "mongodb://127.0.0.1:27017";
pub const ROOMS: &str = "/api/v1/livechat/rooms";

/// `(X-User-Id, X-Auth-Token)` of the fixture users (see fixtures/README.md).
pub type Creds = Option<(&'static str, &'static str)>;
pub const MANAGER: Creds = Some(("manager-id", "manager-token"));
pub const PAT_USER: Creds = Some(("pat-user-id", "pat-token"));
pub const AGENT: Creds = Some(("agent-1-id", "agent-token"));
pub const PLAIN_USER: Creds = Some(("plain-user-id", "user-token"));
pub const ANONYMOUS: Creds = None;
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

pub fn mongo_url() -> String {
    std::env::var("MONGO_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_MONGO_URL.to_owned())
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
    let loaded = spawn_app().await;
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
            // A test server busy with the other tests may be slow to answer the driver's
            // heartbeat; the tests of fast failure set the service's default (500) themselves.
            .or_else(|| (var == "SERVER_SELECTION_TIMEOUT_MS").then(|| "5000".to_owned())),
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

/// Sends one request and reads the answer whole.
async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    creds: Creds,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = client.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some((user, token)) = creds {
        request = request
            .header("X-User-Id", user)
            .header("X-Auth-Token", token);
    }
    let response = request.send().await.expect("the service answers");
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

/// What [`FlakyDatabase`] does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Forward it to the real server.
    Up,
    /// Close it at once (the database is unreachable).
    Down,
    /// Keep it waiting until the link is set to `Up` or `Down` (a database that hangs).
    Held,
    /// Connections stay open but nothing passes either way until the link is set to `Up` or
    /// `Down` (a frozen server process); new connections wait as with `Held`.
    Frozen,
    /// As `Up`, but every reply of the server is held back this long (a slow server or network).
    Slow(std::time::Duration),
}

/// A TCP proxy in front of the server `MONGO_URL` names, so a test can take the database away,
/// make it hang, and bring it back.
pub struct FlakyDatabase {
    /// A MongoDB URL for `database` through the proxy (a direct connection).
    pub url: String,
    link: tokio::sync::watch::Sender<Link>,
}

impl FlakyDatabase {
    pub async fn start(link: Link, database: &str) -> Self {
        let url = mongo_url();
        let rest = url
            .strip_prefix("mongodb://")
            .expect("a mongodb:// MONGO_URL for this test");
        let (credentials, rest) = match rest.find('@') {
            Some(at) => rest.split_at(at + 1),
            None => ("", rest),
        };
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (target, tail) = rest.split_at(host_end);
        assert!(
            !target.contains(','),
            "this test needs a single-host MONGO_URL"
        );
        let options = tail
            .split_once('?')
            .map(|(_, o)| format!("&{o}"))
            .unwrap_or_default();
        let target = target.to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let (sender, receiver) = tokio::sync::watch::channel(link);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let target = target.clone();
                let mut receiver = receiver.clone();
                tokio::spawn(async move {
                    if !passes(&mut receiver).await {
                        return;
                    }
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    // Either direction ending (or the link going down) closes both.
                    tokio::select! {
                        _ = pump(in_read, out_write, receiver.clone(), Direction::ToServer) => {}
                        _ = pump(out_read, in_write, receiver, Direction::ToClient) => {}
                    }
                });
            }
        });
        FlakyDatabase {
            url: format!(
                "mongodb://{credentials}127.0.0.1:{port}/{database}?directConnection=true{options}"
            ),
            link: sender,
        }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// Waits while the link holds traffic; false once it is down.
async fn passes(link: &mut tokio::sync::watch::Receiver<Link>) -> bool {
    match link
        .wait_for(|l| !matches!(l, Link::Held | Link::Frozen))
        .await
    {
        Ok(l) => matches!(*l, Link::Up | Link::Slow(_)),
        Err(_) => false,
    }
}

#[derive(PartialEq)]
enum Direction {
    ToServer,
    ToClient,
}

/// Copies one direction of a proxied connection, holding each read back while the link is frozen
/// (or, towards the client, slow) and stopping when it goes down.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut link: tokio::sync::watch::Receiver<Link>,
    direction: Direction,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = link.wait_for(|l| *l == Link::Down) => return,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let slow = match *link.borrow() {
            Link::Slow(delay) if direction == Direction::ToClient => Some(delay),
            _ => None,
        };
        if let Some(delay) = slow {
            tokio::time::sleep(delay).await;
        }
        if !passes(&mut link).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
