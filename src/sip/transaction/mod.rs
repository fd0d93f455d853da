//! The sans-IO transaction layer (RFC 3261 §17 with the RFC 6026 corrections).
//!
//! Feed it parsed messages ([`TransactionLayer::handle_message`]) and timer ticks
//! ([`TransactionLayer::handle_timeout`]); let the TU send requests and responses through it;
//! drain [`TransactionLayer::poll_event`] after every input and sleep until
//! [`TransactionLayer::poll_timeout`]. It never reads a clock and does no I/O.
//!
//! Bound: at most `max_transactions` live transactions (default
//! [`DEFAULT_MAX_TRANSACTIONS`]). At the bound a new incoming request is answered
//! statelessly with 503 Service Unavailable and `Retry-After`, and is not reported to the TU
//! (an ACK is still passed up: it creates no transaction). A new outgoing request is not sent;
//! the TU gets `Timeout` at once, as if the peer never answered (RFC 3261 §8.1.3.1: treat as
//! 408). A CANCEL of a live INVITE is admitted even at the bound, in both directions, because
//! it ends a transaction; so the count can exceed the bound by at most the INVITEs cancelled.
//!
//! What the TU must do so transactions end: answer every server transaction (an unanswered
//! one lives on; the engine's own timers guarantee an answer), and CANCEL an INVITE that rings
//! too long (after a CANCEL, Timer B bounds the INVITE, §9.1). The event queue holds only
//! what the last input produced, as long as the caller drains it after every input.

mod client;
mod derived;
mod key;
mod server;
mod state;

pub use derived::{ack_for_non_2xx, cancel_for};
pub use key::{new_branch, MAGIC_COOKIE};
pub use state::State;

use crate::core::ids::{IdAllocator, TransactionId};
use crate::core::time::Instant;
use crate::sip::msg::{HeaderName, Message, Method, Request, Response};
use crate::sip::timers::SipTimers;
use crate::sip::transport::{response_target, stamp_received, Peer, TransportKind, UDP_MTU_LIMIT_BYTES};
use bytes::Bytes;
use key::{ClientKey, ServerKey};
use state::{Action, Key, Kind, TimerKind, Transaction};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Default bound on live transactions: at 100 calls/s each INVITE lives ~32 s (Timer L/H)
/// next to a few non-INVITEs, so 100,000 leaves ample headroom.
pub const DEFAULT_MAX_TRANSACTIONS: usize = 100_000;

/// Seconds offered in `Retry-After` when a request is refused at the bound.
const OVERLOAD_RETRY_AFTER_S: u32 = 5;

/// What the layer tells the TU (and the driver, for `Transmit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactionEvent {
    /// Bytes to send, in order.
    Transmit { peer: Peer, bytes: Bytes },
    /// A new server transaction (not ACK, not a CANCEL that matched an INVITE).
    Request { tx: TransactionId, request: Request, peer: Peer },
    /// A CANCEL matched an INVITE server transaction (RFC 3261 §9.2): the TU answers 200 on
    /// `cancel_tx` and, if the INVITE is still unanswered, 487 on `invite_tx`. An unmatched
    /// CANCEL comes as a plain `Request` (the TU answers 481).
    Cancel { invite_tx: TransactionId, cancel_tx: TransactionId, request: Request, peer: Peer },
    /// An ACK not absorbed by a transaction (the ACK for a 2xx), for the dialog layer.
    Ack { request: Request, peer: Peer },
    /// A response for a client transaction (retransmitted non-2xx finals are absorbed;
    /// 2xx retransmissions during Accepted are passed up, RFC 6026).
    Response { tx: TransactionId, response: Response },
    /// A response that matches no transaction (a 2xx retransmission after Timer M, say).
    StrayResponse { response: Response, peer: Peer },
    /// Timer B/F fired (no final response) or Timer H (no ACK for our non-2xx): the TU must
    /// end the call.
    Timeout { tx: TransactionId },
    /// The transport failed for this transaction (RFC 3261 §17.1.4, §17.2.4), or its request
    /// could not be sent (no top Via with a branch); the transaction has ended.
    TransportError { tx: TransactionId },
    /// The transaction is gone; its id will not appear again.
    Terminated { tx: TransactionId },
}

/// Why the TU's response could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The transaction has ended (or never existed).
    #[error("no live transaction {0}")]
    UnknownTransaction(TransactionId),
    /// The id names a client transaction; responses go on server transactions.
    #[error("{0} is a client transaction")]
    NotServer(TransactionId),
    /// A final response was already sent (only 2xx retransmissions pass in Accepted).
    #[error("{0} already has a final response")]
    AlreadyCompleted(TransactionId),
    /// The status code is outside 100–699.
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
}

