//! CORS on the listing's path (contract §2c): the verdict for a request, from Rocket.Chat's settings
//! as held; the `Access-Control-Allow-*` headers on whatever it is answered; and the answer to every
//! other method there, a preflight included.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError as _};

use crate::cors::{AllowOrigin, Cors, ALLOW_HEADERS, ALLOW_METHODS};
use crate::error::ApiError;
use crate::state::WorkerState;

/// What this request gets. The settings are read (held 30 s) only for a request that has an
/// `Origin` or an `Access-Control-Request-Method`.
pub async fn verdict(req: &HttpRequest, state: &WorkerState) -> Result<Cors, ApiError> {
    let headers = req.headers();
    let request_method = headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if !request_method && !headers.contains_key(header::ORIGIN) {
        return Ok(Cors::NotApplied);
    }
    // An `Origin` that is not text is in no list.
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let settings = state.settings().await?;
    Ok(settings.cors.check(origin, request_method))
}

/// The three `Access-Control-Allow-*` headers, where the verdict allows the origin.
pub fn add_headers(cors: &Cors, headers: &mut HeaderMap) {
    let Cors::Allow(origin) = cors else {
        return;
    };
    let allow_origin = match origin {
        AllowOrigin::Any => HeaderValue::from_static("*"),
        AllowOrigin::Origin(origin) => {
            // The answer differs by origin: caches must keep them apart.
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            // It came from a header, so it is a header value.
            HeaderValue::from_str(origin).unwrap_or_else(|_| HeaderValue::from_static("null"))
        }
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
}

/// Every method of the listing's path but `GET`. A preflight (`OPTIONS` with an `Origin` or an
/// `Access-Control-Request-Method`) is answered as Rocket.Chat answers it: 200 with the headers
/// and no body for an allowed origin, 403 for another, 405 with Rocket.Chat's text while CORS is
/// off. Anything else is the contract's 405, with the headers where the origin is allowed.
pub async fn other_method(req: HttpRequest, state: web::Data<WorkerState>) -> HttpResponse {
    let cors = match verdict(&req, &state).await {
        Ok(cors) => cors,
        Err(err) => return err.error_response(),
    };
    let headers = req.headers();
    let preflight = req.method() == Method::OPTIONS
        && (headers.contains_key(header::ORIGIN)
            || headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD));
    let mut response = match (&cors, preflight) {
        (Cors::Refused, _) => ApiError::OriginNotAllowed.error_response(),
        // A preflight is always concerned: nothing applied means CORS is off.
        (Cors::NotApplied, true) => ApiError::CorsDisabled.error_response(),
        (Cors::Allow(_), true) => HttpResponse::Ok().finish(),
        (_, false) => ApiError::MethodNotAllowed.error_response(),
    };
    add_headers(&cors, response.headers_mut());
    response
}
