//! Trace replay in simulated time: the real [`Engine`] with simulated caller and agent
//! phones and a simulated backoffice over a [`SimNetwork`], jumping from one deadline to
//! the next (engine timeouts, phone timers, packet deliveries, media reports, trace
//! arrivals). Nothing reads a clock: the same trace, plan and seed give the same run,
//! down to the output hash.
//!
//! Transfers in the trace are carried out (see `traffic::agent_task` for what an agent
//! does and why): a cold transfer by REFER from the agent's phone, a warm one by the API
//! commands the agent's phone asks this driver for. The backoffice's desk phones sit
//! behind [`BACKOFFICE`], the engine's `outbound_proxy`, and answer as the call's trace
//! line says. Which trace line a message is about is told by `X-Veertien-Reference`
//! (the caller learns it from its 200 OK; agents' and members' offers carry it); which
//! parties the media plane bridged, by their addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;

use super::invariants::{InvariantChecker, Violation};
use super::media_sim::{MediaReaction, MediaSim, PromptDurations};
use super::network::{NetworkConditions, SimNetwork};
use super::output_hash::OutputHash;
use super::report::{AgentOccupancy, ReplayReport};
use super::store::{SimStore, SimStoreConfig};
use crate::config::Cidr;
use crate::core::deadlines::DeadlineQueue;
use crate::core::ids::{CallId, MediaSessionId};
use crate::core::time::{Instant, Now, WallTime};
use crate::dialplan::{DialPlan, TenantId};
use crate::engine::{
    Command, ContextUpdate, Engine, EngineConfig, Input, MediaCommand, MediaEvent, Notification, Output, PersistTicket, TransferMode,
};
use crate::sip::msg::{self, Message, Method, Request};
use crate::sip::timers::SipTimers;
use crate::sip::transport::Peer;
use crate::stats::{StatsAggregator, StatsConfig};
use crate::traffic::agent_task::{after_transfer, AgentTask};
use crate::traffic::backoffice::{is_backoffice, Backoffice};
use crate::traffic::phones::{AgentPhone, CallerEnd, CallerPhone, CallerState, PhoneOutbox, PhoneRequest, PhoneTimer};
use crate::traffic::trace::{AgentAction, TraceCall, TraceError, TraceHeader};

/// The daemon's address in the simulation.
const DAEMON: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 5060);
/// Callers live at 127.128.0.0 + their trace index; agents at 127.2.0.1 and up.
const CALLER_BASE_IP: u32 = 0x7F80_0000;
const AGENT_BASE_IP: u32 = 0x7F02_0001;
/// The backoffice's PBX: the engine's outbound proxy for desk phones named by host name
/// (the shipped Almere groups), so transfers to them reach the simulated desk phones.
pub const BACKOFFICE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 3, 0, 1)), 5060);
/// The simulated instant of the trace's start (arbitrary, non-zero).
const START: Instant = Instant::from_micros(1_000_000);
/// Agents register this long before the first call.
const REGISTRATION_LEAD: Duration = Duration::from_secs(10);
/// After the last call, how long the replay may run to let calls finish.
const DRAIN_LIMIT: Duration = Duration::from_secs(6 * 3600);

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Seed of the engine, the network and the phones.
    pub seed: u64,
    /// The simulated network between phones and daemon.
    pub network: NetworkConditions,
    /// Use only the first N agents of the tenant (`None`: all).
    pub agents: Option<usize>,
    /// Ring time before an agent's phone answers.
    pub agent_answer_delay: Duration,
    /// The engine's delay between 180 and 200 to the caller.
    pub engine_answer_delay: Duration,
    /// How long prompts play.
    pub prompts: PromptDurations,
    /// Caller's delay from the menu starting to the key press.
    pub menu_digit_delay: Duration,
    /// Check invariants after every step.
    pub check_invariants: bool,
    /// Keep every notification with its time in [`ReplayOutcome::notifications`] (for
    /// tests that check the report against its inputs; memory grows with the run).
    pub keep_notifications: bool,
    /// Latency and failures of the simulated store.
    pub store: SimStoreConfig,
}

