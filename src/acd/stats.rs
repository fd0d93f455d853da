//! A per-queue snapshot for dashboards and the metrics issue.

use std::time::Duration;

use super::agent::AgentState;
use super::service_level::ServiceLevelCounts;

/// One queue's counters since start-up plus its live state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueStats {
    /// Callers waiting now.
    pub waiting: usize,
    /// Longest current wait (from first arrival); zero when nobody waits.
    pub longest_wait: Duration,
    /// Calls that entered this queue (arrivals and overflow from other queues).
    pub offered: u64,
    /// Answered, within target, abandoned and short-abandoned counts.
    pub service_level: ServiceLevelCounts,
    /// Calls that left this queue by overflow.
    pub overflowed: u64,
    /// Calls ended because the queue closed.
    pub closed: u64,
    /// Current handle-time average (talk + wrap-up).
    pub average_handle_time: Duration,
    /// Agents serving this queue, by state.
    pub agents: AgentStateCounts,
}

/// Agents of a queue counted by state. Unregistered logged-in agents are counted under
/// their state and also in `unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentStateCounts {
    /// Logged out.
    pub logged_out: usize,
    /// Available.
    pub available: usize,
    /// Ringing.
    pub offered: usize,
    /// Talking.
    pub on_call: usize,
    /// In wrap-up.
    pub wrap_up: usize,
    /// Paused (any reason).
    pub paused: usize,
    /// Logged in but without a SIP registration.
    pub unreachable: usize,
}

impl AgentStateCounts {
    /// Counts one agent.
    pub(crate) fn add(&mut self, state: &AgentState, registered: bool) {
        match state {
            AgentState::LoggedOut => self.logged_out += 1,
            AgentState::Available { .. } => self.available += 1,
            AgentState::Offered { .. } => self.offered += 1,
            AgentState::OnCall { .. } => self.on_call += 1,
            AgentState::WrapUp { .. } => self.wrap_up += 1,
            AgentState::Paused { .. } => self.paused += 1,
        }
        if !registered && *state != AgentState::LoggedOut {
            self.unreachable += 1;
        }
    }
}
