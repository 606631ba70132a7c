//! Whole bodies, byte for byte: BSON types, escaping, the department attachment, headers.

use crate::helpers::*;

#[tokio::test]
async fn responses_are_json_and_not_cached() {
    let app = spawn_app().await;
    let reply = app.get_rooms("count=1", MANAGER).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(reply.cache_control, "no-store");
}

#[tokio::test]
async fn every_stored_type_renders_as_rocket_chat_renders_it() {
    let app = spawn_app().await;
    let reply = app.get_rooms("roomName=%22Types%22", MANAGER).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        concat!(
            r#"{"rooms":[{"_id":"lc-10","fname":"Types","t":"l","ts":"2017-06-01T12:00:00.000Z","#,
            r#""v":{"_id":"visitor-lc-10","username":"guest-10","token":"vtoken-lc-10","status":"online"},"#,
            r#""departmentId":42,"closedAt":"2017-06-01T13:00:00.000Z","livechatData":{"score":7,"vip":true},"#,
            r#""types":{"int32":42,"int64":9007199254740993,"double":1.5,"wholeDouble":2,"negative":-0.25,"big":1e+21,"#,
            r#""true":true,"false":false,"null":null,"date":"2019-08-09T20:18:02.350Z","oldDate":"1969-12-31T23:59:59.999Z","#,
            r#""oid":"5d4dd4ea0e3b0f0a1c2b3d4e","nested":{"a":{"b":[1,"two",{"c":null}]}},"emptyDoc":{},"emptyArray":[]}}],"#,
            r#""count":1,"offset":0,"total":1,"success":true}"#
        )
    );
}

#[tokio::test]
async fn strings_are_escaped_as_json_stringify_does() {
    let app = spawn_app().await;
    let reply = app.get_rooms("roomName=Zo", MANAGER).await;
    assert_eq!(
        reply.body,
        concat!(
            r#"{"rooms":[{"_id":"lc-45","fname":"Zoë \"quoted\" \\ back\nslash ☃ 😀","t":"l","ts":"2017-05-01T00:00:00.000Z","#,
            r#""v":{"_id":"visitor-lc-45","username":"guest-45","token":"vtoken-lc-45","status":"online"},"departmentId":"","#,
            r#""closedAt":"2017-05-01T01:00:00.000Z","livechatData":{"note":"tab\there <b>&</b>"}}],"#,
            r#""count":1,"offset":0,"total":1,"success":true}"#
        )
    );
}

#[tokio::test]
async fn the_department_is_appended_as_the_last_key() {
    let app = spawn_app().await;
    let reply = app.get_rooms("roomName=Linus", MANAGER).await;
    assert_eq!(
        reply.body,
        concat!(
            r#"{"rooms":[{"_id":"lc-08","fname":"Linus","t":"l","ts":"2018-03-01T00:00:00.000Z","#,
            r#""v":{"_id":"visitor-lc-08","username":"guest-08","token":"vtoken-lc-08","status":"online"},"#,
            r#""servedBy":{"_id":"agent-3-id","username":"agent.three","ts":"2018-03-01T00:00:30.000Z"},"#,
            r#""departmentId":"dep-sales","departmentAncestors":["unit-north","unit-south"],"open":true,"msgs":6,"#,
            r#""department":{"_id":"dep-sales","name":"Sales"}}],"count":1,"offset":0,"total":1,"success":true}"#
        )
    );
}

