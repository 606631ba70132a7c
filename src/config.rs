//! [`Config`] from the environment. Names are Rocket.Chat's own where it has one (`MONGO_URL`,
//! `BIND_IP`, `PORT`); a bad value stops start-up with a message that names the variable.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const DEFAULT_MONGO_URL: &str = "mongodb://127.0.0.1:27017/rocketchat";
const DEFAULT_BIND_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
const DEFAULT_PORT: u16 = 3000;
const DEFAULT_QUERY_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 20;
const DEFAULT_SERVER_SELECTION_TIMEOUT_MS: u64 = 500;
const DEFAULT_MAX_IN_FLIGHT: u64 = 64;
const DEFAULT_HTTP_WORKERS: u64 = 1;
const MAX_HTTP_WORKERS: u64 = 256;
/// The most a semaphore can count (tokio's `Semaphore::MAX_PERMITS`, `usize::MAX >> 3`), on any
/// target this builds for.
const MAX_PERMITS: u64 = (u32::MAX >> 3) as u64;
/// The contract's bound on how stale permissions and department names may be.
const MAX_CACHE_MAX_AGE_MS: u64 = 10_000;
const DEFAULT_LIVE_POLL_MS: u64 = 1_000;
const DEFAULT_MAX_STREAMS: u64 = 10_000;
/// The contract's bound on the time between two lines of an idle live stream.
const MAX_LIVE_HEARTBEAT_MS: u64 = 15_000;
const DEFAULT_LIVE_HEARTBEAT_MS: u64 = 10_000;
/// The contract's bound on how long a live stream runs on a check of its user.
const MAX_LIVE_RECHECK_MS: u64 = 60_000;
const DEFAULT_LIVE_RECHECK_MS: u64 = 30_000;

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
    /// `SHUTDOWN_DELAY_SECS`: on SIGTERM/SIGINT, how long to keep serving with `/ready` at 503
    /// before no longer accepting, so load balancers stop sending first (default 0).
    pub shutdown_delay: Duration,
    /// `SERVER_SELECTION_TIMEOUT_MS`: how long a request waits for a reachable MongoDB server
    /// before its 503, unless `MONGO_URL` sets `serverSelectionTimeoutMS` (default 500).
    pub server_selection_timeout: Duration,
    /// `MAX_IN_FLIGHT`: listing requests working against the database at once; more get a 503 at
    /// once (default 64).
    pub max_in_flight: usize,
    /// `HTTP_WORKERS`: threads serving HTTP, each with its own MongoDB client (default 1: a
    /// listing waits on MongoDB, and one thread costs the least CPU per request).
    pub http_workers: usize,
    /// `CACHE_MAX_AGE_MS`: how old the permissions and department names held in memory may be
    /// (default and most 10000, the contract's bound).
    pub cache_max_age: Duration,
    /// `HTTP_FORWARDED_COUNT` (Rocket.Chat's): with n > 0, the rate limiter's client address is
    /// the n-th entry from the right of `X-Forwarded-For` (default 0: `X-Real-IP`, else the peer).
    pub forwarded_count: usize,
    /// `OMNICHANNEL_UNIT_RESTRICTIONS`: `auto` (default) restricts Enterprise monitors and agents
    /// to their units wherever the data has units; `off` restricts nobody (Community behaviour).
    pub unit_restrictions: bool,
    /// `CURSOR_SECRET`: signs keyset cursors; give every instance the same one. Unset: a key
    /// derived from the database's name, which instances of one database share.
    pub cursor_secret: Option<String>,
    /// The live feed's timing and bound (contract §7).
    pub live: LiveConfig,
}

