//! Invariants a replay checks after every step: exactly one `CallEnded` per accepted
//! call, at most one `Disposition` per call, no agent phone with two calls up, and no
//! engine deadline in the past. A violation records when and what, so the failing seed
//! can be replayed and stopped there.

use std::collections::HashSet;
use std::fmt;

use crate::core::ids::CallId;
use crate::core::time::Instant;
use crate::engine::Notification;

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
            Notification::CallEnded { call, .. } => {
                if !self.arrived.contains(call) {
                    self.violate(now, format!("call {call:?} ended without arriving"));
                }
                if !self.ended.insert(*call) {
                    self.violate(now, format!("call {call:?} ended twice"));
                }
            }
            Notification::Disposition(disposition) => {
                if !self.disposed.insert(disposition.call) {
                    self.violate(now, format!("call {:?} has a second disposition", disposition.call));
                }
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
