//! The replay's output hash: SHA-256 over every notification the engine emitted, in
//! order, each with the simulated instant it was seen at, so two runs with the same seed
//! are provably equal and any change in what the engine tells the world shows.
//!
//! Each notification is fed as a compact binary record rather than its `Debug` text
//! (formatting was a few per cent of a replay). The record is unambiguous: a tag per
//! variant, integers in fixed width, strings and enum labels length-prefixed, durations
//! to the nanosecond. Every variant is destructured without `..`, so a field added to a
//! notification does not compile until it is hashed too.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::acd::{Disposition, Outcome, OverflowDestination};
use crate::core::ids::CallId;
use crate::core::time::Instant;
use crate::engine::Notification;

/// SHA-256 over every notification, with the simulated instant it was seen at.
#[derive(Debug, Clone, Default)]
pub struct OutputHash {
    hasher: Sha256,
    record: Vec<u8>,
}

impl OutputHash {
    /// Adds one notification.
    pub fn record(&mut self, at: Instant, notification: &Notification) {
        self.record.clear();
        let mut record = Record(&mut self.record);
        record.u64(at.as_micros());
        match notification {
            Notification::CallArrived { call, tenant } => {
                record.tag(1).call(*call).text(tenant);
            }
            Notification::CallEstablished { call, tenant } => {
                record.tag(2).call(*call).text(tenant);
            }
            Notification::CallEnded { call, tenant, reason, duration } => {
                record.tag(3).call(*call).text(tenant).text(reason.as_str()).duration(*duration);
            }
            Notification::OfferEnded { call, tenant, agent, outcome, ring_time } => {
                record
                    .tag(4)
                    .call(*call)
                    .text(tenant.as_str())
                    .text(agent.as_str())
                    .text(outcome.as_str())
                    .duration(*ring_time);
            }
            Notification::Disposition(Disposition { call, tenant, queue, outcome, requeued }) => {
                record.tag(5).call(*call).text(tenant.as_str()).text(queue.as_str());
                outcome_record(&mut record, outcome);
                if *requeued {
                    record.text("requeued");
                }
            }
            Notification::Drained => {
                record.tag(6);
            }
            Notification::CallHandled { call, tenant, queue, handling } => {
                record.tag(8).call(*call).text(tenant.as_str()).text(queue.as_ref().map_or("-", |q| q.as_str())).text(handling);
            }
            Notification::TransferEnded { call, tenant, target, mode, outcome, ring_time } => {
                record
                    .tag(7)
                    .call(*call)
                    .text(tenant.as_str())
                    .text(target)
                    .text(mode.as_str())
                    .text(outcome.as_str())
                    .duration(*ring_time);
            }
        }
        self.hasher.update(&self.record);
    }

    /// The hash in lowercase hex.
    pub fn hex(&self) -> String {
        use std::fmt::Write as _;
        self.hasher.clone().finalize().iter().fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

fn outcome_record(record: &mut Record<'_>, outcome: &Outcome) {
    match outcome {
        Outcome::Answered { agent, wait } => {
            record.tag(1).text(agent.as_str()).duration(*wait);
        }
        Outcome::Abandoned { wait } => {
            record.tag(2).duration(*wait);
        }
        Outcome::Overflowed { destination, wait } => {
            record.tag(3);
            match destination {
                OverflowDestination::Queue(queue) => record.tag(1).text(queue.as_str()),
                OverflowDestination::PromptThenHangup(prompt) => record.tag(2).text(prompt),
                OverflowDestination::Callback => record.tag(3),
            };
            record.duration(*wait);
        }
        Outcome::Closed => {
            record.tag(4);
        }
        Outcome::Failed { reason } => {
            record.tag(5).text(reason);
        }
    }
}

/// Appends fields to one notification's record.
struct Record<'a>(&'a mut Vec<u8>);

impl Record<'_> {
    fn tag(&mut self, tag: u8) -> &mut Self {
        self.0.push(tag);
        self
    }

    fn u64(&mut self, value: u64) -> &mut Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    fn call(&mut self, call: CallId) -> &mut Self {
        self.u64(call.0)
    }

    fn text(&mut self, text: &str) -> &mut Self {
        self.u64(text.len() as u64);
        self.0.extend_from_slice(text.as_bytes());
        self
    }

