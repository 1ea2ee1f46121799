//! KoproGo's login limiter, imitated: per client IP, at most `max` `POST /auth/login`
//! attempts (successful or not) in a fixed window that opens with the first attempt;
//! over the limit the server answers 429 and the attempt is not counted. KoproGo reads
//! `LOGIN_RATE_LIMIT_MAX` (default 5) and `LOGIN_RATE_LIMIT_WINDOW_SECS` (default 900);
//! so does this server ([`crate::server::ServerArgs`]).
//!
//! The client IP is the TCP peer's: unlike KoproGo behind its proxy, this server has no
//! proxy it could trust, so `X-Forwarded-For` is ignored (a client could forge it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// KoproGo's default number of attempts per window.
pub const DEFAULT_MAX: u32 = 5;
/// KoproGo's default window, in seconds.
pub const DEFAULT_WINDOW_SECS: u64 = 900;
/// The limit `demo`, `load` and `experiment` give the servers they start for their own
/// virtual users (hundreds of logins from 127.0.0.1).
pub const RAISED_MAX: u32 = u32::MAX;

/// Above this many tracked addresses, expired ones are dropped before a new one is
/// added, so that the table cannot grow past what one window's clients need.
const PRUNE_AT: usize = 4096;

/// The limiter's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimit {
    /// Attempts allowed per window and per IP.
    pub max: u32,
    /// How long a window lasts from its first attempt.
    pub window: Duration,
}

impl Default for LoginLimit {
    fn default() -> Self {
        Self {
            max: DEFAULT_MAX,
            window: Duration::from_secs(DEFAULT_WINDOW_SECS),
        }
    }
}

#[derive(Debug)]
struct Attempts {
    count: u32,
    since: Instant,
}

/// Counts login attempts per IP (see the module's documentation).
#[derive(Debug)]
pub struct LoginLimiter {
    limit: LoginLimit,
    attempts: Mutex<HashMap<IpAddr, Attempts>>,
}

impl LoginLimiter {
    /// A limiter with no attempt counted yet.
    pub fn new(limit: LoginLimit) -> Self {
        Self {
            limit,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `ip` at `now`; over the limit, returns how long until its
    /// window ends (and counts nothing).
    pub fn attempt(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let window = self.limit.window;
        let mut attempts = self
            .attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if attempts.len() >= PRUNE_AT && !attempts.contains_key(&ip) {
            attempts.retain(|_, a| now.saturating_duration_since(a.since) < window);
        }
        let entry = attempts.entry(ip).or_insert(Attempts {
            count: 0,
            since: now,
        });
        let elapsed = now.saturating_duration_since(entry.since);
        if elapsed >= window {
            *entry = Attempts {
                count: 0,
                since: now,
            };
        } else if entry.count >= self.limit.max {
            return Err(window - elapsed);
        }
        entry.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_in_the_window_is_refused_until_it_ends() {
        let limiter = LoginLimiter::new(LoginLimit::default());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(limiter.attempt(ip, t0 + Duration::from_secs(i)), Ok(()));
        }
        let wait = limiter
            .attempt(ip, t0 + Duration::from_secs(100))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(800));
        // Refused attempts are not counted, and other addresses are not affected.
        assert!(limiter.attempt(ip, t0 + Duration::from_secs(899)).is_err());
        assert_eq!(
            limiter.attempt(other, t0 + Duration::from_secs(100)),
            Ok(())
        );
        // A new window opens at the first attempt after the old one ended.
        assert_eq!(limiter.attempt(ip, t0 + Duration::from_secs(900)), Ok(()));
    }

    #[test]
    fn expired_addresses_are_pruned() {
        let limiter = LoginLimiter::new(LoginLimit {
            max: 1,
            window: Duration::from_secs(1),
        });
        let t0 = Instant::now();
        for i in 0..PRUNE_AT as u32 {
            limiter.attempt(IpAddr::from(i.to_be_bytes()), t0).unwrap();
        }
        let later = t0 + Duration::from_secs(2);
        limiter
            .attempt(IpAddr::from(u32::MAX.to_be_bytes()), later)
            .unwrap();
        assert_eq!(limiter.attempts.lock().unwrap().len(), 1);
    }
}
