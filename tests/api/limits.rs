//! Rocket.Chat's REST rate limiter (contract §2b) and the bound on requests working against the
//! database (§6). The fixtures turn the limiter off; these tests turn it on in their own database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::helpers::*;

/// The service with the limiter on: `calls` per `interval_ms`.
async fn limited_app(calls: i32, interval_ms: i32) -> TestApp {
    limited_app_with(calls, interval_ms, &[]).await
}

async fn limited_app_with(calls: i32, interval_ms: i32, env: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with(&mongo_url(), env, TestDb::Fixtures).await;
    app.set_setting("API_Enable_Rate_Limiter", true).await;
    app.set_setting("API_Enable_Rate_Limiter_Limit_Calls_Default", calls)
        .await;
    app.set_setting("API_Enable_Rate_Limiter_Limit_Time_Default", interval_ms)
        .await;
    app
}

fn too_many(seconds: u64) -> String {
    format!(
        r#"{{"success":false,"error":"Error, too many requests. Please slow down. You must wait {seconds} seconds before trying this endpoint again. [error-too-many-requests]"}}"#
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `(X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset)`.
fn limit_headers(reply: &Reply) -> Option<(u64, u64, u64)> {
    let n = |name: &str| reply.header(name)?.parse().ok();
    Some((
        n("x-ratelimit-limit")?,
        n("x-ratelimit-remaining")?,
        n("x-ratelimit-reset")?,
    ))
}

#[tokio::test]
async fn calls_over_the_limit_get_429_with_rocket_chats_body_and_headers() {
    let app = limited_app(3, 60_000).await;
    let started = now_ms();
    for remaining in [2, 1, 0] {
        let reply = app.get_rooms("count=1", MANAGER).await;
        reply.assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
        let (limit, left, reset) = limit_headers(&reply).expect("X-RateLimit-* headers");
        assert_eq!((limit, left), (3, remaining));
        assert!(
            reset >= started + 59_000 && reset <= now_ms() + 60_000,
            "{reset}"
        );
    }
    let reply = app.get_rooms("count=1", MANAGER).await;
    reply.assert_error(429, &too_many(60));
    let (limit, left, _) = limit_headers(&reply).expect("X-RateLimit-* headers on the 429");
    assert_eq!((limit, left), (3, 0));
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert!(
        metrics
            .lines()
            .any(|l| l == "livechat_rooms_rate_limited_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_limit_comes_after_authentication_and_before_parameters_and_permission() {
    let app = limited_app(2, 60_000).await;
    // Within the limit, a 400 and a 403 carry the headers too (one client: this test).
    let bad = app.get_rooms("count=-1", MANAGER).await;
    bad.assert_bad_request(r#"The "count" query parameter must be a non-negative integer"#);
    assert_eq!(limit_headers(&bad).map(|h| (h.0, h.1)), Some((2, 1)));
    let forbidden = app.get_rooms("", PLAIN_USER).await;
    forbidden.assert_error(403, FORBIDDEN_BODY);
    assert_eq!(limit_headers(&forbidden).map(|h| (h.0, h.1)), Some((2, 0)));
    // Over it: 429 even with bad parameters; 401 still first, and never counted.
    app.get_rooms("count=-1", MANAGER)
        .await
        .assert_error(429, &too_many(60));
    let anonymous = app.get_rooms("count=-1", ANONYMOUS).await;
    anonymous.assert_error(401, UNAUTHORIZED_BODY);
    assert_eq!(limit_headers(&anonymous), None);
    let wrong_token = app.get_rooms("", Some(("manager-id", "nope"))).await;
    wrong_token.assert_error(401, UNAUTHORIZED_BODY);
}

#[tokio::test]
async fn the_window_resets_after_the_interval() {
    let app = limited_app(1, 400).await;
    let first = app.get_rooms("count=1", MANAGER).await;
    first.assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
    let reply = app.get_rooms("count=1", MANAGER).await;
    reply.assert_error(429, &too_many(1));
    let (_, _, reset) = limit_headers(&reply).unwrap();
    // Wait for the window's own end, as the header announces it.
    let wait = reset.saturating_sub(now_ms()) + 20;
    assert!(wait <= 420, "{wait}");
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let again = app.get_rooms("count=1", MANAGER).await;
    again.assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
    assert_eq!(limit_headers(&again).map(|h| (h.0, h.1)), Some((1, 0)));
}

/// Three calls over a limit of one, each answered in full and without the limiter's headers.
async fn assert_never_limited(app: &TestApp, creds: Creds) {
    for _ in 0..3 {
        let reply = app.get_rooms("count=1", creds).await;
        reply.assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
        assert_eq!(limit_headers(&reply), None);
    }
}

#[tokio::test]
async fn users_with_the_bypass_permission_are_never_limited() {
    let app = limited_app(1, 60_000).await;
    assert_never_limited(&app, PAT_USER).await;
}

#[tokio::test]
async fn the_limiter_is_off_when_the_setting_says_so() {
    let app = limited_app(1, 60_000).await;
    app.set_setting("API_Enable_Rate_Limiter", false).await;
    assert_never_limited(&app, MANAGER).await;
}

#[tokio::test]
async fn clients_are_told_apart_by_x_real_ip() {
    let app = limited_app(1, 60_000).await;
    let from = |ip: &'static str| {
        let app = &app;
        async move {
            app.request_with_headers(
                reqwest::Method::GET,
                &format!("{ROOMS}?count=1"),
                MANAGER,
                &[("X-Real-IP", ip)],
            )
            .await
        }
    };
    assert_eq!(from("10.0.0.1").await.status, 200);
    assert_eq!(from("10.0.0.2").await.status, 200);
    assert_eq!(from("10.0.0.1").await.status, 429);
    // Without the header, the peer (this test) is a third client.
    assert_eq!(app.get_rooms("count=1", MANAGER).await.status, 200);
}

#[tokio::test]
async fn with_http_forwarded_count_the_client_comes_from_x_forwarded_for() {
    let app = limited_app_with(1, 60_000, &[("HTTP_FORWARDED_COUNT", "1")]).await;
    let via = |chain: &'static str| {
        let app = &app;
        async move {
            app.request_with_headers(
                reqwest::Method::GET,
                &format!("{ROOMS}?count=1"),
                MANAGER,
                &[("X-Real-IP", "10.9.9.9"), ("X-Forwarded-For", chain)],
            )
            .await
            .status
        }
    };
    assert_eq!(via("1.1.1.1, 10.0.0.1").await, 200);
    assert_eq!(via("2.2.2.2, 10.0.0.2").await, 200);
    assert_eq!(via("3.3.3.3, 10.0.0.1").await, 429);
}

#[tokio::test]
async fn past_max_in_flight_the_503_comes_at_once() {
    let (app, database) = spawn_app_behind_proxy(
        Link::Held,
        &[
            ("MAX_IN_FLIGHT", "1"),
            ("SERVER_SELECTION_TIMEOUT_MS", "30000"),
        ],
    )
    .await;
    let waiting = app.spawn_get_rooms("count=1", MANAGER);
    app.wait_for_requests_in_flight(1).await;
    let started = std::time::Instant::now();
    let shed = app.get_rooms("count=1", MANAGER).await;
    // At once: not after the query timeout (10 s) nor the server selection timeout (30 s).
    assert!(started.elapsed() < Duration::from_secs(5));
    shed.assert_error(
        503,
        r#"{"success":false,"error":"The database is unavailable"}"#,
    );
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("livechat_rooms_requests_shed_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    database.set(Link::Up);
    waiting
        .await
        .unwrap()
        .assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
    app.get_rooms("count=1", MANAGER)
        .await
        .assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
}
