//! The listing's body, written while the rooms arrive from the cursor, in the format the client
//! asked for ([`Format`]): the JSON page (with `next` on a keyset walk), NDJSON, or CSV.

use actix_web::web::{self, Bytes};
use futures::stream::ReadyChunks;
use futures::{FutureExt as _, StreamExt as _};
use mongodb::bson::{Bson, RawDocumentBuf};
use mongodb::Cursor;

use crate::db::{Admission, DbError};
use crate::error::ApiError;
use crate::guard::Guard;
use crate::render;
use crate::rooms::cursor::{self, CursorKey, Position};
use crate::rooms::{repo, Listing, ParamError};
use crate::state::WorkerState;

/// Rooms rendered from one poll of the cursor at most.
const ROOMS_PER_CHUNK: usize = 256;
/// A piece of the body is sent once it holds this much.
const FLUSH_BYTES: usize = 64 * 1024;
/// What the first piece's buffer starts with: a page of 25 typical rooms fits, and glibc takes it
/// back without the `madvise` call that freeing a FLUSH_BYTES buffer cost every other request.
const START_BYTES: usize = 16 * 1024;

/// The media type of the rooms, from `Accept` (contract §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`: Rocket.Chat's page. Also for an `Accept` the service does not produce.
    Json,
    /// `application/x-ndjson`: one room a line, no envelope.
    Ndjson,
    /// `text/csv`: a header row and a row per room ([`render::csv::COLUMNS`]).
    Csv,
}

impl Format {
    /// The `format` label of `livechat_rooms_listings_total`.
    pub fn label(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// What the client asked for by `Accept`: a listing in a format, or the live feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    Rooms(Format),
    /// `text/event-stream` (contract §7, "Live feed").
    Live,
}

impl Wanted {
    /// The produced type the client prefers most (highest `q`, then the first named); `*/*`,
    /// `application/*` and anything unknown mean JSON, as does no header.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let mut best = (Wanted::Rooms(Format::Json), 0.0_f32, false);
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let wanted = match media.as_str() {
                "application/x-ndjson" | "application/ndjson" => Wanted::Rooms(Format::Ndjson),
                "text/csv" => Wanted::Rooms(Format::Csv),
                "application/json" | "application/*" | "*/*" => Wanted::Rooms(Format::Json),
                "text/event-stream" => Wanted::Live,
                _ => continue,
            };
            if q > 0.0 && (!best.2 || q > best.1) {
                best = (wanted, q, true);
            }
        }
        best.0
    }
}

/// A keyset walk's state while its page is written: the sort, and the rooms at the tail that
/// share the last sort values (the next cursor's position).
struct WalkState {
    key: CursorKey,
    sort: Vec<(String, i32)>,
    tie_breaker: bool,
    tail: Option<Position>,
}

/// The listing's body. It holds its place among the requests working against the database until
/// it is done.
pub struct RoomsBody {
    rooms: ReadyChunks<Cursor<RawDocumentBuf>>,
    pub state: web::Data<WorkerState>,
    /// For the count, when the page does not tell the total itself, and a walk's next cursor.
    listing: Listing,
    limit: Option<u64>,
    format: Format,
    walk: Option<WalkState>,
    pub sent: u64,
    pub done: bool,
    /// Until the first piece is out: its calls are bounded by the request's deadline (with every
    /// call before them), so they take no timer of their own.
    first_piece: bool,
    _admission: Admission,
}

impl RoomsBody {
    /// The body of `page`, found for `listing`; it keeps the guard's place among the requests in
    /// flight until it is done.
    pub fn new(
        page: repo::Page,
        state: web::Data<WorkerState>,
        listing: Listing,
        limit: Option<u64>,
        format: Format,
        guard: Guard,
    ) -> Self {
        let walk = listing.walk.as_ref().map(|walk| WalkState {
            key: state.process.cursor_key.clone(),
            sort: page.sort,
            tie_breaker: page.tie_breaker,
            tail: walk.after.clone(),
        });
        RoomsBody {
            rooms: page.rooms.ready_chunks(ROOMS_PER_CHUNK),
            state,
            listing,
            limit,
            format,
            walk,
            sent: 0,
            done: false,
            first_piece: true,
            _admission: guard.admission,
        }
    }

