//! Enterprise visibility (contract §3b): monitors and agents see only the rooms of their units and
//! departments. The workspaces here are the base fixtures plus `fixtures/enterprise` (units East
//! and West; see fixtures/README.md), or rooms and units a test inserts in its own database.

use std::path::Path;

use mongodb::bson::{doc, Document};
use mongodb::Database;

use crate::helpers::*;

pub const MONITOR_EAST: Creds = Some(("monitor-east-id", "monitor-east-token"));
pub const MONITOR_ALL: Creds = Some(("monitor-all-id", "monitor-all-token"));
pub const AGENT_EAST: Creds = Some(("agent-east-id", "agent-east-token"));

pub async fn load_enterprise(db: &Database) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/enterprise");
    livechat_rooms::fixtures::load_dir(db, &dir, livechat_rooms::fixtures::Existing::Add)
        .await
        .expect("enterprise fixtures load");
}

/// The service on the base fixtures plus the enterprise ones.
async fn spawn_enterprise_app() -> TestApp {
    let app = spawn_app().await;
    load_enterprise(&app.db).await;
    app
}

async fn set_roles(db: &Database, user: &str, roles: &[&str]) {
    db.collection::<Document>("users")
        .update_one(doc! {"_id": user}, doc! {"$set": {"roles": roles}})
        .await
        .expect("roles set");
}

#[tokio::test]
async fn a_monitor_sees_only_the_rooms_of_the_units_they_monitor() {
    let app = spawn_enterprise_app().await;
    // ee-03 is in a department of East without departmentAncestors (it predates the unit).
    app.get_rooms("", MONITOR_EAST)
        .await
        .assert_rooms(&["ee-03", "ee-02", "ee-01"], 0, 3);
    app.get_rooms("", MONITOR_ALL)
        .await
        .assert_rooms(&["ee-04", "ee-03", "ee-02", "ee-01"], 0, 4);
    // Everyone else is not restricted: the manager sees the 45 base rooms and the 6 new ones.
    let reply = app.get_rooms("count=1", MANAGER).await;
    assert_eq!(reply.page(), (1, 0, LIVECHAT_ROOMS + 6), "{}", reply.body);
}

#[tokio::test]
async fn an_agent_sees_only_the_rooms_of_the_departments_they_serve() {
    let app = spawn_enterprise_app().await;
    app.get_rooms("agents=agent-east-id", AGENT_EAST)
        .await
        .assert_rooms(&["ee-02"], 0, 1);
    app.get_rooms("", AGENT_EAST)
        .await
        .assert_error(403, FORBIDDEN_BODY);
}

#[tokio::test]
async fn an_agent_who_may_list_every_room_still_sees_only_their_departments() {
    let app = spawn_enterprise_app().await;
    app.set_permission_roles("view-livechat-rooms", &["livechat-agent"])
        .await;
    app.get_rooms("", AGENT_EAST)
        .await
        .assert_rooms(&["ee-02"], 0, 1);
}

