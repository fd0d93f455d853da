//! The B2BUA engine: one sans-IO state machine that the drivers (live over UDP/TCP, or
//! simulated) feed with inputs and drain for outputs. It performs no I/O and never reads
//! a clock: feed one input, then call [`Engine::poll_output`] until it returns `None`,
//! then sleep until [`Engine::poll_timeout`].
//!
//! It translates between the SIP layers (transactions, dialogs) and the media plane, and
//! decides what to do with every request: answer a tenant's number, refuse with the right
//! status code, or absorb it.

mod agent_offer;
mod agents;
mod bridges;
mod call;
mod call_end;
mod call_history;
mod caller_id;
mod commands;
mod consult;
mod connections;
mod dialog_requests;
mod handover;
mod inbound;
mod leg;
mod media_commands;
mod media_events;
mod outbound;
mod persist;
mod refer;
pub mod record;
mod responses;
mod routing;
mod rtp_ports;
mod stats;
mod timers;
mod transfer;

pub use call::{EndReason, Phase, TransferMode};
pub use transfer::{BounceReason, TransferError, TransferOutcome};
pub use leg::{LegState, Party};
pub use commands::{agent_state_name, parse_pause_reason, pause_reason_name, AgentView, CallView, Command, CommandError, ContextUpdate, LegView, QueueView, Reply, TransferView};
pub use responses::REFERENCE_HEADER;
pub use routing::WELCOME_PROMPT;
pub use routing::number_prompts;
pub use media_commands::{MediaCommand, MediaEvent, MediaFormat, PromptRef};
pub use stats::EngineStats;
pub use persist::{PersistLimits, PersistStats};
use persist::PersistQueue;

use crate::config::Cidr;
use crate::acd::reference::{ReferenceAllocator, DEFAULT_UNIQUENESS_WINDOW};
use crate::acd::{Acd, AcdConfig, Disposition};
use crate::acd::reference::ReferenceNumber;
use crate::core::ids::{CallId, IdAllocator, MediaSessionId};
use crate::core::rng::SeededRng;
use crate::core::time::{Instant, Now};
use crate::dialplan::{AgentId, DialPlan, QueueId, TenantId};
use crate::sip::registrar::{Registrar, RegistrarConfig};
use agents::AgentDirectory;
use leg::LegTable;
use crate::sip::msg::{self, Message};
use crate::sip::timers::SipTimers;
use crate::sip::transaction::{TransactionEvent, TransactionLayer};
use crate::sip::transport::{Peer, TransportKind};
use bytes::Bytes;
use call::Call;
pub use record::{CallRecord, IssuedReference, LegRecord, PersistTicket, Record, TransferRecord};
use responses::SUPPORTED_EXTENSIONS;
use rtp_ports::RtpPortPool;
pub use rtp_ports::even_ports;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use crate::core::deadlines::DeadlineQueue;
use timers::TimerKind;

/// What the engine needs to know that is not in the dial plan.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// SIP timers T1/T2/T4.
    pub timers: SipTimers,
    /// The address we put in Via, Contact and SDP (the listen address, or the configured
    /// public address when listening on 0.0.0.0).
    pub advertised: SocketAddr,
    /// Sources allowed to place inbound calls.
    pub trusted_peers: Vec<Cidr>,
    /// Our `Server`/`User-Agent` header value.
    pub user_agent: String,
    /// Live SIP transactions at once; requests beyond are answered 503 by the layer.
    pub max_transactions: usize,
    /// Calls at once; INVITEs beyond are answered 503.
    pub max_calls: usize,
    /// Largest UDP datagram we process; a larger request is answered 513.
    pub max_udp_datagram_bytes: usize,
    /// Retry-After (seconds) on 503 while draining.
    pub retry_after_s: u32,
    /// Delay between 180 Ringing and 200 OK. Zero answers at once; a non-zero value lets
    /// a caller (or a test) cancel before the answer.
    pub answer_delay_ms: u64,
    /// Where INVITEs to group members go whose URI names a host, not an IP address.
    pub outbound_proxy: Option<SocketAddr>,
    /// Base URL of our HTTP API, for the `Call-Info` link to a call's context.
    pub http_base_url: String,
    /// Callers waiting in all queues at once (the ACD's bound).
    pub max_waiting_calls: usize,
    /// Key of the caller hash in call records ([`record::caller_hash`]); the store keeps
    /// it, so the same caller hashes alike across restarts.
    pub caller_hash_key: [u8; 32],
    /// Bounds on writes waiting for the store.
    pub persist: PersistLimits,
    /// RTP port range for our media sessions.
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
}

