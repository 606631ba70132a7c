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

use base64::Engine as _;

use mongodb::bson::{Decimal128, RawDocument, Uuid};

use crate::js::{integer, number, string, utf8_string};

mod bson;
pub mod csv;

pub use bson::Malformed;
use bson::{Elements, Value, UUID_SUBTYPE};

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
    out.push(b'{');
    let mut first = true;
    let mut department_id = None;
    let mut attached = false;
    for element in Elements::of(bytes)? {
        let (key, value) = element?;
        let value = match value {
            Value::Str(id) if key == DEPARTMENT_ID => {
                department_id = Some(utf8(id, "string UTF-8")?);
                value
            }
            // A stored `department` before `departmentId` (rare): look the id up ahead.
            _ if key == DEPARTMENT => {
                let id = match department_id {
                    Some(id) => Some(id),
                    None => find_department_id(bytes)?,
                };
                match id.filter(|id| !id.is_empty()).and_then(&department_of) {
                    Some(department) => {
                        attached = true;
                        Value::Document(department.as_bytes())
                    }
                    None => value,
                }
            }
            _ => value,
        };
        member(out, &mut first, key, value)?;
    }
    if !attached {
        if let Some(department) = department_id
            .filter(|id| !id.is_empty())
            .and_then(department_of)
        {
            member(
                out,
                &mut first,
                DEPARTMENT,
                Value::Document(department.as_bytes()),
            )?;
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

/// Renders one document as it is, nothing attached.
pub fn document(out: &mut Vec<u8>, doc: &RawDocument) -> Result<(), Malformed> {
    object(out, doc.as_bytes())
}

fn object(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Malformed> {
    out.push(b'{');
    let mut first = true;
    for element in Elements::of(bytes)? {
        let (key, value) = element?;
        member(out, &mut first, key, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// `"key":value` (after a comma unless it is the first); nothing for `undefined`.
fn member(
    out: &mut Vec<u8>,
    first: &mut bool,
    key: &[u8],
    value: Value<'_>,
) -> Result<(), Malformed> {
    if matches!(value, Value::Undefined) {
        return Ok(());
    }
    if !*first {
        out.push(b',');
    }
    *first = false;
    utf8_string(out, key).map_err(|_| Malformed("key UTF-8"))?;
    out.push(b':');
    write_value(out, value)
}

fn array(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Malformed> {
    out.push(b'[');
    for (i, element) in Elements::of(bytes)?.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Array keys ("0", "1", ...) are positions; js-bson reads the values in order.
        match element?.1 {
            Value::Undefined => out.extend_from_slice(b"null"),
            item => write_value(out, item)?,
        }
    }
    out.push(b']');
    Ok(())
}

fn write_value(out: &mut Vec<u8>, value: Value<'_>) -> Result<(), Malformed> {
    match value {
        Value::Double(n) => number(out, n),
        Value::Str(s) => utf8_string(out, s).map_err(|_| Malformed("string UTF-8"))?,
        Value::Symbol(s) => string(out, s),
        Value::Document(d) => object(out, d)?,
        Value::Array(a) => array(out, a)?,
        Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Null | Value::Undefined => out.extend_from_slice(b"null"),
        Value::Empty => out.extend_from_slice(b"{}"),
        Value::Code(code) => {
            out.extend_from_slice(b"{\"code\":");
            string(out, code);
            out.push(b'}');
        }
        Value::CodeWithScope(code, scope) => {
            out.extend_from_slice(b"{\"code\":");
            string(out, code);
            out.extend_from_slice(b",\"scope\":");
            object(out, scope)?;
            out.push(b'}');
        }
        Value::Int(n) => integer(out, n),
        Value::Timestamp(combined) => {
            out.extend_from_slice(b"{\"$timestamp\":\"");
            out.extend_from_slice(itoa::Buffer::new().format(combined).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        Value::Binary(subtype, bytes) => match <[u8; 16]>::try_from(bytes) {
            // js-bson reads a 16-byte subtype 4 as a UUID, whose JSON is its dashed hex form.
            Ok(uuid) if subtype == UUID_SUBTYPE => {
                string(out, &Uuid::from_bytes(uuid).to_string());
            }
            _ => {
                out.push(b'"');
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                out.extend_from_slice(encoded.as_bytes());
                out.push(b'"');
            }
        },
        Value::ObjectId(oid) => hex_string(out, oid),
        Value::DateTime(millis) => crate::jsdate::write_json(out, millis),
        Value::Decimal128(bytes) => {
            out.extend_from_slice(b"{\"$numberDecimal\":\"");
            out.extend_from_slice(Decimal128::from_bytes(bytes).to_string().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        Value::DbPointer(namespace, oid) => {
            // js-bson reads it as a DBRef: the namespace splits at its first dot into database and
            // collection.
            let (db, collection) = match namespace.split_once('.') {
                Some((db, collection)) => (Some(db), collection),
                None => (None, namespace),
            };
            out.extend_from_slice(b"{\"$ref\":");
            string(out, collection);
            out.extend_from_slice(b",\"$id\":");
            hex_string(out, oid);
            if let Some(db) = db {
                out.extend_from_slice(b",\"$db\":");
                string(out, db);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn hex_string(out: &mut Vec<u8>, bytes: &[u8; 12]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for byte in bytes {
        out.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{
        doc, oid::ObjectId, rawdoc, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128,
        JavaScriptCodeWithScope, Regex, Timestamp,
    };

    fn render(doc: mongodb::bson::Document) -> String {
        let raw = mongodb::bson::RawDocumentBuf::from_document(&doc).unwrap();
        let mut out = Vec::new();
        document(&mut out, &raw).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_booleans_and_null_render_as_is_in_stored_key_order() {
        assert_eq!(
            render(doc! {"z": "a\"b\\c\n\u{1}", "a": true, "m": false, "n": Bson::Null}),
            r#"{"z":"a\"b\\c\n\u0001","a":true,"m":false,"n":null}"#
        );
    }

    #[test]
    fn numbers_render_as_javascript_prints_them() {
        assert_eq!(
            render(doc! {
                "i32": 1, "i64": 9_007_199_254_740_993_i64, "d": 1.5, "whole": 2.0,
                "neg0": -0.0, "big": 1e21, "small": 1e-7, "tenth": 0.1, "max": f64::MAX,
            }),
            r#"{"i32":1,"i64":9007199254740993,"d":1.5,"whole":2,"neg0":0,"big":1e+21,"small":1e-7,"tenth":0.1,"max":1.7976931348623157e+308}"#
        );
    }

    #[test]
    fn nan_and_infinities_render_as_null() {
        assert_eq!(
            render(doc! {"a": f64::NAN, "b": f64::INFINITY, "c": f64::NEG_INFINITY}),
            r#"{"a":null,"b":null,"c":null}"#
        );
    }

    #[test]
    fn dates_render_in_utc_with_milliseconds_and_z() {
        assert_eq!(
            render(doc! {
                "a": DateTime::from_millis(1_565_381_882_350),
                "b": DateTime::from_millis(0),
                "c": DateTime::from_millis(-1),
            }),
            r#"{"a":"2019-08-09T20:18:02.350Z","b":"1970-01-01T00:00:00.000Z","c":"1969-12-31T23:59:59.999Z"}"#
        );
    }

    #[test]
    fn object_ids_render_as_hex_strings() {
        let oid = ObjectId::parse_str("5d4dd4ea0e3b0f0a1c2b3d4e").unwrap();
        assert_eq!(
            render(doc! {"_id": oid}),
            r#"{"_id":"5d4dd4ea0e3b0f0a1c2b3d4e"}"#
        );
    }

    #[test]
    fn decimal128_renders_as_number_decimal_object() {
        let d: Decimal128 = "1234.5600".parse().unwrap();
        let neg: Decimal128 = "-0.001".parse().unwrap();
        assert_eq!(
            render(doc! {"d": d, "n": neg}),
            r#"{"d":{"$numberDecimal":"1234.5600"},"n":{"$numberDecimal":"-0.001"}}"#
        );
    }

    #[test]
    fn nested_documents_and_arrays_render_recursively() {
        assert_eq!(
            render(doc! {"a": {"b": [1, {"c": "d"}, []], "e": {}}}),
            r#"{"a":{"b":[1,{"c":"d"},[]],"e":{}}}"#
        );
    }

    #[test]
    fn regex_min_and_max_keys_render_as_empty_objects() {
        assert_eq!(
            render(doc! {
                "r": Regex { pattern: "^a".into(), options: "i".into() },
                "min": Bson::MinKey, "max": Bson::MaxKey,
            }),
            r#"{"r":{},"min":{},"max":{}}"#
        );
    }

    #[test]
    fn undefined_is_omitted_from_documents_and_null_in_arrays() {
        assert_eq!(
            render(
                doc! {"a": Bson::Undefined, "b": [1, Bson::Undefined], "c": 1, "d": Bson::Undefined}
            ),
            r#"{"b":[1,null],"c":1}"#
        );
    }

    #[test]
    fn binary_renders_as_base64_and_timestamp_as_its_64_bit_value() {
        let bin = Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![1, 2, 3, 250],
        };
        assert_eq!(
            render(doc! {"b": bin, "t": Timestamp { time: 1, increment: 2 }}),
            r#"{"b":"AQID+g==","t":{"$timestamp":"4294967298"}}"#
        );
    }

    #[test]
    fn code_symbol_and_db_pointer_render_as_js_bson_does() {
        let pointer = mongodb::bson::Bson::try_from(serde_json::json!({
            "$dbPointer": {"$ref": "db.coll", "$id": {"$oid": "5d4dd4ea0e3b0f0a1c2b3d4e"}}
        }))
        .unwrap();
        assert_eq!(
            render(doc! {
                "c": Bson::JavaScriptCode("f()".into()),
                "s": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "g()".into(), scope: doc! {"x": 1} }),
                "y": Bson::Symbol("sym".into()),
                "p": pointer,
            }),
            r#"{"c":{"code":"f()"},"s":{"code":"g()","scope":{"x":1}},"y":"sym","p":{"$ref":"coll","$id":"5d4dd4ea0e3b0f0a1c2b3d4e","$db":"db"}}"#
        );
    }

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