    fn duration(&mut self, duration: Duration) -> &mut Self {
        self.u64(duration.as_secs());
        self.0.extend_from_slice(&duration.subsec_nanos().to_le_bytes());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::{AgentId, QueueId, TenantId};
    use crate::engine::{EndReason, OfferOutcome};

    fn hash_of(notifications: &[(u64, Notification)]) -> String {
        let mut hash = OutputHash::default();
        for (at, notification) in notifications {
            hash.record(Instant::from_micros(*at), notification);
        }
        hash.hex()
    }

    fn offer(tenant: &str, agent: &str, outcome: OfferOutcome, ring_ms: u64) -> Notification {
        Notification::OfferEnded {
            call: CallId(1),
            tenant: TenantId::new(tenant),
            agent: AgentId::new(agent),
            outcome,
            ring_time: Duration::from_millis(ring_ms),
        }
    }

    fn disposition(outcome: Outcome) -> Notification {
        Notification::Disposition(Disposition {
            call: CallId(1),
            tenant: TenantId::new("t"),
            queue: QueueId::new("q"),
            outcome,
            requeued: false,
        })
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = offer("t", "a", OfferOutcome::Answered, 3000);
        let variants = [
            vec![(5, base.clone())],
            vec![(6, base.clone())],
            vec![(5, offer("u", "a", OfferOutcome::Answered, 3000))],
            vec![(5, offer("t", "b", OfferOutcome::Answered, 3000))],
            vec![(5, offer("t", "a", OfferOutcome::NoAnswer, 3000))],
            vec![(5, offer("t", "a", OfferOutcome::Answered, 3001))],
            vec![(5, Notification::CallEnded {
                call: CallId(1),
                tenant: "t".into(),
                reason: EndReason::CallerHungUp,
                duration: Duration::from_nanos(1),
            })],
            vec![(5, Notification::CallEnded {
                call: CallId(1),
                tenant: "t".into(),
                reason: EndReason::AgentHungUp,
                duration: Duration::from_nanos(1),
            })],
            vec![(5, Notification::CallEnded {
                call: CallId(1),
                tenant: "t".into(),
                reason: EndReason::AgentHungUp,
                duration: Duration::from_nanos(2),
            })],
            vec![(5, Notification::CallArrived { call: CallId(1), tenant: "t".into() })],
            vec![(5, Notification::CallArrived { call: CallId(2), tenant: "t".into() })],
            vec![(5, Notification::CallEstablished { call: CallId(1), tenant: "t".into() })],
            vec![(5, disposition(Outcome::Abandoned { wait: Duration::from_secs(3) }))],
            vec![(5, disposition(Outcome::Abandoned { wait: Duration::from_secs(4) }))],
            vec![(5, disposition(Outcome::Answered { agent: AgentId::new("a"), wait: Duration::from_secs(3) }))],
            vec![(5, disposition(Outcome::Overflowed {
                destination: OverflowDestination::Queue(QueueId::new("r")),
                wait: Duration::ZERO,
            }))],
            vec![(5, disposition(Outcome::Overflowed {
                destination: OverflowDestination::PromptThenHangup("r".into()),
                wait: Duration::ZERO,
            }))],
            vec![(5, disposition(Outcome::Overflowed { destination: OverflowDestination::Callback, wait: Duration::ZERO }))],
            vec![(5, disposition(Outcome::Closed))],
            vec![(5, disposition(Outcome::Failed { reason: "x".into() }))],
            vec![(5, disposition(Outcome::Failed { reason: "y".into() }))],
            vec![(5, Notification::Drained)],
            vec![(5, Notification::Drained), (5, Notification::Drained)],
        ];
        let hashes: Vec<String> = variants.iter().map(|v| hash_of(v)).collect();
        for (i, a) in hashes.iter().enumerate() {
            for (j, b) in hashes.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "records {i} and {j} hash alike");
            }
        }
    }

    #[test]
    fn text_boundaries_are_unambiguous() {
        let a = hash_of(&[(5, offer("ab", "c", OfferOutcome::Busy, 1))]);
        let b = hash_of(&[(5, offer("a", "bc", OfferOutcome::Busy, 1))]);
        assert_ne!(a, b);
    }

    #[test]
    fn same_notifications_same_hash() {
        let run = || hash_of(&[(5, offer("t", "a", OfferOutcome::Busy, 1)), (9, Notification::Drained)]);
        assert_eq!(run(), run());
        assert_eq!(run().len(), 64);
    }
}
