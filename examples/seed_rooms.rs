//! Fills a database with generated livechat rooms for scripts/bench's memory run:
//! `seed_rooms MONGO_URL N` inserts N rooms (about 600 bytes of JSON each, like a real room with
//! its visitor, agent, metrics and custom fields) into `rocketchat_room`, replacing earlier ones.

use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: seed_rooms MONGO_URL N");
        std::process::exit(2);
    };
    let client = mongodb::Client::with_uri_str(url)
        .await
        .expect("a MongoDB URL");
    let db = client
        .default_database()
        .expect("MONGO_URL names the database");
    let rooms = db.collection::<Document>("rocketchat_room");
    rooms
        .delete_many(doc! { "_id": { "$regex": "^gen-" } })
        .await
        .expect("old generated rooms removed");
    let batch = 2_000;
    for start in (0..n).step_by(batch as usize) {
        let docs: Vec<Document> = (start..n.min(start + batch)).map(room).collect();
        rooms.insert_many(docs).await.expect("rooms inserted");
    }
    println!("inserted {n} rooms into {}.rocketchat_room", db.name());
}

fn room(i: u32) -> Document {
    doc! {
        "_id": format!("gen-{i:07}"),
        "fname": format!("Generated visitor {i}"),
        "t": "l",
        "ts": DateTime::from_millis(1_500_000_000_000 + i64::from(i) * 60_000),
        "v": {"_id": ObjectId::new(), "username": format!("guest-{i}"), "token": "abcdef0123456789", "status": "online"},
        "servedBy": {"_id": "agent-1-id", "username": "agent.one", "ts": DateTime::from_millis(1_500_000_000_500)},
        "departmentId": if i % 2 == 0 { "dep-sales" } else { "dep-support" },
        "open": true,
        "tags": ["vip", "billing"],
        "livechatData": {"docId": format!("{i:06}"), "plan": "Gold", "score": 7.5},
        "msgs": i % 40,
        "metrics": {"response": {"avg": 12.25, "ft": 3.5, "total": 4}, "reaction": {"ft": 2.0}},
        "_updatedAt": DateTime::from_millis(1_500_000_100_000),
    }
}