impl ReplayConfig {
    /// Defaults: no loss, 5 ms latency with 5 ms jitter, 3 s ring time, every prompt 4 s,
    /// the key pressed 2 s into the menu, invariants checked.
    pub fn new(seed: u64) -> Self {
        ReplayConfig {
            seed,
            network: NetworkConditions {
                base_latency: Duration::from_millis(5),
                jitter: Duration::from_millis(5),
                loss_probability: 0.0,
            },
            agents: None,
            agent_answer_delay: Duration::from_secs(3),
            engine_answer_delay: Duration::ZERO,
            prompts: PromptDurations::uniform(Duration::from_secs(4)),
            menu_digit_delay: Duration::from_secs(2),
            check_invariants: true,
            keep_notifications: false,
            store: SimStoreConfig::default(),
        }
    }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The trace could not be read.
    #[error("trace: {0}")]
    Trace(#[from] TraceError),
    /// The header's tenant is not in the dial plan.
    #[error("tenant {0:?} of the trace is not in the dial plans")]
    UnknownTenant(String),
    /// The header's start time is not RFC 3339.
    #[error("trace start_wall {0:?} is not an RFC 3339 time")]
    BadStart(String),
    /// The tenant has no agents to simulate.
    #[error("tenant {0:?} has no agents")]
    NoAgents(String),
}

/// A finished replay: the report and any broken invariants.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    /// The numbers.
    pub report: ReplayReport,
    /// The first violations, and how many in all.
    pub violations: Vec<Violation>,
    /// All violations counted.
    pub violation_count: u64,
    /// Every notification with the time it was produced, when
    /// [`ReplayConfig::keep_notifications`] asked for them; empty otherwise.
    pub notifications: Vec<(Now, Notification)>,
}

/// What happens at a scheduled instant.
#[derive(Debug, Clone)]
enum Event {
    /// A datagram reaches the daemon.
    ToDaemon { from: SocketAddr, bytes: Bytes },
    /// A datagram reaches a phone.
    ToPhone { to: SocketAddr, bytes: Bytes },
    /// A phone's timer.
    Phone(PhoneTimer),
    /// The media plane reports a finished playout.
    PlayoutFinished { session: MediaSessionId, generation: u32 },
    /// A caller presses a key.
    Digit { session: MediaSessionId, digit: char },
    /// The simulated store's answer to a write is due.
    StoreAnswer { ticket: PersistTicket },
}

/// The engine configuration a replay uses: permissive bounds so the ACD, not the
/// driver's limits, decides.
pub fn replay_engine_config(answer_delay: Duration) -> EngineConfig {
    EngineConfig {
        timers: SipTimers { t1_ms: 500, t2_ms: 4000, t4_ms: 5000 },
        advertised: DAEMON,
        trusted_peers: vec!["127.0.0.0/8".parse::<Cidr>().expect("a literal CIDR block")],
        user_agent: "veertien-replay".into(),
        max_transactions: 1_000_000,
        max_calls: 100_000,
        max_udp_datagram_bytes: 65_535,
        retry_after_s: 30,
        answer_delay_ms: answer_delay.as_millis() as u64,
        http_base_url: "http://127.0.0.1:8080".into(),
        outbound_proxy: Some(BACKOFFICE),
        max_waiting_calls: 100_000,
        rtp_port_min: 10_000,
        rtp_port_max: 60_000,
        caller_hash_key: [0u8; 32],
        persist: crate::engine::PersistLimits::default(),
    }
}

/// A caller in progress, with the trace line's parameters it still needs.
#[derive(Debug)]
struct ActiveCaller {
    phone: CallerPhone,
    menu_digit: Option<char>,
    talk: Duration,
    digit_sent: bool,
    /// What the agent who answers does with the call.
    action: AgentAction,
    /// The trace line's transfer was handed to an agent (it is attempted once).
    transfer_attempted: bool,
    /// The transfer runs: offers of this call to agents are a group's member offers.
    in_transfer: bool,
    /// The engine's id of the call (from the media session opened for the caller).
    call: Option<CallId>,
    /// The reference this caller is filed under in `Replay::references`.
    reference: Option<String>,
}

