//! JavaScript's `Date`, both ways: what `Date.parse` reads from a query parameter, and what
//! `Date.prototype.toJSON` prints for a stored date. Plain day arithmetic, so the whole JavaScript
//! range (±8.64e15 ms, years -271821 to 275760) works, beyond what chrono covers.

/// JavaScript dates are limited to ±8.64e15 ms around the epoch.
const MAX_MS: i64 = 8_640_000_000_000_000;
const MS_PER_DAY: i64 = 86_400_000;

/// The ISO 8601 forms JavaScript's `Date.parse` reads, to milliseconds since the epoch:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, optionally `THH:mm`, `:ss`, `.fraction` (digits past the
/// milliseconds are dropped) and `Z` or `±HH:mm`; `±YYYYYY` years. A date-time without an offset is
/// read as UTC (the server's zone in a container). Days up to 31 roll over into the next month, as
/// V8 does; anything else is `None`.
pub fn parse(text: &str) -> Option<i64> {
    let mut p = Cursor {
        s: text.as_bytes(),
        i: 0,
    };
    let year = match p.peek() {
        Some(sign @ (b'+' | b'-')) => {
            p.i += 1;
            let y = p.digits(6)?;
            if sign == b'-' && y == 0 {
                return None;
            }
            if sign == b'-' {
                -y
            } else {
                y
            }
        }
        _ => p.digits(4)?,
    };
    let mut month = 1;
    let mut day = 1;
    if p.eat(b'-') {
        month = p.digits(2)?;
        if p.eat(b'-') {
            day = p.digits(2)?;
        }
    }
    let (mut hour, mut minute, mut second, mut millis) = (0, 0, 0, 0);
    let mut offset_minutes = 0;
    if p.eat(b'T') {
        hour = p.digits(2)?;
        p.expect(b':')?;
        minute = p.digits(2)?;
        if p.eat(b':') {
            second = p.digits(2)?;
            if p.eat(b'.') {
                let start = p.i;
                while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                    p.i += 1;
                }
                let frac = &text[start..p.i];
                if frac.is_empty() {
                    return None;
                }
                millis = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
            }
        }
        if p.eat(b'Z') {
        } else if let Some(sign @ (b'+' | b'-')) = p.peek() {
            p.i += 1;
            let oh = p.digits(2)?;
            p.expect(b':')?;
            let om = p.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            offset_minutes = (oh * 60 + om) * if sign == b'-' { -1 } else { 1 };
        }
    } else if p.eat(b'Z') {
        // A date alone may carry a `Z`; it is UTC either way.
    }
    if p.i != p.s.len() {
        return None;
    }
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (hour < 24 || (hour == 24 && minute == 0 && second == 0 && millis == 0))
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, 1) + (day - 1);
    let ms =
        days * MS_PER_DAY + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis;
    (ms.abs() <= MAX_MS).then_some(ms)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    fn digits(&mut self, n: usize) -> Option<i64> {
        let chunk = self.s.get(self.i..self.i + n)?;
        if !chunk.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        std::str::from_utf8(chunk).ok()?.parse().ok()
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A date as `Date.prototype.toJSON` prints it: ISO 8601, UTC, milliseconds, `Z`; years outside
/// 0..=9999 get a sign and six digits; `null` outside JavaScript's date range.
pub fn write_json(out: &mut Vec<u8>, millis: i64) {
    if !(-MAX_MS..=MAX_MS).contains(&millis) {
        out.extend_from_slice(b"null");
        return;
    }
    let days = millis.div_euclid(MS_PER_DAY);
    let in_day = millis.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        // The common case, written in one piece: "YYYY-MM-DDTHH:MM:SS.mmmZ".
        let in_day = in_day.unsigned_abs();
        let mut text = *b"\"0000-00-00T00:00:00.000Z\"";
        // Two digits at a time from a table: this runs for every date of every room.
        let mut put2 = |at: usize, value: u64| {
            let at_pair = 2 * (value as usize % 100);
            text[at..at + 2].copy_from_slice(&PAIRS[at_pair..at_pair + 2]);
        };
        let year = year.unsigned_abs();
        put2(1, year / 100);
        put2(3, year);
        put2(6, month.unsigned_abs());
        put2(9, day.unsigned_abs());
        put2(12, in_day / 3_600_000);
        put2(15, in_day / 60_000 % 60);
        put2(18, in_day / 1000 % 60);
        let millis = in_day % 1000;
        put2(22, millis);
        text[21] = b'0' + (millis / 100) as u8;
        out.extend_from_slice(&text);
        return;
    }
    out.push(b'"');
    if (0..=9999).contains(&year) {
        digits(out, year.unsigned_abs(), 4);
    } else {
        out.push(if year < 0 { b'-' } else { b'+' });
        digits(out, year.unsigned_abs(), 6);
    }
    let in_day = in_day.unsigned_abs();
    for (separator, value, width) in [
        (b'-', month.unsigned_abs(), 2),
        (b'-', day.unsigned_abs(), 2),
        (b'T', in_day / 3_600_000, 2),
        (b':', in_day / 60_000 % 60, 2),
        (b':', in_day / 1000 % 60, 2),
        (b'.', in_day % 1000, 3),
    ] {
        out.push(separator);
        digits(out, value, width);
    }
    out.extend_from_slice(b"Z\"");
}

