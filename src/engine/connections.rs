//! What a lost stream connection does to calls and legs: every call and agent leg that
//! sends over a TCP connection is indexed by that flow, so a closed connection finds them
//! without a scan of every call.
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

use super::agent_leg::LegState;
use super::call::EndReason;
use super::Engine;
use crate::core::ids::{CallId, ConnectionId, LegId};
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

/// Who uses a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FlowUser {
    /// A caller's call (its dialog runs over the flow).
    Call(CallId),
    /// An agent leg.
    Leg(LegId),
}

/// Calls and legs by the TCP flow they send over. Bounded by live calls and legs: every
/// entry is removed when its call or leg goes. Ordered sets keep the handling of a
/// closed connection deterministic, as the simulation requires.
#[derive(Debug, Default)]
pub struct FlowIndex {
    users: HashMap<Flow, BTreeSet<FlowUser>>,
}

impl FlowIndex {
    /// `user` sends over `peer`'s flow (nothing for UDP).
    pub fn insert(&mut self, peer: &Peer, user: FlowUser) {
        if let Some(flow) = Flow::of(peer) {
            self.users.entry(flow).or_default().insert(user);
        }
    }

    /// `user` is gone.
    pub fn remove(&mut self, peer: &Peer, user: FlowUser) {
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
    pub fn take_closed(&mut self, peer: &Peer) -> Vec<FlowUser> {
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
        let users = self.flows.take_closed(&peer);
        // Connected legs first: their INVITE transaction may still live (RFC 6026 Timer M),
        // and its TransportError must not find the leg and merely forget it.
        for user in &users {
            match *user {
                FlowUser::Leg(leg) => self.on_leg_connection_lost(leg),
                FlowUser::Call(call) => self.end_call(call, EndReason::TransportFailure),
            }
        }
        // RFC 3261 §17.1.4/§17.2.4: every transaction on the connection fails; its
        // TransportError reaches the handlers when the events are drained.
        self.transactions.handle_transport_error(self.now.mono, peer);
        self.flush_transmits();
    }

    /// A connected agent leg lost its connection: the call ends as if the agent hung up.
    /// Legs in other states are left to their failing transactions.
    fn on_leg_connection_lost(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(&leg_id) else { return };
        if leg.state != LegState::Connected {
            return;
        }
        let (call, agent) = (leg.call, leg.agent.clone());
        tracing::info!(%call, reference = %self.reference_label(call), %agent, "agent's connection lost; ending the call");
        self.remove_leg(leg_id);
        if let Err(error) = self.acd.call_ended(self.now.mono, call) {
            tracing::debug!(%call, %error, "acd did not know the conversation");
        }
        self.hang_up(call, EndReason::TransportFailure);
    }
}
