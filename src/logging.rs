//! The log: env_logger, except that what actix's HTTP/1 layer reports at ERROR about one client's
//! connection (a malformed or oversized request, a timeout, a reset) is written at DEBUG: client
//! mistakes are not the service's faults, and one line each would let any client flood the log.
//! Malformed requests are counted in `/metrics` instead (`malformed_requests_total`).

use log::{Level, Log, Metadata, Record};

use crate::metrics::MALFORMED_REQUESTS;

/// Where actix's HTTP/1 dispatcher logs per-connection failures.
const ACTIX_H1: &str = "actix_http::h1";

struct Demoting {
    inner: env_logger::Logger,
}

/// What a record from actix's HTTP/1 layer says: `Some(true)` a malformed request, `Some(false)`
/// another per-connection failure, `None` not such a record.
fn client_failure(record: &Record<'_>) -> Option<bool> {
    if record.level() != Level::Error || !record.target().starts_with(ACTIX_H1) {
        return None;
    }
    let text = record.args().to_string();
    Some(text.contains("request parse error") || text.contains("did not complete within"))
}

impl Log for Demoting {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Records from actix's HTTP/1 layer must reach `log` to be counted.
        self.inner.enabled(metadata) || metadata.target().starts_with(ACTIX_H1)
    }

    fn log(&self, record: &Record<'_>) {
        let Some(malformed) = client_failure(record) else {
            if self.inner.enabled(record.metadata()) {
                self.inner.log(record);
            }
            return;
        };
        if malformed {
            MALFORMED_REQUESTS.inc();
        }
        let demoted = Record::builder()
            .args(*record.args())
            .level(Level::Debug)
            .target(record.target())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if self.inner.enabled(demoted.metadata()) {
            self.inner.log(&demoted);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs the log, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::new().default_filter_or("info")).build();
    let max = inner.filter().max(log::LevelFilter::Error);
    if log::set_boxed_logger(Box::new(Demoting { inner })).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_says(level: Level, target: &str, text: &str) -> Option<bool> {
        client_failure(
            &Record::builder()
                .args(format_args!("{text}"))
                .level(level)
                .target(target)
                .build(),
        )
    }

    #[test]
    fn actix_connection_errors_are_client_failures_and_parse_errors_are_malformed() {
        let h1 = "actix_http::h1::dispatcher";
        assert_eq!(
            record_says(
                Level::Error,
                h1,
                "stream error: request parse error: invalid Header provided"
            ),
            Some(true)
        );
        assert_eq!(
            record_says(
                Level::Error,
                h1,
                "stream error: request did not complete within the specified timeout"
            ),
            Some(true)
        );
        assert_eq!(
            record_says(
                Level::Error,
                h1,
                "stream error: I/O error: connection reset"
            ),
            Some(false)
        );
        assert_eq!(record_says(Level::Warn, h1, "request parse error"), None);
        assert_eq!(
            record_says(Level::Error, "livechat_rooms::error", "request parse error"),
            None
        );
    }
}
