use crate::helpers::*;

#[tokio::test]
async fn health_answers_without_credentials() {
    let app = spawn_app().await;
    let reply = app.get("/health", ANONYMOUS).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
}

#[tokio::test]
async fn other_paths_are_not_found() {
    let app = spawn_app().await;
    app.get("/api/v1/livechat/room", MANAGER)
        .await
        .assert_error(404, r#"{"success":false,"error":"Not found"}"#);
    app.get("/", ANONYMOUS)
        .await
        .assert_error(404, r#"{"success":false,"error":"Not found"}"#);
}

#[tokio::test]
async fn other_methods_on_the_rooms_path_are_not_allowed() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        app.request(method, ROOMS, MANAGER)
            .await
            .assert_error(405, r#"{"success":false,"error":"Method not allowed"}"#);
    }
}