/// One thing that happened to the engine.
#[derive(Debug, Clone)]
pub enum Input {
    /// A datagram (UDP) or a complete framed message (TCP) arrived.
    Message { now: Now, peer: Peer, bytes: Bytes },
    /// A stream connection closed; transactions on it fail.
    ConnectionClosed { now: Now, peer: Peer },
    /// Time passed; fire what is due.
    Timeout(Now),
    /// Stop accepting calls; end established ones after `drain`.
    Shutdown { now: Now, drain: Duration },
    /// The media plane observed something.
    Media { now: Now, event: MediaEvent },
    /// The store made the write of `ticket` durable.
    Persisted { now: Now, ticket: PersistTicket },
    /// The store could not write `ticket` (full disk, locked file, I/O error).
    PersistFailed { now: Now, ticket: PersistTicket, reason: String },
    /// The driver bound these RTP ports (each with RTCP on the port above) and holds them
    /// for the engine's media sessions; only such ports go into an SDP.
    RtpPortsBound { now: Now, ports: Vec<u16> },
    /// What the store held at start, given once before the first SIP message: records
    /// still open (none yet for calls, which are written when they end) and the reference
    /// numbers issued recently, so a restarted daemon does not hand one out again.
    Restored { now: Now, records: Vec<Record>, recent_references: Vec<IssuedReference> },
}

/// Something the driver must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send bytes to a peer (over the connection named in `peer` for TCP).
    Transmit { peer: Peer, bytes: Bytes },
    /// Open or close a media session on a local RTP port.
    Media(MediaCommand),
    /// A call-level event for logs, metrics and call records.
    Notify(Notification),
    /// Make `record` durable, then answer `Input::Persisted` (or `PersistFailed`) with
    /// `ticket`. Writes of the same record (same reference and arrival) replace each other.
    Persist { ticket: PersistTicket, record: Record },
}

/// Call events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A call arrived and was accepted for a tenant.
    CallArrived { call: CallId, tenant: String },
    /// The caller's ACK confirmed our answer.
    CallEstablished { call: CallId, tenant: String },
    /// The call ended; exactly one per accepted call.
    CallEnded { call: CallId, tenant: String, reason: EndReason, duration: Duration },
    /// An attempt to reach a person ended: an agent's phone rang for `ring_time` and was
    /// answered or not. Feeds reachability per target.
    OfferEnded { call: CallId, tenant: TenantId, agent: AgentId, outcome: OfferOutcome, ring_time: Duration },
    /// A call left the ACD (answered, abandoned, overflowed, closed, failed): exactly
    /// one per queued call, for metrics and call records.
    Disposition(Disposition),
    /// A transfer (or a menu's route to a group) ended: answered, bounced or cancelled,
    /// after ringing its target for `ring_time`. Feeds reachability per backoffice group.
    TransferEnded { call: CallId, tenant: TenantId, target: String, mode: TransferMode, outcome: TransferOutcome, ring_time: Duration },
    /// How the contact centre handled a call that ended (the 80 % norm per department):
    /// `handled`, `transferred_cold`, `transferred_warm`, `bounced` or `not_handled`, for
    /// the queue it was last in. Right before its `CallEnded`.
    CallHandled { call: CallId, tenant: TenantId, queue: Option<QueueId>, handling: &'static str },
    /// The engine finished draining: no calls are left.
    Drained,
}

/// How ringing one agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferOutcome {
    Answered,
    NoAnswer,
    Busy,
    Rejected,
    Unreachable,
    /// We stopped ringing: another agent answered, or the caller left.
    Cancelled,
}

impl OfferOutcome {
    /// Stable label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferOutcome::Answered => "answered",
            OfferOutcome::NoAnswer => "no_answer",
            OfferOutcome::Busy => "busy",
            OfferOutcome::Rejected => "rejected",
            OfferOutcome::Unreachable => "unreachable",
            OfferOutcome::Cancelled => "cancelled",
        }
    }
}

