//! JavaScript's own rules, where the contract says "as JavaScript does": the text `JSON.stringify`
//! writes for strings, numbers and parsed JSON values, and how `Number()` reads text. A leaf: the
//! parameter parser and the renderer both use it, and it uses nothing of theirs.

use serde_json::Value;

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JSON string, escaped as `JSON.stringify` escapes it: `"` and `\\` with a backslash, the
/// control characters below U+0020 as `\b \t \n \f \r` or `\u00xx`, everything else as it is
/// (a Rust string holds no lone surrogate, the one other thing JavaScript escapes).
pub fn string(out: &mut Vec<u8>, s: &str) {
    escape_into(out, s.as_bytes());
}

/// As [`string`], for bytes that should be UTF-8 (BSON's strings, read without a check): the
/// check is made only when a byte is not ASCII, which the scan for escapes sees anyway. On an
/// error, what was written is not a whole string: the caller drops the body.
pub fn utf8_string(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), std::str::Utf8Error> {
    if escape_into(out, bytes) {
        std::str::from_utf8(bytes)?;
    }
    Ok(())
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether any of these 8 bytes needs a look: below U+0020, `"`, `\\`, or not ASCII. A true
/// answer may be a false alarm (the bytes are then looked at one by one); a false one never is.
fn needs_a_look(word: u64) -> bool {
    look_bits(word) != 0
}

/// Writes `bytes` as a JSON string; true when a byte is not ASCII. Most strings (keys, ids, names)
/// need no escape: they are checked 8 bytes at a time, the last 8 overlapping the ones before (or,
/// for a string shorter than 8 bytes, packed into one word), and copied whole.
#[inline]
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let clean = match bytes.len() {
        0..8 => !needs_a_look(packed(bytes)),
        len => {
            bytes
                .chunks_exact(8)
                .all(|chunk| !needs_a_look(word(chunk)))
                && !needs_a_look(word(&bytes[len - 8..]))
        }
    };
    if clean {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return false;
    }
    escape_slowly(out, bytes)
}

/// How many of the first bytes stand in a JSON string as they are (ASCII, not below U+0020, not
/// `"` or `\\`): 8 at a time, the first byte that needs a look found by its bit (a borrow in
/// [`look_bits`] only reaches the bytes after a byte that needs one).
#[inline]
pub fn plain_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let bits = look_bits(word(chunk));
        if bits != 0 {
            return i + (bits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let bits = look_bits(packed(&bytes[i..]));
    // No bit: the padding's letters need no look either.
    (i + (bits.trailing_zeros() / 8) as usize).min(bytes.len())
}

/// The high bit of each of these 8 bytes that may need a look; the lowest one set is exact.
fn look_bits(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20);
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    ((below_space & !word) | zero_byte(quote) | zero_byte(backslash) | word) & HIGH
}

/// Up to 8 bytes as one little-endian word, the missing ones an ASCII letter (which needs no look).
fn packed(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(ONES * u64::from(b'a'), |word, &byte| {
            (word << 8) | u64::from(byte)
        })
}

fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
}

/// Byte by byte: escapes, and whether a byte is not ASCII.
fn escape_slowly(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut non_ascii = false;
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        non_ascii |= byte >= 0x80;
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
    non_ascii
}

/// For each byte: 0 when it stands as it is, else the letter after its backslash (`u`: `\u00xx`).
const ESCAPE: [u8; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

pub fn integer(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A double as JavaScript prints it (`Number.prototype.toString`), `null` when not finite.
pub fn number(out: &mut Vec<u8>, n: f64) {
    // A whole number that a JavaScript number holds exactly prints as that integer (-0 as 0): no
    // shortest-digits search for counts and seconds.
    let whole = n as i64;
    if whole as f64 == n && n.abs() <= MAX_SAFE_INTEGER {
        integer(out, whole);
    } else if n.is_finite() {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(n).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `JSON.stringify` of a parsed JSON value: numbers as JavaScript prints doubles.
pub fn json_text(value: &Value) -> String {
    let mut out = Vec::new();
    write_json(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

fn write_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, key);
                out.push(b':');
                write_json(out, item);
            }
            out.push(b'}');
        }
    }
}

/// JavaScript's `Number(text)` (StringToNumber): surrounding white space is dropped; empty text is
/// 0; then a decimal literal with optional sign, fraction and exponent, `Infinity`, or an unsigned
/// `0x`/`0o`/`0b` integer. Anything else is NaN, here `None`.
pub fn string_to_number(text: &str) -> Option<f64> {
    let s = text.trim_matches(is_js_whitespace);
    if s.is_empty() {
        return Some(0.0);
    }
    let radix = match s.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let digits = &s[2..];
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        // Exact up to 2^53; beyond, rounding may differ from JavaScript, but only past the safe
        // range, which every caller rejects.
        let value = digits.chars().fold(0.0, |n, c| {
            n * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        });
        return Some(value);
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    if unsigned == "Infinity" {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if !is_decimal_literal(unsigned) {
        return None;
    }
    // Rust's float parser reads exactly the decimal literals checked above (and rounds as
    // JavaScript does); the sign is its own.
    s.parse::<f64>().ok()
}

/// `digits [. digits] [e|E [+|-] digits]`, with at least one digit before or after the point.
fn is_decimal_literal(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && all_digits(digits)
    });
    mantissa_ok && exponent_ok
}

