//! The live feed under `scripts/bench live`: `streams PID BASE_URL N SECONDS MONGO_URL` opens N
//! live streams (as the fixture manager, over 10 filters) on the service with process id PID, then
//! reports the service's memory per idle stream, MongoDB reads per second while they are idle,
//! and, with one room changed a second for SECONDS, the reads per second and the events delivered.
//! It stops by itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongodb::bson::{doc, DateTime, Document};

/// The filters the streams follow, in turn: as many groups, whatever N.
const FILTERS: [&str; 10] = [
    "open=true",
    "departmentId=dep-sales",
    "departmentId=dep-support",
    "open=true&departmentId=dep-sales",
    "agents[]=agent-1-id",
    "queued=true",
    "onhold=true",
    "tags[]=vip",
    "open=false",
    "",
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pid, base, n, seconds, mongo_url] = args.as_slice() else {
        eprintln!("usage: streams PID BASE_URL N SECONDS MONGO_URL");
        std::process::exit(2);
    };
    let (n, seconds): (usize, u64) = (n.parse().unwrap(), seconds.parse().unwrap());
    assert!(base.starts_with("http://127.0.0.1:"), "loopback only");
    let client = reqwest::Client::new();
    let metrics_url = base.replace("/api/v1/livechat/rooms", "/metrics");
    let rss_before = rss_kb(pid);
    let opened = Arc::new(AtomicUsize::new(0));
    let events = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    // Eight opening at once, as the CPU benchmark's load: the test servers take few connections.
    let opening = Arc::new(tokio::sync::Semaphore::new(8));
    for i in 0..n {
        let url = format!("{base}?{}", FILTERS[i % FILTERS.len()]);
        let (client, opened, events) = (client.clone(), opened.clone(), events.clone());
        let permit = opening.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let mut response = client
                .get(url)
                .header("Accept", "text/event-stream")
                .header("X-User-Id", "manager-id")
                .header("X-Auth-Token", "manager-token")
                .send()
                .await
                .expect("the service answers");
            if response.status() != 200 {
                let status = response.status();
                eprintln!(
                    "a stream did not open: {status} {}",
                    response.text().await.unwrap_or_default()
                );
                std::process::exit(1);
            }
            let mut first = true;
            let mut permit = Some(permit);
            while let Ok(Some(chunk)) = response.chunk().await {
                if first {
                    opened.fetch_add(1, Ordering::SeqCst);
                    first = false;
                    permit.take();
                }
                let text = String::from_utf8_lossy(&chunk);
                events.fetch_add(text.matches("event: room").count(), Ordering::Relaxed);
            }
        }));
    }
    while opened.load(Ordering::SeqCst) < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{n} streams open within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_after = started.elapsed();
    // Let the allocator settle, then measure the idle streams.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_open = rss_kb(pid);
    println!(
        "{n} streams open in {:.1} s; service RSS {:.1} MB -> {:.1} MB: {:.1} KB per idle stream",
        open_after.as_secs_f64(),
        rss_before as f64 / 1024.0,
        rss_open as f64 / 1024.0,
        (rss_open.saturating_sub(rss_before)) as f64 / n as f64,
    );
    let reads = |text: &str, op: &str| -> f64 {
        let key = format!("livechat_rooms_db_call_duration_seconds_count{{operation=\"{op}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key)?.parse().ok())
            .unwrap_or(0.0)
    };
    let window = Duration::from_secs(seconds);
    let before = scrape(&client, &metrics_url).await;
    tokio::time::sleep(window).await;
    let after = scrape(&client, &metrics_url).await;
    let per_s = |op| (reads(&after, op) - reads(&before, op)) / window.as_secs_f64();
    println!(
        "idle, {seconds} s: {:.2} reads of what changed per second, {:.2} reads of rooms per \
         second, {:.2} reads of the streams' users per second",
        per_s("live.changes"),
        per_s("live.rooms"),
        per_s("live.users"),
    );

    let client_db = mongodb::Client::with_uri_str(mongo_url).await.unwrap();
    let rooms = client_db
        .default_database()
        .expect("MONGO_URL names the database")
        .collection::<Document>("rocketchat_room");
    let delivered_before = events.load(Ordering::SeqCst);
    let before = scrape(&client, &metrics_url).await;
    let changed_at = Instant::now();
    for second in 0..seconds {
        let now = DateTime::now();
        rooms
            .insert_one(doc! {
                "_id": format!("bench-live-{}-{second}", std::process::id()),
                "fname": "Bench live", "t": "l", "ts": now, "open": true,
                "servedBy": {"_id": "agent-1-id", "username": "agent.one"},
                "departmentId": "dep-sales", "tags": ["vip"], "_updatedAt": now,
            })
            .await
            .unwrap();
        tokio::time::sleep_until((changed_at + Duration::from_secs(second + 1)).into()).await;
    }
    // The last change's poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = scrape(&client, &metrics_url).await;
    let elapsed = changed_at.elapsed().as_secs_f64();
    let per_s = |op| (reads(&after, op) - reads(&before, op)) / elapsed;
    // Each inserted room matches 6 of the 10 filters (open, sales, open+sales, agent 1, vip, all).
    let expected = seconds as usize * (n / FILTERS.len()) * 6;
    println!(
        "a room changed a second, {seconds} s: {:.2} reads of what changed per second, {:.2} reads \
         of rooms per second (10 filters), {} of {expected} room events delivered",
        per_s("live.changes"),
        per_s("live.rooms"),
        events.load(Ordering::SeqCst) - delivered_before,
    );
    for task in tasks {
        task.abort();
    }
}

/// The service's metrics, as text.
async fn scrape(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.expect("the service answers");
    response.text().await.expect("the metrics")
}

fn rss_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the service runs")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
