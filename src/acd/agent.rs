//! An agent's state as the ACD sees it.

use std::collections::BTreeMap;

use crate::core::ids::CallId;
use crate::core::time::Instant;
use crate::dialplan::QueueId;

/// Where an agent is in its working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Not working; never offered.
    LoggedOut,
    /// Free for a call, idle since `since` (drives longest-idle).
    Available {
        /// When the agent last became idle (a failed offer does not reset it).
        since: Instant,
    },
    /// Ringing for `call`; never offered a second call meanwhile.
    Offered {
        /// The call ringing.
        call: CallId,
    },
    /// Talking on `call`.
    OnCall {
        /// The call.
        call: CallId,
    },
    /// After-call work until `until`, then available (or the state requested meanwhile).
    WrapUp {
        /// End of wrap-up.
        until: Instant,
    },
    /// Logged in but not taking calls.
    Paused {
        /// Why.
        reason: PauseReason,
    },
}

/// Why an agent is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// A break.
    Break,
    /// Training or a meeting.
    Training,
    /// Backoffice work.
    Backoffice,
    /// Set by the ACD after `max_missed_offers` unanswered offers in a row, so a queue
    /// never keeps ringing an absent agent. Cleared by [`super::Acd::agent_ready`].
    NoAnswer,
}

/// What an agent on a call asked to become once the call and wrap-up are over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterCall {
    Pause(PauseReason),
    LogOut,
}

/// The ACD's record of one agent.
#[derive(Debug, Clone)]
pub(crate) struct AgentRecord {
    /// Queues served, from the dial plan.
    pub queues: Vec<QueueId>,
    /// Skill level per queue (1..=10).
    pub skills: BTreeMap<QueueId, u32>,
    pub state: AgentState,
    /// Start of the current idle period, kept while an offer rings so a failed offer
    /// returns the agent to its old place in the longest-idle order.
    pub idle_since: Instant,
    /// Has a current SIP registration; without one the agent cannot be offered.
    pub registered: bool,
    /// Unanswered offers in a row.
    pub missed_in_row: u32,
    /// Calls answered since start-up (for fewest-calls).
    pub calls_answered: u64,
    /// Requested pause or logout while on a call.
    pub after_call: Option<AfterCall>,
    /// Legs the engine holds to the agent's phone outside the queues: a transfer ringing
    /// it as a member of a backoffice group (or by name), or the call it took that way.
    /// While any is up no queue offers the agent a call.
    pub legs_outside_queues: u32,
}

impl AgentRecord {
    pub fn new(queues: Vec<QueueId>, skills: BTreeMap<QueueId, u32>) -> Self {
        AgentRecord {
            queues,
            skills,
            state: AgentState::LoggedOut,
            idle_since: Instant::ZERO,
            registered: false,
            missed_in_row: 0,
            calls_answered: 0,
            after_call: None,
            legs_outside_queues: 0,
        }
    }

    /// True when the agent counts as staffing `queue` for wait estimates.
    pub fn staffs(&self, queue: &QueueId) -> bool {
        self.registered
            && self.queues.contains(queue)
            && !matches!(
                self.state,
                AgentState::LoggedOut | AgentState::Paused { .. }
            )
    }
}
