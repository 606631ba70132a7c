//! Rocket.Chat's own end-to-end cases for `livechat/rooms`
//! (apps/meteor/tests/end-to-end/api/livechat/00-rooms.ts, 2.x to 7.x), ported to the fixtures.
//! Where Rocket.Chat creates rooms through its API, the fixtures hold rooms in the same states.
//!
//! Not ported: the EE "monitors" cases (which rooms a livechat-monitor may see is a Rocket.Chat
//! callback outside this contract; the `units` filter itself is covered in rooms_filters.rs). Older
//! versions expected 400 for `departmentId[]=marcos`; arrays are accepted since (contract).

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn unauthorized_error_when_the_user_lacks_the_permission() {
    let app = spawn_app().await;
    app.set_permission_roles("view-livechat-rooms", &[]).await;
    let reply = app.get_rooms("", MANAGER).await;
    reply.assert_error(403, FORBIDDEN_BODY);
}

/// Rocket.Chat: "should return an error when the \"<param>\" query parameter is not valid", one
/// case per parameter. Rocket.Chat checks only `success: false`; here the exact body. `agents` and
/// `tags` as one plain value are a list of one since Rocket.Chat 8, so their invalid form here is
/// an object.
#[tokio::test]
async fn bad_parameters_are_rejected() {
    let app = spawn_app().await;
    for (query, message) in [
        (
            "agents[a]=invalid",
            r#"The "agents" query parameter must be an array of strings"#,
        ),
        (
            "roomName[]=invalid",
            r#"The "roomName" query parameter must be a string"#,
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
            "tags[a]=invalid",
            r#"The "tags" query parameter must be an array of strings"#,
        ),
        (
            "createdAt=invalid",
            r#"The "createdAt" query parameter must be a valid JSON object"#,
        ),
        (
            "closedAt=invalid",
            r#"The "closedAt" query parameter must be a valid JSON object"#,
        ),
        (
            "customFields=invalid",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
        (
            "customFields=string",
            r#"The "customFields" query parameter must be a valid JSON."#,
        ),
    ] {
        app.get_rooms(query, MANAGER)
            .await
            .assert_bad_request(message);
    }
}

/// Every livechat room of the fixtures, newest first (`ts` descending, then `_id`).
const ALL_BY_NEWEST: [&str; LIVECHAT_ROOMS as usize] = [
    "lc-43", "lc-44", "lc-41", "lc-42", "lc-39", "lc-40", "lc-37", "lc-38", "lc-35", "lc-36",
    "lc-33", "lc-34", "lc-31", "lc-32", "lc-29", "lc-30", "lc-27", "lc-28", "lc-25", "lc-26",
    "lc-23", "lc-24", "lc-21", "lc-22", "lc-19", "lc-20", "lc-17", "lc-18", "lc-15", "lc-16",
    "lc-13", "lc-14", "lc-11", "lc-12", "lc-09", "lc-08", "lc-05", "lc-06", "lc-04", "lc-02",
    "lc-01", "lc-03", "lc-07", "lc-10", "lc-45",
];

/// Rocket.Chat: "should return an array of rooms when has no parameters" (it checks the types of
/// the envelope's fields; here the exact listing).
#[tokio::test]
async fn an_array_of_rooms_when_there_are_no_parameters() {
    let app = spawn_app().await;
    let reply = app.get_rooms("", MANAGER).await;
    assert_eq!(reply.content_type, "application/json");
    reply.assert_rooms(&ALL_BY_NEWEST, 0, LIVECHAT_ROOMS);
}

#[tokio::test]
async fn an_array_of_rooms_when_every_parameter_is_valid() {
    let app = spawn_app().await;
    let query = [
        ("agents[]", "teste"),
        ("departmentId", "123"),
        ("open", "true"),
        (
            "createdAt",
            r#"{"start":"2018-01-26T00:11:22.345Z","end":"2018-01-26T00:11:22.345Z"}"#,
        ),
        (
            "closedAt",
            r#"{"start":"2018-01-26T00:11:22.345Z","end":"2018-01-26T00:11:22.345Z"}"#,
        ),
        ("tags[]", "rocket"),
        ("customFields", r#"{ "docId": "031041" }"#),
        ("count", "3"),
        ("offset", "1"),
        ("sort", r#"{ "_updatedAt": 1 }"#),
        ("fields", r#"{ "msgs": 0 }"#),
        ("roomName", "test"),
    ]
    .iter()
    // Rocket.Chat's client percent-encodes the brackets of the keys too.
    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
    .collect::<Vec<_>>()
    .join("&");
    app.get_rooms(&query, MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 1, 0);
}

#[tokio::test]
async fn empty_custom_fields_cause_no_issue() {
    let app = spawn_app().await;
    // superagent sends nothing for `customFields: {}`; the encoded `{}` is checked as well.
    app.get_rooms("roomName=test", MANAGER)
        .await
        .assert_rooms(&["lc-05", "lc-06"], 0, 2);
    app.get_rooms("customFields=%7B%7D&roomName=test", MANAGER)
        .await
        .assert_rooms(&["lc-05", "lc-06"], 0, 2);
}

#[tokio::test]
async fn open_false_returns_only_closed_rooms() {
    let app = spawn_app().await;
    let reply = app.get_rooms("open=false&roomName=TEST_2", MANAGER).await;
    reply.assert_rooms(&["lc-06"], 0, 1);
    let json = reply.json();
    assert!(json["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.get("closedAt").is_some()));
}

#[tokio::test]
async fn open_true_returns_only_open_rooms() {
    let app = spawn_app().await;
    app.get_rooms("open=true&roomName=TEST_2", MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
    let reply = app.get_rooms("open=true", MANAGER).await;
    assert!(reply.json()["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["open"] == Value::Bool(true)));
}

#[tokio::test]
async fn room_name_between_quotes_matches_the_exact_term() {
    let app = spawn_app().await;
    let reply = app.get_rooms("roomName=%22TEST_1%22", MANAGER).await;
    reply.assert_rooms(&["lc-05"], 0, 1);
    assert_eq!(reply.json()["rooms"][0]["fname"], "TEST_1");
}

#[tokio::test]
async fn room_name_without_quotes_matches_by_pattern() {
    let app = spawn_app().await;
    app.get_rooms("roomName=TEST_", MANAGER)
        .await
        .assert_rooms(&["lc-05", "lc-06"], 0, 2);
}

#[tokio::test]
async fn room_name_between_quotes_that_matches_nothing_is_empty() {
    let app = spawn_app().await;
    app.get_rooms("roomName=%22TEST_%22", MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
}

/// Rocket.Chat: "should return an array of rooms when the query params is all valid" without
/// `open` (it checks that some room is closed and some open; here exactly which).
#[tokio::test]
async fn without_open_both_closed_and_open_rooms_are_returned() {
    let app = spawn_app().await;
    let json = app.get_rooms("", MANAGER).await.json();
    let rooms = json["rooms"].as_array().unwrap();
    let ids_where = |keep: fn(&Value) -> bool| -> Vec<&str> {
        rooms
            .iter()
            .filter(|r| keep(r))
            .map(|r| r["_id"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        ids_where(|r| r.get("closedAt").is_some()),
        [
            "lc-42", "lc-39", "lc-36", "lc-33", "lc-30", "lc-27", "lc-24", "lc-21", "lc-18",
            "lc-15", "lc-12", "lc-09", "lc-06", "lc-02", "lc-07", "lc-10", "lc-45"
        ]
    );
    assert_eq!(
        ids_where(|r| r["open"] == Value::Bool(true)),
        [
            "lc-43", "lc-44", "lc-41", "lc-40", "lc-37", "lc-38", "lc-35", "lc-34", "lc-31",
            "lc-32", "lc-29", "lc-28", "lc-25", "lc-26", "lc-23", "lc-22", "lc-19", "lc-20",
            "lc-17", "lc-16", "lc-13", "lc-14", "lc-11", "lc-08", "lc-05", "lc-04", "lc-01",
            "lc-03"
        ]
    );
}

#[tokio::test]
async fn queued_returns_open_unserved_rooms() {
    let app = spawn_app().await;
    for query in ["queued=true", "queued=true&open=true"] {
        let reply = app.get_rooms(query, MANAGER).await;
        reply.assert_rooms(&["lc-03"], 0, 1);
        let json = reply.json();
        let rooms = json["rooms"].as_array().unwrap();
        assert!(rooms
            .iter()
            .all(|r| r["open"] == Value::Bool(true) && r.get("servedBy").is_none()));
    }
}

#[tokio::test]
async fn open_rooms_do_not_include_queued_ones() {
    let app = spawn_app().await;
    let ids = app.get_rooms("open=true", MANAGER).await.ids();
    assert!(ids.contains(&"lc-01".to_owned()));
    assert!(!ids.contains(&"lc-03".to_owned()));
}

#[tokio::test]
async fn queued_and_onhold_do_not_return_rooms_on_hold() {
    let app = spawn_app().await;
    let reply = app.get_rooms("queued=true&onhold=true", MANAGER).await;
    reply.assert_rooms(&["lc-03"], 0, 1);
    assert!(reply.json()["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.get("onHold").is_none()));
}

#[tokio::test]
async fn only_rooms_with_the_given_department() {
    let app = spawn_app().await;
    app.get_rooms("departmentId=dep-noname", MANAGER)
        .await
        .assert_rooms(&["lc-07"], 0, 1);
    app.get_rooms("departmentId=dep-noname&departmentId=dep-support", MANAGER)
        .await
        .assert_rooms(&["lc-04", "lc-03", "lc-07"], 0, 3);
}

#[tokio::test]
async fn rooms_with_the_given_department_and_status() {
    let app = spawn_app().await;
    app.get_rooms("departmentId=dep-sales&open=true", MANAGER)
        .await
        .assert_rooms(&["lc-08", "lc-01"], 0, 2);
    app.get_rooms("departmentId=dep-support&open=false", MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
}

#[tokio::test]
async fn only_rooms_served_by_the_given_agents() {
    let app = spawn_app().await;
    app.get_rooms("agents[]=agent-3-id", MANAGER)
        .await
        .assert_rooms(&["lc-08"], 0, 1);
    app.get_rooms(
        "agents=agent-3-id&agents=agent-2-id&departmentId=dep-support",
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-04"], 0, 1);
}

#[tokio::test]
async fn only_rooms_with_the_given_tags() {
    let app = spawn_app().await;
    app.get_rooms("tags[]=billing", MANAGER)
        .await
        .assert_rooms(&["lc-06", "lc-02"], 0, 2);
}

#[tokio::test]
async fn rooms_sort_by_open_ascending_and_descending() {
    let app = spawn_app().await;
    // Both dep-support rooms are open; the tie-breaker orders them by id.
    app.get_rooms_with(
        &[("sort", r#"{"open":1}"#), ("departmentId", "dep-support")],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-03", "lc-04"], 0, 2);
    let desc = [
        ("sort", r#"{"open":-1}"#),
        ("departmentId[]", "dep-support"),
        ("departmentId[]", "dep-noname"),
    ];
    app.get_rooms_with(&desc, MANAGER)
        .await
        .assert_rooms(&["lc-03", "lc-04", "lc-07"], 0, 3);
}
