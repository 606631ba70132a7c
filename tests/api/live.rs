//! The live feed (contract §7): `Accept: text/event-stream` on the listing. Streams are read as a
//! client reads them, event by event ([`crate::sse`]); rooms are inserted and changed in the
//! test's database.

use std::time::Duration;

use mongodb::bson::{doc, DateTime, Document};
use serde_json::Value;

use crate::helpers::*;
use crate::sse::*;

/// Fast polls, heartbeats and checks, so the tests wait little.
pub const FAST: [(&str, &str); 3] = [
    ("LIVE_POLL_MS", "100"),
    ("LIVE_HEARTBEAT_MS", "15000"),
    ("LIVE_RECHECK_MS", "60000"),
];

#[tokio::test]
async fn a_stream_starts_like_a_listing() {
    let app = spawn_app_with(&mongo_url(), &FAST, TestDb::Fixtures).await;
    assert_eq!(
        open(&app, "", ANONYMOUS, &[]).await.err(),
        Some((401, UNAUTHORIZED_BODY.to_owned()))
    );
    let (status, body) = open(&app, "count=-1", MANAGER, &[]).await.err().unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        open(&app, "", PLAIN_USER, &[]).await.err(),
        Some((403, FORBIDDEN_BODY.to_owned()))
    );
    assert_eq!(
        open(&app, "", AGENT, &[]).await.err(),
        Some((403, FORBIDDEN_BODY.to_owned()))
    );
    let (status, body) = open(&app, "", MANAGER, &[("Last-Event-ID", "forged.id")])
        .await
        .err()
        .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("Last-Event-ID"), "{body}");
    let (status, body) = open(&app, "cursor=", MANAGER, &[]).await.err().unwrap();
    assert_eq!(status, 400, "{body}");

    let stream = stream(&app, "open=true", MANAGER).await;
    let headers = stream.response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-accel-buffering"], "no");
    // An agent may follow their own rooms.
    let _own = self::stream(&app, "agents[]=agent-1-id", AGENT).await;
}