/// The engine.
pub struct Engine {
    config: EngineConfig,
    plan: DialPlan,
    transactions: TransactionLayer,
    calls: HashMap<CallId, Call>,
    /// Calls in progress by reference number (the API's lookup).
    calls_by_reference: HashMap<ReferenceNumber, CallId>,
    /// Every leg of every call, with its indexes.
    legs: LegTable,
    /// The routing domain.
    acd: Acd,
    /// Agent accounts and digest authentication.
    agents: AgentDirectory,
    /// Registered agent phones.
    registrar: Registrar,
    /// Digest username → the canonical AOR its phone registered.
    agent_aors: HashMap<String, String>,
    /// Reference numbers per tenant.
    references: HashMap<TenantId, ReferenceAllocator>,
    /// Offers waiting for the agent's phone to finish clearing its previous leg.
    deferred_offers: HashMap<(TenantId, AgentId), CallId>,
    /// Legs by the TCP connection they use.
    flows: connections::FlowIndex,
    seed: u64,
    /// The engine's own deadlines, monotonic and wall-clock.
    timers: DeadlineQueue<TimerKind>,
    ports: RtpPortPool,
    call_ids: IdAllocator,
    media_ids: IdAllocator,
    tags: SeededRng,
    branches: SeededRng,
    /// Numbers transfers, so a timer of an earlier transfer is ignored.
    transfer_seq: u32,
    /// The one outbox: every output in the order it was produced.
    outputs: VecDeque<Output>,
    /// Records on their way to the store.
    persist: PersistQueue,
    stats: EngineStats,
    draining: bool,
    /// `Drained` was emitted (once).
    drained_reported: bool,
    now: Now,
}

impl Engine {
    /// A new engine over `plan`, with all randomness derived from `seed`.
    pub fn new(plan: DialPlan, config: EngineConfig, seed: u64, now: Now) -> Self {
        let transactions = TransactionLayer::with_max_transactions(config.timers, config.max_transactions);
        let ports = RtpPortPool::new(config.rtp_port_min, config.rtp_port_max);
        let acd_config = AcdConfig { max_waiting_calls: config.max_waiting_calls, seed, ..AcdConfig::default() };
        let acd = Acd::new(acd_config, plan.tenants());
        let mut auth_rng = SeededRng::fork(seed, "digest-nonces");
        let agents = AgentDirectory::new(&plan, &mut auth_rng);
        Engine {
            acd,
            agents,
            registrar: Registrar::new(RegistrarConfig::default()),
            agent_aors: HashMap::new(),
            references: HashMap::new(),
            legs: LegTable::default(),
            deferred_offers: HashMap::new(),
            flows: connections::FlowIndex::default(),
            seed,
            plan,
            transactions,
            calls: HashMap::new(),
            calls_by_reference: HashMap::new(),
            timers: DeadlineQueue::default(),
            ports,
            call_ids: IdAllocator::default(),
            media_ids: IdAllocator::default(),
            tags: SeededRng::fork(seed, "sip-tags"),
            branches: SeededRng::fork(seed, "sip-branches"),
            outputs: VecDeque::new(),
            transfer_seq: 0,
            persist: PersistQueue::new(config.persist),
            stats: EngineStats::default(),
            draining: false,
            drained_reported: false,
            now,
            config,
        }
    }

    /// Feeds one input. Drain [`Engine::poll_output`] afterwards.
    pub fn handle_input(&mut self, input: Input) {
        self.dispatch(input);
        self.settle();
    }

    /// Runs queued ACD actions and transaction events until neither produces more.
    fn settle(&mut self) {
        // Handlers queue transaction events (transmissions first of all) and ACD actions,
        // and handling one can queue the other: settle both here, in the order produced,
        // which keeps every message of a call in order.
        loop {
            let acted = self.drain_acd_actions();
            let transacted = self.drain_transaction_events();
            if !acted && !transacted {
                break;
            }
        }
    }

    fn dispatch(&mut self, input: Input) {
        match input {
            Input::Message { now, peer, bytes } => {
                self.now = now;
                self.on_bytes(peer, bytes);
            }
            Input::ConnectionClosed { now, peer } => {
                self.now = now;
                self.on_connection_closed(peer);
            }
            Input::Timeout(now) => {
                self.now = now;
                self.transactions.handle_timeout(now.mono);
                self.flush_transmits();
                self.acd.handle_timeout(now.mono);
                let expired = self.registrar.handle_timeout(now.mono);
                self.on_bindings_expired(expired);
                self.fire_timers();
            }
            Input::Media { now, event } => {
                self.now = now;
                self.on_media_event(event);
            }
            Input::Persisted { now, ticket } => {
                self.now = now;
                self.persist.on_persisted(now, ticket, &mut self.timers, &mut self.outputs);
                self.check_drained();
            }
            Input::PersistFailed { now, ticket, reason } => {
                self.now = now;
                self.persist.on_failed(now, ticket, &reason, &mut self.timers, &mut self.outputs);
                self.check_drained();
            }
            Input::RtpPortsBound { now, ports } => {
                self.now = now;
                let refused = self.ports.add(ports);
                if refused > 0 {
                    self.stats.rtp_ports_refused += refused as u64;
                    tracing::warn!(refused, "announced RTP ports outside the range or known already");
                }
            }
            Input::Restored { now, records, recent_references } => {
                self.now = now;
                self.on_restored(records, recent_references);
            }
            Input::Shutdown { now, drain } => {
                self.now = now;
                self.draining = true;
                self.timers.schedule_mono(now.mono + drain, TimerKind::DrainEnd);
                self.check_drained();
            }
        }
    }