/// The live feed's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// `LIVE_POLL_MS`: MongoDB is asked what changed at most once per this, for the whole process
    /// (default 1000).
    pub poll: Duration,
    /// `MAX_STREAMS`: live streams open at once; more get a 503 (default 10000). Streams do not
    /// count against `MAX_IN_FLIGHT`.
    pub max_streams: usize,
    /// `LIVE_HEARTBEAT_MS`: an idle stream gets a comment line this often (default 10000, at
    /// most 15000).
    pub heartbeat: Duration,
    /// `LIVE_RECHECK_MS`: how often a stream's token, permissions and scope are checked again
    /// (default 30000, at most 60000).
    pub recheck: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            poll: Duration::from_millis(DEFAULT_LIVE_POLL_MS),
            max_streams: DEFAULT_MAX_STREAMS as usize,
            heartbeat: Duration::from_millis(DEFAULT_LIVE_HEARTBEAT_MS),
            recheck: Duration::from_millis(DEFAULT_LIVE_RECHECK_MS),
        }
    }
}

// By hand: `MONGO_URL` may hold a password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind_addr", &self.bind_addr)
            .field("database", &self.database)
            .field("query_timeout", &self.query_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("server_selection_timeout", &self.server_selection_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("http_workers", &self.http_workers)
            .field("cache_max_age", &self.cache_max_age)
            .field("forwarded_count", &self.forwarded_count)
            .field("unit_restrictions", &self.unit_restrictions)
            .field("live", &self.live)
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
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        // Reads `var` as a `T` that passes `valid`, or `default` when unset.
        let parsed = |var: &'static str, default, valid: fn(&u64) -> bool, reason: &str| {
            let Some(value) = get(var) else {
                return Ok(default);
            };
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(valid)
                .ok_or_else(|| ConfigError {
                    var,
                    reason: reason.to_owned(),
                })
        };
        let positive_ms = "must be a positive number of milliseconds";
        let ip = match get("BIND_IP") {
            None => DEFAULT_BIND_IP,
            Some(v) => v.trim().parse().map_err(|_| ConfigError {
                var: "BIND_IP",
                reason: "must be an IP address such as 0.0.0.0 or ::".to_owned(),
            })?,
        };
        let port = parsed(
            "PORT",
            DEFAULT_PORT.into(),
            |&p| p <= u16::MAX.into(),
            "must be a port number (0-65535)",
        )?;
        let mongo_url = get("MONGO_URL").unwrap_or_else(|| DEFAULT_MONGO_URL.to_owned());
        if !(mongo_url.starts_with("mongodb://") || mongo_url.starts_with("mongodb+srv://")) {
            return Err(ConfigError {
                var: "MONGO_URL",
                reason: "must start with mongodb:// or mongodb+srv://".to_owned(),
            });
        }
        let unit_restrictions = match get("OMNICHANNEL_UNIT_RESTRICTIONS")
            .as_deref()
            .map(str::trim)
        {
            None | Some("auto") => true,
            Some("off") => false,
            Some(_) => {
                return Err(ConfigError {
                    var: "OMNICHANNEL_UNIT_RESTRICTIONS",
                    reason: "must be auto or off".to_owned(),
                })
            }
        };
        let timeout_ms = parsed(
            "QUERY_TIMEOUT_MS",
            DEFAULT_QUERY_TIMEOUT_MS,
            |&t| t > 0,
            positive_ms,
        )?;
        let shutdown_secs = parsed(
            "SHUTDOWN_TIMEOUT_SECS",
            DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            |_| true,
            "must be a whole number of seconds",
        )?;
        let delay_secs = parsed(
            "SHUTDOWN_DELAY_SECS",
            0,
            |&n| n <= 3600,
            "must be a whole number of seconds, at most 3600",
        )?;
        let selection_ms = parsed(
            "SERVER_SELECTION_TIMEOUT_MS",
            DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
            |&t| t > 0,
            positive_ms,
        )?;
        let max_in_flight = parsed(
            "MAX_IN_FLIGHT",
            DEFAULT_MAX_IN_FLIGHT,
            |&n| n > 0 && n <= MAX_PERMITS,
            "must be a positive whole number",
        )?;
        let http_workers = parsed(
            "HTTP_WORKERS",
            DEFAULT_HTTP_WORKERS,
            |&n| (1..=MAX_HTTP_WORKERS).contains(&n),
            "must be a whole number from 1 to 256",
        )?;
        let cache_ms = parsed(
            "CACHE_MAX_AGE_MS",
            MAX_CACHE_MAX_AGE_MS,
            |&t| t > 0 && t <= MAX_CACHE_MAX_AGE_MS,
            "must be a number of milliseconds from 1 to 10000",
        )?;
        let forwarded_count = parsed(
            "HTTP_FORWARDED_COUNT",
            0,
            |&n| n <= u32::MAX.into(),
            "must be a whole number",
        )?;
        let live = LiveConfig {
            poll: Duration::from_millis(parsed(
                "LIVE_POLL_MS",
                DEFAULT_LIVE_POLL_MS,
                |&t| (10..=60_000).contains(&t),
                "must be a number of milliseconds from 10 to 60000",
            )?),
            max_streams: parsed(
                "MAX_STREAMS",
                DEFAULT_MAX_STREAMS,
                |&n| n <= u32::MAX.into(),
                "must be a whole number",
            )? as usize,
            heartbeat: Duration::from_millis(parsed(
                "LIVE_HEARTBEAT_MS",
                DEFAULT_LIVE_HEARTBEAT_MS,
                |&t| (100..=MAX_LIVE_HEARTBEAT_MS).contains(&t),
                "must be a number of milliseconds from 100 to 15000",
            )?),
            recheck: Duration::from_millis(parsed(
                "LIVE_RECHECK_MS",
                DEFAULT_LIVE_RECHECK_MS,
                |&t| (100..=MAX_LIVE_RECHECK_MS).contains(&t),
                "must be a number of milliseconds from 100 to 60000",
            )?),
        };
        Ok(Config {
            live,
            bind_addr: SocketAddr::new(ip, port as u16),
            mongo_url,
            database: None,
            query_timeout: Duration::from_millis(timeout_ms),
            shutdown_timeout: Duration::from_secs(shutdown_secs),
            shutdown_delay: Duration::from_secs(delay_secs),
            server_selection_timeout: Duration::from_millis(selection_ms),
            max_in_flight: max_in_flight as usize,
            http_workers: http_workers as usize,
            cache_max_age: Duration::from_millis(cache_ms),
            forwarded_count: forwarded_count as usize,
            unit_restrictions,
            cursor_secret: get("CURSOR_SECRET"),
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
        assert_eq!(s.http_workers, 1);
        assert_eq!(s.cache_max_age, Duration::from_secs(10));
        assert_eq!(s.forwarded_count, 0);
        assert!(s.unit_restrictions);
        assert_eq!(s.live, LiveConfig::default());
        assert_eq!(s.live.poll, Duration::from_secs(1));
    }

    #[test]
    fn unit_restrictions_are_auto_or_off() {
        assert!(
            settings(&[("OMNICHANNEL_UNIT_RESTRICTIONS", "auto")])
                .unwrap()
                .unit_restrictions
        );
        assert!(
            !settings(&[("OMNICHANNEL_UNIT_RESTRICTIONS", "off")])
                .unwrap()
                .unit_restrictions
        );
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
            ("HTTP_WORKERS", "0"),
            ("HTTP_WORKERS", "257"),
            ("CACHE_MAX_AGE_MS", "10001"),
            ("HTTP_FORWARDED_COUNT", "-1"),
            ("OMNICHANNEL_UNIT_RESTRICTIONS", "on"),
            ("MAX_IN_FLIGHT", "999999999999"),
            ("LIVE_POLL_MS", "0"),
            ("MAX_STREAMS", "-1"),
            ("LIVE_HEARTBEAT_MS", "15001"),
            ("LIVE_RECHECK_MS", "60001"),
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
