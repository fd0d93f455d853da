//! Counting wrong digest responses per (username, source address), so that password guessing
//! ends in 403 Forbidden instead of an endless series of fresh 401 challenges.
//!
//! Policy: the `max_consecutive_failures`-th wrong response for one username from one source
//! IP within `failure_window_s` of the first one locks that pair out; while locked, every
//! attempt is answered 403 without checking it. The lock ends when the window since the first
//! failure has passed. A correct response resets the count. Keying on the source as well as
//! the username means a guesser elsewhere cannot lock a legitimate phone out.
//!
//! Bound: at most `max_tracked` pairs. At the bound, pairs whose window has passed are dropped
//! first, then the pair with the oldest first failure (a linear scan, only at the bound).

use crate::core::time::Instant;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Default number of consecutive wrong responses before 403.
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 3;
/// Default window in which failures count as consecutive.
pub const DEFAULT_FAILURE_WINDOW_S: u64 = 300;
/// Default bound on (username, source) pairs tracked.
pub const DEFAULT_MAX_TRACKED_FAILURE_SOURCES: usize = 10_000;

/// Failure-policy settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Wrong responses (within the window) that lead to 403.
    pub max_consecutive_failures: u32,
    /// Window from the first failure in which failures add up.
    pub failure_window_s: u64,
    /// Most (username, source) pairs tracked at once.
    pub max_tracked: usize,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            max_consecutive_failures: DEFAULT_MAX_CONSECUTIVE_FAILURES,
            failure_window_s: DEFAULT_FAILURE_WINDOW_S,
            max_tracked: DEFAULT_MAX_TRACKED_FAILURE_SOURCES,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct FailureRecord {
    first_failure_at: Instant,
    consecutive: u32,
}

/// Consecutive failures per (username, source IP).
#[derive(Debug, Clone)]
pub struct FailureTracker {
    policy: FailurePolicy,
    window: Duration,
    records: HashMap<(String, IpAddr), FailureRecord>,
}

impl FailureTracker {
    /// A tracker applying `policy` (a limit of 0 is treated as 1).
    pub fn new(policy: FailurePolicy) -> Self {
        let policy = FailurePolicy {
            max_consecutive_failures: policy.max_consecutive_failures.max(1),
            max_tracked: policy.max_tracked.max(1),
            ..policy
        };
        FailureTracker { window: Duration::from_secs(policy.failure_window_s), policy, records: HashMap::new() }
    }

    fn current(&self, now: Instant, username: &str, source: IpAddr) -> Option<FailureRecord> {
        let record = self.records.get(&(username.to_owned(), source))?;
        (now - record.first_failure_at <= self.window).then_some(*record)
    }

    /// True while the pair is locked out.
    pub fn is_locked(&self, now: Instant, username: &str, source: IpAddr) -> bool {
        self.current(now, username, source)
            .is_some_and(|record| record.consecutive >= self.policy.max_consecutive_failures)
    }

    /// Counts a wrong response; returns true if the pair is now locked out.
    pub fn record_failure(&mut self, now: Instant, username: &str, source: IpAddr) -> bool {
        let record = match self.current(now, username, source) {
            Some(record) => FailureRecord { consecutive: record.consecutive.saturating_add(1), ..record },
            None => FailureRecord { first_failure_at: now, consecutive: 1 },
        };
        let key = (username.to_owned(), source);
        if !self.records.contains_key(&key) {
            self.make_room(now);
        }
        self.records.insert(key, record);
        record.consecutive >= self.policy.max_consecutive_failures
    }

    /// A correct response: the count starts over.
    pub fn record_success(&mut self, username: &str, source: IpAddr) {
        self.records.remove(&(username.to_owned(), source));
    }

    /// How many pairs are tracked now.
    pub fn tracked_count(&self) -> usize {
        self.records.len()
    }

    fn make_room(&mut self, now: Instant) {
        if self.records.len() < self.policy.max_tracked {
            return;
        }
        let window = self.window;
        self.records.retain(|_, record| now - record.first_failure_at <= window);
        if self.records.len() < self.policy.max_tracked {
            return;
        }
        let oldest = self.records.iter().min_by_key(|(_, record)| record.first_failure_at).map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            self.records.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const PHONE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));

    fn at_s(seconds: u64) -> Instant {
        Instant::from_micros(seconds * 1_000_000)
    }

    #[test]
    fn locks_after_the_limit_within_the_window_only_for_that_source() {
        let mut tracker = FailureTracker::new(FailurePolicy::default());
        assert!(!tracker.record_failure(at_s(1), "agent1", PHONE));
        assert!(!tracker.record_failure(at_s(2), "agent1", PHONE));
        assert!(!tracker.is_locked(at_s(2), "agent1", PHONE));
        assert!(tracker.record_failure(at_s(3), "agent1", PHONE));
        assert!(tracker.is_locked(at_s(4), "agent1", PHONE));
        assert!(!tracker.is_locked(at_s(4), "agent1", OTHER));
        assert!(!tracker.is_locked(at_s(4), "agent2", PHONE));
        assert!(!tracker.is_locked(at_s(302), "agent1", PHONE));
    }

    #[test]
    fn failures_outside_the_window_start_over_and_success_resets() {
        let mut tracker = FailureTracker::new(FailurePolicy::default());
        tracker.record_failure(at_s(0), "agent1", PHONE);
        tracker.record_failure(at_s(1), "agent1", PHONE);
        assert!(!tracker.record_failure(at_s(400), "agent1", PHONE));
        tracker.record_success("agent1", PHONE);
        assert!(!tracker.record_failure(at_s(401), "agent1", PHONE));
        assert!(!tracker.record_failure(at_s(402), "agent1", PHONE));
        assert!(tracker.record_failure(at_s(403), "agent1", PHONE));
    }

    #[test]
    fn bounded_evicting_the_oldest() {
        let mut tracker = FailureTracker::new(FailurePolicy { max_tracked: 2, ..FailurePolicy::default() });
        tracker.record_failure(at_s(1), "a", PHONE);
        tracker.record_failure(at_s(2), "a", PHONE);
        tracker.record_failure(at_s(3), "b", PHONE);
        tracker.record_failure(at_s(4), "c", PHONE);
        assert_eq!(tracker.tracked_count(), 2);
        // "a" had the oldest first failure and was evicted: its count starts over at 1
        // instead of reaching the limit of 3.
        assert!(!tracker.record_failure(at_s(5), "a", PHONE));
        assert_eq!(tracker.tracked_count(), 2);
    }
}
