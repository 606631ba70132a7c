//! BSON → JSON exactly as Rocket.Chat's clients see it: what `JSON.stringify` prints for the value the
//! Node.js driver returns. Rendering walks the bytes of the driver's raw documents and writes bytes
//! straight into the response buffer, so no intermediate `Document` or `serde_json::Value` is ever
//! built, and each room is read once (its `departmentId` is found on the way).
//!
//! | BSON | JSON |
//! | --- | --- |
//! | string, boolean, null | as is |
//! | int32, int64, double | number, JavaScript's formatting (NaN and ±Infinity → `null`) |
//! | date | `"2019-08-09T20:18:02.350Z"` (`null` outside JavaScript's date range) |
//! | ObjectId | its hex string |
//! | Decimal128 | `{"$numberDecimal":"<value>"}` |
//! | binary | base64 (js-bson's `Binary.toJSON`); a 16-byte UUID (subtype 4) as dashed hex |
//! | timestamp | `{"$timestamp":"<unsigned 64-bit value>"}` (js-bson's `Timestamp.toJSON`) |
//! | regex, MinKey, MaxKey | `{}` |
//! | JavaScript code | `{"code":...}` (with `"scope"` when it has one) |
//! | symbol | its string |
//! | DBPointer | `{"$ref":<collection>,"$id":<hex>,"$db":<database>}` (js-bson's DBRef) |
//! | undefined | key omitted (in an array: `null`) |
//!
//! Malformed BSON (a length that does not fit, a string that is not UTF-8, an unknown type) is an
//! error, never a panic. `scripts/js-check` compares this module with js-bson + `JSON.stringify` on
//! every type.

use mongodb::bson::RawDocument;

use crate::js::string;

mod bson;
pub mod csv;
mod json;

pub use bson::Malformed;
use bson::{Elements, Value};
pub use json::document;
use json::{element_key, member, object, separator, write_key, STRING};

/// The key a room's department is attached under.
const DEPARTMENT: &[u8] = b"department";
/// The key that names a room's department.
const DEPARTMENT_ID: &[u8] = b"departmentId";

/// Opens the body: `{"rooms":[`.
pub fn page_start(out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"rooms\":[");
}

