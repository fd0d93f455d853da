//! Service-level counts over a sliding time window, kept as a queue of timestamped events
//! so the window slides exactly (no bucketing error at the edges).

use std::collections::VecDeque;
use std::time::Duration;

use crate::acd::ServiceLevelCounts;
use crate::core::time::Instant;

/// What one call contributed to the service level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceLevelEvent {
    /// Answered with a wait ≤ the target.
    AnsweredWithinTarget,
    /// Answered after the target.
    AnsweredLate,
    /// Hung up after waiting ≤ the short-abandon threshold.
    AbandonedShort,
    /// Hung up after waiting longer.
    AbandonedLong,
}

impl ServiceLevelEvent {
    /// Adds this event to `counts`.
    pub fn add_to(self, counts: &mut ServiceLevelCounts) {
        match self {
            ServiceLevelEvent::AnsweredWithinTarget => {
                counts.answered += 1;
                counts.answered_within_target += 1;
            }
            ServiceLevelEvent::AnsweredLate => counts.answered += 1,
            ServiceLevelEvent::AbandonedShort => {
                counts.abandoned += 1;
                counts.abandoned_short += 1;
            }
            ServiceLevelEvent::AbandonedLong => counts.abandoned += 1,
        }
    }
}

/// Events of the last `span`, oldest first. An event at `t` is inside the window at `now`
/// while `now − t < span`: an event exactly `span` old has left it.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    span: Duration,
    events: VecDeque<(Instant, ServiceLevelEvent)>,
}

impl SlidingWindow {
    /// An empty window of length `span`.
    pub fn new(span: Duration) -> Self {
        SlidingWindow { span, events: VecDeque::new() }
    }

    /// Records `event` at `at` (instants must not go backwards).
    pub fn push(&mut self, at: Instant, event: ServiceLevelEvent) {
        self.events.push_back((at, event));
    }

    /// Forgets events that left the window at `now`, bounding memory.
    pub fn prune(&mut self, now: Instant) {
        while let Some((at, _)) = self.events.front() {
            if now - *at >= self.span {
                self.events.pop_front();
            } else {
                break;
            }
        }
    }

    /// The counts of the events inside the window ending at `now`, for any `sub_span`
    /// up to the window's own span (one long window serves the shorter ones too).
    pub fn counts(&self, now: Instant, sub_span: Duration) -> ServiceLevelCounts {
        let mut counts = ServiceLevelCounts::default();
        for (at, event) in self.events.iter().rev() {
            if now - *at >= sub_span {
                break;
            }
            event.add_to(&mut counts);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_s(seconds: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(seconds)
    }

    #[test]
    fn events_leave_exactly_at_the_span() {
        let mut window = SlidingWindow::new(Duration::from_secs(3600));
        window.push(at_s(0), ServiceLevelEvent::AnsweredWithinTarget);
        window.push(at_s(600), ServiceLevelEvent::AnsweredLate);
        let fifteen_minutes = Duration::from_secs(900);
        assert_eq!(window.counts(at_s(899), fifteen_minutes).answered, 2);
        assert_eq!(window.counts(at_s(900), fifteen_minutes).answered, 1);
        assert_eq!(window.counts(at_s(3599), Duration::from_secs(3600)).answered, 2);
        window.prune(at_s(3600));
        assert_eq!(window.counts(at_s(3600), Duration::from_secs(3600)).answered, 1);
    }
}
