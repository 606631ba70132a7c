//! Rocket.Chat's own REST metrics for the route this service answers, with Rocket.Chat's names,
//! types, labels, label values and units, so the dashboards operators already have count the
//! sidecar's traffic beside Rocket.Chat's. Mirrors `apps/meteor/app/metrics/server/lib/metrics.ts`
//! (the `rocketchat_rest_api` summary and its percentiles) and the REST middleware
//! `apps/meteor/app/api/server/middlewares/metrics.ts` (labels, the histograms and the gauge) of
//! RocketChat/Rocket.Chat. `rocketchat_info` is never exported: this is not a Rocket.Chat instance.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntGauge, IntGaugeVec, Opts};
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

/// prom-client's Summary quantiles as Rocket.Chat configures them (`percentiles`).
const PERCENTILES: [f64; 7] = [0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0];
/// prom-client's default histogram buckets (seconds), which `rocketchat_rest_api_seconds` uses.
const SECONDS_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Response sizes in bytes, from a 401 body to a 10 MB export.
const SIZE_BUCKETS: [f64; 8] = [100.0, 1_000.0, 10_000.0, 100_000.0, 1e6, 1e7, 1e8, 1e9];
/// Label sets held at most. Only `user_agent` (with `Prometheus_API_User_Agent` on) can grow the
/// set past a handful; past this bound a new user agent is counted as `other`.
const MAX_SERIES: usize = 500;
/// Rocket.Chat's API version label: every route here is under `/api/v1/`.
const VERSION: &str = "v1";

/// `rocketchat_rest_api` (summary), `rocketchat_rest_api_seconds` and
/// `rocketchat_rest_api_response_size_bytes` (histograms), `rocketchat_rest_api_active_requests`
/// (gauge).
pub struct RestApiMetrics {
    summary_desc: Desc,
    series: Mutex<Vec<Series>>,
    seconds: HistogramVec,
    size: HistogramVec,
    active: IntGaugeVec,
    /// `active_requests{method="get"}`, looked up once (a label lookup hashes its text).
    active_get: IntGauge,
    /// Rocket.Chat's setting `Prometheus_API_User_Agent`, as last read.
    user_agent_label: AtomicBool,
}

/// One label set: the summary's sketch, and its histograms looked up once.
struct Series {
    method: Cow<'static, str>,
    entrypoint: &'static str,
    status: u16,
    user_agent: Option<String>,
    sketch: DDSketch,
    sum: f64,
    seconds: Histogram,
    /// Made at the first size observed, so a label set without sizes (empty bodies, streams)
    /// has no size series, as in prom-client.
    size: Option<Histogram>,
}

/// One call being answered: what its labels need from the request.
pub struct RestCall {
    pub method: Cow<'static, str>,
    pub entrypoint: &'static str,
    /// The `User-Agent` header, read only when the setting asks for it.
    pub user_agent: Option<String>,
}

