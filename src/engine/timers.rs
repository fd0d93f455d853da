//! What the engine's own timers (those above the transaction layer) are for: answer
//! delay, 2xx retransmission, ACK wait, menu and prompt limits, persist retries, shutdown
//! drain. They live in the engine's one [`crate::core::deadlines::DeadlineQueue`], with lazy
//! cancellation: a timer whose call or leg is gone or changed state is ignored when it fires.

use super::record::PersistTicket;
use crate::core::ids::{CallId, LegId};

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Send the 200 OK on a ringing UAS leg.
    Answer(LegId),
    /// Retransmit a UAS leg's 200 OK (RFC 3261 §13.3.1.4).
    RetransmitOk(LegId),
    /// Give up waiting for the ACK after 64*T1.
    AckTimeout(LegId),
    /// The entry menu waited long enough for a digit.
    MenuTimeout(CallId),
    /// A last prompt (closed, overflow) has played long enough: hang up.
    LeaveTimeout(CallId),
    /// A transfer's ring time ran out (the number tells transfers of one call apart).
    TransferTimeout(CallId, u32),
    /// An in-turn group member rang its share of the ring time.
    MemberRingTimeout(LegId),
    /// The store did not answer this write in time.
    PersistTimeout(PersistTicket),
    /// Try this failed write again.
    PersistRetry(PersistTicket),
    /// The shutdown drain time ran out.
    DrainEnd,
}
