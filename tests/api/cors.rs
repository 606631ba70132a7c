//! Cross-origin requests (contract §2c), as Rocket.Chat's REST API answers them from its settings
//! `API_Enable_CORS` and `API_CORS_Origin`: off, `*`, a list; the preflight; every answer alike.

use reqwest::Method;

use crate::helpers::*;

const METHODS: &str = "GET, POST, PUT, DELETE, HEAD, PATCH";
const HEADERS: &str =
    "Origin, X-Requested-With, Content-Type, Accept, X-User-Id, X-Auth-Token, x-visitor-token, Authorization";

async fn app_with_cors(origins: &str) -> TestApp {
    let app = spawn_app().await;
    app.set_setting("API_Enable_CORS", true).await;
    app.set_setting("API_CORS_Origin", origins).await;
    app
}

fn assert_allowed(reply: &Reply, origin: &str) {
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(origin),
        "{reply:?}"
    );
    assert_eq!(reply.header("access-control-allow-methods"), Some(METHODS));
    assert_eq!(reply.header("access-control-allow-headers"), Some(HEADERS));
}

fn assert_no_cors(reply: &Reply) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        assert_eq!(reply.header(name), None, "{name} on {reply:?}");
    }
}

async fn get_from(app: &TestApp, query: &str, creds: Creds, origin: &str) -> Reply {
    app.request_with_headers(
        Method::GET,
        &format!("{ROOMS}?{query}"),
        creds,
        &[("Origin", origin)],
    )
    .await
}

async fn preflight(app: &TestApp, origin: Option<&str>) -> Reply {
    let mut headers = vec![
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "x-user-id, x-auth-token"),
    ];
    if let Some(origin) = origin {
        headers.push(("Origin", origin));
    }
    app.request_with_headers(Method::OPTIONS, ROOMS, ANONYMOUS, &headers)
        .await
}

#[tokio::test]
async fn with_cors_off_nothing_is_added_and_a_preflight_gets_rocket_chats_405() {
    // The fixtures have no API_Enable_CORS: Rocket.Chat's default, off.
    let app = spawn_app().await;
    let reply = get_from(&app, "count=1", MANAGER, "https://dash.example").await;
    assert_eq!(reply.status, 200);
    assert_no_cors(&reply);
    let reply = preflight(&app, Some("https://dash.example")).await;
    assert_eq!(reply.status, 405);
    assert_eq!(
        reply.body,
        r#"CORS not enabled. Go to "Admin > General > REST Api" to enable it."#
    );
    assert_no_cors(&reply);
    // Off explicitly, too.
    app.set_setting("API_Enable_CORS", false).await;
    let reply = get_from(&app, "count=1", ANONYMOUS, "https://dash.example").await;
    reply.assert_error(401, UNAUTHORIZED_BODY);
    assert_no_cors(&reply);
}

#[tokio::test]
async fn a_star_gives_every_answer_the_three_headers_with_a_star() {
    let app = app_with_cors("*").await;
    let ok = get_from(&app, "count=1", MANAGER, "https://dash.example").await;
    assert_eq!(ok.status, 200);
    assert_allowed(&ok, "*");
    let unauthorized = get_from(&app, "count=1", ANONYMOUS, "https://dash.example").await;
    unauthorized.assert_error(401, UNAUTHORIZED_BODY);
    assert_allowed(&unauthorized, "*");
    let bad = get_from(&app, "count=-1", MANAGER, "https://dash.example").await;
    assert_eq!(bad.status, 400);
    assert_allowed(&bad, "*");
    let forbidden = get_from(&app, "count=1", PLAIN_USER, "https://dash.example").await;
    forbidden.assert_error(403, FORBIDDEN_BODY);
    assert_allowed(&forbidden, "*");
    // A request without Origin gets none.
    let plain = app.get_rooms("count=1", MANAGER).await;
    assert_eq!(plain.status, 200);
    assert_no_cors(&plain);
    // The preflight: 200, no body, the headers.
    let reply = preflight(&app, Some("https://dash.example")).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert_allowed(&reply, "*");
    let reply = preflight(&app, None).await;
    assert_eq!(reply.status, 200);
    assert_allowed(&reply, "*");
}

