//! `GET /api/v1/livechat/rooms`: the guard (authenticate, admit, rate-limit, scope), the parameters,
//! the listing's permission rule, then find, write the body while the rooms arrive, and count the
//! matches when the page does not tell their number.

use actix_web::body::BodyStream;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use futures::stream::ReadyChunks;
use futures::{FutureExt as _, StreamExt as _};
use mongodb::bson::RawDocumentBuf;
use mongodb::Cursor;

use crate::auth::{AuthUser, Grants};
use crate::db::{Admission, DbError};
use crate::error::ApiError;
use crate::guard::Guard;
use crate::rate_limit::Verdict;
use crate::render;
use crate::response::json;
use crate::rooms::{repo, Listing, RoomsQuery};
use crate::state::WorkerState;

use super::ROOMS_PATH;

/// Rooms rendered from one poll of the cursor at most.
const ROOMS_PER_CHUNK: usize = 256;
/// A piece of the body is sent once it holds this much.
const FLUSH_BYTES: usize = 64 * 1024;
/// What the first piece's buffer starts with: a page of 25 typical rooms fits, and glibc takes it
/// back without the `madvise` call that freeing a FLUSH_BYTES buffer cost every other request.
const START_BYTES: usize = 16 * 1024;

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
        let mut verdict = None;
        let mut response = answer(&req, &state, &mut verdict)
            .await
            .unwrap_or_else(|err| err.error_response());
        if let Some(verdict) = verdict {
            rate_limit_headers(response.headers_mut(), &verdict);
        }
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

/// The listing's permission rule (§3): everything with `view-livechat-rooms`; with `view-l-room`
/// only a query whose `agents` is the user alone.
fn may_list(user: &AuthUser, grants: &Grants, query: &RoomsQuery) -> Result<(), ApiError> {
    if grants.view_all_rooms || (grants.view_own_rooms && query.is_only_agent(&user.id)) {
        Ok(())
    } else {
        log::debug!("user {} may not list these rooms", user.id);
        Err(ApiError::Forbidden)
    }
}

async fn answer(
    req: &HttpRequest,
    state: &web::Data<WorkerState>,
    verdict: &mut Option<Verdict>,
) -> Result<HttpResponse, ApiError> {
    // The whole database part before the first byte is bounded as one: for a page that arrives
    // whole, that is every call the request makes.
    let (body, first) = state
        .db
        .deadline(async {
            let guard = Guard::check(req, state, ROOMS_PATH, verdict).await?;
            let query = RoomsQuery::from_query_string(req.query_string())?;
            may_list(&guard.user, &guard.grants, &query)?;
            let agent_ids = match &query.agents {
                Some(values) => Some(state.agent_ids(values).await?.to_vec()),
                None => None,
            };
            let limit = guard.settings.pagination.limit(query.count);
            let listing = Listing {
                query,
                agent_ids,
                scope: guard.scope,
            };
            let indexes = state.indexes().await?;
            let (rooms, served) =
                repo::find_page(&state.db, &listing, limit, indexes.as_deref()).await?;
            state.metrics().listing_sort(served.label());
            let mut body = RoomsBody {
                rooms: rooms.ready_chunks(ROOMS_PER_CHUNK),
                state: state.clone(),
                listing,
                limit,
                sent: 0,
                done: false,
                _admission: guard.admission,
            };
            let first = body.next_piece().await?;
            Ok::<_, ApiError>((body, first))
        })
        .await?;
    if body.done {
        // The whole page came at once: sent with its length.
        return Ok(json(StatusCode::OK, first));
    }
    let rest = futures::stream::unfold(body, |mut body| async move {
        if body.done {
            return None;
        }
        let piece = body.next_piece().await.inspect_err(|err| {
            // The status line is out: all that is left is to end the connection before the
            // JSON does, so no client takes a cut list for a whole one.
            log::error!("listing cut short after {} rooms: {err}", body.sent);
            body.state.metrics().body_cut();
            body.done = true;
        });
        Some((piece, body))
    });
    let stream = futures::stream::once(async { Ok(first) }).chain(rest);
    Ok(json(StatusCode::OK, BodyStream::new(stream)))
}

/// The listing's body, written while the rooms arrive from the cursor. It holds its place among
/// the requests working against the database until it is done.
struct RoomsBody {
    rooms: ReadyChunks<Cursor<RawDocumentBuf>>,
    state: web::Data<WorkerState>,
    /// For the count, when the page does not tell the total itself.
    listing: Listing,
    limit: Option<u64>,
    sent: u64,
    done: bool,
    _admission: Admission,
}

impl RoomsBody {
    /// The next piece of the body: every room that has arrived (waiting for the next batch only
    /// when none has) up to [`FLUSH_BYTES`], and the end of the body once the cursor is done.
    async fn next_piece(&mut self) -> Result<Bytes, ApiError> {
        // The first piece is often the whole page; later ones are streamed in pieces of about
        // FLUSH_BYTES.
        let capacity = if self.sent == 0 {
            START_BYTES
        } else {
            FLUSH_BYTES + FLUSH_BYTES / 4
        };
        let mut out = Vec::with_capacity(capacity);
        if self.sent == 0 {
            render::page_start(&mut out);
        }
        let mut waited = false;
        loop {
            let batch = if waited {
                match self.rooms.next().now_or_never() {
                    Some(batch) => batch,
                    None => break,
                }
            } else {
                waited = true;
                let next = async { Ok::<_, DbError>(self.rooms.next().await) };
                self.state.db.deadline(next).await?
            };
            let Some(batch) = batch else {
                let offset = self.listing.query.offset;
                let total = match repo::total_from_page(offset, self.limit, self.sent) {
                    Some(total) => total,
                    None => {
                        let count = repo::count(&self.state.db, &self.listing);
                        self.state.db.deadline(count).await?
                    }
                };
                render::page_end(&mut out, self.sent, offset, total);
                self.state.metrics().rooms_returned(self.sent);
                self.done = true;
                break;
            };
            let departments = self.state.departments().await?;
            let department_of = |id: &str| departments.names.get(id).map(|d| d.as_ref());
            for room in batch {
                let room = room.map_err(DbError::Listing)?;
                render::room(&mut out, self.sent == 0, &room, department_of)?;
                self.sent += 1;
            }
            if out.len() >= FLUSH_BYTES {
                break;
            }
        }
        Ok(Bytes::from(out))
    }
}

fn rate_limit_headers(headers: &mut HeaderMap, verdict: &Verdict) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tests::grants;

    #[test]
    fn agents_may_list_only_their_own_rooms() {
        let agent = AuthUser {
            id: "u1".into(),
            roles: vec!["livechat-agent".into()],
        };
        let own = grants(&["livechat-agent"]);
        let query = |q: &str| RoomsQuery::from_query_string(q).unwrap();
        assert!(may_list(&agent, &own, &query("agents[]=u1")).is_ok());
        assert!(may_list(&agent, &own, &query("agents=u1")).is_ok());
        assert!(may_list(&agent, &own, &query("agents[]=u2")).is_err());
        assert!(may_list(&agent, &own, &RoomsQuery::default()).is_err());
        let manager = AuthUser {
            id: "m".into(),
            roles: vec!["admin".into()],
        };
        assert!(may_list(&manager, &grants(&["admin"]), &RoomsQuery::default()).is_ok());
    }
}
