//! What a simulated agent does with the call bridged to its phone, taken from the
//! caller's trace line: talk and hang up, or talk a while and transfer the caller to a
//! backoffice group (blind by REFER from the phone, or warm over the API).
//!
//! Decisions, and why:
//!
//! - **When the agent transfers**: after [`agent_share`] of the trace line's talk time (a
//!   third). The trace's `talk_ms` is the caller's whole conversation; the agent first
//!   hears the question and tries to answer it (the 80 % norm asks agents to try), then
//!   hands over. A fixed share keeps the caller's total talk time equal to the trace's and
//!   the replay deterministic; no published figure says how long that first part takes.
//! - **The rest of the talk time** runs on with whoever has the caller next: the
//!   backoffice member who answered (the caller hangs up at its end), or, after a bounce,
//!   the agent the call comes back to (who hangs up at its end, as for a plain call).
//! - **Blind**: REFER in the agent's dialog, then the agent hangs up
//!   [`REFER_HANG_UP_DELAY`] after the REFER's 200, as agents do once the phone shows the
//!   transfer was accepted; a final NOTIFY reporting failure before then (a group closed
//!   or unreachable bounces at once, back to the agent who is still there) keeps the
//!   agent on the line.
//! - **Warm**: the engine's warm transfer exists only over the API
//!   (`Command::Transfer { mode: Warm }`, then `Command::CompleteTransfer`), which is what
//!   an agent's desktop application calls. The phone asks the driver for those commands
//!   ([`super::phones::PhoneRequest`]); the driver owns the engine and issues them. The
//!   agent consults the member for [`WARM_CONSULT`] before completing. Modelling warm as a
//!   REFER would report it as blind (`transferred_cold`), which the trace did not ask for.
//! - **Once per call**: a trace line's transfer is attempted once. An agent who gets a
//!   bounced caller back (or from the queue) handles it: a second attempt would ring the
//!   same unreachable group again, which the trace does not describe.

use std::time::Duration;

use super::trace::AgentAction;

/// How long an agent consults the member before completing a warm transfer (an
/// assumption: long enough to introduce the caller's question).
pub const WARM_CONSULT: Duration = Duration::from_secs(30);

/// Time from the REFER's 200 to the agent's BYE: putting the call down.
pub const REFER_HANG_UP_DELAY: Duration = Duration::from_secs(1);

/// The part of `talk` the first agent spends before transferring.
pub fn agent_share(talk: Duration) -> Duration {
    talk / 3
}

/// The part of `talk` left after the transfer was attempted.
pub fn after_transfer(talk: Duration) -> Duration {
    talk.saturating_sub(agent_share(talk))
}

/// What an agent's phone does with the call bridged to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentTask {
    /// Talk this long, then hang up.
    Talk(Duration),
    /// Talk `after`, then REFER the caller to `group` and hang up; `rest` is the talk
    /// left should the REFER be refused.
    ColdTransfer { after: Duration, group: String, rest: Duration },
    /// Talk `after`, then ask the driver for a warm transfer to `group`; `rest` as above.
    WarmTransfer { after: Duration, group: String, rest: Duration },
}

impl AgentTask {
    /// The task of the agent who takes a call: its trace line's action if the transfer
    /// was not attempted yet, else talk for what is left of the talk time.
    pub fn for_call(talk: Duration, action: &AgentAction, transfer_attempted: bool) -> AgentTask {
        let (after, rest) = (agent_share(talk), after_transfer(talk));
        match action {
            _ if transfer_attempted => AgentTask::Talk(rest),
            AgentAction::Handle => AgentTask::Talk(talk),
            AgentAction::ColdTransfer(transfer) => AgentTask::ColdTransfer { after, group: transfer.group.clone(), rest },
            AgentAction::WarmTransfer(transfer) => AgentTask::WarmTransfer { after, group: transfer.group.clone(), rest },
        }
    }

    /// True when this task transfers the call.
    pub fn transfers(&self) -> bool {
        !matches!(self, AgentTask::Talk(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::trace::Transfer;

    #[test]
    fn a_transfer_comes_after_a_third_and_once() {
        let talk = Duration::from_secs(180);
        let action = AgentAction::ColdTransfer(Transfer { group: "g".into(), backoffice_answers: true });
        assert_eq!(
            AgentTask::for_call(talk, &action, false),
            AgentTask::ColdTransfer { after: Duration::from_secs(60), group: "g".into(), rest: Duration::from_secs(120) }
        );
        assert_eq!(AgentTask::for_call(talk, &action, true), AgentTask::Talk(Duration::from_secs(120)));
        assert_eq!(AgentTask::for_call(talk, &AgentAction::Handle, false), AgentTask::Talk(talk));
    }
}