    /// The next output, in order; `None` when there is nothing more to do now.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the engine next needs [`Input::Timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.transactions.poll_timeout(),
            self.timers.poll_timeout(self.now),
            self.acd.poll_timeout(),
            self.registrar.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Counters of what the engine saw and refused.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// RTP ports held by calls.
    pub fn rtp_ports_in_use(&self) -> usize {
        self.ports.in_use()
    }

    /// Announced RTP ports no call holds: the driver binds more when this runs low.
    pub fn rtp_ports_free(&self) -> usize {
        self.ports.free()
    }

    /// Live SIP transactions.
    pub fn active_transactions(&self) -> usize {
        self.transactions.len()
    }

    /// What happened to the records sent to the store.
    pub fn persist_stats(&self) -> PersistStats {
        self.persist.stats()
    }

    /// Records not yet durable.
    pub fn persist_pending(&self) -> usize {
        self.persist.pending()
    }

    /// True once shutdown was requested, no call is left and every record the calls left
    /// is durable (or given up), so the driver may exit without losing one.
    pub fn is_drained(&self) -> bool {
        self.draining && self.calls.is_empty() && self.persist.pending() == 0
    }

    fn on_bytes(&mut self, peer: Peer, bytes: Bytes) {
        let datagram_len = bytes.len();
        let message = match msg::parse(bytes) {
            Ok(message) => message,
            Err(error) => {
                self.on_malformed(peer, error);
                return;
            }
        };
        if let Message::Request(request) = &message {
            if peer.transport == TransportKind::Udp && datagram_len > self.config.max_udp_datagram_bytes {
                self.answer_oversized(request, peer);
                return;
            }
            // Semantic checks come before the transaction layer, which needs Call-ID and
            // CSeq to hold state: a broken request is answered statelessly and leaves none.
            if let Err(rejection) = msg::validate_request(request, SUPPORTED_EXTENSIONS) {
                self.reject(request, rejection, peer);
                return;
            }
        }
        if let Message::Response(response) = &message {
            if let Err(reason) = msg::validate_response(response) {
                tracing::debug!(%reason, "dropping malformed response");
                self.stats.malformed_dropped += 1;
                return;
            }
        }
        self.transactions.handle_message(self.now.mono, message, peer);
        self.flush_transmits();
    }

    /// A TCP connection closed, or the driver could not open one (`peer.connection` is
    /// `None` then): every call, leg and transaction on it ends or recovers
    /// (`connections.rs`).
    fn on_connection_closed(&mut self, peer: Peer) {
        self.on_flow_lost(peer);
    }

    /// Moves what the transaction layer just transmitted into the outbox, so every output
    /// leaves in the order it was produced, whatever its kind (ARCHITECTURE: one outbox).
    /// Called right after every call into the layer.
    fn flush_transmits(&mut self) {
        let outputs = &mut self.outputs;
        self.transactions.drain_transmits(|peer, bytes| outputs.push_back(Output::Transmit { peer, bytes }));
    }

    fn drain_transaction_events(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.transactions.poll_event() {
            any = true;
            match event {
                TransactionEvent::Transmit { peer, bytes } => {
                    self.outputs.push_back(Output::Transmit { peer, bytes });
                }
                TransactionEvent::Request { tx, request, peer } => self.on_request(tx, request, peer),
                TransactionEvent::Cancel { invite_tx, cancel_tx, request, peer } => {
                    self.on_cancel(invite_tx, cancel_tx, request, peer)
                }
                TransactionEvent::Ack { request, peer } => self.on_ack(request, peer),
                TransactionEvent::Response { tx, response } => self.on_response(tx, response),
                TransactionEvent::StrayResponse { response, peer } => self.on_stray_response(response, peer),
                TransactionEvent::Timeout { tx } | TransactionEvent::TransportError { tx } => {
                    self.on_transaction_failed(tx)
                }
                TransactionEvent::Terminated { tx } => self.legs.transaction_terminated(tx),
            }
        }
        any
    }