#[tokio::test]
async fn a_department_without_a_name_is_attached_without_one() {
    let app = spawn_app().await;
    let reply = app
        .get_rooms_with(
            &[("roomName", "Grace"), ("fields", r#"{"v":0,"ts":0}"#)],
            MANAGER,
        )
        .await;
    assert_eq!(
        reply.body,
        r#"{"rooms":[{"_id":"lc-07","fname":"Grace Hopper","t":"l","departmentId":"dep-noname","closedAt":"2018-01-01T00:00:00.000Z","msgs":0,"department":{"_id":"dep-noname"}}],"count":1,"offset":0,"total":1,"success":true}"#
    );
}

#[tokio::test]
async fn a_missing_department_attaches_nothing() {
    let app = spawn_app().await;
    let reply = app
        .get_rooms_with(
            &[
                ("roomName", "\"TEST_1\""),
                ("fields", r#"{"departmentId":1,"_id":0}"#),
            ],
            MANAGER,
        )
        .await;
    assert_eq!(
        reply.body,
        r#"{"rooms":[{"departmentId":"dep-missing"}],"count":1,"offset":0,"total":1,"success":true}"#
    );
}

#[tokio::test]
async fn a_projected_department_id_still_attaches_the_department() {
    let app = spawn_app().await;
    let reply = app
        .get_rooms_with(
            &[
                ("roomName", "Linus"),
                ("fields", r#"{"departmentId":1,"_id":0}"#),
            ],
            MANAGER,
        )
        .await;
    assert_eq!(
        reply.body,
        r#"{"rooms":[{"departmentId":"dep-sales","department":{"_id":"dep-sales","name":"Sales"}}],"count":1,"offset":0,"total":1,"success":true}"#
    );
}

#[tokio::test]
async fn excluding_department_id_attaches_no_department() {
    let app = spawn_app().await;
    let reply = app
        .get_rooms_with(
            &[
                ("roomName", "Linus"),
                ("fields", r#"{"departmentId":0,"v":0,"servedBy":0}"#),
            ],
            MANAGER,
        )
        .await;
    assert_eq!(
        reply.body,
        r#"{"rooms":[{"_id":"lc-08","fname":"Linus","t":"l","ts":"2018-03-01T00:00:00.000Z","departmentAncestors":["unit-north","unit-south"],"open":true,"msgs":6}],"count":1,"offset":0,"total":1,"success":true}"#
    );
}

#[tokio::test]
async fn departments_are_attached_to_every_room_of_a_page() {
    let app = spawn_app().await;
    let reply = app
        .get_rooms_with(
            &[
                ("departmentId[]", "dep-sales"),
                ("departmentId[]", "dep-support"),
                ("fields", r#"{"departmentId":1,"_id":0}"#),
            ],
            MANAGER,
        )
        .await;
    assert_eq!(
        reply.body,
        concat!(
            r#"{"rooms":[{"departmentId":"dep-sales","department":{"_id":"dep-sales","name":"Sales"}},"#,
            r#"{"departmentId":"dep-support","department":{"_id":"dep-support","name":"Support"}},"#,
            r#"{"departmentId":"dep-sales","department":{"_id":"dep-sales","name":"Sales"}},"#,
            r#"{"departmentId":"dep-sales","department":{"_id":"dep-sales","name":"Sales"}},"#,
            r#"{"departmentId":"dep-support","department":{"_id":"dep-support","name":"Support"}}],"#,
            r#""count":5,"offset":0,"total":5,"success":true}"#
        )
    );
}

#[tokio::test]
async fn a_stored_department_key_is_replaced_in_place() {
    let app = spawn_app().await;
    app.insert_room(mongodb::bson::doc! {"_id": "lc-x", "t": "l", "fname": "Shadow", "department": "stale", "departmentId": "dep-bulk"}).await;
    let reply = app.get_rooms("roomName=Shadow", MANAGER).await;
    assert_eq!(
        reply.body,
        r#"{"rooms":[{"_id":"lc-x","t":"l","fname":"Shadow","department":{"_id":"dep-bulk","name":"Bulk"},"departmentId":"dep-bulk"}],"count":1,"offset":0,"total":1,"success":true}"#
    );
}

#[tokio::test]
async fn types_the_test_fixtures_cannot_hold_render_end_to_end() {
    use mongodb::bson::spec::BinarySubtype;
    use mongodb::bson::{
        doc, Binary, Bson, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp,
    };
    if !server_is_exact() {
        // nx-27017 workaround: it keeps documents as JSON and cannot store these; the renderer's
        // unit tests and scripts/js-check cover them there.
        return;
    }
    let app = spawn_app().await;
    app.insert_room(doc! {
        "_id": "types-2",
        "t": "l",
        "fname": "Exotic",
        "ts": DateTime::from_millis(1_700_000_000_000),
        "decimal": "1234.5600".parse::<Decimal128>().unwrap(),
        "nan": f64::NAN,
        "inf": f64::INFINITY,
        "ninf": f64::NEG_INFINITY,
        "negzero": -0.0,
        "big": 9_007_199_254_740_993_i64,
        "re": Regex { pattern: "^a".into(), options: "i".into() },
        "stamp": Timestamp { time: 1, increment: 2 },
        "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3, 250] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).collect() },
        "min": Bson::MinKey,
        "max": Bson::MaxKey,
        "code": Bson::JavaScriptCode("f()".into()),
        "scoped": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
            code: "g()".into(),
            scope: doc! {"x": 1},
        }),
    })
    .await;
    let reply = app.get_rooms("roomName=%22Exotic%22", MANAGER).await;
    assert_eq!(
        reply.body,
        concat!(
            r#"{"rooms":[{"_id":"types-2","t":"l","fname":"Exotic","ts":"2023-11-14T22:13:20.000Z","#,
            r#""decimal":{"$numberDecimal":"1234.5600"},"nan":null,"inf":null,"ninf":null,"negzero":0,"#,
            r#""big":9007199254740993,"re":{},"stamp":{"$timestamp":"4294967298"},"bin":"AQID+g==","#,
            r#""uuid":"00010203-0405-0607-0809-0a0b0c0d0e0f","min":{},"max":{},"code":{"code":"f()"},"#,
            r#""scoped":{"code":"g()","scope":{"x":1}}}],"count":1,"offset":0,"total":1,"success":true}"#
        )
    );
}
