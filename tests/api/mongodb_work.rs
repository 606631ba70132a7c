//! What the service asks MongoDB to do (contract §4b), read on the wire through the test proxy:
//! the sort chosen from the indexes of `rocketchat_room`, `allowDiskUse`, `agents` matched on
//! `servedBy._id` only; and how MongoDB's errors for the listing are answered.

use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;

use crate::helpers::*;
use crate::proxy::Answer;

/// Rocket.Chat's indexes on `rocketchat_room` that bear on sorting (6.x and newest).
fn rocket_chat_indexes() -> Vec<Document> {
    let livechat = doc! { "t": "l" };
    vec![
        doc! {"key": {"ts": 1}, "name": "ts_1"},
        doc! {"key": {"t": 1, "ts": 1}, "name": "t_1_ts_1"},
        doc! {"key": {"departmentId": 1, "ts": 1}, "name": "departmentId_1_ts_1", "partialFilterExpression": livechat.clone()},
        doc! {"key": {"servedBy": 1, "ts": 1}, "name": "servedBy_1_ts_1", "partialFilterExpression": livechat.clone()},
        doc! {"key": {"tags.0": 1, "ts": 1}, "name": "tags.0_1_ts_1", "partialFilterExpression": livechat},
        doc! {"key": {"servedBy._id": 1, "departmentId": 1, "t": 1, "open": 1, "ts": -1}, "name": "servedBy._id_1_departmentId_1_t_1_open_1_ts_-1"},
    ]
}

/// The index `livechat-rooms indexes` recommends for the default listing.
fn recommended_index() -> Document {
    doc! {"key": {"ts": -1, "_id": 1}, "name": "livechat_rooms_ts_id", "partialFilterExpression": {"t": "l"}}
}

async fn create_indexes(db: &Database, indexes: Vec<Document>) {
    if indexes.is_empty() {
        return;
    }
    db.run_command(doc! {"createIndexes": "rocketchat_room", "indexes": indexes})
        .await
        .expect("indexes created");
}

/// The service behind the proxy, on a database with these indexes on `rocketchat_room`.
async fn spawn_with_indexes(indexes: Vec<Document>) -> (TestApp, FlakyDatabase) {
    spawn_app_behind_proxy_after(Link::Up, &[], async |db| create_indexes(db, indexes).await).await
}