    fn fire_timers(&mut self) {
        while let Some(kind) = self.timers.pop_due(self.now) {
            match kind {
                TimerKind::Answer(leg) => self.answer_leg(leg),
                TimerKind::RetransmitOk(leg) => self.retransmit_ok(leg),
                TimerKind::AckTimeout(leg) => self.on_ack_timeout(leg),
                TimerKind::MenuTimeout(call) => self.on_menu_timeout(call),
                TimerKind::LeaveTimeout(call) => self.on_leave_timeout(call),
                TimerKind::TransferTimeout(call, seq) => self.on_transfer_timeout(call, seq),
                TimerKind::MemberRingTimeout(leg) => self.on_member_ring_timeout(leg),
                TimerKind::PersistTimeout(_) | TimerKind::PersistRetry(_) => {
                    let now = self.now;
                    self.persist.on_timer(now, kind, &mut self.timers, &mut self.outputs);
                    self.check_drained();
                }
                TimerKind::DrainEnd => self.on_drain_end(),
            }
        }
    }

    fn on_drain_end(&mut self) {
        let calls: Vec<CallId> = self.calls.keys().copied().collect();
        for call in calls {
            self.hang_up(call, EndReason::ShutdownDrain);
        }
    }

    /// What the store held: reference numbers issued before the restart are not issued
    /// again. Open records (none of calls yet) would be taken up here.
    fn on_restored(&mut self, records: Vec<Record>, recent_references: Vec<IssuedReference>) {
        tracing::info!(records = records.len(), references = recent_references.len(), "store restored");
        let seed = self.seed;
        let mut unusable = 0usize;
        for issued in recent_references {
            let Ok(reference) = crate::acd::reference::ReferenceNumber::parse(&issued.reference) else {
                unusable += 1;
                continue;
            };
            let Some(tenant) = self.plan.tenants().iter().find(|t| t.id.as_str() == issued.tenant).map(|t| t.id.clone()) else {
                // A tenant that is no longer in the dial plan issues no numbers.
                continue;
            };
            self.references
                .entry(tenant.clone())
                .or_insert_with(|| ReferenceAllocator::for_tenant(seed, tenant.as_str(), DEFAULT_UNIQUENESS_WINDOW))
                .mark_issued(reference);
        }
        if unusable > 0 {
            tracing::warn!(unusable, "restored reference numbers that do not parse were skipped");
        }
    }

    /// Hands a finished record to the persist queue.
    fn persist_record(&mut self, record: Record) {
        let now = self.now;
        self.persist.submit(now, record, &mut self.timers, &mut self.outputs);
    }

    fn check_drained(&mut self) {
        if self.is_drained() && !self.drained_reported {
            self.drained_reported = true;
            self.outputs.push_back(Output::Notify(Notification::Drained));
        }
    }

    /// The next reference number for `tenant`.
    fn next_reference(&mut self, tenant: &TenantId) -> crate::acd::reference::ReferenceNumber {
        let seed = self.seed;
        self.references
            .entry(tenant.clone())
            .or_insert_with(|| ReferenceAllocator::for_tenant(seed, tenant.as_str(), DEFAULT_UNIQUENESS_WINDOW))
            .allocate()
    }

    fn next_call_id(&mut self) -> CallId {
        CallId(self.call_ids.next_raw())
    }

    fn next_media_id(&mut self) -> MediaSessionId {
        MediaSessionId(self.media_ids.next_raw())
    }

    /// The call's reference number for log lines (every line of a call carries it, so a
    /// complaint quoting the number finds the whole call in the logs); `-` once it ended.
    fn reference_label(&self, call: CallId) -> String {
        self.calls.get(&call).map_or_else(|| "-".to_string(), |call| call.reference.value().to_string())
    }

    /// Our side of a new media session on `rtp_port` (RFC 4566 §5.2: a fresh session id).
    fn local_media(&mut self, rtp_port: u16) -> crate::media::sdp::LocalMedia {
        crate::media::sdp::LocalMedia {
            ip: self.config.advertised.ip(),
            rtp_port,
            session_id: self.branches.next_u64() >> 1,
            session_version: 1,
        }
    }

    fn new_tag(&mut self) -> String {
        self.tags.token(12)
    }

    fn new_branch(&mut self) -> String {
        format!("z9hG4bK{}", self.branches.token(16))
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.config.trusted_peers.iter().any(|network| network.contains(ip))
    }
}
