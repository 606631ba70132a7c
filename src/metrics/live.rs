//! The live feed's metrics (contract §7): streams open and how they ended, events sent, and the
//! shared poller's reads (their number, failures and latency), which stay flat however many
//! streams are open.

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

/// Why a stream ended, each with its series from the start.
const ENDINGS: [&str; 5] = ["client", "slow", "revoked", "shutdown", "failed"];

pub struct LiveMetrics {
    /// `live_streams`: open now.
    pub streams: IntGauge,
    ended: IntCounterVec,
    events: IntCounterVec,
    room_events: IntCounter,
    removed_events: IntCounter,
    polls: IntCounter,
    poll_failures: IntCounter,
    group_reads: IntCounter,
    poll_seconds: Histogram,
}

impl Default for LiveMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveMetrics {
    pub fn new() -> Self {
        let events = IntCounterVec::new(
            Opts::new(
                "live_events_total",
                "Live feed events written to streams, by event (room, removed)",
            ),
            &["event"],
        )
        .expect("valid metric");
        let ended = IntCounterVec::new(
            Opts::new(
                "live_streams_ended_total",
                "Live streams ended, by reason: client (went away), slow (fell behind), revoked \
                 (token, permission or scope changed), shutdown, failed (database failure while \
                 starting)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for reason in ENDINGS {
            ended.with_label_values(&[reason]);
        }
        LiveMetrics {
            streams: IntGauge::new("live_streams", "Live feed streams open").expect("valid metric"),
            room_events: events.with_label_values(&["room"]),
            removed_events: events.with_label_values(&["removed"]),
            ended,
            events,
            polls: IntCounter::new(
                "live_polls_total",
                "Reads of what changed, shared by every live stream of the process",
            )
            .expect("valid metric"),
            poll_failures: IntCounter::new(
                "live_poll_failures_total",
                "Polls that failed (the streams wait, and resume from where they were)",
            )
            .expect("valid metric"),
            group_reads: IntCounter::new(
                "live_group_reads_total",
                "Reads of changed rooms, one per distinct filter and scope with a change",
            )
            .expect("valid metric"),
            poll_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "live_poll_duration_seconds",
                    "Time of one poll: what changed, and the reads of the groups it concerns",
                )
                .buckets(super::BUCKETS.to_vec()),
            )
            .expect("valid metric"),
        }
    }

    /// Everything to register, events and endings with their label sets.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.events.clone()),
            Box::new(self.streams.clone()),
            Box::new(self.ended.clone()),
            Box::new(self.polls.clone()),
            Box::new(self.poll_failures.clone()),
            Box::new(self.group_reads.clone()),
            Box::new(self.poll_seconds.clone()),
        ]
    }

    pub fn ended(&self, reason: &'static str) {
        self.ended.with_label_values(&[reason]).inc();
    }

    pub fn event(&self, kind_room: bool) {
        if kind_room {
            self.room_events.inc();
        } else {
            self.removed_events.inc();
        }
    }

    pub fn poll(&self, seconds: f64, ok: bool) {
        self.polls.inc();
        self.poll_seconds.observe(seconds);
        if !ok {
            self.poll_failures.inc();
        }
    }

    pub fn group_read(&self) {
        self.group_reads.inc();
    }
}
