//! A MongoDB role that lacks a privilege (README, "Configuration": the livechatRoomsReader role):
//! a read the service is not allowed fails the request closed (a 503, never a listing without what
//! could not be read, such as a monitor's units) and is said once at ERROR, naming the collection
//! and the action. The refusal (`Unauthorized`, code 13) is injected through the wire proxy.

use std::path::Path;

use mongodb::bson::doc;

use crate::helpers::*;
use crate::proxy::Answer;

const UNAVAILABLE: &str = r#"{"success":false,"error":"The database is unavailable"}"#;
const MONITOR_EAST: Creds = Some(("monitor-east-id", "monitor-east-token"));

fn unauthorized(collection: &str) -> Answer {
    Answer::Document(doc! {
        "ok": 0.0,
        "code": 13,
        "codeName": "Unauthorized",
        "errmsg": format!("not authorized on lc to execute command {{ find: \"{collection}\" }}"),
    })
}

#[tokio::test]
async fn a_read_the_role_does_not_allow_is_a_503_said_once_naming_the_collection() {
    // (collection, who asks): the monitor's units come from the two Enterprise collections.
    let cases = [
        ("users", MANAGER),
        ("rocketchat_permissions", MANAGER),
        ("rocketchat_settings", MANAGER),
        ("rocketchat_livechat_department", MANAGER),
        ("rocketchat_room", MANAGER),
        ("rocketchat_livechat_unit_monitors", MONITOR_EAST),
        ("rocketchat_livechat_department_agents", MONITOR_EAST),
    ];
    let loaded = spawn_app().await;
    let enterprise = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/enterprise");
    livechat_rooms::fixtures::load_dir(
        &loaded.db,
        &enterprise,
        livechat_rooms::fixtures::Existing::Add,
    )
    .await
    .unwrap();
    for (collection, creds) in cases {
        // A process of its own for each, so that nothing is held yet and the line is its first.
        let database = FlakyDatabase::start(Link::Up, loaded.db.name()).await;
        let (_child, port, log) = start_binary_logged(&[("MONGO_URL", &database.url)]).await;
        let app = TestApp::of_binary(port, &loaded.db);
        for _ in 0..2 {
            database.answer_next("find", collection, unauthorized(collection));
            app.get_rooms("count=1", creds)
                .await
                .assert_error(503, UNAVAILABLE);
        }
        // Once the role allows it again, the same listing is served.
        assert_eq!(
            app.get_rooms("count=1", creds).await.status,
            200,
            "{collection}"
        );
        // Its access log line comes after every line the failed requests wrote.
        wait_for_line(&log, "\" 200 ").await;
        let errors: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("ERROR"))
            .cloned()
            .collect();
        assert_eq!(errors.len(), 1, "{collection}: {errors:#?}");
        assert!(
            errors[0].contains(&format!("may not find on {collection} (Unauthorized)")),
            "{collection}: {errors:#?}"
        );
    }
}
