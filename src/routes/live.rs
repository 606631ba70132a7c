//! The listing asked for as `text/event-stream` (contract §7, "Live feed"): the same preamble in
//! the same order (401, 429, 400, 403), then a [`LiveStream`] as the body.

use std::convert::Infallible;

use actix_web::body::BodyStream;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::Credentials;
use crate::error::ApiError;
use crate::guard::{may_list, Guard};
use crate::live::event::EventId;
use crate::live::stream::{LiveStream, Start};
use crate::rate_limit::Verdict;
use crate::response;
use crate::rooms::params::decode;
use crate::rooms::{ParamError, RoomsQuery};
use crate::state::WorkerState;

use super::ROOMS_PATH;

pub async fn answer(
    req: &HttpRequest,
    state: &web::Data<WorkerState>,
    verdict: &mut Option<Verdict>,
) -> Result<HttpResponse, ApiError> {
    // Each boxed step in a statement of its own, called inside an `async` block (see
    // `livechat_rooms::answer`).
    let work = state.db.deadline(async {
        let check = Box::pin(async move { Guard::check(req, state, ROOMS_PATH, verdict).await });
        let guard = check.await?;
        let query = RoomsQuery::from_query_string(req.query_string())?;
        if query.cursor.is_some() {
            return Err(ParamError::CursorNeedsJson.into());
        }
        let fingerprint = crate::live::fingerprint(&guard.user.id, &query);
        let start = match last_event_id(req) {
            Some(text) => Start::Resume(
                EventId::decode(&text, &state.process.cursor_key, &fingerprint)
                    .ok_or(ParamError::InvalidLastEventId)?,
            ),
            None => query.updated_since.map_or(Start::Now, Start::Since),
        };
        may_list(&guard.user, &guard.grants, &query)?;
        let credentials = Credentials::from_request(req)?;
        let open = Box::pin(async move {
            LiveStream::open(state.clone(), guard, credentials, query, start, fingerprint).await
        });
        open.await
    });
    let stream = work.await?;
    let body = futures::stream::unfold(stream, |mut stream| async move {
        let piece = stream.next_piece().await?;
        Some((Ok::<_, Infallible>(piece), stream))
    });
    let mut response =
        response::with_type(StatusCode::OK, "text/event-stream", BodyStream::new(body));
    // nginx would otherwise hold the events in its buffer.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// Where a reconnecting client resumes: its `Last-Event-ID` header (as `EventSource` sends it),
/// else a `lastEventId` parameter (as EventSource polyfills send it, and what a cross-origin
/// `fetch` can send: Rocket.Chat's CORS headers do not allow `Last-Event-ID`). Empty is none.
fn last_event_id(req: &HttpRequest) -> Option<String> {
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let param = || {
        req.query_string()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| decode(key) == "lastEventId")
            .map(|(_, value)| decode(value))
    };
    header.or_else(param).filter(|v| !v.trim().is_empty())
}