impl ActiveCaller {
    /// Whether the backoffice answers this call's transfer.
    fn backoffice_answers(&self) -> bool {
        match &self.action {
            AgentAction::ColdTransfer(transfer) | AgentAction::WarmTransfer(transfer) => transfer.backoffice_answers,
            AgentAction::Handle => false,
        }
    }
}

struct Replay {
    engine: Engine,
    network: SimNetwork,
    media: MediaSim,
    /// What is scheduled, in time order (equal instants in scheduling order, which keeps
    /// a run reproducible): the engine-wide deadline queue, monotonic deadlines only.
    agenda: DeadlineQueue<Event>,
    callers: HashMap<u32, ActiveCaller>,
    agents: Vec<AgentPhone>,
    backoffice: Backoffice,
    /// Callers by the reference of their call.
    references: HashMap<String, u32>,
    /// Callers by the engine's call id.
    callers_by_call: HashMap<CallId, u32>,
    outbox: PhoneOutbox,
    reactions: Vec<MediaReaction>,
    invariants: InvariantChecker,
    check_invariants: bool,
    /// The one aggregator of notifications: every queue figure of the report.
    stats: StatsAggregator,
    store: SimStore,
    hash: OutputHash,
    /// Kept notifications (see [`ReplayConfig::keep_notifications`]).
    notifications: Option<Vec<(Now, Notification)>>,
    now: Instant,
    wall_start_ms: i64,
    menu_digit_delay: Duration,
    steps: u64,
    caller_abandoned: u64,
    refused: u64,
}

