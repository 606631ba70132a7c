//! What an operator relies on: readiness, metrics, the OpenAPI document, graceful shutdown.

use crate::helpers::*;

#[tokio::test]
async fn ready_answers_when_the_database_does() {
    let app = spawn_app().await;
    let reply = app.get("/ready", ANONYMOUS).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
}

#[tokio::test]
async fn ready_is_503_when_the_database_is_unreachable() {
    let app = spawn_app_without_database().await;
    let reply = app.get("/ready", ANONYMOUS).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (503, r#"{"status":"unavailable"}"#)
    );
}

#[tokio::test]
async fn ready_is_503_when_the_database_hangs() {
    let (app, _database) = spawn_app_behind_proxy(Link::Held, &[]).await;
    let reply = app.get("/ready", ANONYMOUS).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (503, r#"{"status":"unavailable"}"#)
    );
}

#[tokio::test]
async fn metrics_count_requests_database_calls_and_rooms() {
    let app = spawn_app().await;
    let before = app.get("/metrics", ANONYMOUS).await;
    assert_eq!(before.status, 200);
    assert_eq!(before.content_type, "text/plain; version=0.0.4");
    let rooms =
        r#"livechat_rooms_http_requests_total{route="/api/v1/livechat/rooms",status="200"}"#;
    assert_eq!(metric(&before.body, rooms), None);

    // A full page: only a count can tell the total.
    app.get_rooms("departmentId=dep-sales&count=3", MANAGER)
        .await
        .assert_rooms(&["lc-08", "lc-02", "lc-01"], 0, 3);
    app.get_rooms("", ANONYMOUS)
        .await
        .assert_error(401, UNAUTHORIZED_BODY);
    let after = app.get("/metrics", ANONYMOUS).await.body;
    assert_eq!(metric(&after, rooms), Some(1.0), "{after}");
    assert_eq!(
        metric(
            &after,
            r#"livechat_rooms_http_requests_total{route="/api/v1/livechat/rooms",status="401"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&after, "livechat_rooms_rooms_returned_total"),
        Some(3.0)
    );
    for operation in [
        "users.find_one",
        "permissions.find",
        "settings.find",
        "rooms.find",
        "rooms.count",
        "departments.find",
    ] {
        let count =
            format!(r#"livechat_rooms_db_call_duration_seconds_count{{operation="{operation}"}}"#);
        assert_eq!(metric(&after, &count), Some(1.0), "{operation}:\n{after}");
    }
    assert_eq!(
        metric(
            &after,
            r#"livechat_rooms_http_request_duration_seconds_count{route="/api/v1/livechat/rooms"}"#
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_page_short_of_its_count_is_answered_without_counting() {
    let app = spawn_app().await;
    let count_calls = r#"livechat_rooms_db_call_duration_seconds_count{operation="rooms.count"}"#;
    app.get_rooms("departmentId=dep-sales", MANAGER)
        .await
        .assert_rooms(&["lc-08", "lc-02", "lc-01"], 0, 3);
    app.get_rooms("offset=43&count=0", MANAGER)
        .await
        .assert_rooms(&["lc-10", "lc-45"], 43, 45);
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert_eq!(metric(&metrics, count_calls), None, "{metrics}");
    // An empty page past the end does not tell how many rooms there are.
    app.get_rooms("offset=50&count=0", MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 50, LIVECHAT_ROOMS);
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert_eq!(metric(&metrics, count_calls), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn metrics_count_database_errors() {
    let app = spawn_app_without_database().await;
    assert_eq!(app.get_rooms("", MANAGER).await.status, 503);
    let text = app.get("/metrics", ANONYMOUS).await.body;
    // Authentication's two lookups run together; the first to fail cancels the other.
    let errors: f64 = ["users.find_one", "permissions.find"]
        .iter()
        .filter_map(|op| {
            metric(
                &text,
                &format!(r#"livechat_rooms_db_errors_total{{operation="{op}"}}"#),
            )
        })
        .sum();
    assert!(errors >= 1.0, "{text}");
    assert_eq!(
        metric(
            &text,
            r#"livechat_rooms_http_requests_total{route="/api/v1/livechat/rooms",status="503"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn openapi_is_served_as_json_that_no_cache_keeps() {
    // What it says is tied to the code by the unit tests in src/openapi.rs.
    let app = spawn_app().await;
    let reply = app.get("/openapi.json", ANONYMOUS).await;
    assert_eq!(
        (
            reply.status,
            reply.content_type.as_str(),
            reply.cache_control.as_str()
        ),
        (200, "application/json", "no-store")
    );
    assert_eq!(reply.json()["openapi"], "3.1.0");
}

/// The real binary, started with `env`; returns it and its port once it listens.
async fn start_binary(env: &[(&str, &str)]) -> (tokio::process::Child, u16) {
    let (child, port, _) = start_binary_logged(env).await;
    (child, port)
}

/// Sends `request` as raw bytes and returns the status line of the answer (empty if none).
async fn raw_status_line(port: u16, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    // The service may answer and close before it has read everything: ignore write errors.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn oversized_request_lines_and_heads_get_431_whatever_their_size() {
    let loaded = spawn_app().await;
    let database = FlakyDatabase::start(Link::Up, loaded.db.name()).await;
    let (_child, port) = start_binary(&[("MONGO_URL", &database.url)]).await;
    // Below 64 KiB, between the URI limit and actix's 128 KiB buffer, and above both.
    for size in [40_000, 70_000, 100_000, 140_000, 300_000] {
        let request = format!(
            "GET {ROOMS}?roomName={} HTTP/1.1\r\nHost: x\r\nX-User-Id: manager-id\r\n\r\n",
            "a".repeat(size)
        );
        let status = raw_status_line(port, request.as_bytes()).await;
        assert!(
            status.starts_with("HTTP/1.1 431"),
            "{size}-byte URI: {status:?}"
        );
    }
    let long_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n",
        "b".repeat(50_000)
    );
    let status = raw_status_line(port, long_header.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status:?}");
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let status = raw_status_line(port, many_headers.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status:?}");
    // Just within the limit, a request is served as usual.
    let fits = format!(
        "GET /health?pad={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "c".repeat(30_000)
    );
    let status = raw_status_line(port, fits.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
}

#[tokio::test]
async fn malformed_requests_are_counted_not_logged_as_errors() {
    let loaded = spawn_app().await;
    let database = FlakyDatabase::start(Link::Up, loaded.db.name()).await;
    let (_child, port, log) = start_binary_logged(&[("MONGO_URL", &database.url)]).await;
    for request in [
        &b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"[..],
        b"\x16\x03\x01 not http at all\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
    ] {
        let status = raw_status_line(port, request).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{status:?}");
    }
    let app = TestApp::of_binary(port, &loaded.db);
    let counted = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let text = app.get("/metrics", ANONYMOUS).await.body;
            if metric(&text, "livechat_rooms_malformed_requests_total") >= Some(3.0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "malformed requests were not counted");
    let errors: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("ERROR"))
        .cloned()
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_and_exits_0() {
    let loaded = spawn_app().await;
    let database = FlakyDatabase::start(Link::Held, loaded.db.name()).await;
    let (mut child, port) = start_binary(&[
        ("MONGO_URL", &database.url),
        ("SHUTDOWN_TIMEOUT_SECS", "30"),
    ])
    .await;
    let app = TestApp::of_binary(port, &loaded.db);

    let in_flight = app.spawn_get_rooms("roomName=Linus", MANAGER);
    app.wait_for_requests_in_flight(1).await;
    sigterm(&child);
    // The request in flight completes once the database answers.
    database.set(Link::Up);
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.starts_with(r#"{"rooms":[{"_id":"lc-08""#),
        "{}",
        reply.body
    );
    let exit = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("the service exits after its last request")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn the_binary_refuses_a_bad_setting_and_names_it() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-rooms"))
        .env_clear()
        .env("PORT", "http")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORT: must be a port number"), "{stderr}");
}

#[tokio::test]
async fn health_check_subcommand_reports_the_service() {
    let loaded = spawn_app().await;
    let database = FlakyDatabase::start(Link::Up, loaded.db.name()).await;
    let (_child, port) = start_binary(&[("MONGO_URL", &database.url)]).await;
    let port = port.to_string();
    let healthy = tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-rooms"))
        .arg("health-check")
        .env_clear()
        .env("PORT", &port)
        .status()
        .await
        .unwrap();
    assert!(healthy.success());
    let nobody = tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-rooms"))
        .arg("health-check")
        .env_clear()
        .env("PORT", "1")
        .status()
        .await
        .unwrap();
    assert!(!nobody.success());
}

#[tokio::test]
async fn with_a_shutdown_delay_sigterm_turns_ready_to_503_and_keeps_serving_until_the_delay_ends() {
    let loaded = spawn_app().await;
    let database = FlakyDatabase::start(Link::Up, loaded.db.name()).await;
    let (mut child, port) =
        start_binary(&[("MONGO_URL", &database.url), ("SHUTDOWN_DELAY_SECS", "3")]).await;
    let app = TestApp::of_binary(port, &loaded.db);
    assert_eq!(app.get("/ready", ANONYMOUS).await.status, 200);
    sigterm(&child);
    // The signal is handled asynchronously: /ready turns within the delay.
    let turned = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        loop {
            let reply = app.get("/ready", ANONYMOUS).await;
            if reply.status == 503 {
                break reply.body;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("/ready answers 503 soon after SIGTERM");
    assert_eq!(turned, r#"{"status":"stopping"}"#);
    // Still serving: liveness and the listing itself.
    assert_eq!(app.get("/health", ANONYMOUS).await.status, 200);
    assert_eq!(app.get_rooms("count=1", MANAGER).await.status, 200);
    let exit = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("the service exits once the delay is over")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