/// Counters for input that was dropped or refused (malformed input is counted, not an error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// Messages dropped because Via, CSeq or the other key fields did not parse.
    pub malformed_dropped: u64,
    /// Requests answered 503 because the layer was at its bound.
    pub refused_at_bound: u64,
    /// Requests sent over UDP although larger than [`UDP_MTU_LIMIT_BYTES`].
    pub oversized_udp_requests: u64,
}

/// The transaction layer. See the module documentation.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: SipTimers,
    max_transactions: usize,
    ids: IdAllocator,
    transactions: HashMap<TransactionId, Transaction>,
    client_index: HashMap<ClientKey, TransactionId>,
    server_index: HashMap<ServerKey, TransactionId>,
    deadlines: BTreeSet<(Instant, TransactionId, TimerKind)>,
    events: VecDeque<TransactionEvent>,
    stats: TransactionStats,
}

impl TransactionLayer {
    /// A layer with the given timer base values and the default bound.
    pub fn new(timers: SipTimers) -> Self {
        Self::with_max_transactions(timers, DEFAULT_MAX_TRANSACTIONS)
    }

    /// A layer with an explicit bound on live transactions.
    pub fn with_max_transactions(timers: SipTimers, max_transactions: usize) -> Self {
        TransactionLayer {
            timers,
            max_transactions,
            ids: IdAllocator::default(),
            transactions: HashMap::new(),
            client_index: HashMap::new(),
            server_index: HashMap::new(),
            deadlines: BTreeSet::new(),
            events: VecDeque::new(),
            stats: TransactionStats::default(),
        }
    }

    /// A message parsed from the transport. Responses match client transactions by
    /// (branch, CSeq method) (RFC 3261 §17.1.3); requests match server transactions by
    /// (branch, sent-by, method with ACK as INVITE) or the RFC 2543 fallback (§17.2.3).
    /// Retransmissions are absorbed; a new request creates a server transaction.
    pub fn handle_message(&mut self, now: Instant, msg: Message, peer: Peer) {
        match msg {
            Message::Request(request) => self.on_request(now, request, peer),
            Message::Response(response) => self.on_response(now, response, peer),
        }
    }

