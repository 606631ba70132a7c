//! Rocket.Chat's REST rate limiter: per route and client address, a window that starts with the
//! client's first call of that route and resets once the interval has passed; within it `calls`
//! calls are allowed. Counters live in this process, as in Rocket.Chat.
//!
//! Memory is bounded: windows that have run out are dropped whenever the table reaches
//! [`MAX_CLIENTS`]; if it is still full then, the oldest tenth of the windows (those nearest their
//! reset) is dropped too, and those clients start a new window on their next call.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api_settings::RateLimit;

/// The most (route, client address) windows held at once.
pub const MAX_CLIENTS: usize = 100_000;

/// One call's standing: what the `X-RateLimit-*` headers say, and whether it may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// `X-RateLimit-Limit`.
    pub limit: u64,
    /// `X-RateLimit-Remaining`: calls left in the window, never below 0.
    pub remaining: u64,
    /// Until the window resets.
    pub reset_in: Duration,
}

impl Verdict {
    /// Seconds to the reset, rounded up (the 429 message's number).
    pub fn wait_seconds(&self) -> u64 {
        self.reset_in.as_millis().div_ceil(1000) as u64
    }
}

struct Window {
    started: Instant,
    calls: u64,
}

pub struct RateLimiter {
    windows: Mutex<HashMap<(&'static str, String), Window>>,
    max_clients: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with_capacity(MAX_CLIENTS)
    }
}

impl RateLimiter {
    pub fn with_capacity(max_clients: usize) -> Self {
        RateLimiter {
            windows: Mutex::new(HashMap::new()),
            max_clients: max_clients.max(1),
        }
    }

    /// Counts a call of `route` by `client` at `now` and says whether it is within the limit.
    pub fn check(
        &self,
        route: &'static str,
        client: &str,
        settings: &RateLimit,
        now: Instant,
    ) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = (route, client.to_owned());
        if !windows.contains_key(&key) && windows.len() >= self.max_clients {
            make_room(&mut windows, settings.interval, now, self.max_clients);
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            calls: 0,
        });
        let mut elapsed = now.saturating_duration_since(window.started);
        if elapsed >= settings.interval {
            *window = Window {
                started: now,
                calls: 0,
            };
            elapsed = Duration::ZERO;
        }
        window.calls += 1;
        Verdict {
            allowed: window.calls <= settings.calls,
            limit: settings.calls,
            remaining: settings.calls.saturating_sub(window.calls),
            reset_in: settings.interval - elapsed,
        }
    }

    pub fn clients(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Drops the windows that have run out; if that frees nothing, the oldest tenth.
fn make_room(
    windows: &mut HashMap<(&'static str, String), Window>,
    interval: Duration,
    now: Instant,
    max_clients: usize,
) {
    windows.retain(|_, w| now.saturating_duration_since(w.started) < interval);
    if windows.len() >= max_clients {
        let mut starts: Vec<Instant> = windows.values().map(|w| w.started).collect();
        let cut = (max_clients / 10).max(1);
        starts.select_nth_unstable(cut - 1);
        let threshold = starts[cut - 1];
        windows.retain(|_, w| w.started > threshold);
    }
}

/// The client address as Rocket.Chat reads it: `X-Real-IP` if given, else the peer; with
/// `HTTP_FORWARDED_COUNT` n > 0 and an `X-Forwarded-For` of at least n entries, its n-th entry
/// from the right. Repeated headers count as one, their values joined by ", " (as Node.js does).
pub fn client_address(
    real_ip: Option<&str>,
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    forwarded_count: usize,
) -> String {
    let remote = match real_ip {
        Some(ip) => ip.to_owned(),
        None => peer.map(|ip| ip.to_string()).unwrap_or_default(),
    };
    let Some(forwarded) = forwarded_for.filter(|_| forwarded_count > 0) else {
        return remote;
    };
    let entries: Vec<&str> = forwarded.trim().split(',').map(str::trim).collect();
    if forwarded_count > entries.len() {
        return remote;
    }
    entries[entries.len() - forwarded_count].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "/route";

    fn settings(calls: u64, interval_ms: u64) -> RateLimit {
        RateLimit {
            enabled: true,
            calls,
            interval: Duration::from_millis(interval_ms),
        }
    }

    #[test]
    fn calls_up_to_the_limit_are_allowed_and_count_down() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let s = settings(3, 60_000);
        let remaining: Vec<(bool, u64)> = (0..5)
            .map(|_| {
                let v = limiter.check(R, "a", &s, t0);
                (v.allowed, v.remaining)
            })
            .collect();
        assert_eq!(
            remaining,
            [(true, 2), (true, 1), (true, 0), (false, 0), (false, 0)]
        );
    }

    #[test]
    fn the_window_starts_with_the_first_call_and_resets_after_the_interval() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let s = settings(1, 1_000);
        assert!(limiter.check(R, "a", &s, t0).allowed);
        let late = limiter.check(R, "a", &s, t0 + Duration::from_millis(400));
        assert!(!late.allowed);
        assert_eq!(late.reset_in, Duration::from_millis(600));
        assert_eq!(late.wait_seconds(), 1);
        let next = limiter.check(R, "a", &s, t0 + Duration::from_millis(1_000));
        assert!(next.allowed);
        assert_eq!(next.reset_in, Duration::from_millis(1_000));
    }

    #[test]
    fn clients_are_counted_apart() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let s = settings(1, 60_000);
        assert!(limiter.check(R, "a", &s, t0).allowed);
        assert!(limiter.check(R, "b", &s, t0).allowed);
        assert!(!limiter.check(R, "a", &s, t0).allowed);
    }

    #[test]
    fn routes_are_counted_apart() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let s = settings(1, 60_000);
        assert!(limiter.check("/a", "c", &s, t0).allowed);
        assert!(limiter.check("/b", "c", &s, t0).allowed);
        assert!(!limiter.check("/a", "c", &s, t0).allowed);
    }

    #[test]
    fn the_table_never_grows_past_its_capacity() {
        let limiter = RateLimiter::with_capacity(100);
        let t0 = Instant::now();
        let s = settings(1, 60_000);
        for i in 0..1_000 {
            limiter.check(
                R,
                &format!("10.0.{}.{}", i / 256, i % 256),
                &s,
                t0 + Duration::from_millis(i),
            );
            assert!(limiter.clients() <= 100);
        }
        // Expired windows go first.
        let later = t0 + Duration::from_secs(120);
        limiter.check(R, "new", &s, later);
        assert_eq!(limiter.clients(), 1);
    }

    #[test]
    fn the_client_is_x_real_ip_else_the_peer_else_x_forwarded_for_by_count() {
        let peer: Option<IpAddr> = "10.0.0.1".parse().ok();
        assert_eq!(client_address(None, peer, None, 0), "10.0.0.1");
        assert_eq!(client_address(Some("1.2.3.4"), peer, None, 0), "1.2.3.4");
        let xff = Some("5.5.5.5, 6.6.6.6 ,7.7.7.7");
        assert_eq!(client_address(None, peer, xff, 0), "10.0.0.1");
        assert_eq!(client_address(None, peer, xff, 1), "7.7.7.7");
        assert_eq!(client_address(Some("1.2.3.4"), peer, xff, 2), "6.6.6.6");
        assert_eq!(client_address(Some("1.2.3.4"), peer, xff, 4), "1.2.3.4");
        assert_eq!(client_address(None, peer, None, 1), "10.0.0.1");
    }
}
