//! BSON values as JSON, written straight from a document's bytes (see the table in
//! [`super`]): the types rooms hold are written as they are read, element by element; the others
//! go through [`bson::Value`]. The room, its department and the page around it are in [`super`].

use base64::Engine as _;

use mongodb::bson::{Decimal128, RawDocument, Uuid};

use super::bson::{self, Malformed, Value, UUID_SUBTYPE};
use crate::js::{integer, number, string, utf8_string};

/// Renders one document as it is, nothing attached.
pub fn document(out: &mut Vec<u8>, doc: &RawDocument) -> Result<(), Malformed> {
    object(out, doc.as_bytes())
}

pub(super) fn object(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Malformed> {
    let mut rest = bson::body(bytes)?;
    out.push(b'{');
    let mut first = true;
    while let Some((&kind, after)) = rest.split_first() {
        let (key, value) = element_key(after)?;
        rest = member(out, &mut first, kind, key, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// The BSON type bytes the renderer writes without going through [`Value`].
const DOUBLE: u8 = 0x01;
pub(super) const STRING: u8 = 0x02;
const DOCUMENT: u8 = 0x03;
const ARRAY: u8 = 0x04;
const UNDEFINED: u8 = 0x06;
const OBJECT_ID: u8 = 0x07;
const BOOLEAN: u8 = 0x08;
const DATE: u8 = 0x09;
const NULL: u8 = 0x0A;
const INT32: u8 = 0x10;
const INT64: u8 = 0x12;

/// An element's key, read from the bytes after its type, and what follows the key (its value).
/// The key is returned as it will be written: [`Key::Plain`] when no byte needs escaping (found
/// in the same scan as its end).
#[inline(always)]
pub(super) fn element_key(after: &[u8]) -> Result<(Key<'_>, &[u8]), Malformed> {
    let plain = crate::js::plain_len(after);
    match after.split_at_checked(plain) {
        Some((key, [0, value @ ..])) => Ok((Key::Plain(key), value)),
        _ => {
            let (key, value) = bson::cstring(after)?;
            Ok((Key::Escaped(key), value))
        }
    }
}

/// A key's bytes, known to need no escape or not (UTF-8 unchecked).
#[derive(Clone, Copy)]
pub(super) enum Key<'a> {
    Plain(&'a [u8]),
    Escaped(&'a [u8]),
}

impl<'a> Key<'a> {
    pub(super) fn as_bytes(self) -> &'a [u8] {
        match self {
            Key::Plain(key) | Key::Escaped(key) => key,
        }
    }
}

#[inline(always)]
pub(super) fn separator(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

/// `"key":`.
#[inline(always)]
pub(super) fn write_key(out: &mut Vec<u8>, key: Key<'_>) -> Result<(), Malformed> {
    match key {
        Key::Plain(key) => plain_string(out, key),
        Key::Escaped(key) => utf8_string(out, key).map_err(|_| Malformed("key UTF-8"))?,
    }
    out.push(b':');
    Ok(())
}

/// `"text"`, for text that needs no escape.
#[inline(always)]
fn plain_string(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// `"key":value` (after a comma unless it is the first); nothing for `undefined`. Returns what
/// follows the value.
#[inline(always)]
pub(super) fn member<'a>(
    out: &mut Vec<u8>,
    first: &mut bool,
    kind: u8,
    key: Key<'_>,
    value: &'a [u8],
) -> Result<&'a [u8], Malformed> {
    if kind == UNDEFINED {
        return Ok(value);
    }
    separator(out, first);
    write_key(out, key)?;
    element_value(out, kind, value)
}

fn array(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Malformed> {
    let mut rest = bson::body(bytes)?;
    out.push(b'[');
    let mut first = true;
    while let Some((&kind, after)) = rest.split_first() {
        // Array keys ("0", "1", ...) are positions; js-bson reads the values in order.
        let (_, value) = bson::cstring(after)?;
        separator(out, &mut first);
        rest = if kind == UNDEFINED {
            out.extend_from_slice(b"null");
            value
        } else {
            element_value(out, kind, value)?
        };
    }
    out.push(b']');
    Ok(())
}

/// The value of type `kind` at the start of `bytes`, written; returns what follows it. The types
/// rooms hold are written here, the others through [`Value`] and [`write_value`].
fn element_value<'a>(out: &mut Vec<u8>, kind: u8, bytes: &'a [u8]) -> Result<&'a [u8], Malformed> {
    Ok(match kind {
        STRING => {
            let (text, rest) = bson::string_bytes(bytes)?;
            if crate::js::plain_len(text) == text.len() {
                plain_string(out, text);
            } else {
                utf8_string(out, text).map_err(|_| Malformed("string UTF-8"))?;
            }
            rest
        }
        DOCUMENT | ARRAY => {
            let (doc, rest) = bson::document_bytes(bytes)?;
            if kind == DOCUMENT {
                object(out, doc)?;
            } else {
                array(out, doc)?;
            }
            rest
        }
        DATE => {
            let (millis, rest) = bytes.split_first_chunk().ok_or(Malformed("length"))?;
            crate::jsdate::write_json(out, i64::from_le_bytes(*millis));
            rest
        }
        INT32 => {
            let (n, rest) = bytes.split_first_chunk().ok_or(Malformed("length"))?;
            integer(out, i64::from(i32::from_le_bytes(*n)));
            rest
        }
        INT64 => {
            let (n, rest) = bytes.split_first_chunk().ok_or(Malformed("length"))?;
            integer(out, i64::from_le_bytes(*n));
            rest
        }
        DOUBLE => {
            let (n, rest) = bytes.split_first_chunk().ok_or(Malformed("length"))?;
            number(out, f64::from_le_bytes(*n));
            rest
        }
        BOOLEAN => match bytes.split_first() {
            Some((0, rest)) => {
                out.extend_from_slice(b"false");
                rest
            }
            Some((1, rest)) => {
                out.extend_from_slice(b"true");
                rest
            }
            Some(_) => return Err(Malformed("boolean")),
            None => return Err(Malformed("length")),
        },
        NULL => {
            out.extend_from_slice(b"null");
            bytes
        }
        OBJECT_ID => {
            let (oid, rest) = bytes.split_first_chunk::<12>().ok_or(Malformed("length"))?;
            hex_string(out, oid);
            rest
        }
        _ => {
            let (value, rest) = bson::value(kind, bytes)?;
            write_value(out, value)?;
            rest
        }
    })
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
    let mut text = [b'"'; 26];
    for (pair, byte) in text[1..25].chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 15)];
    }
    out.extend_from_slice(&text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{
        doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128,
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
}
