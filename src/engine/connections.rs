//! What a lost stream connection does to calls and legs: every leg that sends over a TCP
//! connection is indexed by that flow, so a closed connection finds them without a scan
//! of every call.
//!
//! Decisions (RFC 3261 §17.1.4, §17.2.4: a transport failure ends the transactions on it):
//! - the transaction layer fails every transaction on the connection, and the engine's
//!   handlers run: a ringing agent leg counts as unreachable and the ACD offers the call
//!   to another agent while the caller keeps waiting; a leg being cancelled or hung up is
//!   simply forgotten;
//! - a connected agent leg ends the call as the agent hanging up would (the agent's phone
//!   is gone; the conversation cannot go on), with reason `transport_failure`;
//! - a caller's call on the connection ends, as it always did;
//! - the registrar forgets the connection but keeps the binding, so the agent stays
//!   logged in and is rung over a new connection next time.

use super::dialog_requests::Departure;
use super::Engine;
use crate::core::ids::{ConnectionId, LegId};
use crate::sip::transport::{Peer, TransportKind};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

/// The stream flow a peer's messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Flow {
    /// A known connection (accepted, or the one a phone registered over).
    Connection(ConnectionId),
    /// No connection named: the driver uses or opens one to this address.
    Remote(SocketAddr),
}

impl Flow {
    /// The flow of `peer`; `None` for datagrams, which have no connection to lose.
    fn of(peer: &Peer) -> Option<Flow> {
        match (peer.transport, peer.connection) {
            (TransportKind::Udp, _) => None,
            (TransportKind::Tcp, Some(connection)) => Some(Flow::Connection(connection)),
            (TransportKind::Tcp, None) => Some(Flow::Remote(peer.remote)),
        }
    }
}

/// Legs by the TCP flow they send over. Bounded by live legs: every entry is removed
/// when its leg goes. Ordered sets keep the handling of a
/// closed connection deterministic, as the simulation requires.
#[derive(Debug, Default)]
pub struct FlowIndex {
    users: HashMap<Flow, BTreeSet<LegId>>,
}

impl FlowIndex {
    /// `user` sends over `peer`'s flow (nothing for UDP).
    pub fn insert(&mut self, peer: &Peer, user: LegId) {
        if let Some(flow) = Flow::of(peer) {
            self.users.entry(flow).or_default().insert(user);
        }
    }

    /// `user` is gone.
    pub fn remove(&mut self, peer: &Peer, user: LegId) {
        let Some(flow) = Flow::of(peer) else { return };
        if let Some(users) = self.users.get_mut(&flow) {
            users.remove(&user);
            if users.is_empty() {
                self.users.remove(&flow);
            }
        }
    }

    /// Removes and returns everyone on the closed flow `peer`: its connection, and the
    /// connection-less users of its remote address (the driver sent theirs over it, or
    /// could not connect there).
    pub fn take_closed(&mut self, peer: &Peer) -> Vec<LegId> {
        if peer.transport != TransportKind::Tcp {
            return Vec::new();
        }
        let mut closed = BTreeSet::new();
        if let Some(connection) = peer.connection {
            closed.extend(self.users.remove(&Flow::Connection(connection)).unwrap_or_default());
        }
        closed.extend(self.users.remove(&Flow::Remote(peer.remote)).unwrap_or_default());
        closed.into_iter().collect()
    }
}

impl Engine {
    /// A stream connection closed or could not be opened (`peer.connection` is `None`
    /// then): ends or recovers every call, leg and transaction on it. See the module
    /// documentation for what happens to each.
    pub(super) fn on_flow_lost(&mut self, peer: Peer) {
        if let Some(connection) = peer.connection {
            let forgotten = self.registrar.connection_closed(connection);
            if forgotten > 0 {
                tracing::info!(%connection, bindings = forgotten, "registration connection closed; next ring opens a new one");
            }
        }
        // Legs first, so that a connected leg ends its call as its party leaving would:
        // its INVITE transaction may still live (RFC 6026 Timer M), and that transaction's
        // failure alone does not end a connected leg.
        for leg in self.flows.take_closed(&peer) {
            self.on_party_left(leg, Departure::ConnectionLost);
        }
        // RFC 3261 §17.1.4/§17.2.4: every transaction on the connection fails; its
        // TransportError reaches the handlers when the events are drained.
        self.transactions.handle_transport_error(self.now.mono, peer);
        self.flush_transmits();
    }
}
