//! What a waiting caller is told about the expected wait, and the handle-time average it
//! is computed from.
//!
//! Formula: with `p` the caller's 1-based position, `s` the staffed agents of the queue
//! (logged in, not paused, registered) and `aht` the average handle time (talk + wrap-up),
//! `expected = ceil(p / s) × aht`. This deliberately errs long: every caller ahead, and the
//! caller itself, is assumed to need a full handle time from an agent who has just started
//! a call. Under 60 s it is said as "less than a minute"; otherwise minutes are rounded up
//! and capped at [`MAX_ANNOUNCED_MINUTES`], beyond which it is "more than N minutes". With no
//! staffed agent at all nothing can be promised, so it is "more than" the queue's maximum
//! wait (in minutes, rounded up, capped).

use std::time::Duration;

/// Longest wait ever announced as a number of minutes.
pub const MAX_ANNOUNCED_MINUTES: u32 = 10;

/// Weight of a new sample in the handle-time average: 1/5.
const AVERAGE_WEIGHT_DIVISOR: i64 = 5;

/// The expected wait as it is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEstimate {
    /// "Less than a minute."
    LessThanMinute,
    /// "About N minutes" (N ≥ 1, rounded up).
    AboutMinutes(u32),
    /// "More than N minutes."
    MoreThanMinutes(u32),
}

impl WaitEstimate {
    /// The estimate for caller `position` (1-based) with `staffed` agents; see the module doc.
    pub fn compute(
        position: usize,
        staffed: usize,
        average_handle_time: Duration,
        max_wait: Duration,
    ) -> WaitEstimate {
        if staffed == 0 {
            let minutes = minutes_rounded_up(max_wait).min(MAX_ANNOUNCED_MINUTES);
            return WaitEstimate::MoreThanMinutes(minutes);
        }
        let rounds = position.max(1).div_ceil(staffed);
        let expected =
            average_handle_time.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
        if expected < Duration::from_secs(60) {
            return WaitEstimate::LessThanMinute;
        }
        let minutes = minutes_rounded_up(expected);
        if minutes > MAX_ANNOUNCED_MINUTES {
            WaitEstimate::MoreThanMinutes(MAX_ANNOUNCED_MINUTES)
        } else {
            WaitEstimate::AboutMinutes(minutes)
        }
    }
}

fn minutes_rounded_up(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs().div_ceil(60)).unwrap_or(u32::MAX)
}

/// Exponentially weighted moving average of handle times (talk + wrap-up) of one queue.
/// Recent calls weigh most, so the estimate follows a busy morning without a window buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleTimeAverage {
    average_ms: i64,
}

impl HandleTimeAverage {
    /// An average seeded with the configured default, used until real calls come in.
    pub fn seeded(default: Duration) -> Self {
        HandleTimeAverage {
            average_ms: duration_ms(default),
        }
    }

    /// Folds in one finished call: `avg += (sample − avg) / 5`.
    pub fn record(&mut self, handle_time: Duration) {
        let sample = duration_ms(handle_time);
        self.average_ms += (sample - self.average_ms) / AVERAGE_WEIGHT_DIVISOR;
    }

    /// The current average.
    pub fn average(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.average_ms).unwrap_or(0))
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn estimate_rounds_up_and_caps() {
        let aht = Duration::from_secs(150);
        assert_eq!(
            WaitEstimate::compute(1, 2, aht, 10 * MINUTE),
            WaitEstimate::AboutMinutes(3)
        );
        assert_eq!(
            WaitEstimate::compute(3, 2, aht, 10 * MINUTE),
            WaitEstimate::AboutMinutes(5)
        );
        assert_eq!(
            WaitEstimate::compute(9, 2, aht, 10 * MINUTE),
            WaitEstimate::MoreThanMinutes(10)
        );
        assert_eq!(
            WaitEstimate::compute(1, 1, Duration::from_secs(59), MINUTE),
            WaitEstimate::LessThanMinute
        );
    }

    #[test]
    fn nobody_staffed_says_more_than_the_max_wait() {
        let aht = Duration::from_secs(150);
        assert_eq!(
            WaitEstimate::compute(1, 0, aht, Duration::from_secs(150)),
            WaitEstimate::MoreThanMinutes(3)
        );
        assert_eq!(
            WaitEstimate::compute(1, 0, aht, 60 * MINUTE),
            WaitEstimate::MoreThanMinutes(10)
        );
    }

    #[test]
    fn average_moves_a_fifth_towards_each_sample() {
        let mut average = HandleTimeAverage::seeded(Duration::from_secs(180));
        average.record(Duration::from_secs(80));
        assert_eq!(average.average(), Duration::from_secs(160));
        average.record(Duration::from_secs(260));
        assert_eq!(average.average(), Duration::from_secs(180));
    }
}
