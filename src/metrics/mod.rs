//! Prometheus metrics, one registry per application: HTTP requests by status and their latency,
//! database calls' latency and errors, rooms returned, requests shed or rate-limited, bodies cut
//! short, and malformed HTTP requests; beside them Rocket.Chat's own REST metrics for the listing
//! ([`rocketchat`]) and the process's (memory, CPU, open files). Served as text on `GET /metrics`.

pub mod live;
pub mod rocketchat;

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use rocketchat::{RestApiMetrics, RestCall};

/// Latency buckets in seconds, from 1 ms to 10 s.
pub(crate) const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Requests the HTTP layer refused before routing (malformed, or over its size limits). Counted
/// from the log records actix writes about them (see `logging.rs`), so it is process-wide.
pub static MALFORMED_REQUESTS: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new(
        "malformed_requests_total",
        "HTTP requests refused before routing: malformed, or over the size limits",
    )
    .expect("valid metric")
});

/// Requests answered 503 because the database could not be reached or did not answer in time
/// (requests shed by `MAX_IN_FLIGHT` are `requests_shed_total`). Counted where the error is
/// answered (`error.rs`), so it is process-wide.
pub static DATABASE_UNAVAILABLE: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new(
        "database_unavailable_total",
        "Requests answered 503 because MongoDB could not be reached or did not answer in time",
    )
    .expect("valid metric")
});

/// Values held in memory (settings, permissions, departments, ...) whose re-read failed: the held
/// value keeps serving until its bound, then requests read it themselves. By value.
pub static HELD_VALUE_REFRESH_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "held_value_refresh_failures_total",
            "Background re-reads of a held value (settings, permissions, departments, units, \
             indexes) that failed, by value",
        ),
        &["value"],
    )
    .expect("valid metric")
});

