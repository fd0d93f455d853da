//! What the layer keeps per transaction, and the actions a state machine step asks for.
//! The state machines themselves (client.rs, server.rs) are pure functions from a
//! transaction and an input to a list of actions; the layer applies the actions.

use super::key::{ClientKey, ServerKey};
use super::TransactionEvent;
use crate::core::ids::TransactionId;
use crate::core::time::Instant;
use crate::sip::msg::Request;
use crate::sip::transport::Peer;
use bytes::Bytes;
use std::time::Duration;

/// Which of the four state machines of RFC 3261 §17 a transaction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    InviteClient,
    NonInviteClient,
    InviteServer,
    NonInviteServer,
}

/// The states of all four machines (RFC 3261 §17, with RFC 6026's Accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// INVITE client: request sent, no response yet.
    Calling,
    /// Non-INVITE client or server: request sent / received, no response yet.
    Trying,
    /// A provisional response was received / sent.
    Proceeding,
    /// A final response (non-2xx for INVITE) was received / sent; absorbing retransmissions.
    Completed,
    /// INVITE server: ACK received; absorbing ACK retransmissions (Timer I).
    Confirmed,
    /// INVITE, RFC 6026: a 2xx was received / sent; 2xx retransmissions and their ACKs are
    /// the TU's business (Timers L, M).
    Accepted,
}

/// The RFC 3261 / RFC 6026 timers by letter, plus the 200 ms 100-Trying timer (§17.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKind {
    A,
    B,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    L,
    M,
    Trying,
}

/// The key a transaction is indexed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Client(ClientKey),
    Server(ServerKey),
}

/// One live transaction.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) id: TransactionId,
    pub(crate) key: Key,
    pub(crate) kind: Kind,
    pub(crate) state: State,
    /// Client: where requests go. Server: where the request came from.
    pub(crate) peer: Peer,
    /// The request that created the transaction.
    pub(crate) request: Request,
    /// Client: the request's wire form, for retransmission.
    pub(crate) request_bytes: Bytes,
    /// Server: the last response sent and where it went. INVITE client: the ACK for a
    /// non-2xx final response, re-sent for each retransmission of that response.
    pub(crate) last_sent: Option<(Peer, Bytes)>,
    /// The current interval of the doubling timer (A, E or G).
    pub(crate) retransmit_interval: Duration,
    /// The timers running for this transaction and when they fire.
    pub(crate) timers: Vec<(TimerKind, Instant)>,
}

/// What one state machine step asks the layer to do, in order.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send bytes.
    Transmit { peer: Peer, bytes: Bytes },
    /// Tell the TU.
    Report(TransactionEvent),
    /// (Re)start a timer to fire after the duration.
    Start(TimerKind, Duration),
    /// Stop a timer.
    Stop(TimerKind),
    /// Remove the transaction (after the other actions).
    Terminate,
}

impl Transaction {
    /// Starts `timer` for an unreliable transport, or terminates at once on a reliable one,
    /// where Timers D, I, J and K are zero (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
    pub(crate) fn wait_or_terminate(&self, timer: TimerKind, unreliable_wait: Duration) -> Action {
        if self.peer.is_reliable() {
            Action::Terminate
        } else {
            Action::Start(timer, unreliable_wait)
        }
    }
}
