//! The Grafana dashboard (`deploy/grafana/livechat-rooms.json`) and Rocket.Chat's own REST queries,
//! evaluated by a real Prometheus (Debian's `prometheus`, which `scripts/test` installs) that
//! scrapes two instances of the service: one on the fixtures, one whose database is down.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

/// Rocket.Chat's dashboards' REST panels (RocketChat/helm-charts `monitoring`,
/// Rocket.Chat.Metrics): they must show `livechat/rooms` beside Rocket.Chat's own entrypoints.
const ROCKETCHAT_QUERIES: [&str; 5] = [
    "sum(rate(rocketchat_rest_api_count[1m])) by (entrypoint)",
    "sum(rate(rocketchat_rest_api_sum[1m])) by (entrypoint)",
    r#"sum(rocketchat_rest_api{quantile="0.5"}) by (entrypoint)"#,
    "histogram_quantile(0.95, sum(rate(rocketchat_rest_api_seconds_bucket[1m])) by (le, entrypoint))",
    "sum(rocketchat_rest_api_count) by (entrypoint, status)",
];

/// A Prometheus server on a free loopback port, stopped with the test.
struct Prometheus {
    url: String,
    client: reqwest::Client,
    _process: tokio::process::Child,
    _dir: TempDir,
}

impl Prometheus {
    /// `None` (and says so) where no prometheus is installed, outside CI; CI must run it.
    async fn start(targets: &[&str]) -> Option<Prometheus> {
        let binary = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        if !installed_or_required(&binary, "check the dashboard", "apt-get install prometheus") {
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("livechat-rooms-prometheus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
                 - job_name: livechat-rooms\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .unwrap();
        let port = free_port();
        let process = tokio::process::Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        Some(Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _process: process,
            _dir: TempDir(dir),
        })
    }

    /// The result vector of an instant query; `None` while Prometheus is not answering yet.
    async fn query(&self, expr: &str) -> Option<Vec<Value>> {
        let reply = self
            .client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .ok()?;
        let body: Value = reply.json().await.ok()?;
        assert_eq!(body["status"], "success", "{expr}: {body}");
        Some(
            body["data"]["result"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Waits (at most 60 s) until `expr` returns at least one series.
    async fn wait_for(&self, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.query(expr).await.is_some_and(|r| !r.is_empty()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never had data for {expr}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Every query of the dashboard, with Grafana's variables as a person viewing every instance
/// would have them.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/livechat-rooms.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let expr = expr
                .replace("$__rate_interval", "1m")
                .replace("$instance", ".*");
            queries.push((panel["title"].as_str().unwrap().to_owned(), expr));
        }
    }
    queries
}

/// The metric names a query reads (ours, Rocket.Chat's and the process's), without the
/// `_bucket`/`_count`/`_sum` of a histogram or summary.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| {
            ["livechat_rooms_", "rocketchat_", "process_"]
                .iter()
                .any(|p| t.starts_with(p))
        })
        .map(String::from)
        .collect()
}

/// The labels a query groups by (`by (a, b)`).
fn grouping_labels(expr: &str) -> Vec<String> {
    expr.match_indices("by (")
        .filter_map(|(at, by)| {
            let rest = &expr[at + by.len()..];
            Some(rest[..rest.find(')')?].to_owned())
        })
        .flat_map(|list| {
            list.split(',')
                .map(|l| l.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[tokio::test]
async fn every_dashboard_query_and_rocket_chats_rest_queries_return_data_from_a_real_prometheus() {
    let app = spawn_app().await;
    let down = spawn_app_without_database().await;
    let host = |app: &TestApp| app.address.trim_start_matches("http://").to_owned();
    let Some(prometheus) = Prometheus::start(&[&host(&app), &host(&down)]).await else {
        return;
    };

    // Traffic that every panel shows: a 200, a 401, a 400, a blocking sort, exports, a cursor
    // walk, and a 503 from the instance whose database is down.
    assert_eq!(app.get_rooms("count=2", MANAGER).await.status, 200);
    assert_eq!(app.get_rooms("count=2", ANONYMOUS).await.status, 401);
    assert_eq!(app.get_rooms("count=-1", MANAGER).await.status, 400);
    let sort = enc(r#"{"fname":1}"#);
    assert_eq!(
        app.get_rooms(&format!("count=3&sort={sort}"), MANAGER)
            .await
            .status,
        200
    );
    assert_eq!(app.get_rooms("cursor=&count=2", MANAGER).await.status, 200);
    for accept in ["text/csv", "application/x-ndjson"] {
        let reply = app
            .request_with_headers(
                reqwest::Method::GET,
                &format!("{ROOMS}?count=2"),
                MANAGER,
                &[("Accept", accept)],
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(down.get_rooms("count=2", MANAGER).await.status, 503);

    // Two scrapes after the last request, so that every rate has two samples.
    prometheus
        .wait_for(r#"count_over_time(rocketchat_rest_api_count{status="503"}[1m]) >= 2"#)
        .await;
    prometheus
        .wait_for(r#"count_over_time(livechat_rooms_listings_total{format="ndjson"}[1m]) >= 2"#)
        .await;

    let queries = dashboard_queries();
    assert!(queries.len() >= 15, "the dashboard has its panels");
    let mut failures = Vec::new();
    for (title, expr) in &queries {
        match prometheus.query(expr).await {
            Some(result) if !result.is_empty() => {}
            _ => failures.push(format!("{title}: no data for {expr}")),
        }
        // A query that names a metric the service does not export, or groups by a label its
        // metrics do not have, fails even where `or vector(0)` would hide it.
        for name in metric_names(expr) {
            let exported = prometheus
                .query(&format!("count({{__name__=\"{name}\"}})"))
                .await;
            if exported.is_none_or(|r| r.is_empty()) {
                failures.push(format!("{title}: {name} is not exported"));
            }
        }
        for label in grouping_labels(expr) {
            let mut found = false;
            for name in metric_names(expr) {
                let series = prometheus
                    .query(&format!("count by ({label}) ({{__name__=\"{name}\"}})"))
                    .await
                    .unwrap_or_default();
                found |= series.iter().any(|s| s["metric"][&label].is_string());
            }
            if !found {
                failures.push(format!(
                    "{title}: no metric of {expr} has the label {label}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    for expr in ROCKETCHAT_QUERIES {
        let result = prometheus.query(expr).await.unwrap();
        assert!(
            result
                .iter()
                .any(|s| s["metric"]["entrypoint"] == "livechat/rooms"),
            "{expr} does not show livechat/rooms: {result:?}"
        );
    }
    // Rocket.Chat's per-status view counts the sidecar's 200, 401, 400 and 503 apart.
    let by_status = prometheus
        .query(r#"sum by (status) (rocketchat_rest_api_count{entrypoint="livechat/rooms",method="get",version="v1"})"#)
        .await
        .unwrap();
    let mut statuses: Vec<&str> = by_status
        .iter()
        .filter_map(|s| s["metric"]["status"].as_str())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["200", "400", "401", "503"]);
    assert!(prometheus
        .query("rocketchat_info")
        .await
        .unwrap()
        .is_empty());
}

#[test]
fn the_query_reader_finds_metric_names_and_grouping_labels() {
    let expr = "histogram_quantile(0.95, sum by (le, operation) (rate(livechat_rooms_db_call_duration_seconds_bucket{x=\"1\"}[1m])))";
    assert_eq!(
        metric_names(expr),
        ["livechat_rooms_db_call_duration_seconds_bucket"]
    );
    assert_eq!(grouping_labels(expr), ["le", "operation"]);
}
