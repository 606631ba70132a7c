//! Every 400 of the contract with its exact body, and the service's own 5xx.

use crate::helpers::*;

#[tokio::test]
async fn each_bad_parameter_gets_its_message() {
    let app = spawn_app().await;
    let cases = [
        (
            "agents[x]=a",
            r#"The "agents" query parameter must be an array of strings"#,
        ),
        (
            "departmentId[test]=true",
            r#"The "departmentId" query parameter must be a string or an array of strings"#,
        ),
        (
            "open[]=true",
            r#"The "open" query parameter must be a string"#,
        ),
        (
            "open[a]=true",
            r#"The "open" query parameter must be a string"#,
        ),
        (
            "tags[a]=invalid",
            r#"The "tags" query parameter must be an array of strings"#,
        ),
        (
            "units[a]=invalid",
            r#"The "units" query parameter must be an array of strings"#,
        ),
        (
            "sort[]=%7B%7D",
            r#"The "sort" query parameter must be a string"#,
        ),
        (
            "fields[]=%7B%7D",
            r#"The "fields" query parameter must be a string"#,
        ),
        (
            "createdAt[]=x",
            r#"The "createdAt" query parameter must be a string"#,
        ),
        (
            "closedAt[x]=y",
            r#"The "closedAt" query parameter must be a string"#,
        ),
        (
            "customFields[]=x",
            r#"The "customFields" query parameter must be a string"#,
        ),
        (
            "onhold[]=t",
            r#"The "onhold" query parameter must be a string"#,
        ),
        (
            "queued[]=1",
            r#"The "queued" query parameter must be a string"#,
        ),
        (
            "count=Infinity",
            r#"The "count" query parameter must be a non-negative integer"#,
        ),
        (
            "offset=9007199254740992",
            r#"The "offset" query parameter must be a non-negative integer"#,
        ),
        (
            "count[]=1&count[]=2",
            r#"The "count" query parameter must be a non-negative integer"#,
        ),
        (
            "roomName[]=invalid",
            r#"The "roomName" query parameter must be a string"#,
        ),
        (
            "roomName=a&roomName=b",
            r#"The "roomName" query parameter must be a string"#,
        ),
        (
            "offset=-1",
            r#"The "offset" query parameter must be a non-negative integer"#,
        ),
        (
            "offset=abc",
            r#"The "offset" query parameter must be a non-negative integer"#,
        ),
        (
            "count=-5",
            r#"The "count" query parameter must be a non-negative integer"#,
        ),
        (
            "createdAt=invalid",
            r#"The "createdAt" query parameter must be a valid JSON object"#,
        ),
        (
            "createdAt=%5B%5D",
            r#"The "createdAt" query parameter must be a valid JSON object"#,
        ),
        (
            "closedAt=invalid",
            r#"The "closedAt" query parameter must be a valid JSON object"#,
        ),
        (
            "closedAt=null",
            r#"The "closedAt" query parameter must be a valid JSON object"#,
        ),
        (
            "createdAt=%7B%22start%22%3A%22nope%22%7D",
            r#"The "createdAt.start" query parameter must be a valid date."#,
        ),
        (
            "createdAt=%7B%22end%22%3A%222018-13-01%22%7D",
            r#"The "createdAt.end" query parameter must be a valid date."#,
        ),
        (
            "closedAt=%7B%22start%22%3A5%7D",
            r#"The "closedAt.start" query parameter must be a valid date."#,
        ),
        (
            "closedAt=%7B%22end%22%3Atrue%7D",
            r#"The "closedAt.end" query parameter must be a valid date."#,
        ),
        (
            "customFields=invalid",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
        (
            "customFields=%5B%5D",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
        (
            "customFields=%7B%22%22%3A%22x%22%7D",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
        (
            "customFields=%7B%22%24where%22%3A%22x%22%7D",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
        (
            "customFields=%7B%22a.b%22%3A%22x%22%7D",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
        (
            "customFields=%7B%22a%5Cu0000%22%3A%22x%22%7D",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
    ];
    for (query, message) in cases {
        let reply = app.get_rooms(query, MANAGER).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        reply.assert_bad_request(message);
    }
}

fn json_query_error(param: &str, raw: &str) -> String {
    let error = format!("Invalid {param} parameter provided: \"{raw}\" [error-invalid-{param}]");
    serde_json::to_string(&serde_json::json!({
        "success": false,
        "error": error,
        "errorType": format!("error-invalid-{param}"),
        "details": {"helperMethod": "parseJsonQuery"},
    }))
    .unwrap()
}

#[tokio::test]
async fn bad_sort_gets_the_parse_json_query_body() {
    let app = spawn_app().await;
    for raw in [
        "nope",
        r#"{"ts":2}"#,
        r#"{"ts":0}"#,
        r#"{"ts":true}"#,
        r#"{"ts":"1"}"#,
        r#"[["ts",1]]"#,
        r#"{"$natural":1}"#,
        r#"{"a..b":1}"#,
        r#"{"":1}"#,
        r#"{"ts":-1"#,
    ] {
        let reply = app.get_rooms_with(&[("sort", raw)], MANAGER).await;
        reply.assert_error(400, &json_query_error("sort", raw));
    }
}

#[tokio::test]
async fn bad_fields_get_the_parse_json_query_body() {
    let app = spawn_app().await;
    for raw in [
        "nope",
        r#"{"fname":1,"ts":0}"#,
        r#"{"fname":true}"#,
        r#"{"fname":2}"#,
        r#"{"a":1,"a.b":1}"#,
        r#"{"$where":1}"#,
        r#"{"tags.$":1}"#,
        "[]",
    ] {
        let reply = app.get_rooms_with(&[("fields", raw)], MANAGER).await;
        reply.assert_error(400, &json_query_error("fields", raw));
    }
}

#[tokio::test]
async fn a_sort_of_more_keys_than_mongodb_takes_is_a_400() {
    let app = spawn_app().await;
    // 32 keys and the `_id` tie-breaker would be 33.
    let keys: Vec<String> = (0..32).map(|i| format!(r#""k{i}":1"#)).collect();
    let raw = format!("{{{}}}", keys.join(","));
    app.get_rooms_with(&[("sort", &raw)], MANAGER)
        .await
        .assert_error(400, &json_query_error("sort", &raw));
}

#[tokio::test]
async fn patterns_longer_than_mongodb_takes_are_400s() {
    let app = spawn_app().await;
    let dots = ".".repeat(16_383);
    app.get_rooms_with(&[("roomName", &dots)], MANAGER)
        .await
        .assert_bad_request(r#"The "roomName" query parameter is too long"#);
    let custom = format!(r#"{{"docId":"{dots}"}}"#);
    app.get_rooms_with(&[("customFields", &custom)], MANAGER)
        .await
        .assert_bad_request(r#"The "customFields" query parameter is too long"#);
    let many: Vec<String> = (0..101).map(|i| format!(r#""k{i}":"v""#)).collect();
    app.get_rooms_with(
        &[("customFields", &format!("{{{}}}", many.join(",")))],
        MANAGER,
    )
    .await
    .assert_bad_request(r#"The "customFields" query parameter may have at most 100 keys"#);
}

#[tokio::test]
async fn the_first_bad_parameter_in_contract_order_is_reported() {
    let app = spawn_app().await;
    app.get_rooms("customFields=x&count=-1&tags[a]=x", MANAGER)
        .await
        .assert_bad_request(r#"The "tags" query parameter must be an array of strings"#);
}

#[tokio::test]
async fn regex_metacharacters_and_operators_are_only_text() {
    let app = spawn_app().await;
    for param in [
        ("roomName", ".*"),
        ("roomName", "[a-z]"),
        ("roomName", "Ada|Linus"),
        ("roomName", "a\0b"),
        ("customFields", r#"{"docId":".*"}"#),
        ("customFields", r#"{"docId":{"$ne":1}}"#),
        ("departmentId", r#"{"$ne":null}"#),
        ("agents[]", r#"{"$ne":null}"#),
    ] {
        app.get_rooms_with(&[param], MANAGER)
            .await
            .assert_rooms(NO_ROOMS, 0, 0);
    }
}

#[tokio::test]
async fn an_unreachable_database_is_503_and_says_nothing_more() {
    // Nothing listens on port 1; the short timeouts keep the test quick.
    let app = spawn_app_without_database().await;
    let reply = app.get_rooms("", MANAGER).await;
    reply.assert_error(
        503,
        r#"{"success":false,"error":"The database is unavailable"}"#,
    );
    assert_eq!(reply.cache_control, "no-store");
    // Requests without credentials are still refused without touching the database.
    app.get_rooms("", ANONYMOUS)
        .await
        .assert_error(401, UNAUTHORIZED_BODY);
    // The service is still up.
    assert_eq!(app.get("/health", ANONYMOUS).await.status, 200);
}

#[tokio::test]
async fn the_service_answers_again_once_the_database_is_back() {
    let (app, database) = spawn_app_behind_proxy(
        Link::Down,
        &[
            ("QUERY_TIMEOUT_MS", "3000"),
            ("SERVER_SELECTION_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    app.get_rooms("", MANAGER).await.assert_error(
        503,
        r#"{"success":false,"error":"The database is unavailable"}"#,
    );
    database.set(Link::Up);
    // Serving again without a restart. The contract's bar (within 5 s) is measured on a real
    // server by `scripts/bench dead-db`; a test server busy with the other tests gets 10 s.
    let back = std::time::Instant::now();
    let reply = loop {
        let reply = app.get_rooms("roomName=%22Linus%22", MANAGER).await;
        if reply.status != 503 || back.elapsed() > std::time::Duration::from_secs(10) {
            break reply;
        }
    };
    reply.assert_rooms(&["lc-08"], 0, 1);
}
