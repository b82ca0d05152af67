//! Brute-force protection and per-partner rate limits, kept in this server's memory.
//!
//! Failed sign-ins are counted per account name and per client address. A few failures are
//! answered slowly; more are refused with `429 Too Many Requests` and `Retry-After` for a lock-out
//! that doubles with each further failure up to a ceiling, so an attacker is held off while the
//! real owner can always try again later. A success clears the account's count.
//!
//! Partners get a token bucket each on their signal endpoint.
//!
//! With several servers each keeps its own counts, so the limits apply per server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ApiError;

/// Failures for one account before it is refused for a while.
pub const ACCOUNT_FAILURES_FREE: u32 = 5;
/// Failures from one address before it is refused for a while (many accounts, one attacker).
pub const ADDRESS_FAILURES_FREE: u32 = 30;
/// Failures after which every further answer is slowed down.
const FAILURES_BEFORE_DELAY: u32 = 3;
const FAILURE_DELAY: Duration = Duration::from_millis(500);
/// The first lock-out; each further failure doubles it, up to the ceiling.
const LOCKOUT_FIRST: Duration = Duration::from_secs(60);
const LOCKOUT_MAX: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);
/// Entries kept before old ones are swept, so a flood of names cannot exhaust memory.
const ENTRIES_MAX: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Answers a refused attempt.
#[derive(Debug)]
pub struct TooManyAttempts {
    pub retry_after: Duration,
    pub detail: String,
}