/// The white space and line terminators `Number()` trims (ECMAScript's WhiteSpace and
/// LineTerminator: the Unicode space separators, tab, vertical tab, form feed, BOM, LF, CR, LS, PS).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `parseInt(String(n))` for a finite `n` in `0..=MAX_SAFE_INTEGER`: the leading digits of the
/// number as JavaScript prints it, so `1.9` is 1 and `1e-7` (printed so) is 1, as in Rocket.Chat.
pub fn parse_int_of(n: f64) -> u64 {
    let mut out = Vec::new();
    number(&mut out, n);
    out.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
}

#[cfg(test)]
mod tests {

    #[test]
    fn plain_len_stops_at_the_first_byte_that_needs_a_look() {
        // Every byte value at every position of strings around the 8-byte words.
        let plain = |b: u8| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\';
        for len in 0..20 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    let expected = bytes.iter().position(|&b| !plain(b)).unwrap_or(len);
                    assert_eq!(super::plain_len(&bytes), expected, "{bytes:?}");
                }
            }
            assert_eq!(super::plain_len(&vec![b'x'; len]), len);
        }
    }

    #[test]
    fn whole_doubles_print_as_integers_and_others_as_javascript_does() {
        let text = |n: f64| {
            let mut out = Vec::new();
            super::number(&mut out, n);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(3.0), "3");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(-42.0), "-42");
        assert_eq!(text(9_007_199_254_740_991.0), "9007199254740991");
        assert_eq!(text(9_007_199_254_740_992.0), "9007199254740992");
        assert_eq!(text(1e21), "1e+21");
        assert_eq!(text(1e20), "100000000000000000000");
        assert_eq!(text(2.5), "2.5");
        assert_eq!(text(f64::NAN), "null");
        assert_eq!(text(f64::INFINITY), "null");
    }

    #[test]
    fn strings_escape_as_json_stringify_whatever_the_position_of_the_byte() {
        // Every ASCII byte and a few non-ASCII characters, at every position of strings of
        // lengths around the 8-byte chunks, against serde_json (which escapes as JSON.stringify
        // does for strings without lone surrogates).
        let specials: Vec<String> = (0u8..0x80)
            .map(|b| char::from(b).to_string())
            .chain(["é", "☃", "😀"].map(String::from))
            .collect();
        for len in 0..20 {
            for at in 0..=len {
                for special in &specials {
                    let text: String = "abcdefghijklmnopqrstu"[..at].to_owned()
                        + special
                        + &"vwxyzABCDEFGHIJKLMNOP"[..len - at];
                    let mut out = Vec::new();
                    string(&mut out, &text);
                    assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
                    let mut checked = Vec::new();
                    utf8_string(&mut checked, text.as_bytes()).unwrap();
                    assert_eq!(checked, out);
                }
            }
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_wherever_they_are() {
        for bad in [
            &b"\xC3"[..],
            b"abcdefgh\xFFij",
            b"0123456789abcde\xC3(",
            b"\xED\xA0\x80",
        ] {
            assert!(utf8_string(&mut Vec::new(), bad).is_err(), "{bad:?}");
        }
    }
    use super::*;

    #[test]
    fn number_reads_text_as_javascript_does() {
        for (text, expected) in [
            ("5", Some(5.0)),
            ("1e1", Some(10.0)),
            ("0x4", Some(4.0)),
            ("0X1f", Some(31.0)),
            ("0b11", Some(3.0)),
            ("0o17", Some(15.0)),
            (" 6", Some(6.0)),
            ("\t6\n", Some(6.0)),
            ("1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("+5", Some(5.0)),
            ("-0", Some(-0.0)),
            ("  ", Some(0.0)),
            ("", Some(0.0)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("1E+2", Some(100.0)),
            ("abc", None),
            ("1_0", None),
            ("-0x4", None),
            ("0x", None),
            ("1e", None),
            (".", None),
            ("5 5", None),
            ("infinity", None),
            ("NaN", None),
            ("１", None),
        ] {
            let got = string_to_number(text);
            match (got, expected) {
                (Some(g), Some(e)) => assert!(
                    g == e && g.is_sign_negative() == e.is_sign_negative(),
                    "{text:?}: {g} vs {e}"
                ),
                _ => assert_eq!(got, expected, "{text:?}"),
            }
        }
    }

    #[test]
    fn parse_int_of_a_number_truncates_its_printed_form() {
        assert_eq!(parse_int_of(1.9), 1);
        assert_eq!(parse_int_of(0.5), 0);
        assert_eq!(parse_int_of(1e-7), 1);
        assert_eq!(parse_int_of(-0.0), 0);
        assert_eq!(parse_int_of(MAX_SAFE_INTEGER), 9_007_199_254_740_991);
    }

    #[test]
    fn strings_are_escaped_as_json_stringify_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        let mut out = Vec::new();
        string(&mut out, &format!("a\"b\\c/\u{7f}é☃😀{every_control}"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                "\"a\\\"b\\\\c/\u{7f}é☃😀",
                r#"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#,
                r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f""#
            )
        );
        // The same text as serde_json, which follows the same rules.
        let text = format!("x{every_control}\"\\y");
        let mut ours = Vec::new();
        string(&mut ours, &text);
        assert_eq!(ours, serde_json::to_vec(&text).unwrap());
    }

    #[test]
    fn json_text_prints_numbers_as_javascript() {
        let v: Value =
            serde_json::from_str(r#"{"n":1.0,"o":{"x":[1.5,null,true]},"s":"a\"b"}"#).unwrap();
        assert_eq!(
            json_text(&v),
            r#"{"n":1,"o":{"x":[1.5,null,true]},"s":"a\"b"}"#
        );
    }
}