impl RestApiMetrics {
    pub fn new() -> Self {
        let summary_desc = Desc::new(
            "rocketchat_rest_api".into(),
            "summary of rocketchat rest api count and time".into(),
            ["method", "entrypoint", "user_agent", "status", "version"]
                .map(String::from)
                .to_vec(),
            Default::default(),
        )
        .expect("valid metric");
        // The summary's labels less `user_agent`.
        let labels = &["method", "entrypoint", "status", "version"];
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "rocketchat_rest_api_seconds",
                "histogram of rocketchat rest api time in seconds",
            )
            .buckets(SECONDS_BUCKETS.to_vec()),
            labels,
        )
        .expect("valid metric");
        let size = HistogramVec::new(
            HistogramOpts::new(
                "rocketchat_rest_api_response_size_bytes",
                "histogram of rocketchat rest api response size in bytes",
            )
            .buckets(SIZE_BUCKETS.to_vec()),
            labels,
        )
        .expect("valid metric");
        let active = IntGaugeVec::new(
            Opts::new(
                "rocketchat_rest_api_active_requests",
                "number of rocketchat rest api requests being answered",
            ),
            &["method"],
        )
        .expect("valid metric");
        RestApiMetrics {
            summary_desc,
            series: Mutex::new(Vec::new()),
            seconds,
            size,
            active_get: active.with_label_values(&["get"]),
            active,
            user_agent_label: AtomicBool::new(false),
        }
    }

    /// Follows Rocket.Chat's setting `Prometheus_API_User_Agent` (read with the other settings).
    pub fn set_user_agent_label(&self, on: bool) {
        self.user_agent_label.store(on, Ordering::Relaxed);
    }

    pub fn user_agent_label(&self) -> bool {
        self.user_agent_label.load(Ordering::Relaxed)
    }

    /// A call starts: `rocketchat_rest_api_active_requests{method}` goes up until [`Self::end`].
    pub fn start(&self, call: &RestCall) {
        self.active_gauge(call).inc();
    }

    fn active_gauge(&self, call: &RestCall) -> IntGauge {
        match call.method.as_ref() {
            "get" => self.active_get.clone(),
            other => self.active.with_label_values(&[other]),
        }
    }

    /// A call that never had an answer (its client went away): out of the gauge only.
    pub fn end_unanswered(&self, call: &RestCall) {
        self.active_gauge(call).dec();
    }

    /// A call has its answer: the gauge goes down, the summary and the histograms observe it.
    /// `size` is the `Content-Length` (Rocket.Chat observes the size only where it is above 0).
    pub fn end(&self, call: RestCall, status: u16, seconds: f64, size: Option<u64>) {
        self.active_gauge(&call).dec();
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let at = match all.iter().position(|s| s.is(&call, status)) {
            Some(at) => at,
            None => {
                let mut call = call;
                if all.len() >= MAX_SERIES {
                    call.user_agent = call.user_agent.map(|_| "other".to_owned());
                }
                match all.iter().position(|s| s.is(&call, status)) {
                    Some(at) => at,
                    None => {
                        all.push(self.series_for(call, status));
                        all.len() - 1
                    }
                }
            }
        };
        let series = &mut all[at];
        series.sketch.add(seconds);
        series.sum += seconds;
        series.seconds.observe(seconds);
        if let Some(size) = size.filter(|&n| n > 0) {
            let histogram = series.size.get_or_insert_with(|| {
                let code = itoa::Buffer::new().format(status).to_owned();
                self.size.with_label_values(&[
                    series.method.as_ref(),
                    series.entrypoint,
                    &code,
                    VERSION,
                ])
            });
            histogram.observe(size as f64);
        }
    }

    fn series_for(&self, call: RestCall, status: u16) -> Series {
        let code = itoa::Buffer::new().format(status).to_owned();
        let labels = [call.method.as_ref(), call.entrypoint, &code, VERSION];
        Series {
            seconds: self.seconds.with_label_values(&labels),
            size: None,
            user_agent: call.user_agent,
            method: call.method,
            entrypoint: call.entrypoint,
            status,
            sketch: DDSketch::new(SketchConfig::defaults()),
            sum: 0.0,
        }
    }

    /// Every collector here, for a registry.
    pub fn collectors(self: &std::sync::Arc<Self>) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(SummaryCollector(self.clone())),
            Box::new(self.seconds.clone()),
            Box::new(self.size.clone()),
            Box::new(self.active.clone()),
        ]
    }

    fn summary_family(&self) -> MetricFamily {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let metrics = all.iter().map(Series::to_metric).collect();
        let mut family = MetricFamily::default();
        family.set_name(self.summary_desc.fq_name.clone());
        family.set_help(self.summary_desc.help.clone());
        family.set_field_type(MetricType::SUMMARY);
        family.set_metric(metrics);
        family
    }
}

impl Default for RestApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Series {
    fn is(&self, call: &RestCall, status: u16) -> bool {
        self.status == status
            && self.entrypoint == call.entrypoint
            && self.method == call.method
            && self.user_agent == call.user_agent
    }

    fn to_metric(&self) -> proto::Metric {
        let mut labels = vec![
            pair("method", &self.method),
            pair("entrypoint", self.entrypoint),
        ];
        if let Some(ua) = &self.user_agent {
            labels.push(pair("user_agent", ua));
        }
        labels.push(pair("status", itoa::Buffer::new().format(self.status)));
        labels.push(pair("version", VERSION));
        let quantiles = PERCENTILES
            .iter()
            .map(|&q| {
                let mut quantile = proto::Quantile::default();
                quantile.set_quantile(q);
                // An error or an empty sketch cannot happen for a series that exists; NaN is
                // what prom-client prints for a quantile without data.
                quantile.set_value(self.sketch.quantile(q).ok().flatten().unwrap_or(f64::NAN));
                quantile
            })
            .collect();
        let mut summary = proto::Summary::default();
        summary.set_sample_count(self.sketch.count() as u64);
        summary.set_sample_sum(self.sum);
        summary.set_quantile(quantiles);
        let mut metric = proto::Metric::default();
        metric.set_label(labels);
        metric.set_summary(summary);
        metric
    }
}

fn pair(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

/// The summary as a collector: quantiles are computed from the sketches at scrape time only.
struct SummaryCollector(std::sync::Arc<RestApiMetrics>);

impl Collector for SummaryCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.summary_desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        vec![self.0.summary_family()]
    }
}

