//! [`Settings`] from the environment. Names are Rocket.Chat's own where it has one (`MONGO_URL`,
//! `BIND_IP`, `PORT`); a bad value stops start-up with a message that names the variable.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_MONGO_URL: &str = "mongodb://127.0.0.1:27017/rocketchat";
const DEFAULT_BIND_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
const DEFAULT_PORT: u16 = 3000;
const DEFAULT_QUERY_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 20;

#[derive(Clone)]
pub struct Settings {
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
}

// By hand: `MONGO_URL` may hold a password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind_addr", &self.bind_addr)
            .field("database", &self.database)
            .field("query_timeout", &self.query_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl Settings {
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
        Ok(Settings {
            bind_addr: SocketAddr::new(ip, port),
            mongo_url,
            database: None,
            query_timeout: Duration::from_millis(timeout_ms),
            shutdown_timeout: Duration::from_secs(shutdown_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind_addr, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(s.mongo_url, DEFAULT_MONGO_URL);
        assert_eq!(s.query_timeout, Duration::from_secs(10));
        assert_eq!(s.shutdown_timeout, Duration::from_secs(20));
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