/// One room of the list (after a comma unless it is the first). When the room has a non-empty
/// string `departmentId` and `department_of` knows it, that department is attached: in place of a
/// `department` key the room has, else as its last key (JavaScript's `room.department = value`).
pub fn room<'d>(
    out: &mut Vec<u8>,
    first: bool,
    room: &RawDocument,
    department_of: impl Fn(&str) -> Option<&'d RawDocument>,
) -> Result<(), Malformed> {
    if !first {
        out.push(b',');
    }
    let bytes = room.as_bytes();
    let mut rest = bson::body(bytes)?;
    // JSON is about as long as the BSON it comes from; one reservation for most rooms.
    out.reserve(bytes.len() + bytes.len() / 2);
    out.push(b'{');
    let mut first = true;
    let mut department_id = None;
    let mut attached = false;
    while let Some((&kind, after)) = rest.split_first() {
        let (key, value) = element_key(after)?;
        if kind == STRING && key.as_bytes() == DEPARTMENT_ID {
            let (id, _) = bson::string_bytes(value)?;
            department_id = Some(utf8(id, "string UTF-8")?);
        } else if key.as_bytes() == DEPARTMENT {
            // A stored `department` before `departmentId` (rare): look the id up ahead.
            let id = match department_id {
                Some(id) => Some(id),
                None => find_department_id(bytes)?,
            };
            if let Some(department) = id.filter(|id| !id.is_empty()).and_then(&department_of) {
                attached = true;
                separator(out, &mut first);
                write_key(out, key)?;
                object(out, department.as_bytes())?;
                rest = bson::value(kind, value)?.1;
                continue;
            }
        }
        rest = member(out, &mut first, kind, key, value)?;
    }
    if !attached {
        if let Some(department) = department_id
            .filter(|id| !id.is_empty())
            .and_then(department_of)
        {
            separator(out, &mut first);
            out.extend_from_slice(b"\"department\":");
            object(out, department.as_bytes())?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// The room's `departmentId` when it is a string.
fn find_department_id(bytes: &[u8]) -> Result<Option<&str>, Malformed> {
    for element in Elements::of(bytes)? {
        if let (DEPARTMENT_ID, Value::Str(id)) = element? {
            return utf8(id, "string UTF-8").map(Some);
        }
    }
    Ok(None)
}

fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, Malformed> {
    std::str::from_utf8(bytes).map_err(|_| Malformed(what))
}

/// Closes the body: `],"count":N,"offset":O,"total":T,"success":true}`.
pub fn page_end(out: &mut Vec<u8>, count: u64, offset: u64, total: u64) {
    out.extend_from_slice(b"],\"count\":");
    out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
    out.extend_from_slice(b",\"offset\":");
    out.extend_from_slice(itoa::Buffer::new().format(offset).as_bytes());
    out.extend_from_slice(b",\"total\":");
    out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
    out.extend_from_slice(b",\"success\":true}");
}

/// Closes the body of a keyset page (contract §7): `],"count":N,"offset":0,"total":T,"next":C,
/// "success":true}`, with `null` for a total not counted (later pages) and after the last page.
pub fn walk_page_end(out: &mut Vec<u8>, count: u64, total: Option<u64>, next: Option<&str>) {
    out.extend_from_slice(b"],\"count\":");
    out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
    out.extend_from_slice(b",\"offset\":0,\"total\":");
    match total {
        Some(total) => out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"next\":");
    match next {
        // base64url and a dot: nothing to escape.
        Some(next) => string(out, next),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"success\":true}");
}

/// A whole body at once, with departments from `department_of` (benchmarks and tests).
pub fn rooms_page<'a, 'd>(
    rooms: impl IntoIterator<Item = &'a RawDocument>,
    department_of: impl Fn(&str) -> Option<&'d RawDocument> + Copy,
    offset: u64,
    total: u64,
) -> Result<Vec<u8>, Malformed> {
    let mut out = Vec::new();
    page_start(&mut out);
    let mut count = 0;
    for doc in rooms {
        room(&mut out, count == 0, doc, department_of)?;
        count += 1;
    }
    page_end(&mut out, count, offset, total);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::rawdoc;

    /// Rooms with one department known: `d1`.
    fn with_d1(room: &RawDocument) -> String {
        let dept = rawdoc! {"_id": "d1", "name": "Sales"};
        let mut out = Vec::new();
        super::room(&mut out, true, room, |id| {
            (id == "d1").then_some(dept.as_ref())
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_page_envelope_has_contract_key_order() {
        let rooms = [
            rawdoc! {"_id": "r1", "departmentId": "d1"},
            rawdoc! {"_id": "r2", "departmentId": "gone"},
        ];
        let dept = rawdoc! {"_id": "d1"};
        let body = rooms_page(
            rooms.iter().map(|r| r.as_ref()),
            |id| (id == "d1").then_some(dept.as_ref()),
            3,
            40,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"rooms":[{"_id":"r1","departmentId":"d1","department":{"_id":"d1"}},{"_id":"r2","departmentId":"gone"}],"count":2,"offset":3,"total":40,"success":true}"#
        );
        let empty = rooms_page([], |_| None, 0, 0).unwrap();
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            r#"{"rooms":[],"count":0,"offset":0,"total":0,"success":true}"#
        );
    }

    #[test]
    fn a_department_is_appended_as_the_last_key() {
        assert_eq!(
            with_d1(&rawdoc! {"_id": "r1", "departmentId": "d1", "open": true}),
            r#"{"_id":"r1","departmentId":"d1","open":true,"department":{"_id":"d1","name":"Sales"}}"#
        );
    }

    #[test]
    fn a_department_replaces_an_existing_key_in_place() {
        assert_eq!(
            with_d1(&rawdoc! {"_id": "r1", "department": "old", "departmentId": "d1"}),
            r#"{"_id":"r1","department":{"_id":"d1","name":"Sales"},"departmentId":"d1"}"#
        );
        assert_eq!(
            with_d1(&rawdoc! {"_id": "r1", "departmentId": "d1", "department": {"x": 1}}),
            r#"{"_id":"r1","departmentId":"d1","department":{"_id":"d1","name":"Sales"}}"#
        );
    }

    #[test]
    fn only_a_known_non_empty_string_department_id_attaches_a_department() {
        for room in [
            rawdoc! {"_id": "r1", "departmentId": "gone"},
            rawdoc! {"_id": "r1", "departmentId": ""},
            rawdoc! {"_id": "r1", "departmentId": 42},
            rawdoc! {"_id": "r1", "departmentId": ["d1"]},
            rawdoc! {"_id": "r1"},
        ] {
            assert!(!with_d1(&room).contains("Sales"), "{room:?}");
        }
        // A stored `department` stays when no department is attached.
        assert_eq!(
            with_d1(&rawdoc! {"_id": "r1", "department": "kept", "departmentId": "gone"}),
            r#"{"_id":"r1","department":"kept","departmentId":"gone"}"#
        );
    }
}
