use mongodb::bson::{doc, Document};

use livechat_rooms::auth::hash_token;

use crate::helpers::*;

#[tokio::test]
async fn missing_credentials_are_unauthorized() {
    let app = spawn_app().await;
    app.get_rooms("", ANONYMOUS)
        .await
        .assert_error(401, UNAUTHORIZED_BODY);
}

#[tokio::test]
async fn one_header_alone_is_unauthorized() {
    let app = spawn_app().await;
    for creds in [Some(("manager-id", "")), Some(("", "manager-token"))] {
        app.get_rooms("", creds)
            .await
            .assert_error(401, UNAUTHORIZED_BODY);
    }
    let only_user = app
        .client
        .get(format!("{}{ROOMS}", app.address))
        .header("X-User-Id", "manager-id")
        .send()
        .await
        .unwrap();
    assert_eq!(only_user.status().as_u16(), 401);
    assert_eq!(only_user.text().await.unwrap(), UNAUTHORIZED_BODY);
}

#[tokio::test]
async fn unknown_user_or_wrong_token_is_unauthorized() {
    let app = spawn_app().await;
    let stored_hash: &'static str = Box::leak(hash_token("manager-token").into_boxed_str());
    for creds in [
        Some(("nobody", "manager-token")),
        Some(("manager-id", "wrong-token")),
        // Another user's valid token does not open this user's account.
        Some(("manager-id", "agent-token")),
        // The stored hash itself is not a token.
        Some(("manager-id", stored_hash)),
        // A user whose tokens were all removed (logged out everywhere).
        Some(("logged-out-id", "manager-token")),
    ] {
        app.get_rooms("", creds)
            .await
            .assert_error(401, UNAUTHORIZED_BODY);
    }
}

#[tokio::test]
async fn a_valid_login_token_is_accepted() {
    let app = spawn_app().await;
    let reply = app.get_rooms("count=1", MANAGER).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // An older token of the same user still in the array works too.
    let reply = app
        .get_rooms("count=1", Some(("manager-id", "old-manager-token")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn a_personal_access_token_is_accepted() {
    let app = spawn_app().await;
    app.get_rooms("roomName=%22Linus%22", PAT_USER)
        .await
        .assert_rooms(&["lc-08"], 0, 1);
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_next_request() {
    let app = spawn_app().await;
    assert_eq!(app.get_rooms("count=1", MANAGER).await.status, 200);
    app.db
        .collection::<Document>("users")
        .update_one(
            doc! {"_id": "manager-id"},
            doc! {"$set": {"services.resume.loginTokens": []}},
        )
        .await
        .unwrap();
    app.get_rooms("count=1", MANAGER)
        .await
        .assert_error(401, UNAUTHORIZED_BODY);
}

#[tokio::test]
async fn authentication_comes_before_parameter_validation() {
    let app = spawn_app().await;
    app.get_rooms("agents=invalid", ANONYMOUS)
        .await
        .assert_error(401, UNAUTHORIZED_BODY);
    app.get_rooms("agents=invalid", Some(("manager-id", "bad")))
        .await
        .assert_error(401, UNAUTHORIZED_BODY);
}

#[tokio::test]
async fn parameter_validation_comes_before_permission() {
    let app = spawn_app().await;
    app.get_rooms("agents[a]=invalid", PLAIN_USER)
        .await
        .assert_bad_request(r#"The "agents" query parameter must be an array of strings"#);
}

#[tokio::test]
async fn a_user_without_livechat_roles_is_forbidden() {
    let app = spawn_app().await;
    app.get_rooms("", PLAIN_USER)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    app.get_rooms("agents[]=plain-user-id", PLAIN_USER)
        .await
        .assert_error(403, FORBIDDEN_BODY);
}

#[tokio::test]
async fn an_agent_may_list_only_their_own_rooms() {
    let app = spawn_app().await;
    app.get_rooms("", AGENT)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    app.get_rooms("agents[]=agent-2-id", AGENT)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    app.get_rooms("agents[]=agent-1-id&agents[]=agent-2-id", AGENT)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    app.get_rooms("agents[]=agent-1-id&agents[]=agent-1-id", AGENT)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    // Their username is not their id.
    app.get_rooms("agents[]=agent.one", AGENT)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    app.get_rooms("agents[]=agent-1-id&departmentId=dep-sales", AGENT)
        .await
        .assert_rooms(&["lc-02", "lc-01"], 0, 2);
}

#[tokio::test]
async fn a_manager_may_list_everything() {
    let app = spawn_app().await;
    app.get_rooms("agents[]=agent-2-id&departmentId=dep-support", MANAGER)
        .await
        .assert_rooms(&["lc-04"], 0, 1);
}

#[tokio::test]
async fn permission_changes_apply_once_the_cache_bound_has_passed() {
    let app = spawn_app_with(
        &mongo_url(),
        &[("CACHE_MAX_AGE_MS", "200")],
        TestDb::Fixtures,
    )
    .await;
    app.get_rooms("count=1", MANAGER)
        .await
        .assert_rooms(&["lc-43"], 0, LIVECHAT_ROOMS);
    app.set_permission_roles("view-livechat-rooms", &["admin"])
        .await;
    wait_out_the_cache(200).await;
    app.get_rooms("", MANAGER)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    // The manager still has view-l-room, so their own rooms stay visible.
    app.get_rooms("agents[]=manager-id", MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
    app.set_permission_roles("view-l-room", &[]).await;
    wait_out_the_cache(200).await;
    app.get_rooms("agents[]=manager-id", MANAGER)
        .await
        .assert_error(403, FORBIDDEN_BODY);
}

#[tokio::test]
async fn an_agent_may_list_their_own_rooms_with_agents_as_a_plain_value() {
    // Python's requests and most HTTP libraries send a one-element list as `agents=<id>`.
    let app = spawn_app().await;
    let own = app.get_rooms("agents=agent-1-id&count=1", AGENT).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.page().0, 1);
}

#[tokio::test]
async fn a_repeated_credential_header_is_unauthorized() {
    let app = spawn_app().await;
    let twice = |first: &str, second: &str| {
        app.client
            .get(format!("{}{ROOMS}", app.address))
            .header("X-User-Id", "manager-id")
            .header("X-Auth-Token", first.to_owned())
            .header("X-Auth-Token", second.to_owned())
            .send()
    };
    for (first, second) in [("manager-token", "bad"), ("manager-token", "manager-token")] {
        let response = twice(first, second).await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.text().await.unwrap(), UNAUTHORIZED_BODY);
    }
    let response = app
        .client
        .get(format!("{}{ROOMS}", app.address))
        .header("X-User-Id", "manager-id")
        .header("X-User-Id", "manager-id")
        .header("X-Auth-Token", "manager-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn a_missing_permission_document_grants_nothing() {
    let app = spawn_app().await;
    app.db
        .collection::<Document>("rocketchat_permissions")
        .delete_many(doc! {})
        .await
        .unwrap();
    app.get_rooms("", MANAGER)
        .await
        .assert_error(403, FORBIDDEN_BODY);
    app.get_rooms("agents[]=manager-id", MANAGER)
        .await
        .assert_error(403, FORBIDDEN_BODY);
}
