//! The live feed on the wire (Server-Sent Events, WHATWG HTML §9.2): events, comments and the
//! `retry:` line, and [`EventId`], the signed resume point every event carries.
//!
//! An event id is `base64url(payload) "." base64url(mac)`: the payload is a version byte, the
//! stream's fingerprint (its user and filter, as a keyset cursor's), the event's `_updatedAt`
//! and the stream's origin (where its first connection started), in milliseconds; the mac is
//! HMAC-SHA256 (first 16 bytes) under the cursor key, so an id works on every instance that
//! shares `CURSOR_SECRET` and across restarts, and cannot be forged or moved to another stream.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::rooms::cursor::CursorKey;

/// The payload's version: an id of another version is refused.
const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 16 + 8 + 8;
/// How much older than one already sent a change may be and still be delivered (clocks of
/// several Rocket.Chat instances disagree): every read of changes reaches this far back.
pub const SKEW_MS: i64 = 5_000;

/// What a browser waits before it reconnects a stream that ended (milliseconds).
pub const RETRY_MS: u64 = 2_000;

/// What an event says of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The room as the JSON listing renders it: it is in the filter and scope, new or changed.
    Room,
    /// `{"_id":…}`: the room changed so that it left the filter or the scope.
    Removed,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Room => "room",
            Kind::Removed => "removed",
        }
    }
}

/// Where a stream is: the `_updatedAt` of its last event, and where it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventId {
    pub updated_at: i64,
    pub origin: i64,
}

impl EventId {
    /// The id's text for the stream with this fingerprint.
    pub fn encode(&self, key: &CursorKey, fingerprint: &[u8; 16]) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = VERSION;
        payload[1..17].copy_from_slice(fingerprint);
        payload[17..25].copy_from_slice(&self.updated_at.to_be_bytes());
        payload[25..33].copy_from_slice(&self.origin.to_be_bytes());
        let mut text = URL_SAFE_NO_PAD.encode(payload);
        text.push('.');
        URL_SAFE_NO_PAD.encode_string(key.mac(&payload), &mut text);
        text
    }

    /// The position a `Last-Event-ID` names, if it is a genuine id of this stream (same key,
    /// user and filter); `None` for anything else.
    pub fn decode(text: &str, key: &CursorKey, fingerprint: &[u8; 16]) -> Option<Self> {
        let (payload, mac) = text.trim().split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if payload.len() != PAYLOAD_LEN || key.mac(&payload).as_slice() != mac.as_slice() {
            return None;
        }
        if payload[0] != VERSION || payload[1..17] != fingerprint[..] {
            return None;
        }
        let number = |at: usize| i64::from_be_bytes(payload[at..at + 8].try_into().expect("8"));
        Some(EventId {
            updated_at: number(17),
            origin: number(25),
        })
    }
}

/// The service's clock, in milliseconds.
pub fn now_ms() -> i64 {
    mongodb::bson::DateTime::now().timestamp_millis()
}

/// The stream's first lines: how long a browser waits before reconnecting, and a comment, so
/// the client sees the stream is open before any event.
pub fn opening(out: &mut Vec<u8>) {
    out.extend_from_slice(format!("retry: {RETRY_MS}\n: open\n\n").as_bytes());
}

/// A comment line (`: text`): ignored by clients, it keeps an idle connection through proxies.
pub fn comment(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b": ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// One event: `id:`, `event:` and `data:` lines. `data` is one line of JSON (JSON text never
/// holds a raw line break).
pub fn event(out: &mut Vec<u8>, id: &str, kind: Kind, data: &[u8]) {
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"\nevent: ");
    out.extend_from_slice(kind.name().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> CursorKey {
        CursorKey::new(Some(secret), "rocketchat")
    }

    #[test]
    fn an_id_reads_back_under_its_key_and_stream() {
        let id = EventId {
            updated_at: 1_700_000_000_123,
            origin: -5,
        };
        let text = id.encode(&key("k"), &[7; 16]);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        assert_eq!(EventId::decode(&text, &key("k"), &[7; 16]), Some(id));
        assert_eq!(
            EventId::decode(&format!(" {text}\n"), &key("k"), &[7; 16]),
            Some(id)
        );
    }

    #[test]
    fn an_altered_or_foreign_id_is_refused() {
        let id = EventId {
            updated_at: 1,
            origin: 0,
        };
        let text = id.encode(&key("k"), &[7; 16]);
        assert_eq!(EventId::decode(&text, &key("other"), &[7; 16]), None);
        assert_eq!(EventId::decode(&text, &key("k"), &[8; 16]), None);
        let mut altered = text.clone().into_bytes();
        altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(EventId::decode(&altered, &key("k"), &[7; 16]), None);
        for junk in ["", ".", "abc", "a.b", "%%.%%", &text[..text.len() - 2]] {
            assert_eq!(EventId::decode(junk, &key("k"), &[7; 16]), None, "{junk}");
        }
    }

    #[test]
    fn events_are_server_sent_events() {
        let mut out = Vec::new();
        opening(&mut out);
        event(&mut out, "a.b", Kind::Room, br#"{"_id":"r1"}"#);
        event(&mut out, "c.d", Kind::Removed, br#"{"_id":"r2"}"#);
        comment(&mut out, "keep-alive");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "retry: 2000\n: open\n\n\
             id: a.b\nevent: room\ndata: {\"_id\":\"r1\"}\n\n\
             id: c.d\nevent: removed\ndata: {\"_id\":\"r2\"}\n\n\
             : keep-alive\n\n"
        );
    }
}