#[tokio::test]
async fn no_parameter_widens_the_restriction() {
    let app = spawn_enterprise_app().await;
    let rooms = app.db.collection::<Document>("rocketchat_room");
    for id in ["ee-01", "ee-04", "lc-01"] {
        rooms
            .update_one(
                doc! {"_id": id},
                doc! {"$set": {"livechatData": {"plan": "gold"}}},
            )
            .await
            .unwrap();
    }
    let cases: [(&str, &str, &[&str]); 6] = [
        ("departmentId", "dep-west", &[]),
        ("departmentId", "dep-east-a", &["ee-03", "ee-01"]),
        ("units", "unit-west", &[]),
        // Their own unit: ee-03 too, found through its department (no departmentAncestors).
        ("units", "unit-east", &["ee-03", "ee-02", "ee-01"]),
        ("customFields", r#"{"plan":"gold"}"#, &["ee-01"]),
        ("roomName", "visitor", &["ee-02", "ee-01"]),
    ];
    for (param, value, ids) in cases {
        let reply = app.get_rooms_with(&[(param, value)], MONITOR_EAST).await;
        reply.assert_rooms(ids, 0, ids.len() as u64);
    }
    let reply = app
        .get_rooms_with(
            &[
                ("departmentId[]", "dep-west"),
                ("departmentId[]", "dep-east-b"),
            ],
            MONITOR_EAST,
        )
        .await;
    reply.assert_rooms(&["ee-02"], 0, 1);
}

#[tokio::test]
async fn units_narrow_a_restricted_user_to_their_units_rooms_through_their_departments() {
    let app = spawn_enterprise_app().await;
    // Contract §3b: for a restricted user `units` is U ∩ units and adds no departmentAncestors
    // clause, so ee-03 (a room of East A from before the department joined East: no
    // departmentAncestors) is listed, as Rocket.Chat lists it.
    app.get_rooms("units=unit-east", MONITOR_ALL)
        .await
        .assert_rooms(&["ee-03", "ee-02", "ee-01"], 0, 3);
    app.get_rooms("units[]=unit-west", MONITOR_ALL)
        .await
        .assert_rooms(&["ee-04"], 0, 1);
    // A unit they do not watch narrows to nothing; it never widens.
    app.get_rooms("units=unit-west", MONITOR_EAST)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
    // For everyone else `units` is the departmentAncestors filter of §4.
    app.get_rooms("units=unit-east", MANAGER)
        .await
        .assert_rooms(&["ee-02", "ee-01"], 0, 2);
}

#[tokio::test]
async fn a_monitor_without_units_sees_nothing() {
    let app = spawn_enterprise_app().await;
    app.db
        .collection::<Document>("rocketchat_livechat_unit_monitors")
        .delete_many(doc! {"monitorId": "monitor-east-id"})
        .await
        .unwrap();
    app.get_rooms("", MONITOR_EAST)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
}

#[tokio::test]
async fn a_monitor_who_is_also_a_manager_or_an_admin_sees_every_room() {
    let app = spawn_enterprise_app().await;
    set_roles(
        &app.db,
        "monitor-east-id",
        &["livechat-monitor", "livechat-manager"],
    )
    .await;
    assert_eq!(
        app.get_rooms("count=1", MONITOR_EAST).await.page().2,
        LIVECHAT_ROOMS + 6
    );
    set_roles(&app.db, "monitor-all-id", &["livechat-monitor", "admin"]).await;
    assert_eq!(
        app.get_rooms("count=1", MONITOR_ALL).await.page().2,
        LIVECHAT_ROOMS + 6
    );
}

#[tokio::test]
async fn a_workspace_without_units_restricts_nobody() {
    let app = spawn_enterprise_app().await;
    app.db
        .collection::<Document>("rocketchat_livechat_department")
        .delete_many(doc! {"type": "u"})
        .await
        .unwrap();
    assert_eq!(
        app.get_rooms("count=1", MONITOR_EAST).await.page().2,
        LIVECHAT_ROOMS + 6
    );
}

#[tokio::test]
async fn the_restriction_can_be_switched_off() {
    let app = spawn_app_with(
        &mongo_url(),
        &[("OMNICHANNEL_UNIT_RESTRICTIONS", "off")],
        TestDb::Fixtures,
    )
    .await;
    load_enterprise(&app.db).await;
    assert_eq!(
        app.get_rooms("count=1", MONITOR_EAST).await.page().2,
        LIVECHAT_ROOMS + 6
    );
}

#[tokio::test]
async fn a_pages_total_is_the_restricted_total_and_the_count_is_restricted() {
    let (app, database) = spawn_app_behind_proxy_after(Link::Up, &[], async |db| {
        load_enterprise(db).await;
    })
    .await;
    // A full page: the total comes from the count.
    let reply = app.get_rooms("count=2", MONITOR_ALL).await;
    reply.assert_rooms(&["ee-04", "ee-03"], 0, 4);
    let restriction = doc! {"$or": [
        {"departmentAncestors": {"$in": ["unit-east", "unit-west"]}},
        {"departmentId": {"$in": ["dep-east-a", "dep-east-b", "dep-west"]}},
    ]};
    let find = database.commands_on("find", "rocketchat_room");
    assert_eq!(
        find[0].get_document("filter").unwrap(),
        &doc! {"t": "l", "$and": [restriction.clone()]}
    );
    let count = database.commands_on("aggregate", "rocketchat_room");
    assert_eq!(count.len(), 1);
    let pipeline = count[0].get_array("pipeline").unwrap();
    assert_eq!(
        pipeline[0]
            .as_document()
            .unwrap()
            .get_document("$match")
            .unwrap(),
        &doc! {"t": "l", "$and": [restriction]}
    );
    // `units` narrows the restriction to East and sends no departmentAncestors clause of its own.
    database.clear_commands();
    let reply = app.get_rooms("units=unit-east", MONITOR_ALL).await;
    reply.assert_rooms(&["ee-03", "ee-02", "ee-01"], 0, 3);
    let find = database.commands_on("find", "rocketchat_room");
    assert_eq!(
        find[0].get_document("filter").unwrap(),
        &doc! {"t": "l", "$and": [{"$or": [
            {"departmentAncestors": {"$in": ["unit-east"]}},
            {"departmentId": {"$in": ["dep-east-a", "dep-east-b"]}},
        ]}]}
    );
}

/// Rocket.Chat's own cases, in a database of their own: two units, a department and a room in
/// each, monitor 1 of unit 1, monitor 2 of both (`00-rooms.ts`, describe('monitors'), and
/// `22-monitors.ts`, "Monitors & Rooms").
async fn spawn_two_units() -> TestApp {
    let app = spawn_app().await;
    let db = &app.db;
    let insert = async |collection: &str, docs: Vec<Document>| {
        db.collection::<Document>(collection)
            .insert_many(docs)
            .await
            .unwrap();
    };
    insert(
        "rocketchat_livechat_department",
        vec![
            doc! {"_id": "U1", "name": "Unit 1", "type": "u"},
            doc! {"_id": "U2", "name": "Unit 2", "type": "u"},
            doc! {"_id": "D1", "name": "Dep 1", "parentId": "U1", "ancestors": ["U1"]},
            doc! {"_id": "D2", "name": "Dep 2", "parentId": "U2", "ancestors": ["U2"]},
            doc! {"_id": "D3", "name": "Dep 3"},
        ],
    )
    .await;
    let ts = mongodb::bson::DateTime::from_millis(1_600_000_000_000);
    let room = |id: &str, dep: &str, unit: Option<&str>| {
        let mut room =
            doc! {"_id": id, "t": "l", "fname": id, "ts": ts, "open": true, "departmentId": dep};
        if let Some(unit) = unit {
            room.insert("departmentAncestors", vec![unit]);
        }
        room
    };
    insert(
        "rocketchat_room",
        vec![
            room("R1", "D1", Some("U1")),
            room("R2", "D2", Some("U2")),
            room("R3", "D3", None),
        ],
    )
    .await;
    insert(
        "rocketchat_livechat_unit_monitors",
        vec![
            doc! {"monitorId": "m1", "unitId": "U1", "username": "m1"},
            doc! {"monitorId": "m2", "unitId": "U1", "username": "m2"},
            doc! {"monitorId": "m2", "unitId": "U2", "username": "m2"},
        ],
    )
    .await;
    let monitor = |id: &str, token: &str| {
        doc! {"_id": id, "username": id, "roles": ["user", "livechat-monitor"],
        "services": {"resume": {"loginTokens": [{"hashedToken": livechat_rooms::auth::hash_token(token)}]}}}
    };
    insert("users", vec![monitor("m1", "t1"), monitor("m2", "t2")]).await;
    app
}

const M1: Creds = Some(("m1", "t1"));
const M2: Creds = Some(("m2", "t2"));

#[tokio::test]
async fn rocket_chats_monitor_cases_hold() {
    let app = spawn_two_units().await;
    app.get_rooms("", M1).await.assert_rooms(&["R1"], 0, 1);
    app.get_rooms("sort=%7B%22_id%22%3A1%7D", M2)
        .await
        .assert_rooms(&["R1", "R2"], 0, 2);
    app.get_rooms("units[]=U1", M1)
        .await
        .assert_rooms(&["R1"], 0, 1);
    app.get_rooms("units[]=U2", M1)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
    app.get_rooms("units[]=U2", M2)
        .await
        .assert_rooms(&["R2"], 0, 1);
    // 22-monitors.ts: a room of a department outside the monitor's unit is hidden.
    app.get_rooms("departmentId=D2", M1)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
    app.get_rooms("departmentId=D1", M1)
        .await
        .assert_rooms(&["R1"], 0, 1);
    app.get_rooms("departmentId=D3", M2)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
}
