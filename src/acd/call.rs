//! A call's record while it waits in a queue, and after an agent answered it.

use std::cmp::Reverse;

use crate::core::time::Instant;
use crate::dialplan::{AgentId, QueueId, TenantId};

/// What a call keeps when it moves between queues.
#[derive(Debug, Clone)]
pub(crate) struct CallEntry {
    pub tenant: TenantId,
    /// Higher is served first.
    pub priority: u8,
    /// First arrival in the ACD: waits and the service level count from here.
    pub arrived: Instant,
    /// Arrival order, the FIFO tie-break for equal arrival instants.
    pub seq: u64,
    /// Queues entered so far, so overflow never loops.
    pub visited: Vec<QueueId>,
    /// Queued again after a transfer ([`super::Acd::call_requeued`]): the first visit
    /// already counted this call, so this one counts in no queue figure.
    pub requeued: bool,
}

/// A caller waiting in a queue (possibly while agents ring).
#[derive(Debug, Clone)]
pub(crate) struct WaitingCall {
    pub entry: CallEntry,
    pub queue: QueueId,
    /// Entry into this queue + the queue's max wait.
    pub overflow_at: Instant,
    pub next_announce: Option<Instant>,
    /// Agents ringing now, each with its ring deadline.
    pub ringing: Vec<(AgentId, Instant)>,
    /// Agents whose offer failed, not offered this call again before the instant.
    pub cooldown: Vec<(AgentId, Instant)>,
}

/// Service order: higher priority first, then earlier arrival, then arrival order.
pub(crate) type ServiceOrder = (Reverse<u8>, Instant, u64);

impl WaitingCall {
    pub fn service_order(&self) -> ServiceOrder {
        (
            Reverse(self.entry.priority),
            self.entry.arrived,
            self.entry.seq,
        )
    }

    pub fn is_ringing(&self, agent: &AgentId) -> bool {
        self.ringing.iter().any(|(a, _)| a == agent)
    }

    pub fn in_cooldown(&self, agent: &AgentId, now: Instant) -> bool {
        self.cooldown
            .iter()
            .any(|(a, until)| a == agent && *until > now)
    }

    /// The earliest instant this call needs attention.
    pub fn next_deadline(&self) -> Instant {
        let mut deadline = self.overflow_at;
        let timers = self.ringing.iter().chain(&self.cooldown).map(|(_, at)| *at);
        for at in timers.chain(self.next_announce) {
            deadline = deadline.min(at);
        }
        deadline
    }
}

/// A call an agent answered, until it ends (for wrap-up and handle time).
#[derive(Debug, Clone)]
pub(crate) struct ConnectedCall {
    pub tenant: TenantId,
    pub queue: QueueId,
    pub agent: AgentId,
    pub answered_at: Instant,
}
