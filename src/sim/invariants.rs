//! Invariants a replay checks after every step: exactly one `CallEnded` per accepted
//! call, at most one `Disposition` per visit of a call to a queue, no agent phone with two
//! calls up, no engine deadline in the past, and no caller dropped by a transfer. A
//! violation records when and what, so the failing seed can be replayed and stopped there.
//!
//! **No caller dropped by a transfer.** A transfer that nobody takes bounces: the caller
//! goes back to the agent or to the head of its queue, and the daemon may then end the
//! caller's leg only for closing time, overflow or shutdown. What is checked: after a
//! `TransferEnded` with a bounced outcome for a call, until the call is *reconnected*
//! (the driver reports that the media plane bridged its caller to an agent or member
//! again, [`InvariantChecker::on_reconnected`]) or leaves a queue again (a
//! `Disposition`: answered, abandoned, overflowed, closed), its `CallEnded` must have one
//! of the reasons `caller_hung_up`, `caller_cancelled`, `closed`, `overflowed` or
//! `shutdown_drain`. An `agent_hung_up` or `backoffice_hung_up` there would mean the
//! bounce left the caller bridged to a leg that was going away, `not_answered` that the
//! consultation logic ended a citizen's call. (A call queued again after a transfer gets
//! one more `Disposition` per visit, flagged `requeued`; only the first may be unflagged.)

use std::collections::HashSet;
use std::fmt;

use crate::core::ids::CallId;
use crate::core::time::Instant;
use crate::engine::{EndReason, Notification, TransferOutcome};

/// Violations kept in full; later ones are only counted.
const VIOLATIONS_KEPT: usize = 20;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Simulated time of the step that broke it.
    pub at: Instant,
    /// What broke.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {:?}: {}", self.at, self.what)
    }
}

/// Checks the invariants incrementally.
#[derive(Debug, Default)]
pub struct InvariantChecker {
    arrived: HashSet<CallId>,
    ended: HashSet<CallId>,
    disposed: HashSet<CallId>,
    /// Calls whose transfer bounced and that were not reconnected or queued since.
    bounced: HashSet<CallId>,
    violations: Vec<Violation>,
    violation_count: u64,
}

impl InvariantChecker {
    /// A checker with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one notification of the engine.
    pub fn on_notification(&mut self, now: Instant, notification: &Notification) {
        match notification {
            Notification::CallArrived { call, .. } => {
                if !self.arrived.insert(*call) {
                    self.violate(now, format!("call {call:?} arrived twice"));
                }
            }
            Notification::CallEnded { call, reason, .. } => {
                if !self.arrived.contains(call) {
                    self.violate(now, format!("call {call:?} ended without arriving"));
                }
                if !self.ended.insert(*call) {
                    self.violate(now, format!("call {call:?} ended twice"));
                }
                if self.bounced.remove(call) && !ends_a_bounced_call(reason) {
                    self.violate(now, format!("call {call:?} ended ({}) after its transfer bounced, before it was reconnected", reason.as_str()));
                }
            }
            Notification::Disposition(disposition) => {
                self.bounced.remove(&disposition.call);
                // A call queued again after a transfer says so; only its first visit counts.
                let first = self.disposed.insert(disposition.call);
                if first == disposition.requeued {
                    let which = if first { "a requeued disposition without a first one" } else { "a second disposition" };
                    self.violate(now, format!("call {:?} has {which}", disposition.call));
                }
            }
            Notification::TransferEnded { call, outcome: TransferOutcome::Bounced(_), .. } => {
                self.bounced.insert(*call);
            }
            _ => {}
        }
    }

    /// Checks the engine's next deadline after a step at `now`.
    pub fn on_deadline(&mut self, now: Instant, deadline: Option<Instant>) {
        if let Some(deadline) = deadline {
            if deadline < now {
                self.violate(now, format!("engine deadline {deadline:?} is before now"));
            }
        }
    }

    /// The media plane bridged the caller of `call` to an agent or member (seen by the
    /// driver): a bounced call is reconnected.
    pub fn on_reconnected(&mut self, call: CallId) {
        self.bounced.remove(&call);
    }

    /// An agent's phone was offered a call while it had one up.
    pub fn on_offer_while_in_call(&mut self, now: Instant, agent: &str) {
        self.violate(now, format!("agent {agent} was offered a call while one was up"));
    }

    /// Checks the end state: every accepted call ended exactly once.
    pub fn finish(&mut self, now: Instant) {
        let open = self.arrived.difference(&self.ended).count();
        if open > 0 {
            self.violate(now, format!("{open} accepted calls never ended"));
        }
    }

    /// The violations kept (the first few) and how many there were in all.
    pub fn violations(&self) -> (&[Violation], u64) {
        (&self.violations, self.violation_count)
    }

    /// Accepted calls seen so far.
    pub fn calls_arrived(&self) -> usize {
        self.arrived.len()
    }

    fn violate(&mut self, at: Instant, what: String) {
        self.violation_count += 1;
        if self.violations.len() < VIOLATIONS_KEPT {
            self.violations.push(Violation { at, what });
        }
    }
}

/// Whether the daemon may end a bounced caller's leg for `reason` before reconnecting it.
fn ends_a_bounced_call(reason: &EndReason) -> bool {
    matches!(
        reason,
        EndReason::CallerHungUp | EndReason::CallerCancelled | EndReason::Closed | EndReason::Overflowed | EndReason::ShutdownDrain
    )
}