/// "00" to "99", two bytes each.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `value` in exactly `width` (at most 6) decimal digits, zero-padded: this runs for every date of
/// every room, so no formatting machinery.
fn digits(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut buf = [b'0'; 6];
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn json(millis: i64) -> String {
        let mut out = Vec::new();
        write_json(&mut out, millis);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dates_are_read_as_javascript_reads_them() {
        let cases = [
            ("2018-01-26", "2018-01-26T00:00:00Z"),
            ("2018-01", "2018-01-01T00:00:00Z"),
            ("2018", "2018-01-01T00:00:00Z"),
            ("2018-01-26T00:11:22Z", "2018-01-26T00:11:22Z"),
            ("2018-01-26T00:11:22.345Z", "2018-01-26T00:11:22.345Z"),
            ("2018-01-26T00:11:22.3456789Z", "2018-01-26T00:11:22.345Z"),
            ("2018-01-26T00:11:22.3Z", "2018-01-26T00:11:22.300Z"),
            ("2018-01-26T02:11:22+02:00", "2018-01-26T00:11:22Z"),
            ("2018-01-25T22:11-02:00", "2018-01-26T00:11:00Z"),
            ("2018-01-26T00:11:22", "2018-01-26T00:11:22Z"),
            ("2018-01-26T24:00", "2018-01-27T00:00:00Z"),
            ("2018-02-31", "2018-03-03T00:00:00Z"),
            ("+002018-01-26", "2018-01-26T00:00:00Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Some(ms(expected)), "{input}");
        }
        assert_eq!(parse("-000001-01-01"), Some(-62_198_755_200_000));
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for input in [
            "",
            "nope",
            "2018-13-01",
            "2018-00-10",
            "2018-01-32",
            "2018-01-26T25:00",
            "2018-01-26T24:01",
            "2018-01-26T00:60",
            "2018-01-26T00:00:60",
            "2018-01-26T00:11:22.Z",
            "2018-1-26",
            "18-01-26",
            "2018-01-26T00",
            "2018-01-26 00:11:22",
            "-000000-01-01",
            "+275761-01-01",
            "2018-01-26T00:00+24:00",
        ] {
            assert_eq!(parse(input), None, "{input}");
        }
    }

    #[test]
    fn dates_outside_four_digit_years_use_signed_six_digit_years() {
        let mut out = Vec::new();
        write_json(&mut out, 8_640_000_000_000_000);
        out.push(b' ');
        write_json(&mut out, -62_198_755_200_000); // year -1
        out.push(b' ');
        write_json(&mut out, 8_640_000_000_000_001);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""+275760-09-13T00:00:00.000Z" "-000001-01-01T00:00:00.000Z" null"#
        );
    }

    #[test]
    fn dates_print_in_utc_with_milliseconds_and_z() {
        assert_eq!(json(1_565_381_882_350), r#""2019-08-09T20:18:02.350Z""#);
        assert_eq!(json(0), r#""1970-01-01T00:00:00.000Z""#);
        assert_eq!(json(-1), r#""1969-12-31T23:59:59.999Z""#);
        assert_eq!(json(951_782_400_000), r#""2000-02-29T00:00:00.000Z""#);
    }

    #[test]
    fn four_digit_years_print_as_chrono_prints_them() {
        // From year 0 to 9999 in uneven steps, so every digit of every field varies.
        let mut millis = -62_167_219_200_000_i64;
        while millis < 253_402_300_800_000 {
            let expected = chrono::DateTime::from_timestamp_millis(millis)
                .unwrap()
                .format("\"%Y-%m-%dT%H:%M:%S%.3fZ\"")
                .to_string();
            assert_eq!(json(millis), expected, "{millis}");
            millis += 1_234_567_890_123;
        }
    }

    #[test]
    fn parsing_and_printing_round_trip_across_the_range() {
        for text in [
            "-271821-04-20T00:00:00.000Z",
            "+275760-09-13T00:00:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "1600-03-01T12:34:56.789Z",
        ] {
            let millis = parse(text).unwrap();
            assert_eq!(json(millis), format!("\"{text}\""));
        }
    }
}