/// Rocket.Chat's `method` label: the request's method in lower case.
pub fn method_label(method: &str) -> Cow<'static, str> {
    match method {
        "GET" => Cow::Borrowed("get"),
        "HEAD" => Cow::Borrowed("head"),
        "OPTIONS" => Cow::Borrowed("options"),
        "POST" => Cow::Borrowed("post"),
        "PUT" => Cow::Borrowed("put"),
        "DELETE" => Cow::Borrowed("delete"),
        "PATCH" => Cow::Borrowed("patch"),
        other => Cow::Owned(other.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn call(method: &str, user_agent: Option<&str>) -> RestCall {
        RestCall {
            method: method_label(method),
            entrypoint: "livechat/rooms",
            user_agent: user_agent.map(String::from),
        }
    }

    fn exposition(metrics: &Arc<RestApiMetrics>) -> String {
        let registry = prometheus::Registry::new();
        for c in metrics.collectors() {
            registry.register(c).unwrap();
        }
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_call_is_in_the_summary_the_histograms_and_the_gauge_with_rocket_chats_labels() {
        let metrics = Arc::new(RestApiMetrics::new());
        for seconds in [0.002, 0.004, 0.1] {
            let c = call("GET", None);
            metrics.start(&c);
            metrics.end(c, 200, seconds, Some(1234));
        }
        let c = call("GET", None);
        metrics.start(&c);
        metrics.end(c, 401, 0.001, Some(0));
        let text = exposition(&metrics);
        for line in [
            "# TYPE rocketchat_rest_api summary",
            r#"rocketchat_rest_api_count{method="get",entrypoint="livechat/rooms",status="200",version="v1"} 3"#,
            r#"rocketchat_rest_api_count{method="get",entrypoint="livechat/rooms",status="401",version="v1"} 1"#,
            "# TYPE rocketchat_rest_api_seconds histogram",
            r#"rocketchat_rest_api_seconds_count{entrypoint="livechat/rooms",method="get",status="200",version="v1"} 3"#,
            r#"rocketchat_rest_api_seconds_bucket{entrypoint="livechat/rooms",method="get",status="200",version="v1",le="0.005"} 2"#,
            r#"rocketchat_rest_api_response_size_bytes_count{entrypoint="livechat/rooms",method="get",status="200",version="v1"} 3"#,
            r#"rocketchat_rest_api_response_size_bytes_sum{entrypoint="livechat/rooms",method="get",status="200",version="v1"} 3702"#,
            r#"rocketchat_rest_api_active_requests{method="get"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        // An empty body is not observed (Rocket.Chat: only a Content-Length above 0).
        assert!(!text.contains(r#"rocketchat_rest_api_response_size_bytes_count{entrypoint="livechat/rooms",method="get",status="401",version="v1"}"#));
        for q in ["0.01", "0.1", "0.5", "0.9", "0.95", "0.99", "1"] {
            let prefix = format!(
                r#"rocketchat_rest_api{{method="get",entrypoint="livechat/rooms",status="200",version="v1",quantile="{q}"}} "#
            );
            assert!(
                text.lines().any(|l| l.starts_with(&prefix)),
                "missing {prefix} in\n{text}"
            );
        }
        assert!(!text.contains("user_agent"));
        assert!(!text.contains("rocketchat_info"));
    }

    #[test]
    fn quantiles_are_within_the_sketchs_relative_accuracy() {
        let metrics = Arc::new(RestApiMetrics::new());
        for i in 1..=1000 {
            metrics.end(call("GET", None), 200, f64::from(i) / 1000.0, None);
        }
        let all = metrics.series.lock().unwrap();
        let sketch = &all[0].sketch;
        for (q, expected) in [(0.5, 0.5), (0.9, 0.9), (0.99, 0.99), (1.0, 1.0)] {
            let got = sketch.quantile(q).unwrap().unwrap();
            assert!((got - expected).abs() / expected < 0.02, "{q}: {got}");
        }
        assert!((all[0].sum - 500.5).abs() < 1e-6);
    }

    #[test]
    fn the_user_agent_label_is_bounded() {
        let metrics = Arc::new(RestApiMetrics::new());
        for i in 0..MAX_SERIES + 10 {
            metrics.end(call("GET", Some(&format!("agent {i}"))), 200, 0.01, None);
        }
        let all = metrics.series.lock().unwrap();
        assert_eq!(all.len(), MAX_SERIES + 1);
        assert_eq!(all.last().unwrap().user_agent.as_deref(), Some("other"));
        assert_eq!(all.last().unwrap().sketch.count(), 10);
    }

    #[test]
    fn methods_are_lower_case() {
        assert_eq!(method_label("GET"), "get");
        assert_eq!(method_label("PROPFIND"), "propfind");
    }
}