#[tokio::test]
async fn rooms_arrive_as_they_change_and_leave_as_removed() {
    let app = spawn_app_with(&mongo_url(), &FAST, TestDb::Fixtures).await;
    let mut live = stream(&app, "open=true", MANAGER).await;
    // A closed room is not in the filter: nothing is said of it.
    let mut closed = open_room("live-closed");
    closed.remove("open");
    app.insert_room(closed).await;
    app.insert_room(open_room("live-1")).await;
    let event = live.next_event().await;
    assert_eq!(event.event.as_deref(), Some("room"));
    assert_eq!(event.room_id(), "live-1");
    // Rendered exactly as the JSON listing renders it, department attached.
    assert_eq!(
        event.data.as_deref(),
        Some(listed(&app, "live-1").await.as_str())
    );
    assert!(event
        .data
        .as_deref()
        .unwrap()
        .ends_with(r#""department":{"_id":"dep-sales","name":"Sales"}}"#));
    assert!(event.id.is_some());

    close_room(&app, "live-1").await;
    let event = live.next_event().await;
    assert_eq!(event.event.as_deref(), Some("removed"));
    assert_eq!(event.data.as_deref(), Some(r#"{"_id":"live-1"}"#));

    // A room that was open before the stream began may be on its client's screen (from a
    // listing): closed, it is removed too.
    close_room(&app, "lc-01").await;
    let event = live.next_event().await;
    assert_eq!(
        (event.event.as_deref(), event.data.as_deref()),
        (Some("removed"), Some(r#"{"_id":"lc-01"}"#))
    );

    // A change of a room in the filter is sent again, changed.
    app.insert_room(open_room("live-2")).await;
    assert_eq!(live.next_event().await.room_id(), "live-2");
    change_room(&app, "live-2", |room| {
        room.insert("msgs", 7);
    })
    .await;
    let event = live.next_event().await;
    assert_eq!(event.json()["msgs"], 7);
}

#[tokio::test]
async fn updated_since_catches_up_in_updated_at_order_then_follows() {
    let app = spawn_app_with(&mongo_url(), &FAST, TestDb::Fixtures).await;
    let since = "2018-01-26T00:05:00.000Z";
    let expected = app
        .get_rooms_with(
            &[
                ("updatedSince", since),
                ("departmentId", "dep-sales"),
                ("sort", r#"{"_updatedAt":1}"#),
                ("count", "0"),
            ],
            MANAGER,
        )
        .await
        .json();
    let expected = expected["rooms"].as_array().unwrap().clone();
    assert!(expected.len() >= 2, "the fixtures have such rooms");
    let mut live = stream(
        &app,
        &format!("updatedSince={}&departmentId=dep-sales", enc(since)),
        MANAGER,
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        let event = live.next_event().await;
        assert_eq!(event.event.as_deref(), Some("room"));
        got.push(event.json());
    }
    let times: Vec<&str> = got
        .iter()
        .map(|r| r["_updatedAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let ids = |rooms: &[Value]| {
        let mut ids: Vec<String> = rooms.iter().map(|r| r["_id"].to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&got), ids(&expected));
    app.insert_room(open_room("live-after")).await;
    assert_eq!(live.next_event().await.room_id(), "live-after");
}

#[tokio::test]
async fn a_change_older_than_one_sent_within_the_skew_is_delivered() {
    let app = spawn_app_with(&mongo_url(), &FAST, TestDb::Fixtures).await;
    let mut live = stream(&app, "departmentId=dep-sales", MANAGER).await;
    app.insert_room(open_room("skew-now")).await;
    assert_eq!(live.next_event().await.room_id(), "skew-now");
    // Another Rocket.Chat instance's clock is 3 s behind.
    let mut late = open_room("skew-late");
    let behind = DateTime::from_millis(DateTime::now().timestamp_millis() - 3_000);
    late.insert("_updatedAt", behind);
    app.insert_room(late).await;
    assert_eq!(live.next_event().await.room_id(), "skew-late");
}

#[tokio::test]
async fn last_event_id_resumes_on_another_instance_losing_nothing() {
    let first = spawn_app_with(&mongo_url(), &FAST, TestDb::Fixtures).await;
    let mut live = stream(&first, "open=true", MANAGER).await;
    first.insert_room(open_room("resume-1")).await;
    let event = live.next_event().await;
    assert_eq!(event.room_id(), "resume-1");
    let last_id = event.id.unwrap();
    drop(live);
    // Meanwhile: one room arrives, the one sent is closed, and a room that was never in the
    // filter is created (the client cannot hold it: nothing is said of it).
    first.insert_room(open_room("resume-2")).await;
    close_room(&first, "resume-1").await;
    let mut never = open_room("resume-never");
    never.remove("open");
    first.insert_room(never).await;
    // Another instance on the same database (a restart, or the next replica behind the proxy).
    let name = first.db.name().to_owned();
    let second = spawn_app_with(&mongo_url(), &FAST, TestDb::Existing(name)).await;
    let mut resumed = open(
        &second,
        "open=true",
        MANAGER,
        &[("Last-Event-ID", &last_id)],
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let mut seen = Vec::new();
    while !(seen.contains(&("room".to_owned(), "resume-2".to_owned()))
        && seen.contains(&("removed".to_owned(), "resume-1".to_owned())))
    {
        let event = resumed.next_event().await;
        seen.push((event.event.clone().unwrap(), event.room_id()));
    }
    // Then it follows as any stream.
    second.insert_room(open_room("resume-3")).await;
    loop {
        let event = resumed.next_event().await;
        seen.push((event.event.clone().unwrap(), event.room_id()));
        if event.room_id() == "resume-3" {
            break;
        }
    }
    assert!(seen.iter().all(|(_, id)| id != "resume-never"), "{seen:?}");
    // A cross-origin `fetch` may not send the header (Rocket.Chat's CORS headers do not allow
    // it): the parameter does the same.
    let mut by_param = stream(
        &second,
        &format!("open=true&lastEventId={last_id}"),
        MANAGER,
    )
    .await;
    let event = by_param.next_event().await;
    assert!(event.room_id().starts_with("resume-"), "{event:?}");
    // An id is bound to its user and filter.
    let (status, _) = open(
        &second,
        "open=false",
        MANAGER,
        &[("Last-Event-ID", &last_id)],
    )
    .await
    .err()
    .unwrap();
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_idle_stream_gets_a_comment_line() {
    let app = spawn_app_with(
        &mongo_url(),
        &[("LIVE_HEARTBEAT_MS", "200")],
        TestDb::Fixtures,
    )
    .await;
    let mut live = stream(&app, "open=true", MANAGER).await;
    let started = std::time::Instant::now();
    let block = live.next().await.unwrap();
    assert_eq!(block.comment.as_deref(), Some("keep-alive"), "{block:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        live.next().await.unwrap().comment.as_deref(),
        Some("keep-alive")
    );
}

#[tokio::test]
async fn a_revoked_token_or_a_lost_permission_ends_the_stream() {
    let app = spawn_app_with(
        &mongo_url(),
        &[("LIVE_RECHECK_MS", "200"), ("CACHE_MAX_AGE_MS", "100")],
        TestDb::Fixtures,
    )
    .await;
    let mut revoked = stream(&app, "open=true", MANAGER).await;
    let mut demoted = stream(&app, "open=true", PAT_USER).await;
    app.db
        .collection::<Document>("users")
        .update_one(
            doc! {"_id": "manager-id"},
            doc! {"$set": {"services.resume.loginTokens": []}},
        )
        .await
        .unwrap();
    let ended = revoked.until_end().await;
    assert_eq!(
        ended.last().and_then(|e| e.comment.as_deref()),
        Some("access changed")
    );
    let reply = app.get_rooms("count=1", PAT_USER).await;
    assert_eq!(reply.status, 200);
    app.set_permission_roles("view-livechat-rooms", &[]).await;
    let ended = demoted.until_end().await;
    assert_eq!(
        ended.last().and_then(|e| e.comment.as_deref()),
        Some("access changed")
    );
}

#[tokio::test]
async fn streams_have_their_own_bound_not_max_in_flight() {
    let app = spawn_app_with(
        &mongo_url(),
        &[("MAX_STREAMS", "2"), ("MAX_IN_FLIGHT", "1")],
        TestDb::Fixtures,
    )
    .await;
    let _a = stream(&app, "open=true", MANAGER).await;
    let _b = stream(&app, "open=false", MANAGER).await;
    assert_eq!(
        open(&app, "", MANAGER, &[]).await.err(),
        Some((
            503,
            r#"{"success":false,"error":"Too many live streams are open"}"#.to_owned()
        ))
    );
    // Listings still have their place.
    assert_eq!(app.get_rooms("count=1", MANAGER).await.status, 200);
    let metrics = app.get("/metrics", ANONYMOUS).await.body;
    assert_eq!(metric(&metrics, "livechat_rooms_live_streams"), Some(2.0));
}

#[tokio::test]
async fn many_streams_share_one_read_of_what_changed() {
    let (app, database) = spawn_app_behind_proxy(
        Link::Up,
        &[("LIVE_POLL_MS", "250"), ("LIVE_RECHECK_MS", "250")],
    )
    .await;
    let mut same = Vec::new();
    for _ in 0..20 {
        same.push(stream(&app, "open=true", MANAGER).await);
    }
    let mut other = Vec::new();
    for _ in 0..5 {
        other.push(stream(&app, "departmentId=dep-sales", MANAGER).await);
    }
    database.clear_commands();
    let started = std::time::Instant::now();
    app.insert_room(open_room("shared-1")).await;
    for live in same.iter_mut().chain(other.iter_mut()) {
        assert_eq!(live.next_event().await.room_id(), "shared-1");
    }
    let elapsed = started.elapsed();
    let finds = database.commands_on("find", "rocketchat_room");
    let is_change_read = |c: &Document| {
        c.get_document("projection").ok() == Some(&doc! {"_id": 1, "_updatedAt": 1, "ts": 1})
    };
    let change_reads = finds.iter().filter(|c| is_change_read(c)).count();
    let room_reads = finds.iter().filter(|c| !is_change_read(c)).count();
    // One read of what changed per poll for all 25 streams, and one read of rooms per filter.
    let polls = (elapsed.as_millis() / 250 + 2) as usize;
    assert!(
        change_reads <= polls,
        "{change_reads} change reads in {elapsed:?}"
    );
    assert_eq!(room_reads, 2, "{finds:#?}");
    // Idle: the reads of what changed go on, no room is read; the 25 streams' user is checked
    // by one read per LIVE_RECHECK_MS for them all.
    database.clear_commands();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let finds = database.commands_on("find", "rocketchat_room");
    assert!(finds.iter().all(is_change_read), "{finds:#?}");
    assert!(finds.len() <= 4, "{}", finds.len());
    let checks = database.commands_on("find", "users");
    assert!((1..=4).contains(&checks.len()), "{checks:#?}");
    for check in &checks {
        assert_eq!(
            check.get_document("filter").unwrap(),
            &doc! {"_id": {"$in": ["manager-id"]}}
        );
    }
}

#[tokio::test]
async fn a_database_outage_does_not_end_streams_and_nothing_is_lost() {
    let (app, database) = spawn_app_behind_proxy(
        Link::Up,
        &[
            ("LIVE_POLL_MS", "100"),
            ("LIVE_HEARTBEAT_MS", "300"),
            ("QUERY_TIMEOUT_MS", "2000"),
            ("SERVER_SELECTION_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let mut live = stream(&app, "open=true", MANAGER).await;
    database.set(Link::Down);
    // The room changes while the service cannot see it.
    let direct = mongodb::Client::with_uri_str(mongo_url()).await.unwrap();
    direct
        .database(app.db.name())
        .collection::<Document>("rocketchat_room")
        .insert_one(open_room("outage-1"))
        .await
        .unwrap();
    loop {
        let text = app.get("/metrics", ANONYMOUS).await.body;
        if metric(&text, "livechat_rooms_live_poll_failures_total").unwrap_or(0.0) >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The stream is still open: its heartbeat comes.
    assert_eq!(
        live.next().await.unwrap().comment.as_deref(),
        Some("keep-alive")
    );
    database.set(Link::Up);
    assert_eq!(live.next_event().await.room_id(), "outage-1");
}

#[tokio::test]
async fn sigterm_ends_every_stream_cleanly() {
    let db = spawn_app().await.db;
    let url = format!("{}/{}", mongo_url().trim_end_matches('/'), db.name());
    let (mut child, port, _log) =
        start_binary_logged(&[("MONGO_URL", url.as_str()), ("SHUTDOWN_TIMEOUT_SECS", "20")]).await;
    let app = TestApp::of_binary(port, &db);
    let mut live = stream(&app, "open=true", MANAGER).await;
    let started = std::time::Instant::now();
    sigterm(&child);
    let ended = live.until_end().await;
    assert_eq!(
        ended.last().and_then(|e| e.comment.as_deref()),
        Some("server shutting down, reconnect")
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service exits")
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn rooms_that_leave_the_scope_are_removed_and_a_changed_scope_ends_the_stream() {
    let app = spawn_app_with(
        &mongo_url(),
        &[
            ("LIVE_POLL_MS", "100"),
            ("LIVE_RECHECK_MS", "200"),
            ("CACHE_MAX_AGE_MS", "100"),
        ],
        TestDb::Fixtures,
    )
    .await;
    crate::enterprise::load_enterprise(&app.db).await;
    let monitor = crate::enterprise::MONITOR_EAST;
    let mut live = stream(&app, "", monitor).await;
    // A room of the West unit is outside the monitor's scope: nothing is said of it.
    let mut west = open_room("scope-west");
    west.insert("departmentId", "dep-west");
    west.insert("departmentAncestors", vec!["unit-west"]);
    app.insert_room(west).await;
    let mut east = open_room("scope-east");
    east.insert("departmentId", "dep-east-a");
    east.insert("departmentAncestors", vec!["unit-east"]);
    app.insert_room(east).await;
    assert_eq!(live.next_event().await.room_id(), "scope-east");
    // Moved to the West: it left the scope.
    change_room(&app, "scope-east", |room| {
        room.insert("departmentId", "dep-west");
        room.insert("departmentAncestors", vec!["unit-west"]);
    })
    .await;
    let event = live.next_event().await;
    assert_eq!(
        (event.event.as_deref(), event.data.as_deref()),
        (Some("removed"), Some(r#"{"_id":"scope-east"}"#))
    );
    // The monitor loses the East unit: the stream ends.
    app.db
        .collection::<Document>("rocketchat_livechat_unit_monitors")
        .delete_one(doc! {"_id": "um-1"})
        .await
        .unwrap();
    let ended = live.until_end().await;
    assert_eq!(
        ended.last().and_then(|e| e.comment.as_deref()),
        Some("access changed")
    );
}

#[tokio::test]
async fn a_stream_carries_the_listings_cors_headers() {
    let app = spawn_app_with(&mongo_url(), &FAST, TestDb::Fixtures).await;
    app.set_setting("API_Enable_CORS", true).await;
    app.set_setting("API_CORS_Origin", "https://wallboard.example")
        .await;
    let origin = [("Origin", "https://wallboard.example")];
    let live = open(&app, "open=true", MANAGER, &origin).await.unwrap();
    let headers = live.response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://wallboard.example"
    );
    assert_eq!(
        open(
            &app,
            "open=true",
            MANAGER,
            &[("Origin", "https://elsewhere.example")]
        )
        .await
        .err(),
        Some((403, String::new()))
    );
}
