//! [`json`]: the one way every JSON answer is built, errors and listings alike.

use actix_web::body::MessageBody;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// A JSON response that no cache keeps: every JSON body this service answers with.
pub fn json(status: StatusCode, body: impl MessageBody + 'static) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