/// Replays `calls` (the lines after `header`) against `plan`.
pub fn replay(
    plan: DialPlan,
    header: &TraceHeader,
    calls: impl IntoIterator<Item = Result<TraceCall, TraceError>>,
    config: &ReplayConfig,
) -> Result<ReplayOutcome, ReplayError> {
    let wall_start_ms = chrono::DateTime::parse_from_rfc3339(&header.start_wall)
        .map_err(|_| ReplayError::BadStart(header.start_wall.clone()))?
        .timestamp_millis();
    let tenant = plan
        .tenant(&TenantId::new(&header.tenant))
        .ok_or_else(|| ReplayError::UnknownTenant(header.tenant.clone()))?
        .clone();
    let agent_count = config.agents.unwrap_or(tenant.agents.len()).min(tenant.agents.len());
    if agent_count == 0 {
        return Err(ReplayError::NoAgents(header.tenant.clone()));
    }
    let agents: Vec<AgentPhone> = tenant.agents[..agent_count]
        .iter()
        .enumerate()
        .map(|(index, agent)| {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(AGENT_BASE_IP + index as u32)), 5060);
            let password = format!("demo-{}", agent.id);
            AgentPhone::new(index as u16, agent.id.as_str(), &tenant.realm, &password, addr, DAEMON, config.agent_answer_delay)
        })
        .collect();
    let stats = StatsAggregator::new(StatsConfig::from_plan(&plan));
    // The engine's clock starts before the trace so the agents are registered in time.
    let first = START;
    let wall_at_first = wall_start_ms - REGISTRATION_LEAD.as_millis() as i64;
    let engine_config = replay_engine_config(config.engine_answer_delay);
    let ports = crate::engine::even_ports(engine_config.rtp_port_min, engine_config.rtp_port_max);
    let start = Now::new(first, WallTime(wall_at_first));
    let mut engine = Engine::new(plan, engine_config, config.seed, start);
    // The simulation has no sockets: every port of the range is the engine's from the start.
    engine.handle_input(Input::RtpPortsBound { now: start, ports });
    let mut replay = Replay {
        engine,
        network: SimNetwork::new(config.network, config.seed),
        media: MediaSim::new(config.prompts.clone()),
        agenda: DeadlineQueue::default(),
        callers: HashMap::new(),
        agents,
        backoffice: Backoffice::new(BACKOFFICE, config.seed),
        references: HashMap::new(),
        callers_by_call: HashMap::new(),
        outbox: PhoneOutbox::default(),
        reactions: Vec::new(),
        invariants: InvariantChecker::new(),
        check_invariants: config.check_invariants,
        stats,
        store: SimStore::new(config.store, config.seed),
        hash: OutputHash::default(),
        notifications: config.keep_notifications.then(Vec::new),
        now: first,
        wall_start_ms: wall_at_first,
        menu_digit_delay: config.menu_digit_delay,
        steps: 0,
        caller_abandoned: 0,
        refused: 0,
    };
    for index in 0..replay.agents.len() {
        replay.agents[index].start(first, &mut replay.outbox);
    }
    replay.flush_outbox();
    let trace_zero = first + REGISTRATION_LEAD;
    let mut calls = calls.into_iter().peekable();
    let mut next_index: u32 = 0;
    let mut transfers_requested = 0;
    let mut last_arrival = trace_zero;
    loop {
        let arrival = match calls.peek() {
            Some(Ok(call)) => Some(trace_zero + Duration::from_millis(call.arrival_offset_ms)),
            Some(Err(_)) => return Err(calls.next().and_then(Result::err).map(ReplayError::Trace).expect("peeked an error")),
            None => None,
        };
        let engine_due = replay.engine.poll_timeout();
        let event_due = replay.agenda.next_mono();
        if arrival.is_none() && replay.callers.is_empty() && replay.engine.active_calls() == 0 {
            break;
        }
        let Some(next) = [engine_due, event_due, arrival].into_iter().flatten().min() else { break };
        if arrival.is_none() && next > last_arrival + DRAIN_LIMIT {
            break;
        }
        replay.now = replay.now.max(next);
        replay.steps += 1;
        if engine_due == Some(next) {
            let now = replay.wall_now();
            replay.engine.handle_input(Input::Timeout(now));
            replay.drain_engine();
        } else if event_due == Some(next) {
            let now = replay.wall_now();
            if let Some(event) = replay.agenda.pop_due(now) {
                replay.dispatch(event);
            }
        } else if let Some(Ok(call)) = calls.next() {
            last_arrival = replay.now;
            if !matches!(call.agent_action, AgentAction::Handle) {
                transfers_requested += 1;
            }
            replay.start_caller(next_index, &header.number, call);
            next_index += 1;
        }
        if replay.check_invariants {
            let (now, deadline) = (replay.now, replay.engine.poll_timeout());
            replay.invariants.on_deadline(now, deadline);
        }
    }
    replay.invariants.finish(replay.now);
    replay.store.finish();
    let simulated = replay.now.saturating_duration_since(first);
    let agents = replay
        .agents
        .iter()
        .map(|agent| {
            let counters = agent.counters();
            AgentOccupancy {
                id: agent.id().to_string(),
                answered: counters.answered,
                cancelled: counters.cancelled,
                talk_time: counters.talk_time,
                occupancy: if simulated.is_zero() { 0.0 } else { counters.talk_time.as_secs_f64() / simulated.as_secs_f64() },
            }
        })
        .collect();
    let (violations, violation_count) = replay.invariants.violations();
    let stats = replay.stats.report(replay.wall_now());
    Ok(ReplayOutcome {
        report: ReplayReport {
            calls: u64::from(next_index),
            accepted: stats.arrived(),
            caller_abandoned: replay.caller_abandoned,
            refused: replay.refused,
            transfers_requested,
            stats,
            agents,
            simulated,
            steps: replay.steps,
            output_hash: replay.hash.hex(),
            records_written: replay.store.writes(),
            record_write_failures: replay.store.failures(),
        },
        violations: violations.to_vec(),
        violation_count,
        notifications: replay.notifications.unwrap_or_default(),
    })
}

impl Replay {
    fn wall_now(&self) -> Now {
        let elapsed_ms = (self.now.saturating_duration_since(START).as_micros() / 1000) as i64;
        Now::new(self.now, WallTime(self.wall_start_ms + elapsed_ms))
    }

