//! The BSON reader under the renderer: one document's elements, borrowed from the driver's raw
//! bytes, with every length checked, so malformed BSON is an error and never a panic.

/// BSON that cannot be read: the database sent bytes this renderer does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed BSON: {0}")]
pub struct Malformed(pub(super) &'static str);

const OLD_BINARY_SUBTYPE: u8 = 2;
pub(super) const UUID_SUBTYPE: u8 = 4;

/// One BSON value, borrowed from the document's bytes, in the shape the renderer needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    Double(f64),
    /// A string's bytes, not yet checked as UTF-8: the renderer checks them as it escapes them
    /// (only a byte that is not ASCII costs a check).
    Str(&'a [u8]),
    /// js-bson reads a symbol as its string.
    Symbol(&'a str),
    /// A document's bytes, length prefix to terminating NUL.
    Document(&'a [u8]),
    Array(&'a [u8]),
    Binary(u8, &'a [u8]),
    Undefined,
    ObjectId(&'a [u8; 12]),
    Boolean(bool),
    DateTime(i64),
    Null,
    /// Regular expressions, MinKey and MaxKey: `{}` in JSON.
    Empty,
    DbPointer(&'a str, &'a [u8; 12]),
    /// JavaScript code.
    Code(&'a str),
    CodeWithScope(&'a str, &'a [u8]),
    /// int32 and int64.
    Int(i64),
    /// (time << 32) | increment, as js-bson's unsigned `Timestamp`.
    Timestamp(u64),
    Decimal128([u8; 16]),
}

/// The elements of one document, read from its bytes with every length checked.
pub(super) struct Elements<'a> {
    rest: &'a [u8],
}

/// The elements' bytes of a whole document (from its length prefix to its terminating NUL):
/// what lies between the two, once the length is checked.
pub(super) fn body(bytes: &[u8]) -> Result<&[u8], Malformed> {
    let len = read_len(bytes)?;
    match bytes.get(..len) {
        Some([_, _, _, _, rest @ .., 0]) if len == bytes.len() => Ok(rest),
        _ => Err(Malformed("document length")),
    }
}

/// A value of type `kind` at the start of `bytes` (what follows its element's key), read as a
/// [`Value`], and what follows it.
pub(super) fn value(kind: u8, bytes: &[u8]) -> Result<(Value<'_>, &[u8]), Malformed> {
    let mut reader = Reader(bytes);
    let value = reader.value(kind)?;
    Ok((value, reader.0))
}

/// A string value at the start of `bytes`: its bytes without the NUL (UTF-8 unchecked), and what
/// follows it.
#[inline]
pub(super) fn string_bytes(bytes: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let mut reader = Reader(bytes);
    let text = reader.string_bytes()?;
    Ok((text, reader.0))
}

/// A document or array at the start of `bytes`: its bytes, length prefix to NUL (checked when it
/// is rendered), and what follows it.
#[inline]
pub(super) fn document_bytes(bytes: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let mut reader = Reader(bytes);
    let document = reader.document()?;
    Ok((document, reader.0))
}

impl<'a> Elements<'a> {
    /// `bytes`: a whole document, from its length prefix to its terminating NUL.
    pub(super) fn of(bytes: &'a [u8]) -> Result<Self, Malformed> {
        Ok(Elements { rest: body(bytes)? })
    }

    /// A key (its bytes, not yet checked as UTF-8, as [`Value::Str`]) and its value.
    fn element(&mut self) -> Result<(&'a [u8], Value<'a>), Malformed> {
        let (&kind, rest) = self.rest.split_first().ok_or(Malformed("element"))?;
        let (key, rest) = cstring(rest)?;
        let mut reader = Reader(rest);
        let value = reader.value(kind)?;
        self.rest = reader.0;
        Ok((key, value))
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<(&'a [u8], Value<'a>), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let element = self.element();
        if element.is_err() {
            // Nothing after a malformed element can be read.
            self.rest = &[];
        }
        Some(element)
    }
}

/// The bytes after an element's key, consumed value by value.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let (taken, rest) = self.0.split_at_checked(n).ok_or(Malformed("length"))?;
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed("length"))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_le_bytes(*self.array()?))
    }

    fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_le_bytes(*self.array()?))
    }

    /// A length-prefixed, NUL-terminated string's bytes (UTF-8 unchecked).
    fn string_bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = usize::try_from(self.i32()?).map_err(|_| Malformed("string length"))?;
        match self.take(len)? {
            [text @ .., 0] => Ok(text),
            _ => Err(Malformed("string terminator")),
        }
    }

    /// A length-prefixed, NUL-terminated UTF-8 string.
    fn string(&mut self) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.string_bytes()?).map_err(|_| Malformed("string UTF-8"))
    }

    /// A document's bytes (checked when it is rendered).
    fn document(&mut self) -> Result<&'a [u8], Malformed> {
        let len = read_len(self.0)?;
        self.take(len)
    }

    fn cstring(&mut self) -> Result<&'a [u8], Malformed> {
        let (text, rest) = cstring(self.0)?;
        self.0 = rest;
        Ok(text)
    }

    fn value(&mut self, kind: u8) -> Result<Value<'a>, Malformed> {
        Ok(match kind {
            0x01 => Value::Double(f64::from_le_bytes(*self.array()?)),
            0x02 => Value::Str(self.string_bytes()?),
            0x03 => Value::Document(self.document()?),
            0x04 => Value::Array(self.document()?),
            0x05 => {
                let len = usize::try_from(self.i32()?).map_err(|_| Malformed("binary length"))?;
                let [subtype] = *self.array()?;
                let data = self.take(len)?;
                if subtype == OLD_BINARY_SUBTYPE {
                    // The old binary subtype repeats the length inside; js-bson reads past it.
                    match data.split_first_chunk::<4>() {
                        Some((inner, data))
                            if i32::from_le_bytes(*inner) as usize == data.len() =>
                        {
                            Value::Binary(subtype, data)
                        }
                        _ => return Err(Malformed("old binary length")),
                    }
                } else {
                    Value::Binary(subtype, data)
                }
            }
            0x06 => Value::Undefined,
            0x07 => Value::ObjectId(self.array()?),
            0x08 => match self.array()? {
                [0] => Value::Boolean(false),
                [1] => Value::Boolean(true),
                _ => return Err(Malformed("boolean")),
            },
            0x09 => Value::DateTime(self.i64()?),
            0x0A => Value::Null,
            0x0B => {
                self.cstring()?;
                self.cstring()?;
                Value::Empty
            }
            0x0C => Value::DbPointer(self.string()?, self.array()?),
            0x0D => Value::Code(self.string()?),
            0x0E => Value::Symbol(self.string()?),
            0x0F => {
                let len = usize::try_from(self.i32()?).map_err(|_| Malformed("code length"))?;
                let mut inner =
                    Reader(self.take(len.checked_sub(4).ok_or(Malformed("code length"))?)?);
                let code = inner.string()?;
                let scope = inner.document()?;
                if !inner.0.is_empty() {
                    return Err(Malformed("code with scope length"));
                }
                Value::CodeWithScope(code, scope)
            }
            0x10 => Value::Int(i64::from(self.i32()?)),
            0x11 => {
                let increment = u32::from_le_bytes(*self.array()?);
                let time = u32::from_le_bytes(*self.array()?);
                Value::Timestamp((u64::from(time) << 32) | u64::from(increment))
            }
            0x12 => Value::Int(self.i64()?),
            0x13 => Value::Decimal128(*self.array()?),
            0x7F | 0xFF => Value::Empty,
            _ => return Err(Malformed("element type")),
        })
    }
}