impl From<TooManyAttempts> for ApiError {
    fn from(refusal: TooManyAttempts) -> Self {
        ApiError::TooManyAttempts { retry_after_seconds: refusal.retry_after.as_secs().max(1), detail: refusal.detail }
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    fn keys(account: &str, address: Option<IpAddr>) -> [Option<(String, u32)>; 2] {
        [
            Some((format!("account:{}", account.trim().to_lowercase()), ACCOUNT_FAILURES_FREE)),
            address.map(|address| (format!("address:{address}"), ADDRESS_FAILURES_FREE)),
        ]
    }

    /// Refuses when the account or the address is locked out; otherwise says how long to stall.
    pub fn check(&self, account: &str, address: Option<IpAddr>, now: Instant) -> Result<Duration, TooManyAttempts> {
        let failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut delay = Duration::ZERO;
        for (key, _) in Self::keys(account, address).into_iter().flatten() {
            let Some(entry) = failures.get(&key) else { continue };
            if let Some(until) = entry.locked_until.filter(|until| *until > now) {
                let what = if key.starts_with("account:") { "this account" } else { "this address" };
                return Err(TooManyAttempts {
                    retry_after: until - now,
                    detail: format!("too many failed sign-ins for {what}; try again later"),
                });
            }
            if entry.count >= FAILURES_BEFORE_DELAY && now.duration_since(entry.last) < FAILURE_MEMORY {
                delay = FAILURE_DELAY;
            }
        }
        Ok(delay)
    }

    /// Counts a failure; the answer to it is already a 429 once the limit is passed.
    pub fn failed(&self, account: &str, address: Option<IpAddr>, now: Instant) -> Option<TooManyAttempts> {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if failures.len() >= ENTRIES_MAX {
            failures.retain(|_, entry| {
                now.duration_since(entry.last) < FAILURE_MEMORY || entry.locked_until.is_some_and(|until| until > now)
            });
        }
        let mut refusal = None;
        for (key, free) in Self::keys(account, address).into_iter().flatten() {
            let entry = failures.entry(key).or_insert(Failures { count: 0, last: now, locked_until: None });
            if now.duration_since(entry.last) >= FAILURE_MEMORY {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count >= free {
                let doublings = (entry.count - free).min(10);
                let lockout = LOCKOUT_FIRST.saturating_mul(1 << doublings).min(LOCKOUT_MAX);
                entry.locked_until = Some(now + lockout);
                refusal = Some(TooManyAttempts {
                    retry_after: lockout,
                    detail: "too many failed sign-ins; try again later".into(),
                });
            }
        }
        refusal
    }

    /// A success clears the account's failures (not the address's).
    pub fn succeeded(&self, account: &str) {
        let key = format!("account:{}", account.trim().to_lowercase());
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
    }
}

/// A token bucket per partner.
pub struct PartnerLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl PartnerLimiter {
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        PartnerLimiter { per_second, burst: per_second * 2.0, buckets: Mutex::default() }
    }

    /// Takes a token for the partner, or says how long until one is free.
    pub fn take(&self, partner_id: i64, now: Instant) -> Result<(), TooManyAttempts> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, last) = buckets.entry(partner_id).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - *tokens) / self.per_second);
        Err(TooManyAttempts {
            retry_after: wait,
            detail: format!("this partner may send {} requests a second; slow down", self.per_second),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_slowed_then_locked_out_then_free_again() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for attempt in 1..ACCOUNT_FAILURES_FREE {
            assert!(throttle.check("rider", None, start).is_ok());
            assert!(throttle.failed("rider", None, start).is_none(), "attempt {attempt} is only counted");
        }
        assert_eq!(throttle.check("rider", None, start).unwrap(), FAILURE_DELAY);
        let refusal = throttle.failed("rider", None, start).expect("the fifth failure locks the account");
        assert_eq!(refusal.retry_after, LOCKOUT_FIRST);
        assert!(throttle.check("RIDER ", None, start + Duration::from_secs(30)).is_err(), "names are folded");
        assert!(throttle.check("someone-else", None, start).is_ok());
        // After the lock-out the owner may try again; one more failure locks for twice as long.
        let later = start + LOCKOUT_FIRST;
        assert!(throttle.check("rider", None, later).is_ok());
        assert_eq!(throttle.failed("rider", None, later).unwrap().retry_after, LOCKOUT_FIRST * 2);
        // A success clears it.
        throttle.succeeded("rider");
        assert_eq!(throttle.check("rider", None, later).unwrap(), Duration::ZERO);
    }

    #[test]
    fn lockouts_never_exceed_the_ceiling_and_old_failures_are_forgotten() {
        let throttle = LoginThrottle::default();
        let mut now = Instant::now();
        for _ in 0..40 {
            if let Some(refusal) = throttle.failed("x", None, now) {
                assert!(refusal.retry_after <= LOCKOUT_MAX);
            }
            now += Duration::from_secs(1);
        }
        let much_later = now + LOCKOUT_MAX + FAILURE_MEMORY;
        assert!(throttle.check("x", None, much_later).is_ok());
        assert!(throttle.failed("x", None, much_later).is_none(), "the count started again");
    }

    #[test]
    fn one_address_trying_many_accounts_is_refused() {
        let throttle = LoginThrottle::default();
        let address: IpAddr = "203.0.113.9".parse().unwrap();
        let now = Instant::now();
        let refused =
            (0..ADDRESS_FAILURES_FREE).filter_map(|n| throttle.failed(&format!("user{n}"), Some(address), now));
        assert_eq!(refused.count(), 1);
        assert!(throttle.check("fresh-name", Some(address), now).is_err());
        assert!(throttle.check("fresh-name", Some("203.0.113.10".parse().unwrap()), now).is_ok());
    }

    #[test]
    fn partners_get_a_burst_then_a_steady_rate() {
        let limiter = PartnerLimiter::new(10);
        let now = Instant::now();
        assert_eq!((0..25).filter(|_| limiter.take(1, now).is_ok()).count(), 20);
        assert!(limiter.take(2, now).is_ok(), "each partner has its own bucket");
        let refusal = limiter.take(1, now).unwrap_err();
        assert!(refusal.retry_after <= Duration::from_millis(100));
        assert!(limiter.take(1, now + Duration::from_millis(100)).is_ok());
    }
}