    /// The next piece of the body: every room that has arrived (waiting for the next batch only
    /// when none has) up to [`FLUSH_BYTES`], and the end of the body once the cursor is done.
    /// The first piece is awaited within the request's deadline (`livechat_rooms::answer`); the
    /// later ones bound their own calls.
    pub async fn next_piece(&mut self) -> Result<Bytes, ApiError> {
        // The first piece is often the whole page; later ones are streamed in pieces of about
        // FLUSH_BYTES.
        let capacity = if self.first_piece {
            START_BYTES
        } else {
            FLUSH_BYTES + FLUSH_BYTES / 4
        };
        let mut out = Vec::with_capacity(capacity);
        if self.first_piece {
            match self.format {
                Format::Json => render::page_start(&mut out),
                Format::Ndjson => {}
                Format::Csv => render::csv::header(&mut out),
            }
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
                if self.first_piece {
                    self.rooms.next().await
                } else {
                    let next = async { Ok::<_, DbError>(self.rooms.next().await) };
                    self.state.db.deadline(next).await?
                }
            };
            let Some(batch) = batch else {
                self.finish(&mut out).await?;
                break;
            };
            let departments = self.state.departments().await?;
            let department_of = |id: &str| departments.names.get(id).map(|d| d.as_ref());
            for room in batch {
                let room = room.map_err(DbError::Listing)?;
                match self.format {
                    Format::Json => render::room(&mut out, self.sent == 0, &room, department_of)?,
                    Format::Ndjson => {
                        render::room(&mut out, true, &room, department_of)?;
                        out.push(b'\n');
                    }
                    Format::Csv => render::csv::room(&mut out, &room, department_of),
                }
                if let Some(walk) = &mut self.walk {
                    track(walk, &room)?;
                }
                self.sent += 1;
            }
            if out.len() >= FLUSH_BYTES {
                break;
            }
        }
        self.first_piece = false;
        Ok(Bytes::from(out))
    }

    /// The end of the body: the JSON envelope (counting the total only when the page does not
    /// tell it, and never on a walk's later pages); nothing for NDJSON and CSV.
    async fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.state.metrics().rooms_returned(self.sent);
        self.done = true;
        if self.format != Format::Json {
            return Ok(());
        }
        let offset = self.listing.query.offset;
        // A walk's later page tells no total: `total_from_page` would count from the walk's start,
        // and a count per page would cost what keyset paging saves.
        let later_page = self
            .listing
            .walk
            .as_ref()
            .is_some_and(|w| w.after.is_some());
        let total = match repo::total_from_page(offset, self.limit, self.sent) {
            _ if later_page => None,
            Some(total) => Some(total),
            None => {
                let count = repo::count(&self.state.db, &self.listing);
                Some(if self.first_piece {
                    count.await?
                } else {
                    self.state.db.deadline(count).await?
                })
            }
        };
        let Some(walk) = &self.walk else {
            render::page_end(out, self.sent, offset, total.unwrap_or_default());
            return Ok(());
        };
        let full = self
            .limit
            .is_some_and(|limit| self.sent == limit && limit > 0);
        let next = match (&walk.tail, full) {
            (Some(tail), true) => {
                let listing_walk = self.listing.walk.as_ref().expect("a walk's listing");
                Some(listing_walk.next(&walk.key, walk.tie_breaker, tail))
            }
            _ => None,
        };
        render::walk_page_end(out, self.sent, total, next.as_deref());
        Ok(())
    }
}

/// Follows the tail of rooms sharing the last sort values: a room with other values starts a new
/// tail; the first tail of a page continues the previous page's when its values are the same.
fn track(walk: &mut WalkState, room: &RawDocumentBuf) -> Result<(), ApiError> {
    let values = cursor::sort_values(room, &walk.sort);
    let id = room
        .get("_id")
        .ok()
        .flatten()
        .and_then(|id| Bson::try_from(id.to_raw_bson()).ok())
        .unwrap_or(Bson::Null);
    match &mut walk.tail {
        Some(tail) if tail.values == values => {
            if tail.seen.len() >= cursor::MAX_SEEN {
                return Err(ParamError::TooManyTies.into());
            }
            tail.seen.push(id);
        }
        tail => {
            *tail = Some(Position {
                values,
                seen: vec![id],
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_produced_type_the_client_prefers() {
        let cases = [
            (None, Format::Json),
            (Some(""), Format::Json),
            (Some("application/json"), Format::Json),
            (Some("application/x-ndjson"), Format::Ndjson),
            (Some("application/ndjson"), Format::Ndjson),
            (Some("text/csv"), Format::Csv),
            (Some("Text/CSV; charset=utf-8"), Format::Csv),
            (Some("text/html, */*;q=0.8"), Format::Json),
            (Some("application/xml"), Format::Json),
            (Some("text/csv;q=0.5, application/x-ndjson"), Format::Ndjson),
            (Some("application/json;q=0.1, text/csv;q=0.9"), Format::Csv),
            (Some("text/csv;q=0, application/json"), Format::Json),
            (Some("application/json, text/csv"), Format::Json),
        ];
        for (accept, format) in cases {
            assert_eq!(
                Wanted::from_accept(accept),
                Wanted::Rooms(format),
                "{accept:?}"
            );
        }
    }

    #[test]
    fn accept_may_ask_for_the_live_feed() {
        for (accept, wanted) in [
            (Some("text/event-stream"), Wanted::Live),
            (Some("Text/Event-Stream"), Wanted::Live),
            (
                Some("application/json, text/event-stream"),
                Wanted::Rooms(Format::Json),
            ),
            (
                Some("text/event-stream;q=0.5, text/csv"),
                Wanted::Rooms(Format::Csv),
            ),
            (Some("*/*"), Wanted::Rooms(Format::Json)),
        ] {
            assert_eq!(Wanted::from_accept(accept), wanted, "{accept:?}");
        }
    }
}