/// A document's declared length, at least the 5 bytes of an empty one.
fn read_len(bytes: &[u8]) -> Result<usize, Malformed> {
    let prefix = bytes.first_chunk::<4>().ok_or(Malformed("length"))?;
    usize::try_from(i32::from_le_bytes(*prefix))
        .ok()
        .filter(|&len| len >= 5)
        .ok_or(Malformed("document length"))
}

/// A NUL-terminated string's bytes (UTF-8 unchecked) and what follows it.
pub(super) fn cstring(bytes: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or(Malformed("key terminator"))?;
    Ok((&bytes[..end], &bytes[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::super::document;
    use super::*;
    use mongodb::bson::spec::BinarySubtype;
    use mongodb::bson::{
        doc, Binary, Bson, DateTime, JavaScriptCodeWithScope, RawDocument, RawDocumentBuf,
        Timestamp,
    };

    #[test]
    fn malformed_bson_is_an_error_never_a_panic() {
        let good = RawDocumentBuf::from_document(&doc! {
            "s": "text", "d": {"a": [1, "x"]}, "b": true, "t": DateTime::from_millis(5),
            "c": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "g()".into(), scope: doc! {"x": 1} }),
        })
        .unwrap();
        let bytes = good.as_bytes();
        // Every truncation and every single-byte corruption is either rendered or refused.
        let mut refused = 0;
        for cut in 0..bytes.len() {
            let mut short = bytes[..cut].to_vec();
            if short.len() >= 4 {
                short[..4].copy_from_slice(&(cut as i32).to_le_bytes());
            }
            if let Ok(doc) = RawDocument::from_bytes(&short) {
                refused += usize::from(document(&mut Vec::new(), doc).is_err());
            }
        }
        for i in 4..bytes.len() - 1 {
            for byte in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
                let mut bad = bytes.to_vec();
                bad[i] = byte;
                if let Ok(doc) = RawDocument::from_bytes(&bad) {
                    let mut out = Vec::new();
                    if document(&mut out, doc).is_ok() {
                        assert!(std::str::from_utf8(&out).is_ok());
                    } else {
                        refused += 1;
                    }
                }
            }
        }
        assert!(refused > 0);
        let not_utf8 = [14, 0, 0, 0, 2, b'k', 0, 2, 0, 0, 0, 0xC3, 0, 0];
        let doc = RawDocument::from_bytes(&not_utf8).unwrap();
        assert_eq!(
            document(&mut Vec::new(), doc),
            Err(Malformed("string UTF-8"))
        );
    }

    fn render(doc: mongodb::bson::Document) -> String {
        let raw = RawDocumentBuf::from_document(&doc).unwrap();
        let mut out = Vec::new();
        document(&mut out, &raw).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_unsigned() {
        let ts = Timestamp {
            time: 4_000_000_000,
            increment: 5,
        };
        assert_eq!(
            render(doc! {"t": ts}),
            r#"{"t":{"$timestamp":"17179869184000000005"}}"#
        );
    }

    #[test]
    fn old_binary_subtype_renders_its_data_without_the_inner_length() {
        let old = Binary {
            subtype: BinarySubtype::BinaryOld,
            bytes: vec![1, 2, 3],
        };
        assert_eq!(render(doc! {"b": old}), r#"{"b":"AQID"}"#);
    }

    #[test]
    fn uuid_binaries_render_as_dashed_hex_like_js_bson() {
        let uuid = Binary {
            subtype: BinarySubtype::Uuid,
            bytes: (0..16).collect(),
        };
        let short = Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![7, 7, 7],
        };
        let legacy = Binary {
            subtype: BinarySubtype::UuidOld,
            bytes: vec![7; 16],
        };
        assert_eq!(
            render(doc! {"u": uuid, "short": short, "legacy": legacy}),
            r#"{"u":"00010203-0405-0607-0809-0a0b0c0d0e0f","short":"BwcH","legacy":"BwcHBwcHBwcHBwcHBwcHBw=="}"#
        );
    }
}