    fn start_caller(&mut self, index: u32, number: &str, call: TraceCall) {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(CALLER_BASE_IP.wrapping_add(index))), 5060);
        let mut phone = CallerPhone::new(index, addr, DAEMON, number, &call.caller);
        phone.start(self.now, Duration::from_millis(call.patience_ms), &mut self.outbox);
        self.callers.insert(
            index,
            ActiveCaller {
                phone,
                menu_digit: call.menu_digit,
                talk: Duration::from_millis(call.talk_ms),
                digit_sent: false,
                action: call.agent_action,
                transfer_attempted: false,
                in_transfer: false,
                call: None,
                reference: None,
            },
        );
        self.flush_outbox();
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::ToDaemon { from, bytes } => {
                let now = self.wall_now();
                let peer = Peer::udp(DAEMON, from);
                self.engine.handle_input(Input::Message { now, peer, bytes });
                self.drain_engine();
            }
            Event::ToPhone { to, bytes } => self.deliver_to_phone(to, bytes),
            Event::Phone(timer) => self.fire_phone_timer(timer),
            Event::PlayoutFinished { session, generation } => {
                if self.media.is_current(session, generation) {
                    let now = self.wall_now();
                    self.engine.handle_input(Input::Media { now, event: MediaEvent::PlayoutFinished { session } });
                    self.drain_engine();
                }
            }
            Event::Digit { session, digit } => {
                let now = self.wall_now();
                self.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session, digit } });
                self.drain_engine();
            }
            Event::StoreAnswer { ticket } => {
                if let Some(input) = self.store.answer(self.wall_now(), ticket) {
                    self.engine.handle_input(input);
                    self.drain_engine();
                }
            }
        }
    }

    fn deliver_to_phone(&mut self, to: SocketAddr, bytes: Bytes) {
        let Ok(message) = msg::parse(bytes) else { return };
        let now = self.now;
        if let Some(index) = caller_index(to) {
            let Some(caller) = self.callers.get_mut(&index) else { return };
            match &message {
                Message::Request(request) => caller.phone.on_request(request, &mut self.outbox),
                Message::Response(response) => caller.phone.on_response(now, response, &mut self.outbox),
            }
            if caller.reference.is_none() {
                if let Some(reference) = caller.phone.reference().map(str::to_string) {
                    caller.reference = Some(reference.clone());
                    self.references.insert(reference, index);
                }
            }
            self.after_caller_step(index);
        } else if is_backoffice(BACKOFFICE, to) {
            if let Message::Request(request) = message {
                let answers = self.member_offer_caller(&request).is_some_and(ActiveCaller::backoffice_answers);
                self.backoffice.on_request(now, request, answers, &mut self.outbox);
            }
        } else if let Some(index) = self.agent_index(to) {
            let member_offer = match &message {
                Message::Request(request) => self.member_offer_caller(request).map(ActiveCaller::backoffice_answers),
                Message::Response(_) => None,
            };
            let agent = &mut self.agents[index];
            let offered_while_in_call = agent.counters().offered_while_in_call;
            match (message, member_offer) {
                (Message::Request(request), Some(answers)) => agent.on_member_offer(now, request, answers, &mut self.outbox),
                (Message::Request(request), None) => agent.on_request(now, request, &mut self.outbox),
                (Message::Response(response), _) => agent.on_response(now, &response, &mut self.outbox),
            }
            if self.check_invariants && agent.counters().offered_while_in_call > offered_while_in_call {
                let id = agent.id().to_string();
                self.invariants.on_offer_while_in_call(now, &id);
            }
        }
        self.flush_outbox();
    }

    fn fire_phone_timer(&mut self, timer: PhoneTimer) {
        let now = self.now;
        match timer {
            PhoneTimer::Caller { index, kind, generation } => {
                if let Some(caller) = self.callers.get_mut(&index) {
                    caller.phone.on_timer(now, kind, generation, &mut self.outbox);
                    self.after_caller_step(index);
                }
            }
            PhoneTimer::Agent { index, kind, generation } => {
                if let Some(agent) = self.agents.get_mut(usize::from(index)) {
                    agent.on_timer(now, kind, generation, &mut self.outbox);
                }
            }
            PhoneTimer::Backoffice { dialog, kind, generation } => {
                self.backoffice.on_timer(now, dialog, kind, generation, &mut self.outbox);
            }
        }
        self.flush_outbox();
    }

    /// Forgets a caller whose call is over, counting how it ended.
    fn after_caller_step(&mut self, index: u32) {
        let done = self.callers.get(&index).is_some_and(|c| c.phone.state() == CallerState::Done);
        if !done {
            return;
        }
        if let Some(caller) = self.callers.remove(&index) {
            if let Some(reference) = &caller.reference {
                self.references.remove(reference);
            }
            if let Some(call) = caller.call {
                self.callers_by_call.remove(&call);
            }
            match caller.phone.end() {
                CallerEnd::Abandoned => self.caller_abandoned += 1,
                CallerEnd::Refused(_) => self.refused += 1,
                _ => {}
            }
        }
    }

    fn agent_index(&self, addr: SocketAddr) -> Option<usize> {
        let IpAddr::V4(ip) = addr.ip() else { return None };
        let offset = u32::from(ip).checked_sub(AGENT_BASE_IP)? as usize;
        (offset < self.agents.len()).then_some(offset)
    }

    /// Sends what the phones queued over the network and starts their timers.
    fn flush_outbox(&mut self) {
        for (from, bytes) in self.outbox.sends.drain(..) {
            if let Some(at) = self.network.deliver(self.now) {
                self.agenda.schedule_mono(at, Event::ToDaemon { from, bytes });
            }
        }
        for (at, timer) in self.outbox.timers.drain(..) {
            self.agenda.schedule_mono(at, Event::Phone(timer));
        }
        for request in std::mem::take(&mut self.outbox.requests) {
            self.on_phone_request(request);
        }
    }

    /// An agent's phone asks for a warm transfer or its completion: the API commands an
    /// agent's desktop would send, issued to the engine this driver owns.
    fn on_phone_request(&mut self, request: PhoneRequest) {
        let (agent, command) = match request {
            PhoneRequest::WarmTransfer { agent, reference, group } => {
                if let Some(caller) = self.references.get(&reference).and_then(|index| self.callers.get_mut(index)) {
                    caller.in_transfer = true;
                }
                (agent, Command::Transfer { reference, target: group, mode: TransferMode::Warm, context: ContextUpdate::default() })
            }
            PhoneRequest::CompleteTransfer { agent, reference } => (agent, Command::CompleteTransfer(reference)),
        };
        let now = self.wall_now();
        let result = self.engine.handle_command(now, command);
        self.drain_engine();
        if let Err(error) = result {
            // The agent talks on; the trace's transfer is not carried out.
            tracing::debug!(%error, "simulated agent's transfer command refused");
            if let Some(phone) = self.agents.get_mut(usize::from(agent)) {
                phone.on_transfer_refused(self.now, &mut self.outbox);
            }
            self.flush_outbox();
        }
    }

    /// The caller whose call a member offer (an INVITE while its transfer runs) is about.
    fn member_offer_caller(&self, request: &Request) -> Option<&ActiveCaller> {
        if request.method != Method::Invite {
            return None;
        }
        let reference = Backoffice::reference_of(request)?;
        self.references.get(reference).and_then(|index| self.callers.get(index)).filter(|caller| caller.in_transfer)
    }

    fn drain_engine(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Transmit { peer, bytes } => {
                    if let Some(at) = self.network.deliver(self.now) {
                        self.agenda.schedule_mono(at, Event::ToPhone { to: peer.remote, bytes });
                    }
                }
                Output::Media(command) => {
                    if let MediaCommand::Open { call, remote: Some(remote), .. } = &command {
                        // The caller's own session names the engine's id of its call.
                        if let Some(index) = caller_index(*remote) {
                            if let Some(caller) = self.callers.get_mut(&index) {
                                caller.call = Some(*call);
                                self.callers_by_call.insert(*call, index);
                            }
                        }
                    }
                    self.media.handle(self.now, &command, &mut self.reactions);
                    self.react_to_media();
                }
                Output::Notify(notification) => self.on_notification(&notification),
                Output::Persist { ticket, record } => {
                    let due = self.store.persist(self.now, ticket, record);
                    self.agenda.schedule_mono(due, Event::StoreAnswer { ticket });
                }
            }
        }
    }

    fn on_notification(&mut self, notification: &Notification) {
        if let Notification::TransferEnded { call, .. } = notification {
            if let Some(caller) = self.callers_by_call.get(call).and_then(|index| self.callers.get_mut(index)) {
                caller.in_transfer = false;
            }
        }
        self.hash.record(self.now, notification);
        if self.check_invariants {
            self.invariants.on_notification(self.now, notification);
        }
        let now = self.wall_now();
        self.stats.handle(now, notification);
        if let Some(kept) = self.notifications.as_mut() {
            kept.push((now, notification.clone()));
        }
    }

    fn react_to_media(&mut self) {
        let mut reactions = std::mem::take(&mut self.reactions);
        for reaction in reactions.drain(..) {
            match reaction {
                MediaReaction::PlayoutFinishes { session, at, generation } => {
                    self.agenda.schedule_mono(at, Event::PlayoutFinished { session, generation });
                }
                MediaReaction::MenuPlaying { session, remote } => {
                    let Some(caller) = caller_index(remote).and_then(|index| self.callers.get_mut(&index)) else { continue };
                    if let (Some(digit), false) = (caller.menu_digit, caller.digit_sent) {
                        caller.digit_sent = true;
                        self.agenda.schedule_mono(self.now + self.menu_digit_delay, Event::Digit { session, digit });
                    }
                }
                MediaReaction::Bridged { a, b } => self.on_bridged(a, b),
            }
        }
        self.reactions = reactions;
        self.flush_outbox();
    }
}