    /// Fires every timer due at `now` (timers A–M and the 100-Trying delay).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id, timer)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, id, timer));
            let Some(tx) = self.transactions.get_mut(&id) else { continue };
            tx.timers.retain(|(kind, _)| *kind != timer);
            let actions = match tx.kind {
                Kind::InviteClient | Kind::NonInviteClient => client::on_timer(tx, timer, &self.timers),
                Kind::InviteServer | Kind::NonInviteServer => server::on_timer(tx, timer, &self.timers),
            };
            self.apply(at, id, actions);
        }
    }

    /// The driver reports that sending to `failed` failed (a TCP connection broke, an ICMP
    /// error for UDP). Every transaction that sends there ends with `TransportError`
    /// (RFC 3261 §17.1.4, §17.2.4): on TCP those on the same connection, otherwise those with
    /// the same transport and remote address. Rare, so a scan of the live transactions is fine.
    pub fn handle_transport_error(&mut self, now: Instant, failed: Peer) {
        let mut affected: Vec<TransactionId> = self
            .transactions
            .values()
            .filter(|tx| {
                let sent_to = tx.last_sent.as_ref().map(|(peer, _)| peer);
                std::iter::once(&tx.peer).chain(sent_to).any(|peer| same_destination(peer, &failed))
            })
            .map(|tx| tx.id)
            .collect();
        affected.sort();
        for id in affected {
            let actions = vec![Action::Report(TransactionEvent::TransportError { tx: id }), Action::Terminate];
            self.apply(now, id, actions);
        }
    }

    /// The TU sends a request: creates an INVITE or non-INVITE client transaction and
    /// transmits it. The request must carry a top Via with a branch from [`new_branch`];
    /// without one, or with a branch already in use, it is not sent and the TU gets
    /// `TransportError`. Do not send ACK here:
    /// the ACK for a 2xx goes through [`TransactionLayer::send_stateless`].
    pub fn send_request(&mut self, now: Instant, request: Request, peer: Peer) -> TransactionId {
        let id = TransactionId(self.ids.next_raw());
        let key = match ClientKey::from_request(&request) {
            Ok(key) if request.method != Method::Ack && !self.client_index.contains_key(&key) => key,
            _ => {
                self.events.push_back(TransactionEvent::TransportError { tx: id });
                self.events.push_back(TransactionEvent::Terminated { tx: id });
                return id;
            }
        };
        let cancelled_invite = match request.method {
            Method::Cancel => self.client_index.get(&key.with_method(Method::Invite)).copied(),
            _ => None,
        };
        if self.transactions.len() >= self.max_transactions && cancelled_invite.is_none() {
            self.events.push_back(TransactionEvent::Timeout { tx: id });
            self.events.push_back(TransactionEvent::Terminated { tx: id });
            return id;
        }
        let request_bytes = request.to_bytes();
        if peer.transport == TransportKind::Udp && request_bytes.len() > UDP_MTU_LIMIT_BYTES {
            self.stats.oversized_udp_requests += 1;
        }
        let kind = if request.method == Method::Invite { Kind::InviteClient } else { Kind::NonInviteClient };
        let state = if kind == Kind::InviteClient { State::Calling } else { State::Trying };
        let mut tx = Transaction {
            id,
            key: Key::Client(key.clone()),
            kind,
            state,
            peer,
            request,
            request_bytes,
            last_sent: None,
            retransmit_interval: self.timers.t1(),
            timers: Vec::new(),
        };
        let actions = client::start(&mut tx, &self.timers);
        self.client_index.insert(key, id);
        self.transactions.insert(id, tx);
        self.apply(now, id, actions);
        if let Some(invite_id) = cancelled_invite {
            self.on_cancel_sent(now, invite_id);
        }
        id
    }

    /// The TU answers a server transaction (provisional or final).
    pub fn send_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), TransactionError> {
        let transaction = self.transactions.get_mut(&tx).ok_or(TransactionError::UnknownTransaction(tx))?;
        if matches!(transaction.kind, Kind::InviteClient | Kind::NonInviteClient) {
            return Err(TransactionError::NotServer(tx));
        }
        let actions = server::on_tu_response(transaction, response, &self.timers)?;
        self.apply(now, tx, actions);
        Ok(())
    }

    /// Sends a message outside any transaction: the ACK for a 2xx (RFC 3261 §13.2.2.4) and
    /// the UAS's 2xx retransmissions after its transaction ended (§13.3.1.4), or a
    /// stateless response.
    pub fn send_stateless(&mut self, msg: Message, peer: Peer) {
        self.events.push_back(TransactionEvent::Transmit { peer, bytes: msg.to_bytes() });
    }

    /// Hands every queued `Transmit` to `send`, in order, and keeps the other events
    /// queued in their order. A TU with one ordered outbox calls this right after each
    /// call into the layer, so a message leaves in the order it was produced relative to
    /// the TU's own outputs (a 200 OK for a BYE before the media close that follows it).
    pub fn drain_transmits(&mut self, mut send: impl FnMut(Peer, Bytes)) {
        if !self.events.iter().any(|event| matches!(event, TransactionEvent::Transmit { .. })) {
            return;
        }
        let queued = std::mem::take(&mut self.events);
        for event in queued {
            match event {
                TransactionEvent::Transmit { peer, bytes } => send(peer, bytes),
                other => self.events.push_back(other),
            }
        }
    }

    /// The next event, in the order produced.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }

    /// The earliest pending timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _, _)| *at)
    }

    /// Live transactions (bounded by `max_transactions`; see the module documentation).
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The state of a live transaction.
    pub fn state(&self, tx: TransactionId) -> Option<State> {
        self.transactions.get(&tx).map(|t| t.state)
    }

    /// Counters of dropped and refused input.
    pub fn stats(&self) -> TransactionStats {
        self.stats
    }

    fn on_request(&mut self, now: Instant, mut request: Request, peer: Peer) {
        let Ok(key) = ServerKey::from_request(&request) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        stamp_received(&mut request, &peer);
        if let Some(&id) = self.server_index.get(&key) {
            if let Some(tx) = self.transactions.get_mut(&id) {
                let actions = server::on_request(tx, request, peer, &self.timers);
                self.apply(now, id, actions);
            }
            return;
        }
        if request.method == Method::Ack {
            self.events.push_back(TransactionEvent::Ack { request, peer });
            return;
        }
        if request.cseq().is_err() || request.call_id().is_err() {
            self.stats.malformed_dropped += 1;
            return;
        }
        let cancels_live_invite =
            request.method == Method::Cancel && self.server_index.contains_key(&key.with_method(Method::Invite));
        if self.transactions.len() >= self.max_transactions && !cancels_live_invite {
            self.refuse_at_bound(&request, peer);
            return;
        }
        let id = TransactionId(self.ids.next_raw());
        let kind = if request.method == Method::Invite { Kind::InviteServer } else { Kind::NonInviteServer };
        let state = if kind == Kind::InviteServer { State::Proceeding } else { State::Trying };
        let event = match request.method {
            Method::Cancel => match self.server_index.get(&key.with_method(Method::Invite)) {
                Some(&invite_tx) => {
                    TransactionEvent::Cancel { invite_tx, cancel_tx: id, request: request.clone(), peer }
                }
                None => TransactionEvent::Request { tx: id, request: request.clone(), peer },
            },
            _ => TransactionEvent::Request { tx: id, request: request.clone(), peer },
        };
        let tx = Transaction {
            id,
            key: Key::Server(key.clone()),
            kind,
            state,
            peer,
            request,
            request_bytes: Bytes::new(),
            last_sent: None,
            retransmit_interval: self.timers.t1(),
            timers: Vec::new(),
        };
        self.server_index.insert(key, id);
        self.transactions.insert(id, tx);
        let mut actions = vec![Action::Report(event)];
        if kind == Kind::InviteServer {
            actions.push(Action::Start(TimerKind::Trying, self.timers.trying_delay()));
        }
        self.apply(now, id, actions);
    }

    fn on_response(&mut self, now: Instant, response: Response, peer: Peer) {
        let Ok(key) = ClientKey::from_response(&response) else {
            self.stats.malformed_dropped += 1;
            return;
        };
        if !(100..=699).contains(&response.status) {
            self.stats.malformed_dropped += 1;
            return;
        }
        let Some(&id) = self.client_index.get(&key) else {
            self.events.push_back(TransactionEvent::StrayResponse { response, peer });
            return;
        };
        if let Some(tx) = self.transactions.get_mut(&id) {
            let actions = client::on_response(tx, response, &self.timers);
            self.apply(now, id, actions);
        }
    }

    /// RFC 3261 §9.1: once a CANCEL is sent, an INVITE that still gets no final response
    /// within 64*T1 is given up. Timer B, which otherwise only runs while Calling, is
    /// restarted for a Proceeding INVITE so the transaction cannot outlive its peer's silence.
    fn on_cancel_sent(&mut self, now: Instant, invite_id: TransactionId) {
        if self.state(invite_id) == Some(State::Proceeding) {
            let timeout = self.timers.transaction_timeout();
            self.apply(now, invite_id, vec![Action::Start(TimerKind::B, timeout)]);
        }
    }

    /// 503 with Retry-After, sent without creating a transaction (RFC 3261 §21.5.4).
    fn refuse_at_bound(&mut self, request: &Request, peer: Peer) {
        self.stats.refused_at_bound += 1;
        let mut response = Response::to_request(request, 503, "Service Unavailable");
        response.headers.push(HeaderName::RetryAfter, OVERLOAD_RETRY_AFTER_S.to_string());
        let target = response_target(&response, &peer);
        self.events.push_back(TransactionEvent::Transmit { peer: target, bytes: response.to_bytes() });
    }

    /// Applies the actions of one state machine step to transaction `id`.
    fn apply(&mut self, now: Instant, id: TransactionId, actions: Vec<Action>) {
        let mut terminate = false;
        for action in actions {
            match action {
                Action::Transmit { peer, bytes } => self.events.push_back(TransactionEvent::Transmit { peer, bytes }),
                Action::Report(event) => self.events.push_back(event),
                Action::Start(timer, after) => {
                    self.stop_timer(id, timer);
                    let at = now + after;
                    if let Some(tx) = self.transactions.get_mut(&id) {
                        tx.timers.push((timer, at));
                        self.deadlines.insert((at, id, timer));
                    }
                }
                Action::Stop(timer) => self.stop_timer(id, timer),
                Action::Terminate => terminate = true,
            }
        }
        if terminate {
            self.terminate(id);
        }
    }

    fn stop_timer(&mut self, id: TransactionId, timer: TimerKind) {
        if let Some(tx) = self.transactions.get_mut(&id) {
            for (kind, at) in &tx.timers {
                if *kind == timer {
                    self.deadlines.remove(&(*at, id, timer));
                }
            }
            tx.timers.retain(|(kind, _)| *kind != timer);
        }
    }

    fn terminate(&mut self, id: TransactionId) {
        let Some(tx) = self.transactions.remove(&id) else { return };
        for (timer, at) in &tx.timers {
            self.deadlines.remove(&(*at, id, *timer));
        }
        match &tx.key {
            Key::Client(key) => {
                self.client_index.remove(key);
            }
            Key::Server(key) => {
                self.server_index.remove(key);
            }
        }
        self.events.push_back(TransactionEvent::Terminated { tx: id });
    }
}

/// True when a message for `peer` would go where `failed` points.
fn same_destination(peer: &Peer, failed: &Peer) -> bool {
    match (peer.connection, failed.connection) {
        (Some(ours), Some(broken)) => ours == broken,
        _ => peer.transport == failed.transport && peer.remote == failed.remote,
    }
}