/// Asserts that a listing sent this sort and was counted as served so in `/metrics`.
async fn assert_sort_sent(
    app: &TestApp,
    database: &FlakyDatabase,
    query: &str,
    sort: Document,
    served: &str,
) {
    let reply = app.get_rooms(query, MANAGER).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let find = the_find(database);
    assert_eq!(find.get_document("sort").unwrap(), &sort, "{query}");
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    let counted = format!(r#"livechat_rooms_listing_sorts_total{{served="{served}"}}"#);
    assert_eq!(metric(&metrics, &counted), Some(1.0), "{metrics}");
}

/// The one `find` on `rocketchat_room` the request sent.
fn the_find(database: &FlakyDatabase) -> Document {
    let finds = database.commands_on("find", "rocketchat_room");
    assert_eq!(finds.len(), 1, "{finds:?}");
    finds.into_iter().next().unwrap()
}

#[tokio::test]
async fn with_rocket_chats_indexes_the_default_listing_sends_the_sort_alone() {
    if skipped_on_nx("with_rocket_chats_indexes_the_default_listing_sends_the_sort_alone") {
        return;
    }
    let (app, database) = spawn_with_indexes(rocket_chat_indexes()).await;
    let reply = app.get_rooms("count=2", MANAGER).await;
    // lc-43 and lc-44 share the newest `ts`: without the tie-breaker either may come first.
    let mut ids = reply.ids();
    ids.sort();
    assert_eq!(ids, ["lc-43", "lc-44"]);
    let find = the_find(&database);
    assert_eq!(find.get_document("sort").unwrap(), &doc! {"ts": -1});
    assert_eq!(find.get_document("filter").unwrap(), &doc! {"t": "l"});
    assert!(!find.contains_key("allowDiskUse"), "{find}");
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert_eq!(
        metric(
            &metrics,
            r#"livechat_rooms_listing_sorts_total{served="index"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn with_the_recommended_index_the_default_listing_sends_the_tie_breaker() {
    if skipped_on_nx("with_the_recommended_index_the_default_listing_sends_the_tie_breaker") {
        return;
    }
    let mut indexes = rocket_chat_indexes();
    indexes.push(recommended_index());
    let (app, database) = spawn_with_indexes(indexes).await;
    let sort = doc! {"ts": -1, "_id": 1};
    assert_sort_sent(
        &app,
        &database,
        "count=2&open=true",
        sort,
        "index_with_tie_breaker",
    )
    .await;
}

#[tokio::test]
async fn with_no_index_on_ts_the_tie_breaker_is_added() {
    if skipped_on_nx("with_no_index_on_ts_the_tie_breaker_is_added") {
        return;
    }
    let (app, database) = spawn_with_indexes(Vec::new()).await;
    assert_sort_sent(
        &app,
        &database,
        "count=2",
        doc! {"ts": -1, "_id": 1},
        "blocking",
    )
    .await;
}

#[tokio::test]
async fn a_sort_no_index_serves_gets_the_tie_breaker_and_a_served_one_does_not() {
    if skipped_on_nx("a_sort_no_index_serves_gets_the_tie_breaker_and_a_served_one_does_not") {
        return;
    }
    let (app, database) = spawn_with_indexes(rocket_chat_indexes()).await;
    let sorts = [
        (r#"{"fname":1}"#, "", doc! {"fname": 1, "_id": 1}),
        (r#"{"ts":1}"#, "", doc! {"ts": 1}),
        // The partial department index, read backwards, once the filter pins the department.
        (r#"{"ts":-1}"#, "&departmentId=dep-sales", doc! {"ts": -1}),
        ("{}", "", doc! {"_id": 1}),
    ];
    for (sort, filter, sent) in sorts {
        database.clear_commands();
        let reply = app
            .get_rooms(&format!("count=3&sort={}{filter}", enc(sort)), MANAGER)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            the_find(&database).get_document("sort").unwrap(),
            &sent,
            "{sort}"
        );
    }
}

#[tokio::test]
async fn an_unlimited_listing_with_a_blocking_sort_may_use_the_disk() {
    if skipped_on_nx("an_unlimited_listing_with_a_blocking_sort_may_use_the_disk") {
        return;
    }
    let (app, database) = spawn_with_indexes(rocket_chat_indexes()).await;
    let reply = app
        .get_rooms(&format!("count=0&sort={}", enc(r#"{"fname":1}"#)), MANAGER)
        .await;
    assert_eq!(reply.page().0, LIVECHAT_ROOMS);
    let find = the_find(&database);
    assert_eq!(find.get_bool("allowDiskUse"), Ok(true), "{find}");
    assert!(!find.contains_key("limit"), "{find}");
    // Served by an index, or limited: no disk.
    for query in ["count=0", "count=5&sort=%7B%22fname%22%3A1%7D"] {
        database.clear_commands();
        app.get_rooms(query, MANAGER).await;
        let find = the_find(&database);
        assert!(!find.contains_key("allowDiskUse"), "{query}: {find}");
    }
}

#[tokio::test]
async fn agents_by_username_or_id_are_matched_on_served_by_id_only() {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[]).await;
    // agent.three by username, agent-2-id by id, and a value that names no user.
    let reply = app
        .get_rooms(
            "agents[]=agent.three&agents[]=agent-2-id&agents[]=nobody&count=3",
            MANAGER,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.page().2, 21, "{}", reply.body);
    let find = the_find(&database);
    assert_eq!(
        find.get_document("filter").unwrap(),
        &doc! {"t": "l", "servedBy._id": {"$in": ["agent-3-id", "agent-2-id", "nobody"]}}
    );
    // The user lookup asks by id or username, both indexed.
    let lookups = database.commands_on("find", "users");
    assert!(
        lookups.iter().any(|c| c.get_document("filter").ok()
            == Some(&doc! {"$or": [
                {"_id": {"$in": ["agent.three", "agent-2-id", "nobody"]}},
                {"username": {"$in": ["agent.three", "agent-2-id", "nobody"]}},
            ]})),
        "{lookups:?}"
    );
}

#[tokio::test]
async fn agents_are_resolved_once_and_held() {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[]).await;
    for _ in 0..3 {
        app.get_rooms("agents=agent.one&count=1", MANAGER).await;
    }
    let by_username = database
        .commands_on("find", "users")
        .into_iter()
        .filter(|c| {
            c.get_document("filter")
                .is_ok_and(|f| f.contains_key("$or"))
        })
        .count();
    assert_eq!(by_username, 1);
}

/// The answer to `query` when MongoDB replies `answer` to the listing's `command`. The reply is
/// sent twice: the driver retries a read once after an error that says "try again".
async fn listing_answered(answer: Answer, command: &str, query: &str) -> Reply {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[]).await;
    // Warm the held values first, so the injected reply meets the listing's own call.
    app.get_rooms("count=1&roomName=%22Linus%22", MANAGER).await;
    database.answer_next(command, "rocketchat_room", answer.clone());
    database.answer_next(command, "rocketchat_room", answer);
    app.get_rooms(query, MANAGER).await
}

fn error_reply(code: Option<i32>) -> Answer {
    let mut reply = doc! {"ok": 0.0, "errmsg": "secret server detail"};
    if let Some(code) = code {
        reply.insert("code", code);
        reply.insert("codeName", "Something");
    }
    Answer::Document(reply)
}

const REFUSED: &str = r#"{"success":false,"error":"The database refused the query"}"#;
const UNAVAILABLE: &str = r#"{"success":false,"error":"The database is unavailable"}"#;

#[tokio::test]
async fn a_command_error_for_the_find_is_the_querys_400() {
    // BadValue, InvalidBSON (mongoeco's answer to a date outside years 1-9999), a code nobody
    // listed, and nx-27017's error without a code.
    for code in [Some(2), Some(22), Some(987_654), None] {
        listing_answered(error_reply(code), "find", "count=5")
            .await
            .assert_error(400, REFUSED);
    }
}

#[tokio::test]
async fn a_command_error_for_the_count_is_the_querys_400() {
    // A full page needs the count.
    listing_answered(error_reply(Some(2)), "aggregate", "count=1")
        .await
        .assert_error(400, REFUSED);
}

#[tokio::test]
async fn a_server_that_cannot_serve_now_is_a_503() {
    // InterruptedAtShutdown, NotWritablePrimary, MaxTimeMSExpired, ExceededTimeLimit.
    for code in [11600, 10107, 50, 262] {
        listing_answered(error_reply(Some(code)), "find", "count=5")
            .await
            .assert_error(503, UNAVAILABLE);
    }
}

#[tokio::test]
async fn an_unreadable_reply_is_a_503() {
    let garbage = Answer::Garbage(vec![0x05, 0, 0, 0, 0xff, 0xff, 0xff]);
    listing_answered(garbage, "find", "count=5")
        .await
        .assert_error(503, UNAVAILABLE);
}

#[tokio::test]
async fn dates_javascript_reads_outside_years_1_to_9999_are_never_a_500() {
    let app = spawn_app().await;
    for date in [
        "0000-01-01",
        "-271821-04-20",
        "+275760-09-13",
        "+010000-01-01",
    ] {
        for param in ["createdAt", "closedAt"] {
            let value = format!(r#"{{"start":"{date}"}}"#);
            let reply = app
                .get_rooms_with(&[(param, &value), ("count", "1")], MANAGER)
                .await;
            // A real MongoDB stores and compares them (200); the test servers refuse them (400).
            assert!(
                reply.status == 200 || (reply.status, reply.body.as_str()) == (400, REFUSED),
                "{param}={date}: {} {}",
                reply.status,
                reply.body
            );
        }
    }
}

#[tokio::test]
async fn the_index_list_is_read_once_and_held() {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[]).await;
    for _ in 0..3 {
        app.get_rooms("count=1", MANAGER).await;
    }
    let lists = database
        .commands()
        .into_iter()
        .filter(|c| c.get("listIndexes") == Some(&Bson::String("rocketchat_room".into())))
        .count();
    assert_eq!(lists, 1);
}

/// `livechat-rooms indexes` with these arguments against this test's database.
async fn indexes_command(db: &Database, args: &[&str]) -> std::process::Output {
    let url = mongo_url();
    let (base, options) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let base = base.trim_end_matches('/');
    let host_end = base["mongodb://".len()..]
        .find('/')
        .map_or(base.len(), |i| i + "mongodb://".len());
    let url = format!("{}/{}?{options}", &base[..host_end], db.name());
    tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-rooms"))
        .env_clear()
        .env("MONGO_URL", url)
        .arg("indexes")
        .args(args)
        .output()
        .await
        .expect("the binary runs")
}

#[tokio::test]
async fn the_indexes_command_reports_and_creates_only_when_asked() {
    if skipped_on_nx("the_indexes_command_reports_and_creates_only_when_asked") {
        return;
    }
    let app = spawn_app().await;
    create_indexes(&app.db, rocket_chat_indexes()).await;
    let names = async || -> Vec<String> {
        let mut names = app
            .db
            .collection::<Document>("rocketchat_room")
            .list_index_names()
            .await
            .unwrap();
        names.sort();
        names
    };
    let before = names().await;
    let report = indexes_command(&app.db, &[]).await;
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{text}");
    assert!(
        text.contains(r#"default (newest first): { "ts": -1 } -> index ts_1"#),
        "{text}"
    );
    assert!(text.contains("recommended indexes missing"), "{text}");
    assert_eq!(names().await, before, "a report writes nothing");
    let created = indexes_command(&app.db, &["--create"]).await;
    assert!(created.status.success(), "{created:?}");
    let after = names().await;
    assert!(
        after.contains(&"livechat_rooms_ts_id".to_owned()),
        "{after:?}"
    );
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    let again = indexes_command(&app.db, &[]).await;
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("every recommended index is there"), "{text}");
}

#[tokio::test]
async fn without_the_index_list_the_sort_is_sent_as_rocket_chat_sends_it() {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[]).await;
    // No listIndexes privilege: Unauthorized, twice for the driver's retry.
    for _ in 0..2 {
        let refused =
            doc! {"ok": 0.0, "code": 13, "codeName": "Unauthorized", "errmsg": "not authorized"};
        database.answer_next("listIndexes", "rocketchat_room", Answer::Document(refused));
    }
    let reply = app.get_rooms("count=2", MANAGER).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        the_find(&database).get_document("sort").unwrap(),
        &doc! {"ts": -1}
    );
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert_eq!(
        metric(
            &metrics,
            r#"livechat_rooms_listing_sorts_total{served="unknown"}"#
        ),
        Some(1.0)
    );
}