impl Replay {
    /// The media plane bridged the parties at `a` and `b`: a caller and an agent (the
    /// agent carries out the trace line's action, or talks what is left after a transfer
    /// was attempted), a caller and a backoffice member (the caller talks the rest of its
    /// talk time and hangs up), or an agent and a member (a warm transfer's consultation).
    fn on_bridged(&mut self, a: SocketAddr, b: SocketAddr) {
        let now = self.now;
        let (index, other) = match (caller_index(a), caller_index(b)) {
            (Some(index), _) => (index, b),
            (_, Some(index)) => (index, a),
            (None, None) => {
                for addr in [a, b] {
                    if let Some(agent) = self.agent_index(addr).filter(|agent| self.agents[*agent].awaiting_consult()) {
                        self.agents[agent].on_consulting(now, &mut self.outbox);
                    }
                }
                return;
            }
        };
        let agent = self.agent_index(other);
        let Some(caller) = self.callers.get_mut(&index) else { return };
        caller.phone.on_connected();
        if let (Some(call), true) = (caller.call, self.check_invariants) {
            self.invariants.on_reconnected(call);
        }
        if let Some(agent) = agent {
            let task = AgentTask::for_call(caller.talk, &caller.action, caller.transfer_attempted);
            if task.transfers() {
                caller.transfer_attempted = true;
                caller.in_transfer = true;
            }
            self.agents[agent].on_bridged(now, task, &mut self.outbox);
        } else if is_backoffice(BACKOFFICE, other) {
            caller.phone.hang_up_after(now, after_transfer(caller.talk), &mut self.outbox);
        }
    }
}

/// The trace index of the caller at `addr`, if it is a caller's address.
fn caller_index(addr: SocketAddr) -> Option<u32> {
    let IpAddr::V4(ip) = addr.ip() else { return None };
    u32::from(ip).checked_sub(CALLER_BASE_IP)
}
