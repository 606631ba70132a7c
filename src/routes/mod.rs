//! The routes: `GET /api/v1/livechat/rooms`, `GET /health`, and Rocket.Chat-shaped 404/405 for
//! everything else. Shared by `startup` and the tests.

use actix_web::{web, HttpResponse};

use crate::error::ApiError;

mod livechat_rooms;

pub const ROOMS_PATH: &str = "/api/v1/livechat/rooms";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(ROOMS_PATH)
            .route(web::get().to(livechat_rooms::list_rooms))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/health")
            .route(web::get().to(health))
            .default_service(web::to(method_not_allowed)),
    )
    .default_service(web::to(not_found));
}

/// Liveness: the process answers; no database call.
async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(r#"{"status":"ok"}"#)
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
