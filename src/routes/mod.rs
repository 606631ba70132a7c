//! The routes: `GET /api/v1/livechat/rooms`, the operational endpoints (`/health`, `/ready`,
//! `/metrics`, `/openapi.json`), and Rocket.Chat-shaped 404/405 for everything else. Shared by
//! `startup` and the tests.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use std::future::IntoFuture as _;

use mongodb::bson::doc;

use crate::error::ApiError;
use crate::state::AppState;

mod livechat_rooms;

pub const ROOMS_PATH: &str = "/api/v1/livechat/rooms";
/// Every path served (the OpenAPI document lists exactly these).
pub const PATHS: [&str; 5] = [ROOMS_PATH, "/health", "/ready", "/metrics", "/openapi.json"];
/// `/ready` gives up on the database after this long (or the query timeout, if shorter).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn configure(cfg: &mut web::ServiceConfig) {
    get(cfg, ROOMS_PATH, web::get().to(livechat_rooms::list_rooms));
    get(cfg, "/health", web::get().to(health));
    get(cfg, "/ready", web::get().to(ready));
    get(cfg, "/metrics", web::get().to(metrics));
    get(cfg, "/openapi.json", web::get().to(openapi));
    cfg.default_service(web::to(not_found));
}

/// The route label of a path for metrics: the path itself when it is served, else "other".
pub fn route_of(path: &str) -> &'static str {
    PATHS
        .iter()
        .copied()
        .find(|p| *p == path)
        .unwrap_or("other")
}

fn get(cfg: &mut web::ServiceConfig, path: &'static str, route: actix_web::Route) {
    cfg.service(
        web::resource(path)
            .route(route)
            .default_service(web::to(method_not_allowed)),
    );
}

/// A JSON response that no cache keeps: every body this service answers with.
pub fn json(status: StatusCode, body: impl MessageBody + 'static) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Liveness: the process answers; no database call.
async fn health() -> HttpResponse {
    json(StatusCode::OK, r#"{"status":"ok"}"#)
}

/// Readiness: MongoDB answers a ping within [`READY_TIMEOUT`].
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let limit = READY_TIMEOUT.min(state.query_timeout);
    let ping = state.metrics.db_call(
        "ping",
        state.db.run_command(doc! { "ping": 1 }).into_future(),
    );
    let failure = match actix_web::rt::time::timeout(limit, ping).await {
        Ok(Ok(_)) => return json(StatusCode::OK, r#"{"status":"ok"}"#),
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no ping answer within {limit:?}"),
    };
    log::warn!("not ready: {failure}");
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"status":"unavailable"}"#,
    )
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, prometheus::TEXT_FORMAT))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(crate::openapi::DOCUMENT)
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
