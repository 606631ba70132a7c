//! A bounded load generator for scripts/bench: `load URL REQUESTS CONCURRENCY [STATUS]` sends
//! REQUESTS GETs (as the fixture manager) with CONCURRENCY in flight to a loopback URL, checks each
//! answer's status (default 200), then prints throughput and latency percentiles. It stops by
//! itself. `URL` may also be `@FILE`: the URLs of that file, one a line, taken in turn.
//! `LOAD_ACCEPT` sets the `Accept` header (e.g. `application/x-ndjson`, `text/csv`);
//! `LOAD_NEW_CONNECTIONS=1` opens a new connection for every request.

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(requests), Some(concurrency)) = (
        args.first().cloned(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: load URL REQUESTS CONCURRENCY [STATUS]");
        std::process::exit(2);
    };
    let expected: u16 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let urls: Vec<String> = match url.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .expect("the URL file")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec![url],
    };
    assert!(
        !urls.is_empty() && urls.iter().all(|u| u.starts_with("http://127.0.0.1:")),
        "loopback URLs only"
    );
    let urls = std::sync::Arc::new(urls);
    let accept = std::env::var("LOAD_ACCEPT").unwrap_or_else(|_| "application/json".to_owned());
    // LOAD_NEW_CONNECTIONS=1: a new TCP connection for every request (nginx's `proxy_pass`
    // without upstream keepalive); otherwise connections are kept, as proxies with keep-alive do.
    let client = if std::env::var_os("LOAD_NEW_CONNECTIONS").is_some() {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("a client")
    } else {
        reqwest::Client::new()
    };
    let started = Instant::now();
    let per_worker = requests.div_ceil(concurrency);
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (client, urls, accept) = (client.clone(), urls.clone(), accept.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_worker);
                for i in 0..per_worker {
                    let url = &urls[(worker + i * concurrency) % urls.len()];
                    let t = Instant::now();
                    let response = client
                        .get(url)
                        .header("X-User-Id", "manager-id")
                        .header("X-Auth-Token", "manager-token")
                        .header("Accept", &accept)
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(response.status().as_u16(), expected, "{url}");
                    let body = response.bytes().await.expect("body");
                    latencies.push((t.elapsed(), body.len()));
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut bytes = 0;
    for worker in workers {
        for (latency, size) in worker.await.expect("worker") {
            latencies.push(latency);
            bytes += size;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "requests={} bytes={bytes} elapsed={:.2?} rps={:.0} p50={:.2?} p99={:.2?} max={:.2?}",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}
