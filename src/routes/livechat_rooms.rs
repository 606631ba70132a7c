//! `GET /api/v1/livechat/rooms`: the guard (authenticate, admit, rate-limit, scope), the parameters,
//! the listing's permission rule, then find and write the body while the rooms arrive
//! ([`super::rooms_body`]), as JSON, NDJSON or CSV.

use actix_web::body::BodyStream;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use futures::StreamExt as _;

use crate::cors::Cors;
use crate::error::ApiError;
use crate::guard::{may_list, Guard};
use crate::rate_limit::Verdict;
use crate::response;
use crate::rooms::cursor::Walk;
use crate::rooms::{filter, repo, Listing, ParamError, RoomsQuery};
use crate::state::WorkerState;

use super::cors;
use super::rooms_body::{Format, RoomsBody, Wanted};
use super::ROOMS_PATH;

/// The checks come in the contract's order: 401, 429, 400, 403. Every call the rate limiter
/// counted carries its `X-RateLimit-*` headers, whatever the answer.
///
/// The work runs as a task of its own on the worker's thread. The database calls wake it a dozen
/// times, and polled inside the connection's dispatcher each wake-up would also make the
/// dispatcher try to parse a next request (callgrind: 5–7 % of a request's instructions). The
/// future is boxed so that spawning moves a pointer, not the whole state machine. Should actix drop
/// the request (its connection is torn down, or shutdown's grace has run out), the task is aborted
/// with it; a panic in the task is a 500.
pub async fn list_rooms(req: HttpRequest, state: web::Data<WorkerState>) -> HttpResponse {
    let task = actix_web::rt::spawn(Box::pin(async move {
        // CORS first, before authentication (contract §2c).
        let cors = match cors::verdict(&req, &state).await {
            Ok(Cors::Refused) => return ApiError::OriginNotAllowed.error_response(),
            Ok(cors) => cors,
            Err(err) => return err.error_response(),
        };
        let mut verdict = None;
        let mut response = answer(&req, &state, &mut verdict)
            .await
            .unwrap_or_else(|err| err.error_response());
        if let Some(verdict) = verdict {
            rate_limit_headers(response.headers_mut(), &verdict);
        }
        cors::add_headers(&cors, response.headers_mut());
        response
    }));
    let _abort = AbortOnDrop(task.abort_handle());
    task.await
        .unwrap_or_else(|err| ApiError::Internal(Box::new(err)).error_response())
}

/// Aborts a request's task when the request is dropped before it has its answer.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) async fn answer(
    req: &HttpRequest,
    state: &web::Data<WorkerState>,
    verdict: &mut Option<Verdict>,
) -> Result<HttpResponse, ApiError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = match Wanted::from_accept(accept) {
        Wanted::Rooms(format) => format,
        Wanted::Live => {
            // In a statement of its own, for the reason given below.
            let live = Box::pin(async move { super::live::answer(req, state, verdict).await });
            return live.await;
        }
    };
    // The whole database part before the first byte is bounded as one: for a page that arrives
    // whole, that is every call the request makes.
    //
    // The larger steps are boxed, each in a statement of its own: a future built in the same
    // statement as an `.await` stays in the awaiting future's state until the statement ends,
    // so `Box::pin(step()).await` would hold every step at its full size, side by side (19 KB
    // for this block, 96 KB for this function: memory for every request in flight). Each step
    // is called inside an `async` block of its own, so its future is built in its box when first
    // polled; `Box::pin(step())` built it on the stack and copied it in (callgrind: 12 k
    // instructions of `memcpy` a request).
    let work = state.db.deadline(async {
        let check = Box::pin(async move { Guard::check(req, state, ROOMS_PATH, verdict).await });
        let guard = check.await?;
        let query = RoomsQuery::from_query_string(req.query_string())?;
        may_list(&guard.user, &guard.grants, &query)?;
        let listing = Box::pin(async { listing(state, &guard, query, format).await });
        let listing = listing.await?;
        let limit = guard.settings.pagination.limit(listing.query.count);
        let indexes = state.indexes().await?;
        let find = Box::pin(async {
            repo::find_page(&state.db, &listing, limit, indexes.as_deref()).await
        });
        let page = find.await?;
        state.metrics().listing_sort(page.served.label());
        state
            .metrics()
            .listing(format.label(), listing.walk.is_some());
        let mut body = RoomsBody::new(page, state.clone(), listing, limit, format, guard);
        let first = Box::pin(async { body.next_piece().await });
        let first = first.await?;
        Ok::<_, ApiError>((body, first))
    });
    let (body, first) = work.await?;
    let content_type = format.content_type();
    if body.done {
        // The whole page came at once: sent with its length.
        return Ok(respond(
            format,
            response::with_type(StatusCode::OK, content_type, first),
        ));
    }
    let rest = futures::stream::unfold(body, |mut body| async move {
        if body.done {
            return None;
        }
        let piece = body.next_piece().await.inspect_err(|err| {
            // The status line is out: all that is left is to end the connection before the
            // body does, so no client takes a cut list for a whole one.
            log::error!("listing cut short after {} rooms: {err}", body.sent);
            body.state.metrics().body_cut();
            body.done = true;
        });
        Some((piece, body))
    });
    let stream = futures::stream::once(async { Ok(first) }).chain(rest);
    let response = response::with_type(StatusCode::OK, content_type, BodyStream::new(stream));
    Ok(respond(format, response))
}

/// A CSV export is a download with a file name.
fn respond(format: Format, mut response: HttpResponse) -> HttpResponse {
    if format == Format::Csv {
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"livechat-rooms.csv\""),
        );
    }
    response
}

/// What the request asks of MongoDB: the query with `agents` resolved to user ids, the guard's
/// scope, and the keyset walk a `cursor` continues (checked against this user and listing).
async fn listing(
    state: &WorkerState,
    guard: &Guard,
    query: RoomsQuery,
    format: Format,
) -> Result<Listing, ApiError> {
    let walk = match &query.cursor {
        None => None,
        Some(_) if format != Format::Json => return Err(ParamError::CursorNeedsJson.into()),
        Some(token) => {
            let fingerprint = filter::walk_fingerprint(&guard.user.id, &query);
            let sort_len = query.requested_sort().len();
            let key = &state.process.cursor_key;
            Some(Walk::resume(token, key, fingerprint, sort_len)?)
        }
    };
    let agent_ids = match &query.agents {
        Some(values) => Some(state.agent_ids(values).await?.to_vec()),
        None => None,
    };
    Ok(Listing {
        query,
        agent_ids,
        scope: guard.scope.clone(),
        walk,
    })
}

pub(super) fn rate_limit_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    let reset_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        + verdict.reset_in;
    for (name, value) in [
        ("x-ratelimit-limit", verdict.limit),
        ("x-ratelimit-remaining", verdict.remaining),
        ("x-ratelimit-reset", reset_at.as_millis() as u64),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}
