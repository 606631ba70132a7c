//! A Server-Sent Events client as a browser's reads a stream (block by block, comments apart),
//! and the room changes the live feed's tests make in their database.

use std::time::Duration;

use mongodb::bson::{doc, DateTime, Document};
use serde_json::Value;

use crate::helpers::*;

/// How long a test waits for an event before it fails (never as synchronisation: events come
/// as soon as the poller sees the change).
const EVENT_WAIT: Duration = Duration::from_secs(15);
/// One Server-Sent Event (or comment block), as a client parses it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub comment: Option<String>,
    pub retry: Option<String>,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().unwrap_or_default()).unwrap()
    }

    pub fn room_id(&self) -> String {
        self.json()["_id"].as_str().unwrap_or_default().to_owned()
    }
}

/// An open stream.
pub struct Stream {
    pub response: reqwest::Response,
    buffer: String,
}

/// Opens `ROOMS?query` as a stream; the answer when it is not a stream.
pub async fn open(
    app: &TestApp,
    query: &str,
    creds: Creds,
    headers: &[(&str, &str)],
) -> Result<Stream, (u16, String)> {
    let request = app
        .client
        .get(format!("{}{ROOMS}?{query}", app.address))
        .header("Accept", "text/event-stream");
    let response = with_headers(request, creds, headers)
        .send()
        .await
        .expect("the service answers");
    if response.status() != 200 {
        let status = response.status().as_u16();
        return Err((status, response.text().await.unwrap()));
    }
    Ok(Stream {
        response,
        buffer: String::new(),
    })
}

pub async fn stream(app: &TestApp, query: &str, creds: Creds) -> Stream {
    let mut stream = open(app, query, creds, &[])
        .await
        .unwrap_or_else(|(status, body)| panic!("no stream: {status} {body}"));
    let first = stream.next().await.expect("the opening lines");
    assert_eq!(first.retry.as_deref(), Some("2000"), "{first:?}");
    stream
}

impl Stream {
    /// The next block, `None` when the stream ended. Fails after [`EVENT_WAIT`].
    pub async fn next(&mut self) -> Option<Event> {
        tokio::time::timeout(EVENT_WAIT, self.read_block())
            .await
            .expect("the stream writes within the wait")
    }

    async fn read_block(&mut self) -> Option<Event> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                return Some(parse(&block));
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(None) => return None,
                Err(err) => panic!("the stream broke instead of ending: {err}"),
            }
        }
    }

    /// The next event, comments skipped.
    pub async fn next_event(&mut self) -> Event {
        loop {
            let block = self.next().await.expect("an event before the end");
            if block.event.is_some() {
                return block;
            }
        }
    }

    /// Reads until the stream ends; the comments on the way.
    pub async fn until_end(&mut self) -> Vec<Event> {
        let mut seen = Vec::new();
        while let Some(block) = self.next().await {
            seen.push(block);
        }
        seen
    }
}

fn parse(block: &str) -> Event {
    let mut event = Event::default();
    for line in block.lines().filter(|l| !l.is_empty()) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "" => event.comment = Some(value),
            "id" => event.id = Some(value),
            "event" => event.event = Some(value),
            "data" => event.data = Some(value),
            "retry" => event.retry = Some(value),
            other => panic!("unknown field {other:?} in {block:?}"),
        }
    }
    event
}

/// A livechat room, open and served by agent 1 in `dep-sales`, changed now.
pub fn open_room(id: &str) -> Document {
    doc! {
        "_id": id, "fname": format!("Live {id}"), "t": "l", "ts": DateTime::now(),
        "servedBy": {"_id": "agent-1-id", "username": "agent.one"},
        "departmentId": "dep-sales", "open": true, "msgs": 1, "_updatedAt": DateTime::now(),
    }
}

/// The room `id` closed now.
pub async fn close_room(app: &TestApp, id: &str) {
    change_room(app, id, |room| {
        room.remove("open");
        room.insert("closedAt", DateTime::now());
    })
    .await;
}

/// The room `id` changed by `change`, its `_updatedAt` now. Replaced whole: nx-27017 stores a
/// `$set` date as text.
pub async fn change_room(app: &TestApp, id: &str, change: impl FnOnce(&mut Document)) {
    let rooms = app.db.collection::<Document>("rocketchat_room");
    let mut room = rooms
        .find_one(doc! {"_id": id})
        .await
        .unwrap()
        .expect("the room exists");
    change(&mut room);
    room.insert("_updatedAt", DateTime::now());
    rooms.replace_one(doc! {"_id": id}, room).await.unwrap();
}

/// The room as the JSON listing renders it.
pub async fn listed(app: &TestApp, id: &str) -> String {
    let reply = app
        .get_rooms(&format!("roomName=%22Live%20{id}%22"), MANAGER)
        .await;
    let body = reply.body;
    let start = body.find(r#"{"rooms":["#).unwrap() + 10;
    let end = body.rfind(r#"],"count""#).unwrap();
    body[start..end].to_owned()
}
