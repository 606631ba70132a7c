//! Rocket.Chat's `API_*` settings this route obeys, read from `rocketchat_settings` (and held for
//! at most [`MAX_AGE`]): pagination (`API_Default_Count`, `API_Upper_Count_Limit`,
//! `API_Allow_Infinite_Count`) and the REST rate limiter (`API_Enable_Rate_Limiter`,
//! `API_Enable_Rate_Limiter_Limit_Calls_Default`, `API_Enable_Rate_Limiter_Limit_Time_Default`).

use std::time::Duration;

use mongodb::bson::{Bson, Document};

use crate::cors::CorsSettings;

/// How long a read of the settings is used before it is read again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

const DEFAULT_COUNT: &str = "API_Default_Count";
const UPPER_COUNT_LIMIT: &str = "API_Upper_Count_Limit";
const ALLOW_INFINITE_COUNT: &str = "API_Allow_Infinite_Count";
const RATE_LIMITER: &str = "API_Enable_Rate_Limiter";
const RATE_LIMIT_CALLS: &str = "API_Enable_Rate_Limiter_Limit_Calls_Default";
const RATE_LIMIT_TIME_MS: &str = "API_Enable_Rate_Limiter_Limit_Time_Default";
const PROMETHEUS_USER_AGENT: &str = "Prometheus_API_User_Agent";
const ENABLE_CORS: &str = "API_Enable_CORS";
const CORS_ORIGIN: &str = "API_CORS_Origin";

/// The ids of every setting read.
pub const IDS: [&str; 9] = [
    DEFAULT_COUNT,
    UPPER_COUNT_LIMIT,
    ALLOW_INFINITE_COUNT,
    RATE_LIMITER,
    RATE_LIMIT_CALLS,
    RATE_LIMIT_TIME_MS,
    PROMETHEUS_USER_AGENT,
    ENABLE_CORS,
    CORS_ORIGIN,
];

/// Every setting read, with Rocket.Chat's defaults where one is missing or not usable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiSettings {
    pub pagination: Pagination,
    pub rate_limit: RateLimit,
    /// `Prometheus_API_User_Agent` (default false): Rocket.Chat's REST summary gets a
    /// `user_agent` label.
    pub prometheus_user_agent: bool,
    /// `API_Enable_CORS` (default false) and `API_CORS_Origin` (default `*`).
    pub cors: CorsSettings,
}

impl ApiSettings {
    pub fn from_documents(docs: &[Document]) -> Self {
        ApiSettings {
            pagination: Pagination::from_documents(docs),
            rate_limit: RateLimit::from_documents(docs),
            prometheus_user_agent: values(docs)
                .any(|(id, value)| id == PROMETHEUS_USER_AGENT && *value == Bson::Boolean(true)),
            cors: CorsSettings::new(
                values(docs).any(|(id, value)| id == ENABLE_CORS && *value == Bson::Boolean(true)),
                values(docs)
                    .find_map(|(id, value)| match (id, value) {
                        (CORS_ORIGIN, Bson::String(origins)) => Some(origins.as_str()),
                        _ => None,
                    })
                    .unwrap_or("*"),
            ),
        }
    }
}

/// The REST rate limiter's settings: `calls` per `interval` for each client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub enabled: bool,
    pub calls: u64,
    pub interval: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            enabled: true,
            calls: 10,
            interval: Duration::from_millis(60_000),
        }
    }
}

impl RateLimit {
    /// A count or interval that is not a positive number keeps the default, as does an enabling
    /// flag that is not a boolean.
    pub fn from_documents(docs: &[Document]) -> Self {
        let mut limit = RateLimit::default();
        for (id, value) in values(docs) {
            match (id, value) {
                (RATE_LIMITER, Bson::Boolean(b)) => limit.enabled = *b,
                (RATE_LIMIT_CALLS, value) => {
                    if let Some(n) = positive(value) {
                        limit.calls = n;
                    }
                }
                (RATE_LIMIT_TIME_MS, value) => {
                    if let Some(ms) = positive(value) {
                        limit.interval = Duration::from_millis(ms);
                    }
                }
                _ => {}
            }
        }
        limit
    }
}

/// Each setting document's `_id` and `value`.
fn values(docs: &[Document]) -> impl Iterator<Item = (&str, &Bson)> {
    docs.iter()
        .filter_map(|setting| Some((setting.get_str("_id").ok()?, setting.get("value")?)))
}

/// The three settings, with Rocket.Chat's defaults where a setting is missing or not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub default_count: u64,
    pub upper_limit: u64,
    pub allow_infinite: bool,
}

