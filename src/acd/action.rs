//! What the ACD asks the engine to do, and how a call ends. The engine turns these into
//! SIP requests and prompts; nothing here names a SIP type.

use std::time::Duration;

use crate::core::ids::CallId;
use crate::dialplan::{AgentId, QueueId, TenantId};

use super::wait_estimate::WaitEstimate;

/// One instruction for the engine, taken with [`super::Acd::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring these agents for `call` (one agent, or all free agents for ring-all). The ACD
    /// times the ring itself and emits [`AcdAction::CancelOffer`] at `ring_timeout`.
    OfferToAgents {
        /// The waiting caller.
        call: CallId,
        /// Agents to ring, all of the call's tenant.
        agents: Vec<AgentId>,
        /// How long they ring before the ACD gives up on them.
        ring_timeout: Duration,
    },
    /// Stop ringing `agent` for `call` (another agent answered, the caller left, the ring
    /// timed out, or the agent paused or lost its registration).
    CancelOffer {
        /// The call.
        call: CallId,
        /// The agent whose phone must stop ringing.
        agent: AgentId,
    },
    /// Tell the caller its position and expected wait.
    Announce {
        /// The waiting caller.
        call: CallId,
        /// 1-based position in its queue.
        position: usize,
        /// What to say about the wait.
        expected_wait: WaitEstimate,
    },
    /// The caller waited too long: move it. For [`OverflowDestination::Queue`] the ACD has
    /// already moved the call (the engine may play a notice); otherwise a
    /// [`Disposition`] follows and the engine plays the prompt or hands the call over.
    Overflow {
        /// The caller.
        call: CallId,
        /// Where it goes.
        destination: OverflowDestination,
    },
    /// A call left the ACD; exactly one per call.
    Disposition(Disposition),
}

/// Where an overflowing caller goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverflowDestination {
    /// Another queue of the same tenant; the caller keeps its original arrival time for the
    /// service level and its place order (see [`super::Acd`]).
    Queue(QueueId),
    /// Play this prompt, then hang up.
    PromptThenHangup(String),
    /// Offer a callback. Future hook: the dial plan cannot select it yet; the callback
    /// issue adds the configuration and the engine side.
    Callback,
}

/// Why ringing an agent did not connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferFailure {
    /// Rang until the engine gave up (the ACD's own ring timeout counts the same).
    NoAnswer,
    /// The phone reported busy.
    Busy,
    /// The agent declined.
    Rejected,
    /// The phone could not be reached at all.
    Unreachable,
}

/// How one call left the ACD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// The call.
    pub call: CallId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The queue it was in last (after any overflow between queues).
    pub queue: QueueId,
    /// What happened.
    pub outcome: Outcome,
    /// A later visit of a call already counted ([`super::Acd::call_requeued`]): its
    /// first disposition counted it, so statistics skip this one.
    pub requeued: bool,
}

/// The end of a call's stay in the ACD. Waits run from the first arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An agent answered; the conversation continues outside the ACD's accounting.
    Answered {
        /// Who answered.
        agent: AgentId,
        /// Arrival → answer.
        wait: Duration,
    },
    /// The caller hung up while waiting.
    Abandoned {
        /// Arrival → hang-up.
        wait: Duration,
    },
    /// The caller was sent out of the queues.
    Overflowed {
        /// Where to.
        destination: OverflowDestination,
        /// Arrival → overflow.
        wait: Duration,
    },
    /// The queue closed while the caller waited.
    Closed,
    /// The engine could not keep the call (e.g. media failure).
    Failed {
        /// Short cause for the record; never personal data.
        reason: String,
    },
}

/// Why [`super::Acd::call_arrived`] did not queue a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueRefusal {
    /// The queue (and any queue it overflows into) is full; the call went to `destination`
    /// and its [`Disposition`] (`Overflowed`, wait zero) is already queued as an action.
    #[error("queue full, overflow to {destination:?}")]
    QueueFull {
        /// Where the caller goes instead.
        destination: OverflowDestination,
    },
    /// The deployment-wide bound on waiting callers is reached. The call never entered the
    /// ACD (no disposition); the engine plays its busy prompt.
    #[error("the deployment holds its maximum of waiting callers")]
    DeploymentFull,
    /// No such tenant or queue.
    #[error("unknown queue {queue} of tenant {tenant}")]
    UnknownQueue {
        /// The tenant asked for.
        tenant: TenantId,
        /// The queue asked for.
        queue: QueueId,
    },
    /// The call is already in the ACD.
    #[error("{0} is already in the ACD")]
    DuplicateCall(CallId),
}

/// An input the ACD cannot apply; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// No such agent in that tenant.
    #[error("unknown agent {agent} of tenant {tenant}")]
    UnknownAgent {
        /// The tenant.
        tenant: TenantId,
        /// The agent.
        agent: AgentId,
    },
    /// The call is not (or no longer) in the ACD.
    #[error("{0} is not in the ACD")]
    UnknownCall(CallId),
    /// The agent is not ringing for that call (a late answer after a cancel): the engine
    /// hangs up the agent's leg.
    #[error("{agent} is not being offered {call}")]
    NoSuchOffer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// The agent must log in first.
    #[error("{0} is not logged in")]
    NotLoggedIn(AgentId),
}
