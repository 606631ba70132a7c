//! [`Config`] from the environment. Names are Rocket.Chat's own where it has one (`MONGO_URL`,
//! `BIND_IP`, `PORT`); a bad value stops start-up with a message that names the variable.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_MONGO_URL: &str = "mongodb://127.0.0.1:27017/rocketchat";
const DEFAULT_BIND_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
const DEFAULT_PORT: u16 = 3000;
const DEFAULT_QUERY_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 20;
const DEFAULT_SERVER_SELECTION_TIMEOUT_MS: u64 = 500;
const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The contract's bound on how stale permissions and department names may be.
const MAX_CACHE_MAX_AGE_MS: u64 = 10_000;

#[derive(Clone)]
pub struct Config {
    /// `BIND_IP` and `PORT`: where to listen (default `0.0.0.0:3000`; port 0 picks a free one).
    pub bind_addr: SocketAddr,
    /// `MONGO_URL`: Rocket.Chat's database; driver options may go in its query string.
    pub mongo_url: String,
    /// The database to read; `None` means the one named in `MONGO_URL`.
    pub database: Option<String>,
    /// `QUERY_TIMEOUT_MS`: `maxTimeMS` of every database call, and the server selection and connect
    /// timeouts unless `MONGO_URL` sets them (default 10000).
    pub query_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS`: on SIGTERM/SIGINT, how long requests in flight may take to finish
    /// (default 20).
    pub shutdown_timeout: Duration,
    /// `SERVER_SELECTION_TIMEOUT_MS`: how long a request waits for a reachable MongoDB server
    /// before its 503, unless `MONGO_URL` sets `serverSelectionTimeoutMS` (default 500).
    pub server_selection_timeout: Duration,
    /// `MAX_IN_FLIGHT`: listing requests working against the database at once; more get a 503 at
    /// once (default 64).
    pub max_in_flight: usize,
    /// `CACHE_MAX_AGE_MS`: how old the permissions and department names held in memory may be
    /// (default and most 10000, the contract's bound).
    pub cache_max_age: Duration,
    /// `HTTP_FORWARDED_COUNT` (Rocket.Chat's): with n > 0, the rate limiter's client address is
    /// the n-th entry from the right of `X-Forwarded-For` (default 0: `X-Real-IP`, else the peer).
    pub forwarded_count: usize,
}

// By hand: `MONGO_URL` may hold a password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind_addr", &self.bind_addr)
            .field("database", &self.database)
            .field("query_timeout", &self.query_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("server_selection_timeout", &self.server_selection_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("cache_max_age", &self.cache_max_age)
            .field("forwarded_count", &self.forwarded_count)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests). Empty counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        // Reads `var` as a `T` that passes `valid`, or its default when unset.
        fn parsed<T: FromStr>(
            value: Option<String>,
            var: &'static str,
            default: T,
            valid: fn(&T) -> bool,
            reason: &str,
        ) -> Result<T, ConfigError> {
            match value {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .ok()
                    .filter(valid)
                    .ok_or_else(|| ConfigError {
                        var,
                        reason: reason.to_owned(),
                    }),
            }
        }
        let ip: IpAddr = parsed(
            get("BIND_IP"),
            "BIND_IP",
            DEFAULT_BIND_IP,
            |_| true,
            "must be an IP address such as 0.0.0.0 or ::",
        )?;
        let port: u16 = parsed(
            get("PORT"),
            "PORT",
            DEFAULT_PORT,
            |_| true,
            "must be a port number (0-65535)",
        )?;
        let mongo_url = get("MONGO_URL").unwrap_or_else(|| DEFAULT_MONGO_URL.to_owned());
        if !(mongo_url.starts_with("mongodb://") || mongo_url.starts_with("mongodb+srv://")) {
            return Err(ConfigError {
                var: "MONGO_URL",
                reason: "must start with mongodb:// or mongodb+srv://".to_owned(),
            });
        }
        let timeout_ms: u64 = parsed(
            get("QUERY_TIMEOUT_MS"),
            "QUERY_TIMEOUT_MS",
            DEFAULT_QUERY_TIMEOUT_MS,
            |&t| t > 0,
            "must be a positive number of milliseconds",
        )?;
        let shutdown_secs: u64 = parsed(
            get("SHUTDOWN_TIMEOUT_SECS"),
            "SHUTDOWN_TIMEOUT_SECS",
            DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            |_| true,
            "must be a whole number of seconds",
        )?;
        let selection_ms: u64 = parsed(
            get("SERVER_SELECTION_TIMEOUT_MS"),
            "SERVER_SELECTION_TIMEOUT_MS",
            DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
            |&t| t > 0,
            "must be a positive number of milliseconds",
        )?;
        let max_in_flight: usize = parsed(
            get("MAX_IN_FLIGHT"),
            "MAX_IN_FLIGHT",
            DEFAULT_MAX_IN_FLIGHT,
            |&n| n > 0,
            "must be a positive whole number",
        )?;
        let cache_ms: u64 = parsed(
            get("CACHE_MAX_AGE_MS"),
            "CACHE_MAX_AGE_MS",
            MAX_CACHE_MAX_AGE_MS,
            |&t| t > 0 && t <= MAX_CACHE_MAX_AGE_MS,
            "must be a number of milliseconds from 1 to 10000",
        )?;
        let forwarded_count: usize = parsed(
            get("HTTP_FORWARDED_COUNT"),
            "HTTP_FORWARDED_COUNT",
            0,
            |_| true,
            "must be a whole number",
        )?;
        Ok(Config {
            bind_addr: SocketAddr::new(ip, port),
            mongo_url,
            database: None,
            query_timeout: Duration::from_millis(timeout_ms),
            shutdown_timeout: Duration::from_secs(shutdown_secs),
            server_selection_timeout: Duration::from_millis(selection_ms),
            max_in_flight,
            cache_max_age: Duration::from_millis(cache_ms),
            forwarded_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind_addr, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(s.mongo_url, DEFAULT_MONGO_URL);
        assert_eq!(s.query_timeout, Duration::from_secs(10));
        assert_eq!(s.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(s.server_selection_timeout, Duration::from_millis(500));
        assert_eq!(s.max_in_flight, 64);
        assert_eq!(s.cache_max_age, Duration::from_secs(10));
        assert_eq!(s.forwarded_count, 0);
    }

    #[test]
    fn variables_are_read() {
        let s = settings(&[
            ("BIND_IP", "127.0.0.1"),
            ("PORT", "8080"),
            ("MONGO_URL", "mongodb://db:27017/rc?replicaSet=rs0"),
            ("QUERY_TIMEOUT_MS", "2500"),
        ])
        .unwrap();
        assert_eq!(s.bind_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.mongo_url, "mongodb://db:27017/rc?replicaSet=rs0");
        assert_eq!(s.query_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("BIND_IP", "localhost:3000"),
            ("MONGO_URL", "postgres://x"),
            ("QUERY_TIMEOUT_MS", "0"),
            ("QUERY_TIMEOUT_MS", "10s"),
            ("SHUTDOWN_TIMEOUT_SECS", "-1"),
            ("SERVER_SELECTION_TIMEOUT_MS", "0"),
            ("MAX_IN_FLIGHT", "0"),
            ("CACHE_MAX_AGE_MS", "10001"),
            ("HTTP_FORWARDED_COUNT", "-1"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn debug_output_hides_the_mongo_url() {
        let s = settings(&[("MONGO_URL", "mongodb://user:secret@db/rc")]).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
