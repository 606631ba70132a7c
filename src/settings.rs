//! Rocket.Chat's pagination settings (`API_Default_Count`, `API_Upper_Count_Limit`,
//! `API_Allow_Infinite_Count`), read from `rocketchat_settings` and kept for [`CACHE_TTL`].

use std::sync::RwLock;
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;

use crate::metrics::Metrics;

/// How long a read of the settings is used before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

const DEFAULT_COUNT: &str = "API_Default_Count";
const UPPER_COUNT_LIMIT: &str = "API_Upper_Count_Limit";
const ALLOW_INFINITE_COUNT: &str = "API_Allow_Infinite_Count";

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
        for setting in docs {
            let value = setting.get("value");
            match setting.get_str("_id").unwrap_or_default() {
                DEFAULT_COUNT => {
                    if let Some(n) = value.and_then(positive) {
                        pagination.default_count = n;
                    }
                }
                UPPER_COUNT_LIMIT => {
                    if let Some(n) = value.and_then(positive) {
                        pagination.upper_limit = n;
                    }
                }
                ALLOW_INFINITE_COUNT => {
                    if let Some(Bson::Boolean(b)) = value {
                        pagination.allow_infinite = *b;
                    }
                }
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

/// The settings as last read, re-read once they are older than [`CACHE_TTL`].
pub struct PaginationCache {
    settings: Collection<Document>,
    max_time: Duration,
    last: RwLock<Option<(Instant, Pagination)>>,
}

impl PaginationCache {
    pub fn new(settings: Collection<Document>, max_time: Duration) -> Self {
        PaginationCache {
            settings,
            max_time,
            last: RwLock::new(None),
        }
    }

    pub async fn get(&self, metrics: &Metrics) -> Result<Pagination, mongodb::error::Error> {
        let cached = *self.last.read().unwrap_or_else(|e| e.into_inner());
        if let Some((_, pagination)) = cached.filter(|(at, _)| at.elapsed() < CACHE_TTL) {
            return Ok(pagination);
        }
        let ids = [DEFAULT_COUNT, UPPER_COUNT_LIMIT, ALLOW_INFINITE_COUNT];
        let find = async {
            self.settings
                .find(doc! { "_id": { "$in": &ids[..] } })
                .projection(doc! { "value": 1 })
                .max_time(self.max_time)
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        let docs = metrics.db_call("settings.find", find).await?;
        let pagination = Pagination::from_documents(&docs);
        *self.last.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), pagination));
        Ok(pagination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
