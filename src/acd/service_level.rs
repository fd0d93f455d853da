//! Service-level arithmetic over plain counts, so the metrics issue can apply the same
//! definition to sliding windows.
//!
//! Definition (the common contact-centre one):
//! `SL = answered within target / (answered + abandoned − abandoned short)`.
//! A call is *within target* when its wait (arrival → answer by an agent) is **≤** the
//! target: 25.0 s counts in, 25.000001 s counts out. A *short abandon* is a caller who hung
//! up after waiting **≤** the short-abandon threshold (default 5 s); such callers most
//! likely misdialled or changed their mind and are left out of the denominator. Overflowed
//! and closed calls are counted separately and are not part of the service level.

use std::time::Duration;

/// The counts the service level is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceLevelCounts {
    /// Calls answered by an agent.
    pub answered: u64,
    /// Of those, answered with a wait ≤ the target.
    pub answered_within_target: u64,
    /// Callers who hung up while waiting (short ones included).
    pub abandoned: u64,
    /// Of those, hung up after waiting ≤ the short-abandon threshold.
    pub abandoned_short: u64,
}

impl ServiceLevelCounts {
    /// The service level as a fraction in `0.0..=1.0`; `None` when no call counts yet.
    pub fn service_level(&self) -> Option<f64> {
        let counted_abandons = self.abandoned.saturating_sub(self.abandoned_short);
        let denominator = self.answered + counted_abandons;
        (denominator > 0).then(|| self.answered_within_target as f64 / denominator as f64)
    }
}

/// True when `wait` meets `target` (the boundary counts in).
pub fn is_within_target(wait: Duration, target: Duration) -> bool {
    wait <= target
}

/// True when an abandon after `wait` is short (the boundary counts as short).
pub fn is_short_abandon(wait: Duration, threshold: Duration) -> bool {
    wait <= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_abandons_leave_the_denominator() {
        let counts = ServiceLevelCounts {
            answered: 8,
            answered_within_target: 6,
            abandoned: 4,
            abandoned_short: 2,
        };
        assert_eq!(counts.service_level(), Some(0.6));
        assert_eq!(ServiceLevelCounts::default().service_level(), None);
    }

    #[test]
    fn boundaries_count_in() {
        let target = Duration::from_secs(25);
        assert!(is_within_target(Duration::from_millis(25_000), target));
        assert!(!is_within_target(Duration::from_micros(25_000_001), target));
        assert!(is_short_abandon(
            Duration::from_secs(5),
            Duration::from_secs(5)
        ));
    }
}