pub struct Metrics {
    registry: Registry,
    /// Metrics under other systems' names (Rocket.Chat's, the process's): no prefix.
    plain: Registry,
    pub rest: Arc<RestApiMetrics>,
    /// The live feed's (`live_*`).
    pub live: Arc<live::LiveMetrics>,
    /// `listings_total` by format and paging, looked up once.
    listings: Vec<(&'static str, &'static str, IntCounter)>,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    in_flight: IntGauge,
    db_duration: HistogramVec,
    db_errors: IntCounterVec,
    rooms_returned: IntCounter,
    shed: IntCounter,
    rate_limited: IntCounter,
    bodies_cut: IntCounter,
    /// `listing_sorts_total` by label, looked up once (a label lookup hashes its text).
    listing_sorts: Vec<(&'static str, IntCounter)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("livechat_rooms".into()), None).expect("a valid prefix");
        let plain = Registry::new();
        let rest = Arc::new(RestApiMetrics::new());
        let live = Arc::new(live::LiveMetrics::new());
        for collector in live.collectors() {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        for collector in rest.collectors() {
            plain.register(collector).expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        plain
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("metric names are unique");
        let listings = IntCounterVec::new(
            Opts::new(
                "listings_total",
                "Listings sent to MongoDB, by format (json, ndjson, csv) and paging (offset, \
                 cursor: a keyset walk or sync)",
            ),
            &["format", "paging"],
        )
        .expect("valid metric");
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route",
            )
            .buckets(BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new("http_requests_in_flight", "HTTP requests being answered")
            .expect("valid metric");
        let db_duration = HistogramVec::new(
            HistogramOpts::new(
                "db_call_duration_seconds",
                "Time of one database call, by operation",
            )
            .buckets(BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let db_errors = IntCounterVec::new(
            Opts::new(
                "db_errors_total",
                "Database calls that failed, by operation",
            ),
            &["operation"],
        )
        .expect("valid metric");
        let rooms_returned =
            IntCounter::new("rooms_returned_total", "Rooms sent in listing responses")
                .expect("valid metric");
        let shed = IntCounter::new(
            "requests_shed_total",
            "Listing requests answered 503 at once because MAX_IN_FLIGHT were already working",
        )
        .expect("valid metric");
        let rate_limited = IntCounter::new(
            "rate_limited_total",
            "Listing requests answered 429 by the rate limiter",
        )
        .expect("valid metric");
        let bodies_cut = IntCounter::new(
            "bodies_cut_total",
            "Listing bodies cut short because the database failed after the first bytes",
        )
        .expect("valid metric");
        let listing_sorts = IntCounterVec::new(
            Opts::new(
                "listing_sorts_total",
                "Listings sent to MongoDB, by how their sort is served: index_with_tie_breaker, \
                 index (the sort alone, as Rocket.Chat's), blocking (no index: sorted in memory), \
                 unknown (the index list could not be read)",
            ),
            &["served"],
        )
        .expect("valid metric");
        let sorts: Vec<(&'static str, IntCounter)> =
            ["index_with_tie_breaker", "index", "blocking", "unknown"]
                .into_iter()
                .map(|served| (served, listing_sorts.with_label_values(&[served])))
                .collect();
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(in_flight.clone()),
            Box::new(db_duration.clone()),
            Box::new(db_errors.clone()),
            Box::new(rooms_returned.clone()),
            Box::new(shed.clone()),
            Box::new(rate_limited.clone()),
            Box::new(bodies_cut.clone()),
            Box::new(listing_sorts.clone()),
            Box::new(MALFORMED_REQUESTS.clone()),
            Box::new(DATABASE_UNAVAILABLE.clone()),
            Box::new(HELD_VALUE_REFRESH_FAILURES.clone()),
            Box::new(listings.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        // Every held value (`state.rs` names them) has its series from the start, so a dashboard
        // shows 0 rather than nothing.
        for value in [
            "settings",
            "permissions",
            "departments",
            "indexes",
            "units of a user",
            "agent ids",
        ] {
            HELD_VALUE_REFRESH_FAILURES.with_label_values(&[value]);
        }
        let listings = ["json", "ndjson", "csv"]
            .into_iter()
            .flat_map(|f| ["offset", "cursor"].map(|p| (f, p)))
            .map(|(f, p)| (f, p, listings.with_label_values(&[f, p])))
            .collect();
        Metrics {
            registry,
            plain,
            rest,
            live,
            listings,
            http_requests,
            http_duration,
            in_flight,
            db_duration,
            db_errors,
            rooms_returned,
            shed,
            rate_limited,
            bodies_cut,
            listing_sorts: sorts,
        }
    }

    /// Marks a request as started; [`HttpTimer::finish`] records it. `rest`: the call as
    /// Rocket.Chat's REST metrics label it, for a route Rocket.Chat has.
    pub fn start_request(
        self: &Arc<Self>,
        route: &'static str,
        rest: Option<RestCall>,
    ) -> HttpTimer {
        self.in_flight.inc();
        if let Some(call) = &rest {
            self.rest.start(call);
        }
        HttpTimer {
            metrics: self.clone(),
            route,
            rest,
            started: Instant::now(),
        }
    }

    /// Counts one listing sent to MongoDB by its format and paging (a keyset walk or not).
    pub fn listing(&self, format: &'static str, walk: bool) {
        let paging = if walk { "cursor" } else { "offset" };
        if let Some((_, _, counter)) = self
            .listings
            .iter()
            .find(|(f, p, _)| *f == format && *p == paging)
        {
            counter.inc();
        }
    }

    /// Times one database call and counts it if it fails.
    pub async fn db_call<T, E>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.db_call_observed(operation, call, |_, _| {}).await
    }

    /// As [`Metrics::db_call`], with `failed` told of an error and its operation. One future, not
    /// a wrapper around another: an awaited future is moved whole at each layer, and the
    /// driver's are large.
    pub async fn db_call_observed<T, E>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, E>>,
        failed: fn(&'static str, &E),
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = call.await;
        self.db_duration
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
        if let Err(err) = &result {
            self.db_errors.with_label_values(&[operation]).inc();
            failed(operation, err);
        }
        result
    }

    /// Counts one listing by how its sort is served (see [`crate::rooms::sort_plan::SortServed`]).
    pub fn listing_sort(&self, served: &'static str) {
        if let Some((_, counter)) = self
            .listing_sorts
            .iter()
            .find(|(label, _)| *label == served)
        {
            counter.inc();
        }
    }

    pub fn rooms_returned(&self, n: u64) {
        self.rooms_returned.inc_by(n);
    }

    pub fn request_shed(&self) {
        self.shed.inc();
    }

    pub fn request_rate_limited(&self) {
        self.rate_limited.inc();
    }

    pub fn body_cut(&self) {
        self.bodies_cut.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut families = self.plain.gather();
        families.extend(self.registry.gather());
        // Encoding into a Vec fails only on invalid metric families, which registration rules out.
        let _ = TextEncoder::new().encode(&families, &mut out);
        out
    }
}

/// One request being answered: counted once finished, and out of the in-flight gauge when dropped
/// (also when the client went away first).
pub struct HttpTimer {
    metrics: Arc<Metrics>,
    route: &'static str,
    rest: Option<RestCall>,
    started: Instant,
}

impl HttpTimer {
    /// When the request started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The answer is ready: `size` is its length where it is known (a streamed body has none).
    pub fn finish(mut self, status: u16, size: Option<u64>) {
        let m = &self.metrics;
        let seconds = self.started.elapsed().as_secs_f64();
        m.http_requests
            .with_label_values(&[self.route, itoa::Buffer::new().format(status)])
            .inc();
        m.http_duration
            .with_label_values(&[self.route])
            .observe(seconds);
        if let Some(call) = self.rest.take() {
            m.rest.end(call, status, seconds, size);
        }
    }
}

impl Drop for HttpTimer {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        // Never answered (the client went away first): out of the active requests, not observed.
        if let Some(call) = &self.rest {
            self.metrics.rest.end_unanswered(call);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_db_calls_and_rooms_are_exposed() {
        let metrics = Arc::new(Metrics::new());
        metrics
            .start_request("/api/v1/livechat/rooms", None)
            .finish(200, Some(10));
        metrics.rooms_returned(3);
        let failed: Result<(), &str> =
            futures::executor::block_on(metrics.db_call("rooms.find", async { Err("down") }));
        assert!(failed.is_err());
        let text = String::from_utf8(metrics.render()).unwrap();
        for line in [
            r#"livechat_rooms_http_requests_total{route="/api/v1/livechat/rooms",status="200"} 1"#,
            r#"livechat_rooms_http_request_duration_seconds_count{route="/api/v1/livechat/rooms"} 1"#,
            "livechat_rooms_http_requests_in_flight 0",
            r#"livechat_rooms_db_errors_total{operation="rooms.find"} 1"#,
            r#"livechat_rooms_db_call_duration_seconds_count{operation="rooms.find"} 1"#,
            "livechat_rooms_rooms_returned_total 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
