//! `cargo bench`: the CPU work of one response without the database: building the filter and
//! rendering a page of 100 rooms, next to the naive path (BSON → serde_json::Value → bytes) that
//! raw rendering replaces, and the sort decision on Rocket.Chat's index list. A plain timing loop:
//! it prints a ratio between two paths, which a bench framework (criterion, divan) would not
//! make clearer, and keeps their compile time out of `cargo clippy --all-targets`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use livechat_rooms::render;
use livechat_rooms::rooms::indexes::IndexSpec;
use livechat_rooms::rooms::sort_plan;
use livechat_rooms::rooms::{filter, Listing, RoomsQuery};
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document, RawDocument, RawDocumentBuf};

fn room(i: u32) -> Document {
    doc! {
        "_id": format!("room-{i:05}"),
        "fname": format!("Visitor {i} \"quoted\""),
        "t": "l",
        "ts": DateTime::from_millis(1_550_000_000_000 + i64::from(i) * 60_000),
        "v": {"_id": ObjectId::new(), "username": format!("guest-{i}"), "token": "abcdef0123456789", "status": "online"},
        "servedBy": {"_id": "agent-1-id", "username": "agent.one", "ts": DateTime::from_millis(1_550_000_000_500)},
        "departmentId": "dep-sales",
        "open": true,
        "tags": ["vip", "billing"],
        "livechatData": {"docId": "031041", "plan": "Gold", "score": 7.5},
        "msgs": i,
        "metrics": {"response": {"avg": 12.25, "ft": 3.5, "total": 4}, "reaction": {"ft": 2.0}},
        "_updatedAt": DateTime::from_millis(1_550_000_100_000),
    }
}

fn time(name: &str, iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = start.elapsed() / iterations;
    println!("{name:<48} {per:>10.2?} per call");
    per
}

fn main() {
    let docs: Vec<Document> = (0..100).map(room).collect();
    let raw: Vec<RawDocumentBuf> = docs
        .iter()
        .map(|d| RawDocumentBuf::from_document(d).unwrap())
        .collect();
    let department =
        RawDocumentBuf::from_document(&doc! {"_id": "dep-sales", "name": "Sales"}).unwrap();
    fn page(rooms: &[RawDocumentBuf]) -> impl Iterator<Item = &RawDocument> {
        rooms.iter().map(|r| r.as_ref())
    }
    let department_of = |_: &str| Some(department.as_ref());
    let body = render::rooms_page(page(&raw), department_of, 0, 100).unwrap();
    println!("page of 100 rooms: {} bytes of JSON", body.len());

    let raw_time = time("render 100 raw rooms to JSON bytes", 2_000, || {
        black_box(render::rooms_page(page(black_box(&raw)), department_of, 0, 100).unwrap());
    });
    let naive_time = time(
        "naive: Document → serde_json::Value → bytes",
        2_000,
        || {
            let rooms: Vec<serde_json::Value> = black_box(&docs)
                .iter()
                .map(|d| mongodb::bson::Bson::Document(d.clone()).into_relaxed_extjson())
                .collect();
            black_box(serde_json::to_vec(&serde_json::json!({"rooms": rooms, "count": 100, "offset": 0, "total": 100, "success": true})).unwrap());
        },
    );
    println!(
        "raw rendering is {:.1}x the naive path",
        naive_time.as_secs_f64() / raw_time.as_secs_f64()
    );

    let query = "agents[]=agent-1-id&departmentId=dep-sales&open=true&roomName=Ada%20L&tags[]=vip\
        &createdAt=%7B%22start%22%3A%222018-01-26%22%7D&customFields=%7B%22docId%22%3A%22031041%22%7D\
        &sort=%7B%22ts%22%3A-1%7D&count=50&offset=100";
    time(
        "parse + validate a 10-parameter query string",
        20_000,
        || {
            black_box(RoomsQuery::from_query_string(black_box(query)).unwrap());
        },
    );
    let listing = Listing::unrestricted(RoomsQuery::from_query_string(query).unwrap());
    let rocket_chat = [
        IndexSpec::new("_id_", &[("_id", 1)], None),
        IndexSpec::new("ts_1", &[("ts", 1)], None),
        IndexSpec::new("t_1_ts_1", &[("t", 1), ("ts", 1)], None),
        IndexSpec::new(
            "departmentId_1_ts_1",
            &[("departmentId", 1), ("ts", 1)],
            Some(doc! {"t": "l"}),
        ),
    ];
    time("build filter + sort plan + projection", 20_000, || {
        let filter = filter::to_filter(black_box(&listing));
        let sort = listing.query.requested_sort();
        let plan = sort_plan::plan_sort(Some(&rocket_chat), &filter, &sort);
        black_box((filter, plan, filter::to_projection(&listing.query)));
    });
}
