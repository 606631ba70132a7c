//! [`json`] and [`with_type`]: the one way every answer with a body is built, errors and listings
//! alike.

use actix_web::body::MessageBody;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// A JSON response that no cache keeps: every JSON body this service answers with.
pub fn json(status: StatusCode, body: impl MessageBody + 'static) -> HttpResponse {
    with_type(status, "application/json", body)
}

/// A response of this content type that no cache keeps (the listing's NDJSON and CSV too).
pub fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