impl Default for Pagination {
    fn default() -> Self {
        Pagination {
            default_count: 50,
            upper_limit: 100,
            allow_infinite: true,
        }
    }
}

impl Pagination {
    /// The `limit` for a requested `count`: none requested → the default; above the upper limit →
    /// the upper limit; `0` → no limit (`None`) when infinite counts are allowed, else the default.
    pub fn limit(&self, requested: Option<u64>) -> Option<u64> {
        match requested.unwrap_or(self.default_count) {
            0 if self.allow_infinite => None,
            0 => Some(self.default_count.min(self.upper_limit)),
            n => Some(n.min(self.upper_limit)),
        }
    }

    /// Reads the settings documents (`{_id, value}`); a count that is not a positive number keeps
    /// the default, as does an infinite-count flag that is not a boolean.
    pub fn from_documents(docs: &[Document]) -> Self {
        let mut pagination = Pagination::default();
        for (id, value) in values(docs) {
            match (id, value) {
                (DEFAULT_COUNT, value) => {
                    if let Some(n) = positive(value) {
                        pagination.default_count = n;
                    }
                }
                (UPPER_COUNT_LIMIT, value) => {
                    if let Some(n) = positive(value) {
                        pagination.upper_limit = n;
                    }
                }
                (ALLOW_INFINITE_COUNT, Bson::Boolean(b)) => pagination.allow_infinite = *b,
                _ => {}
            }
        }
        pagination
    }
}

fn positive(value: &Bson) -> Option<u64> {
    let n = match value {
        Bson::Int32(n) => f64::from(*n),
        Bson::Int64(n) => *n as f64,
        Bson::Double(n) => *n,
        _ => return None,
    };
    (n >= 1.0).then_some(n.trunc() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn missing_count_uses_the_default() {
        assert_eq!(Pagination::default().limit(None), Some(50));
    }

    #[test]
    fn count_above_the_upper_limit_is_capped() {
        assert_eq!(Pagination::default().limit(Some(101)), Some(100));
        assert_eq!(Pagination::default().limit(Some(100)), Some(100));
        assert_eq!(Pagination::default().limit(Some(7)), Some(7));
    }

    #[test]
    fn count_zero_is_unlimited_only_when_allowed() {
        assert_eq!(Pagination::default().limit(Some(0)), None);
        let strict = Pagination {
            allow_infinite: false,
            ..Pagination::default()
        };
        assert_eq!(strict.limit(Some(0)), Some(50));
    }

    #[test]
    fn settings_documents_are_read_and_bad_values_fall_back() {
        let docs = [
            doc! {"_id": "API_Default_Count", "value": 5},
            doc! {"_id": "API_Upper_Count_Limit", "value": 8.0},
            doc! {"_id": "API_Allow_Infinite_Count", "value": false},
        ];
        assert_eq!(
            Pagination::from_documents(&docs),
            Pagination {
                default_count: 5,
                upper_limit: 8,
                allow_infinite: false
            }
        );
        let bad = [
            doc! {"_id": "API_Default_Count", "value": 0},
            doc! {"_id": "API_Upper_Count_Limit", "value": -3_i64},
            doc! {"_id": "API_Allow_Infinite_Count", "value": "no"},
        ];
        assert_eq!(Pagination::from_documents(&bad), Pagination::default());
    }

    #[test]
    fn rate_limit_settings_are_read_and_default_to_ten_a_minute() {
        assert_eq!(
            RateLimit::from_documents(&[]),
            RateLimit {
                enabled: true,
                calls: 10,
                interval: Duration::from_secs(60)
            }
        );
        let docs = [
            doc! {"_id": "API_Enable_Rate_Limiter", "value": false},
            doc! {"_id": "API_Enable_Rate_Limiter_Limit_Calls_Default", "value": 3},
            doc! {"_id": "API_Enable_Rate_Limiter_Limit_Time_Default", "value": 250_i64},
        ];
        assert_eq!(
            RateLimit::from_documents(&docs),
            RateLimit {
                enabled: false,
                calls: 3,
                interval: Duration::from_millis(250)
            }
        );
        let bad = [
            doc! {"_id": "API_Enable_Rate_Limiter", "value": "no"},
            doc! {"_id": "API_Enable_Rate_Limiter_Limit_Calls_Default", "value": 0},
            doc! {"_id": "API_Enable_Rate_Limiter_Limit_Time_Default", "value": -5},
        ];
        assert_eq!(RateLimit::from_documents(&bad), RateLimit::default());
    }
}
