//! Rooms as CSV (contract §7), for a supervisor's spreadsheet: a header row, then one row per room
//! in [`COLUMNS`], RFC 4180 (every cell quoted, `"` doubled, CRLF line ends), UTF-8. A cell that a
//! spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a CR) gets a
//! leading `'`, as OWASP's CSV injection advice says, so it stays text.

use mongodb::bson::{RawArray, RawBsonRef, RawDocument};

/// The columns, in order.
pub const COLUMNS: [&str; 10] = [
    "_id",
    "fname",
    "visitor",
    "agent",
    "department",
    "ts",
    "closedAt",
    "status",
    "tags",
    "msgs",
];

/// The header row.
pub fn header(out: &mut Vec<u8>) {
    row(out, COLUMNS.iter().map(|c| (*c).to_owned()));
}

/// One room's row. `department_of` gives a department's `{_id, name}` by id, as for JSON.
pub fn room<'d>(
    out: &mut Vec<u8>,
    room: &RawDocument,
    department_of: impl Fn(&str) -> Option<&'d RawDocument>,
) {
    let text = |doc: &RawDocument, key: &str| -> String {
        match doc.get(key) {
            Ok(Some(RawBsonRef::String(s))) => s.to_owned(),
            Ok(Some(RawBsonRef::Int32(n))) => n.to_string(),
            Ok(Some(RawBsonRef::Int64(n))) => n.to_string(),
            Ok(Some(RawBsonRef::Double(n))) => {
                let mut out = Vec::new();
                crate::js::number(&mut out, n);
                String::from_utf8(out).unwrap_or_default()
            }
            Ok(Some(RawBsonRef::ObjectId(id))) => id.to_hex(),
            Ok(Some(RawBsonRef::DateTime(date))) => {
                let mut out = Vec::new();
                crate::jsdate::write_json(&mut out, date.timestamp_millis());
                String::from_utf8(out)
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned()
            }
            _ => String::new(),
        }
    };
    let sub = |key: &str| match room.get(key) {
        Ok(Some(RawBsonRef::Document(doc))) => Some(doc),
        _ => None,
    };
    let visitor = sub("v").map(|v| {
        let name = text(v, "name");
        if name.is_empty() {
            text(v, "username")
        } else {
            name
        }
    });
    let agent = sub("servedBy").map(|s| text(s, "username"));
    let department = match room.get("departmentId") {
        Ok(Some(RawBsonRef::String(id))) => department_of(id).map(|d| text(d, "name")),
        _ => None,
    };
    let flag = |key: &str| matches!(room.get(key), Ok(Some(RawBsonRef::Boolean(true))));
    // As Rocket.Chat's Current Chats names it (its `getStatusText`): closed first, then queued
    // (open without an agent), then on hold.
    let status = if !flag("open") {
        "closed"
    } else if sub("servedBy").is_none() {
        "queued"
    } else if flag("onHold") {
        "on hold"
    } else {
        "open"
    };
    let tags = match room.get("tags") {
        Ok(Some(RawBsonRef::Array(tags))) => joined(tags),
        _ => String::new(),
    };
    row(
        out,
        [
            text(room, "_id"),
            text(room, "fname"),
            visitor.unwrap_or_default(),
            agent.unwrap_or_default(),
            department.unwrap_or_default(),
            text(room, "ts"),
            text(room, "closedAt"),
            status.to_owned(),
            tags,
            text(room, "msgs"),
        ],
    );
}

fn joined(tags: &RawArray) -> String {
    let tags: Vec<&str> = tags
        .into_iter()
        .filter_map(|t| match t {
            Ok(RawBsonRef::String(s)) => Some(s),
            _ => None,
        })
        .collect();
    tags.join(", ")
}

fn row(out: &mut Vec<u8>, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            out.push(b'\'');
        }
        for byte in cell.bytes() {
            if byte == b'"' {
                out.push(b'"');
            }
            out.push(byte);
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{rawdoc, DateTime};

    fn csv(room: &RawDocument) -> String {
        let dept = rawdoc! {"_id": "d1", "name": "Sales, \"EU\""};
        let mut out = Vec::new();
        super::room(&mut out, room, |id| (id == "d1").then_some(dept.as_ref()));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_header_names_the_columns() {
        let mut out = Vec::new();
        header(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"_id\",\"fname\",\"visitor\",\"agent\",\"department\",\"ts\",\"closedAt\",\"status\",\"tags\",\"msgs\"\r\n"
        );
    }

    #[test]
    fn a_room_is_one_quoted_row() {
        let room = rawdoc! {
            "_id": "r1", "fname": "Ada \"the\" first\nline", "t": "l",
            "ts": DateTime::from_millis(1_516_924_800_000),
            "v": {"username": "guest-1", "name": "Ada"},
            "servedBy": {"_id": "a1", "username": "agent.one"},
            "departmentId": "d1", "open": true, "tags": ["vip", "billing"], "msgs": 3,
        };
        assert_eq!(
            csv(&room),
            "\"r1\",\"Ada \"\"the\"\" first\nline\",\"Ada\",\"agent.one\",\"Sales, \"\"EU\"\"\",\"2018-01-26T00:00:00.000Z\",\"\",\"open\",\"vip, billing\",\"3\"\r\n"
        );
    }

    #[test]
    fn states_are_named() {
        let state = |room: &RawDocument| csv(room).split(',').nth(7).unwrap().to_owned();
        assert_eq!(state(&rawdoc! {"_id": "q", "open": true}), "\"queued\"");
        assert_eq!(
            state(
                &rawdoc! {"_id": "h", "open": true, "onHold": true, "servedBy": {"username": "x"}}
            ),
            "\"on hold\""
        );
        assert_eq!(
            state(&rawdoc! {"_id": "c", "closedAt": DateTime::from_millis(0)}),
            "\"closed\""
        );
        // Closed and on hold (a chat closed while held): closed, as Current Chats shows it.
        assert_eq!(
            state(&rawdoc! {"_id": "ch", "onHold": true, "servedBy": {"username": "x"}}),
            "\"closed\""
        );
        assert_eq!(
            state(&rawdoc! {"_id": "qh", "open": true, "onHold": true}),
            "\"queued\""
        );
    }

    #[test]
    fn cells_a_spreadsheet_would_run_stay_text() {
        for formula in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            let row = csv(&rawdoc! {"_id": "r", "fname": formula});
            let cell = row.split(',').nth(1).unwrap();
            assert_eq!(cell, format!("\"'{formula}\""), "{formula:?}");
        }
        let row = csv(&rawdoc! {"_id": "r", "fname": "a=b"});
        assert_eq!(row.split(',').nth(1).unwrap(), "\"a=b\"");
    }
}
