//! How trace time maps onto real time for a caller who first goes through the daemon's
//! entry (menu prompt, menu timeout) before it is queued.
//!
//! The trace's patience counts from the moment the call is answered, entry included (the
//! replay starts the caller's give-up timer at the INVITE, like the trace generator). The
//! load generator divides the trace's times by the speed-up, but the daemon plays its
//! entry in real time: dividing the whole patience would make callers give up during the
//! welcome prompt (at 10× the README's first run lost 69 of 114 callers that way). The
//! caller cannot see when it is queued, so the rule is fixed per caller in advance: the
//! first `entry` of patience (real time the entry takes) is spent at real speed, only
//! the rest, the time in the queue, is sped up:
//!
//! `patience_real = min(p, E) + max(0, p − E) / speed`
//!
//! and a wait measured from the caller's ACK maps back to the trace's time in the queue
//! (what the service level and the replay's waits count) as
//!
//! `queue_wait_trace = max(0, w − E) · speed`.
//!
//! `E` is the digit delay (2 s) for callers who press a menu key (the daemon stops the
//! prompt at the key: barge-in), otherwise the menu prompt plus the menu timeout
//! (computed from the dial plan and the prompt files, or `--entry-ms`).

use std::time::Duration;

/// The mapping of one run: real time the entry takes and the speed-up after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryClock {
    /// Real time the daemon's entry takes for this caller.
    pub entry: Duration,
    /// Speed-up of everything after the entry.
    pub speed: f64,
}

impl EntryClock {
    /// Real time a caller with `patience` (trace time) waits before giving up.
    pub fn patience_real(&self, patience: Duration) -> Duration {
        let at_real_speed = patience.min(self.entry);
        at_real_speed + patience.saturating_sub(self.entry).div_f64(self.speed)
    }

    /// Trace time in the queue of a `wait` measured in real time from the caller's ACK.
    pub fn queue_wait_trace(&self, wait: Duration) -> Duration {
        wait.saturating_sub(self.entry).mul_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: Duration = Duration::from_secs(18);

    #[test]
    fn patience_within_the_entry_runs_at_real_speed() {
        let clock = EntryClock { entry: ENTRY, speed: 10.0 };
        assert_eq!(clock.patience_real(Duration::from_secs(12)), Duration::from_secs(12));
    }

    #[test]
    fn only_patience_after_the_entry_is_sped_up() {
        let clock = EntryClock { entry: ENTRY, speed: 10.0 };
        assert_eq!(clock.patience_real(Duration::from_secs(118)), Duration::from_secs(28));
    }

    #[test]
    fn a_wait_as_long_as_the_patience_is_the_patience_after_the_entry() {
        let clock = EntryClock { entry: ENTRY, speed: 4.0 };
        for trace_s in [0, 5, 18, 19, 100, 3600] {
            let trace = Duration::from_secs(trace_s);
            let queue = trace.saturating_sub(ENTRY);
            assert_eq!(clock.queue_wait_trace(clock.patience_real(trace)), queue, "{trace_s} s");
        }
    }

    #[test]
    fn without_an_entry_everything_is_sped_up() {
        let clock = EntryClock { entry: Duration::ZERO, speed: 2.0 };
        assert_eq!(clock.patience_real(Duration::from_secs(10)), Duration::from_secs(5));
    }
}