#[tokio::test]
async fn a_list_is_trimmed_and_case_blind_and_echoes_the_origin_as_sent() {
    let app = app_with_cors(" https://Dash.example , https://other.example").await;
    let reply = get_from(&app, "count=1", MANAGER, "https://dash.EXAMPLE").await;
    assert_eq!(reply.status, 200);
    assert_allowed(&reply, "https://dash.EXAMPLE");
    assert_eq!(reply.header("vary"), Some("Origin"));
    let reply = get_from(&app, "count=1", MANAGER, "https://other.example").await;
    assert_allowed(&reply, "https://other.example");
    let reply = preflight(&app, Some("https://other.example")).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert_allowed(&reply, "https://other.example");
}

#[tokio::test]
async fn an_unlisted_origin_gets_an_empty_403_before_a_bad_token_and_before_the_rate_limiter() {
    let app = app_with_cors("https://dash.example").await;
    app.set_setting("API_Enable_Rate_Limiter", true).await;
    app.set_setting("API_Enable_Rate_Limiter_Limit_Calls_Default", 1)
        .await;
    for _ in 0..3 {
        let reply = app
            .request_with_headers(
                Method::GET,
                &format!("{ROOMS}?count=1"),
                Some(("manager-id", "not-the-token")),
                &[("Origin", "https://evil.example")],
            )
            .await;
        assert_eq!((reply.status, reply.body.as_str()), (403, ""));
        assert_no_cors(&reply);
        // Refused before the rate limiter counts it.
        assert_eq!(reply.header("x-ratelimit-limit"), None);
    }
    // A preflight from it, or with no Origin at all, is refused alike.
    for origin in [Some("https://evil.example"), None] {
        let reply = preflight(&app, origin).await;
        assert_eq!((reply.status, reply.body.as_str()), (403, ""), "{origin:?}");
    }
    // A listed origin is still served, and counted once, with both sets of headers; over the
    // limit the 429 carries the CORS headers too.
    let first = get_from(&app, "count=1", AGENT, "https://dash.example").await;
    assert_eq!(first.header("x-ratelimit-remaining"), Some("0"));
    assert_allowed(&first, "https://dash.example");
    let limited = get_from(&app, "count=1", AGENT, "https://dash.example").await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_allowed(&limited, "https://dash.example");
}

#[tokio::test]
async fn exports_and_other_methods_carry_the_headers_too() {
    let app = app_with_cors("https://dash.example").await;
    for accept in ["text/csv", "application/x-ndjson"] {
        let reply = app
            .request_with_headers(
                Method::GET,
                &format!("{ROOMS}?count=2"),
                MANAGER,
                &[("Origin", "https://dash.example"), ("Accept", accept)],
            )
            .await;
        assert_eq!(reply.status, 200, "{accept}");
        assert!(reply
            .content_type
            .starts_with(accept.split(';').next().unwrap()));
        assert_allowed(&reply, "https://dash.example");
    }
    let reply = app
        .request_with_headers(
            Method::POST,
            ROOMS,
            MANAGER,
            &[("Origin", "https://dash.example")],
        )
        .await;
    reply.assert_error(405, r#"{"success":false,"error":"Method not allowed"}"#);
    assert_allowed(&reply, "https://dash.example");
    // OPTIONS that is no preflight (no Origin, no request method) is any other method.
    let reply = app.request(Method::OPTIONS, ROOMS, ANONYMOUS).await;
    reply.assert_error(405, r#"{"success":false,"error":"Method not allowed"}"#);
}

#[tokio::test]
async fn a_503_carries_the_headers_once_the_settings_are_held() {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[("QUERY_TIMEOUT_MS", "500")]).await;
    app.set_setting("API_Enable_CORS", true).await;
    let reply = get_from(&app, "count=1", MANAGER, "https://dash.example").await;
    assert_eq!(reply.status, 200);
    database.set(Link::Down);
    let reply = get_from(&app, "count=1", MANAGER, "https://dash.example").await;
    reply.assert_error(
        503,
        r#"{"success":false,"error":"The database is unavailable"}"#,
    );
    assert_allowed(&reply, "*");
}
