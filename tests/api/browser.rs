//! The README's live page (`deploy/live-feed/index.html`) as a person uses it: served from
//! another origin (so CORS is exercised), opened in headless Chromium driven by its DevTools
//! protocol. It lists the open rooms, shows a room inserted after it loaded, drops one that was
//! closed, and keeps going after the service restarts. Its screenshot is the test's artefact
//! (`target/browser/live-feed.png`).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::sse::{close_room, open_room};

const PAGE: &str = "deploy/live-feed/index.html";

/// Headless Chromium and one page of it, over the DevTools protocol's WebSocket.
struct Browser {
    process: tokio::process::Child,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    session: String,
    next_id: u64,
    _profile: TempDir,
}

impl Browser {
    /// `None` (and says so) where no Chromium is installed, outside CI; CI must run it.
    async fn start() -> Option<Browser> {
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        if !installed_or_required(&binary, "run the browser test", "apt-get install chromium") {
            return None;
        }
        let profile = std::env::temp_dir().join(format!(
            "livechat-rooms-chromium-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut process = tokio::process::Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                // Nothing in the background: the test servers share the machine's cores.
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
                "--hide-scrollbars",
                "--window-size=900,620",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        let mut lines = BufReader::new(process.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("chromium says where DevTools listen");
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    break url.trim().to_owned();
                }
            }
        })
        .await
        .expect("chromium listens within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut browser = Browser {
            process,
            socket,
            session: String::new(),
            next_id: 0,
            _profile: TempDir(profile),
        };
        let target = browser
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        Some(browser)
    }

    /// Sends a command (to the page once attached) and waits for its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        loop {
            let reply = self.socket.next().await.expect("DevTools answers").unwrap();
            let Message::Text(text) = reply else { continue };
            let reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// The room ids the page lists, in its order.
    async fn listed(&mut self) -> Vec<String> {
        let ids = self
            .eval("JSON.stringify([...document.querySelectorAll('li')].map(li => li.dataset.id))")
            .await;
        serde_json::from_str(ids.as_str().unwrap_or("[]")).unwrap()
    }

    /// Waits (at most 20 s) until the listed ids satisfy `done`.
    async fn wait_until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let listed = self.listed().await;
            if done(&listed) {
                return;
            }
            let status = self
                .eval("document.getElementById('status').textContent")
                .await;
            assert!(
                std::time::Instant::now() < deadline,
                "the page never showed {what}: {listed:?}, status {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&mut self, to: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

/// Serves the page (whatever the path) on a port of its own: another origin than the service.
async fn serve_page() -> u16 {
    let page = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    page.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&page).await;
            });
        }
    });
    port
}

/// The service binary on `port`, reading `db`.
async fn start_service(db: &mongodb::Database, port: u16) -> tokio::process::Child {
    let url = format!("{}/{}", mongo_url().trim_end_matches('/'), db.name());
    let port = port.to_string();
    let env = [
        ("MONGO_URL", url.as_str()),
        ("PORT", port.as_str()),
        ("LIVE_POLL_MS", "100"),
        ("SERVER_SELECTION_TIMEOUT_MS", "15000"),
    ];
    start_binary_logged(&env).await.0
}

#[tokio::test]
async fn the_readme_page_follows_the_open_rooms_in_a_real_browser() {
    if !server_is_exact() {
        // nx-27017 finds no room for `open=true` together with an `_updatedAt` range (the
        // listing's `open=true&updatedSince=…` too): a gap of that server, not of the feed.
        eprintln!("the browser test: skipped on nx-27017 (open=true with updatedSince finds nothing there)");
        return;
    }
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let db = spawn_app().await.db;
    // Rocket.Chat stamps every room with `_updatedAt`; most fixture rooms predate the field.
    let rooms = db.collection::<Document>("rocketchat_room");
    let mut cursor = rooms
        .find(doc! {"_updatedAt": {"$exists": false}})
        .await
        .unwrap();
    let mut stale = Vec::new();
    while let Some(room) = cursor.next().await {
        stale.push(room.unwrap());
    }
    for mut room in stale {
        let ts = room.get("ts").cloned().unwrap();
        room.insert("_updatedAt", ts);
        let id = room.get("_id").cloned().unwrap();
        rooms.replace_one(doc! {"_id": id}, room).await.unwrap();
    }
    let page_port = serve_page().await;
    let page_origin = format!("http://127.0.0.1:{page_port}");
    // Cross-origin: Rocket.Chat's CORS settings allow the page's origin.
    let settings = db.collection::<Document>("rocketchat_settings");
    for (id, value) in [
        ("API_Enable_CORS", mongodb::bson::Bson::Boolean(true)),
        ("API_CORS_Origin", page_origin.clone().into()),
    ] {
        settings
            .replace_one(doc! {"_id": id}, doc! {"_id": id, "value": value})
            .upsert(true)
            .await
            .unwrap();
    }
    let port = free_port();
    let service = start_service(&db, port).await;
    let app = TestApp::of_binary(port, &db);
    let open_now = app.get_rooms("open=true&count=0", MANAGER).await.ids();
    assert!(open_now.len() > 3);

    let (user, token) = MANAGER.unwrap();
    let url = format!(
        "{page_origin}/index.html#api=http://127.0.0.1:{port}&user={user}&token={token}&query=open%3Dtrue"
    );
    browser.call("Page.navigate", json!({"url": url})).await;
    browser
        .wait_until("the open rooms", |listed| {
            let mut listed = listed.to_vec();
            let mut expected = open_now.clone();
            listed.sort();
            expected.sort();
            listed == expected
        })
        .await;

    app.insert_room(open_room("browser-new")).await;
    browser
        .wait_until("the room inserted after it loaded", |l| {
            l.first().map(String::as_str) == Some("browser-new")
        })
        .await;
    let closed = open_now[0].clone();
    close_room(&app, &closed).await;
    browser
        .wait_until("the closed room gone", |l| !l.contains(&closed))
        .await;

    // The service restarts: the page reconnects with its last id and goes on.
    sigterm(&service);
    let mut service = service;
    service.wait().await.unwrap();
    let service = start_service(&db, port).await;
    app.insert_room(open_room("browser-after-restart")).await;
    browser
        .wait_until("the room inserted after the restart", |l| {
            l.contains(&"browser-after-restart".to_owned())
        })
        .await;
    let closed_later = open_now[1].clone();
    close_room(&app, &closed_later).await;
    browser
        .wait_until("a room closed after the restart gone", |l| {
            !l.contains(&closed_later) && l.contains(&"browser-new".to_owned())
        })
        .await;
    let status = browser
        .eval("document.getElementById('status').className")
        .await;
    assert_eq!(status, "live");
    let artefact = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser/live-feed.png");
    browser.screenshot(&artefact).await;
    drop(service);
}
