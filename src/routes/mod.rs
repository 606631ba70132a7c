//! The routes: `GET /api/v1/livechat/rooms`, the operational endpoints (`/health`, `/ready`,
//! `/metrics`, `/openapi.json`), and Rocket.Chat-shaped 404/405 for everything else. Shared by
//! `startup` and the tests.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::response::json;
use crate::state::WorkerState;

mod cors;
mod live;
mod livechat_rooms;
mod rooms_body;

pub const ROOMS_PATH: &str = "/api/v1/livechat/rooms";
/// Every path served (the OpenAPI document lists exactly these).
pub const PATHS: [&str; 5] = [ROOMS_PATH, "/health", "/ready", "/metrics", "/openapi.json"];
/// `/ready` gives up on the database after this long (or the query timeout, if shorter).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Every other method of the listing's path: a CORS preflight, or the 405 (with CORS headers).
    cfg.service(
        web::resource(ROOMS_PATH)
            .route(web::get().to(livechat_rooms::list_rooms))
            .default_service(web::to(cors::other_method)),
    );
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

/// Rocket.Chat's `entrypoint` label of a path it also serves (the path less `/api/v1/`), for its
/// REST metrics; `None` for the service's own paths.
pub fn rocketchat_entrypoint(path: &str) -> Option<&'static str> {
    (path == ROOMS_PATH).then_some("livechat/rooms")
}

fn get(cfg: &mut web::ServiceConfig, path: &'static str, route: actix_web::Route) {
    cfg.service(
        web::resource(path)
            .route(route)
            .default_service(web::to(method_not_allowed)),
    );
}

/// Liveness: the process answers; no database call.
async fn health() -> HttpResponse {
    json(StatusCode::OK, r#"{"status":"ok"}"#)
}

/// Readiness: MongoDB answers a ping within [`READY_TIMEOUT`].
async fn ready(state: web::Data<WorkerState>) -> HttpResponse {
    if state
        .process
        .draining
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return json(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"stopping"}"#);
    }
    let limit = READY_TIMEOUT.min(state.db.query_timeout());
    let failure = match actix_web::rt::time::timeout(limit, state.db.ping()).await {
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

async fn metrics(state: web::Data<WorkerState>) -> HttpResponse {
    let mut response = json(StatusCode::OK, state.metrics().render());
    // Prometheus's text format, not JSON; the rest of `json()` (no-store) stands.
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(prometheus::TEXT_FORMAT),
    );
    response
}

async fn openapi() -> HttpResponse {
    json(StatusCode::OK, crate::openapi::DOCUMENT)
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
