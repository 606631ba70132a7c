//! The live feed (contract §7): `Accept: text/event-stream` turns the listing into a stream of
//! room changes. Its own domain beside `rooms/` (which never imports it): the [`hub::Hub`] groups
//! streams by filter and scope, the [`poller`] asks MongoDB what changed once per `LIVE_POLL_MS`
//! for the whole process and reads each group's changed rooms once, [`stream::LiveStream`] is one
//! client's body, and [`event`] is the wire format and the signed resume points.
//!
//! How a change reaches a client: the poller reads `{_id, _updatedAt, ts}` of the livechat rooms
//! with `_updatedAt` ≥ (the newest seen − [`SKEW_MS`]) through the `{_updatedAt: 1}` index
//! (partial on `t: "l"`, which `livechat-rooms indexes` recommends); the pairs it has not seen yet
//! are the changes. For each group with a stream, one `find` of the group's filter and `_id $in`
//! those changes gives the rooms still in it (each an `event: room`). A changed room that does not
//! match is an `event: removed` for a stream whose group had sent it, or that began when the room
//! existed already (its client may show it from a listing of then). Nothing else is read: an idle
//! process (no streams) polls nothing, and a poll without changes reads no rooms.

pub mod event;
pub mod hub;
pub mod poller;
pub mod reads;
pub mod recheck;
pub mod stream;

pub use event::SKEW_MS;
pub use hub::Change;

use crate::rooms::cursor;
use crate::rooms::filter::{self, Listing};
use crate::rooms::RoomsQuery;

/// The query as a stream watches it: without `updatedSince` (where its catch-up starts, not what
/// it follows) and `cursor` (a 400 on a stream).
pub fn watched(query: &RoomsQuery) -> RoomsQuery {
    RoomsQuery {
        updated_since: None,
        cursor: None,
        ..query.clone()
    }
}

/// What binds a stream's event ids to it: the user and the filter the query writes (as a keyset
/// cursor's, without `updatedSince`, which a reconnecting client may or may not repeat).
pub fn fingerprint(user_id: &str, query: &RoomsQuery) -> [u8; 16] {
    let own = watched(query);
    cursor::fingerprint(
        user_id,
        &filter::to_filter(&Listing::unrestricted(own)),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_updated_since() {
        let q = |s: &str| RoomsQuery::from_query_string(s).unwrap();
        let open = fingerprint("u", &q("open=true"));
        assert_eq!(
            open,
            fingerprint("u", &q("open=true&updatedSince=2020-01-01T00:00:00Z"))
        );
        assert_ne!(open, fingerprint("v", &q("open=true")));
        assert_ne!(open, fingerprint("u", &q("open=false")));
    }
}
