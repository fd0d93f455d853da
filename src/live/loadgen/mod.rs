//! `veertien loadgen`: plays a trace against a running daemon over real UDP on loopback,
//! with the simulated phones of [`crate::traffic::phones`] (the same SIP logic the replay
//! uses), real RTP, and measures what callers experience.
//!
//! Each agent phone and each call gets its own UDP socket for SIP, so every Via and
//! Contact names the socket its responses and requests must reach, and each caller and
//! each answered agent leg its own RTP socket ([`rtp_streams`]): G.711 silence every
//! `rtp_interval` to the address in the daemon's SDP, as real phones do, so the daemon's
//! RTP inactivity timeout never hangs up a waiting caller. A caller whose trace line has
//! a menu key presses it (RFC 4733 telephone-event) [`MENU_KEY_DELAY`] after its ACK, in
//! real time because the daemon's menu runs in real time (the replay presses 2 s into the
//! menu too); callers without a key let the menu time out.
//!
//! Arrivals and talk time come from the trace divided by the speed-up; patience is split
//! into the daemon's entry, at real speed, and the rest, sped up ([`patience`]). The
//! agents' ring time is real time.
//!
//! Each offer reaching an agent phone is attributed to its caller by the INVITE's
//! `X-Veertien-Reference`, which the caller learned from the same header on its 200 OK:
//! it gives the "wait to agent" latency and tells the agent phone how long to talk.

mod observed;
mod patience;
mod report;
mod rtp_streams;
mod sdp_media;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::LiveClock;
use crate::core::deadlines::DeadlineQueue;
use crate::core::time::Instant;
use crate::dialplan::{DialPlan, Menu, TenantId};
use crate::engine::{REFERENCE_HEADER, WELCOME_PROMPT};
use crate::traffic::agent_task::AgentTask;
use crate::traffic::phones::{AgentPhone, CallerEnd, CallerPhone, CallerState, PhoneOutbox, PhoneTimer};
use crate::traffic::trace::{TraceCall, TraceHeader};
use crate::sip::msg::{self, HeaderName, Message, Method};

pub use patience::EntryClock;
pub use report::{LoadgenProgress, LoadgenReport};
use observed::ObservedStats;
use report::{empty_report, record};
use rtp_streams::{RtpStreams, StreamOwner};
use sdp_media::RemoteMedia;

/// When a caller presses its menu key: real time after its ACK (the daemon starts the
/// menu prompt at once and takes the key as barge-in), as the replay does.
pub const MENU_KEY_DELAY: Duration = Duration::from_secs(2);
/// Default interval of each stream's RTP packets: a real phone's 20 ms.
pub const DEFAULT_RTP_INTERVAL: Duration = Duration::from_millis(20);
/// How long the agents may take to register before the calls start.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(10);
/// After the last call, how long agent phones may take to finish their BYEs.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Interval of the progress callback.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// Datagrams waiting for the load generator's loop.
const INBOUND_QUEUE_BOUND: usize = 4096;
/// Largest datagram a phone reads.
const READ_BUFFER_BYTES: usize = 65_535;
/// Talk time of an offer whose caller is unknown or gone (a race with the caller's BYE).
const FALLBACK_TALK: Duration = Duration::from_millis(100);
/// Failure reasons kept for the report.
const MAX_FAILURE_REASONS: usize = 10;

/// An agent the load generator logs in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLogin {
    /// Agent id (digest username).
    pub id: String,
    /// The tenant's digest realm.
    pub realm: String,
    /// The agent's password.
    pub password: String,
}

impl AgentLogin {
    /// The first `limit` agents (all when `None`) of `tenant` in `plan`, with the demo
    /// passwords ("demo-" + id) the shipped and test dial plans use.
    pub fn demo_agents(plan: &DialPlan, tenant: &str, limit: Option<usize>) -> Result<Vec<AgentLogin>, LoadgenError> {
        let tenant = plan.tenant(&TenantId::new(tenant)).ok_or_else(|| LoadgenError::UnknownTenant(tenant.to_string()))?;
        let count = limit.unwrap_or(tenant.agents.len()).min(tenant.agents.len());
        Ok(tenant.agents[..count]
            .iter()
            .map(|agent| AgentLogin {
                id: agent.id.as_str().to_string(),
                realm: tenant.realm.clone(),
                password: format!("demo-{}", agent.id.as_str()),
            })
            .collect())
    }
}

/// Called with progress once a second.
pub type ProgressCallback = Box<dyn FnMut(&LoadgenProgress) + Send>;

/// How a load-generator run goes.
pub struct LoadgenOptions {
    /// The trace's header (tenant and number dialled).
    pub header: TraceHeader,
    /// The calls, in arrival order.
    pub calls: Vec<TraceCall>,
    /// The daemon's SIP address; must be IPv4 loopback (127.0.0.0/8).
    pub target: SocketAddr,
    /// Agents to log in.
    pub agents: Vec<AgentLogin>,
    /// Speed-up of trace time (arrivals, patience, talk); 1 plays in real time.
    pub speed: f64,
    /// Place at most this many calls.
    pub max_calls: Option<usize>,
    /// Stop after this much real time, whatever is still going on.
    pub max_duration: Duration,
    /// Real time an agent phone rings before it answers.
    pub agent_ring: Duration,
    /// Service-level target in trace time (25 s for Dutch municipalities).
    pub service_level_target: Duration,
    /// How often each caller and agent leg sends a 20 ms RTP packet: 20 ms is a real
    /// phone; larger is like silence suppression and lowers the load.
    pub rtp_interval: Duration,
    /// Real time the daemon's entry takes for a caller who presses no key (menu prompt
    /// plus menu timeout, see [`entry_without_key`]); callers who press a key leave it
    /// with their key, after [`MENU_KEY_DELAY`] (at most this). Patience within the
    /// entry is not sped up.
    pub entry_without_key: Duration,
    /// Called once a second with the progress.
    pub progress: Option<ProgressCallback>,
}

impl LoadgenOptions {
    /// Options with the defaults: speed 1, all calls, 10 minutes, 1 s ring, 25 s target,
    /// RTP every 20 ms, no entry for callers without a key.
    pub fn new(header: TraceHeader, calls: Vec<TraceCall>, target: SocketAddr, agents: Vec<AgentLogin>) -> Self {
        LoadgenOptions {
            header,
            calls,
            target,
            agents,
            speed: 1.0,
            max_calls: None,
            max_duration: Duration::from_secs(600),
            agent_ring: Duration::from_secs(1),
            service_level_target: Duration::from_secs(25),
            rtp_interval: DEFAULT_RTP_INTERVAL,
            entry_without_key: Duration::ZERO,
            progress: None,
        }
    }
}

/// Real time a tenant's entry takes for a caller who presses no key: the welcome and the
/// menu prompt (`prompt_duration` of their names, zero when unknown; the menu's timeout
/// starts when both have played) plus the menu timeout; zero for a tenant without a menu
/// (the caller is queued at once, while the welcome plays).
pub fn entry_without_key(menu: Option<&Menu>, prompt_duration: impl Fn(&str) -> Option<Duration>) -> Duration {
    menu.map_or(Duration::ZERO, |menu| {
        let prompts = [WELCOME_PROMPT, menu.prompt.as_str()].map(|name| prompt_duration(name).unwrap_or_default());
        prompts.into_iter().sum::<Duration>() + Duration::from_secs(u64::from(menu.timeout_s))
    })
}

/// Why a load-generator run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The target is not on this machine's loopback network.
    #[error("target {0} is not an IPv4 loopback address (127.0.0.0/8); loadgen only runs against a local daemon")]
    NotLoopback(SocketAddr),
    /// The speed-up is not a positive number.
    #[error("speed must be a positive number, got {0}")]
    BadSpeed(f64),
    /// The trace's tenant is not in the dial plans.
    #[error("tenant {0:?} of the trace is not in the dial plans")]
    UnknownTenant(String),
    /// There is no agent to log in.
    #[error("no agents to log in")]
    NoAgents,
    /// A phone's socket could not be bound.
    #[error("cannot bind a phone socket on loopback: {0}")]
    Bind(#[source] std::io::Error),
    /// Not every agent registered in time.
    #[error("only {registered} of {wanted} agents registered within {timeout_s} s (is the daemon running at the target, with this tenant?)")]
    Registration { registered: usize, wanted: usize, timeout_s: u64 },
}

/// A call in progress and what was measured of it.
struct ActiveCall {
    phone: CallerPhone,
    socket_reader: JoinHandle<()>,
    invite_at: Instant,
    ack_at: Option<Instant>,
    trying_seen: bool,
    ok_seen: bool,
    talk: Duration,
    /// Time in the queue until the first offer, in trace time (see [`patience`]).
    queue_wait: Option<Duration>,
    /// Real time of the daemon's entry for this caller, and the speed-up after it.
    entry_clock: EntryClock,
    menu_digit: Option<char>,
    /// The trace line's department: the queue the call is counted in.
    department: String,
    /// The agent whose phone answered it.
    answered_by: Option<String>,
    /// RTP packets this caller received, counted when its stream closed.
    rtp_received: u64,
}

/// What an agent phone is doing, as far as the load generator tracks it.
#[derive(Default)]
struct AgentTrack {
    offer_call_id: Option<Bytes>,
    caller: Option<u32>,
    /// The daemon's media for the current offer.
    remote: Option<RemoteMedia>,
}

struct Loadgen {
    clock: LiveClock,
    target: SocketAddr,
    speed: f64,
    agent_ring: Duration,
    inbound_tx: mpsc::Sender<(SocketAddr, Bytes)>,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    agents: Vec<AgentPhone>,
    agent_tracks: Vec<AgentTrack>,
    agent_by_addr: HashMap<SocketAddr, usize>,
    agent_readers: Vec<JoinHandle<()>>,
    calls: HashMap<u32, ActiveCall>,
    call_by_addr: HashMap<SocketAddr, u32>,
    /// The phones' timers, in the engine-wide deadline queue (monotonic deadlines only).
    timers: DeadlineQueue<PhoneTimer>,
    outbox: PhoneOutbox,
    rtp: RtpStreams,
    /// The RTP port each phone's SDP names, by the phone's SIP address.
    rtp_port_by_sip_addr: HashMap<SocketAddr, u16>,
    /// Every reference a caller of this run learned from its 200 OK (kept after the call
    /// ends, to tell an offer for a caller who left from an unknown reference).
    call_by_reference: HashMap<String, u32>,
    entry_without_key: Duration,
    report: LoadgenReport,
    /// Service level, waits and answered/abandoned counts: the aggregator's.
    stats: ObservedStats,
}

/// Plays `options.calls` against the daemon at `options.target` and reports.
pub async fn run_loadgen(mut options: LoadgenOptions) -> Result<LoadgenReport, LoadgenError> {
    let is_loopback_v4 = matches!(options.target.ip(), IpAddr::V4(ip) if ip.is_loopback());
    if !is_loopback_v4 {
        return Err(LoadgenError::NotLoopback(options.target));
    }
    if !(options.speed.is_finite() && options.speed > 0.0) {
        return Err(LoadgenError::BadSpeed(options.speed));
    }
    if options.agents.is_empty() {
        return Err(LoadgenError::NoAgents);
    }
    let (inbound_tx, mut inbound) = mpsc::channel(INBOUND_QUEUE_BOUND);
    let clock = LiveClock::start();
    let mut loadgen = Loadgen {
        clock,
        target: options.target,
        speed: options.speed,
        agent_ring: options.agent_ring,
        inbound_tx,
        sockets: HashMap::new(),
        agents: Vec::new(),
        agent_tracks: Vec::new(),
        agent_by_addr: HashMap::new(),
        agent_readers: Vec::new(),
        calls: HashMap::new(),
        call_by_addr: HashMap::new(),
        timers: DeadlineQueue::default(),
        outbox: PhoneOutbox::default(),
        rtp: RtpStreams::new(options.rtp_interval),
        rtp_port_by_sip_addr: HashMap::new(),
        call_by_reference: HashMap::new(),
        entry_without_key: options.entry_without_key,
        report: empty_report(),
        stats: ObservedStats::new(&options.header.tenant, options.service_level_target),
    };
    let result = loadgen.run(&mut options, &mut inbound).await;
    loadgen.close();
    result
}

impl Loadgen {
    async fn run(
        &mut self,
        options: &mut LoadgenOptions,
        inbound: &mut mpsc::Receiver<(SocketAddr, Bytes)>,
    ) -> Result<LoadgenReport, LoadgenError> {
        self.register_agents(&options.agents, inbound).await?;
        let zero = self.clock.now().mono;
        let deadline = zero + options.max_duration;
        let limit = options.max_calls.unwrap_or(usize::MAX).min(options.calls.len());
        let mut next_call = 0usize;
        let mut next_progress = zero + PROGRESS_INTERVAL;
        loop {
            let now = self.clock.now().mono;
            while next_call < limit {
                let at = zero + self.scale(Duration::from_millis(options.calls[next_call].arrival_offset_ms));
                if at > now {
                    break;
                }
                let call = options.calls[next_call].clone();
                self.place_call(next_call as u32, &options.header.number, &call).await?;
                next_call += 1;
            }
            self.fire_timers().await;
            if now >= next_progress {
                next_progress = now + PROGRESS_INTERVAL;
                if let Some(progress) = options.progress.as_mut() {
                    progress(&self.progress(now.saturating_duration_since(zero)));
                }
            }
            if next_call >= limit && self.calls.is_empty() {
                break;
            }
            if now >= deadline {
                self.report.stopped_by_time_bound = true;
                break;
            }
            let arrival = (next_call < limit)
                .then(|| zero + self.scale(Duration::from_millis(options.calls[next_call].arrival_offset_ms)));
            let mut wake = [arrival, Some(self.next_wake(deadline))].into_iter().flatten().min().unwrap_or(deadline);
            if options.progress.is_some() {
                wake = wake.min(next_progress);
            }
            self.wait_for(wake, inbound).await;
        }
        let unfinished: Vec<u32> = self.calls.keys().copied().collect();
        for index in unfinished {
            if let Some(call) = self.calls.remove(&index) {
                call.socket_reader.abort();
                self.call_by_addr.remove(&call.phone.addr());
                self.rtp.close(StreamOwner::Caller(index));
                self.report.unfinished += 1;
            }
        }
        self.settle(inbound).await;
        for agent in 0..self.agents.len() {
            self.rtp.close(StreamOwner::Agent(agent));
        }
        let now = self.clock.now().mono;
        self.report.elapsed = now.saturating_duration_since(zero);
        let stats = self.stats.report(self.clock.now());
        self.report.answered = stats.queues.iter().map(|queue| queue.answered).sum();
        self.report.abandoned = stats.queues.iter().map(|queue| queue.abandoned()).sum();
        self.report.service_level = stats.service_level_counts().service_level();
        self.report.stats = stats;
        let rtp = self.rtp.counters();
        self.report.rtp_sent = rtp.sent;
        self.report.rtp_received_by_callers = rtp.received_by_callers;
        self.report.rtp_received_by_agents = rtp.received_by_agents;
        self.report.key_presses = rtp.key_presses;
        Ok(self.report.clone())
    }

    /// Trace time to real time.
    fn scale(&self, trace: Duration) -> Duration {
        trace.div_f64(self.speed)
    }

    /// The next phone timer or RTP send, at the latest `deadline`.
    fn next_wake(&self, deadline: Instant) -> Instant {
        [self.timers.next_mono(), self.rtp.next_due()].into_iter().flatten().fold(deadline, Instant::min)
    }

    async fn register_agents(
        &mut self,
        logins: &[AgentLogin],
        inbound: &mut mpsc::Receiver<(SocketAddr, Bytes)>,
    ) -> Result<(), LoadgenError> {
        for (index, login) in logins.iter().enumerate() {
            let addr = self.bind_phone_socket().await?;
            let phone = AgentPhone::new(index as u16, &login.id, &login.realm, &login.password, addr, self.target, self.agent_ring);
            self.agents.push(phone);
            self.agent_tracks.push(AgentTrack::default());
            self.agent_by_addr.insert(addr, index);
            let reader = self.spawn_reader(addr);
            self.agent_readers.push(reader);
        }
        let now = self.clock.now().mono;
        for agent in &mut self.agents {
            agent.start(now, &mut self.outbox);
        }
        self.flush().await;
        let deadline = now + REGISTRATION_TIMEOUT;
        loop {
            let registered = self.agents.iter().filter(|a| a.is_registered()).count();
            if registered == self.agents.len() {
                return Ok(());
            }
            let now = self.clock.now().mono;
            if now >= deadline {
                return Err(LoadgenError::Registration {
                    registered,
                    wanted: self.agents.len(),
                    timeout_s: REGISTRATION_TIMEOUT.as_secs(),
                });
            }
            self.fire_timers().await;
            let wake = self.next_wake(deadline);
            self.wait_for(wake, inbound).await;
        }
    }

    /// Lets agent phones finish their hang-ups (their BYE's 200) after the last call.
    async fn settle(&mut self, inbound: &mut mpsc::Receiver<(SocketAddr, Bytes)>) {
        let deadline = self.clock.now().mono + SETTLE_TIMEOUT;
        while self.agents.iter().any(AgentPhone::in_call) {
            let now = self.clock.now().mono;
            if now >= deadline {
                return;
            }
            self.fire_timers().await;
            let wake = self.next_wake(deadline);
            self.wait_for(wake, inbound).await;
        }
    }

    /// Waits for a datagram (handled) or until `wake`.
    async fn wait_for(&mut self, wake: Instant, inbound: &mut mpsc::Receiver<(SocketAddr, Bytes)>) {
        let sleep = tokio::time::sleep_until(self.clock.to_tokio(wake));
        tokio::select! {
            received = inbound.recv() => {
                if let Some((local, bytes)) = received {
                    self.deliver(local, bytes).await;
                }
            }
            _ = sleep => {}
        }
    }

    async fn bind_phone_socket(&mut self) -> Result<SocketAddr, LoadgenError> {
        let bind_ip = self.target.ip();
        let socket = UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await.map_err(LoadgenError::Bind)?;
        let addr = socket.local_addr().map_err(LoadgenError::Bind)?;
        self.sockets.insert(addr, Arc::new(socket));
        Ok(addr)
    }

    /// Forwards what the socket at `addr` receives to the loop.
    fn spawn_reader(&self, addr: SocketAddr) -> JoinHandle<()> {
        let socket = self.sockets.get(&addr).cloned();
        let inbound = self.inbound_tx.clone();
        tokio::spawn(async move {
            let Some(socket) = socket else { return };
            let mut buf = vec![0u8; READ_BUFFER_BYTES];
            loop {
                let Ok((len, _remote)) = socket.recv_from(&mut buf).await else { continue };
                if inbound.send((addr, Bytes::copy_from_slice(&buf[..len]))).await.is_err() {
                    return;
                }
            }
        })
    }

    async fn place_call(&mut self, index: u32, number: &str, call: &TraceCall) -> Result<(), LoadgenError> {
        let addr = self.bind_phone_socket().await?;
        let now = self.clock.now().mono;
        let rtp_port = self.rtp.open(StreamOwner::Caller(index), addr.ip(), now).map_err(LoadgenError::Bind)?;
        self.rtp_port_by_sip_addr.insert(addr, rtp_port);
        let socket_reader = self.spawn_reader(addr);
        let entry = if call.menu_digit.is_some() { MENU_KEY_DELAY.min(self.entry_without_key) } else { self.entry_without_key };
        let entry_clock = EntryClock { entry, speed: self.speed };
        let mut phone = CallerPhone::new(index, addr, self.target, number, &call.caller);
        phone.start(now, entry_clock.patience_real(Duration::from_millis(call.patience_ms)), &mut self.outbox);
        self.calls.insert(
            index,
            ActiveCall {
                phone,
                socket_reader,
                invite_at: now,
                ack_at: None,
                trying_seen: false,
                ok_seen: false,
                talk: self.scale(Duration::from_millis(call.talk_ms)),
                queue_wait: None,
                entry_clock,
                menu_digit: call.menu_digit,
                department: call.department.clone(),
                answered_by: None,
                rtp_received: 0,
            },
        );
        self.call_by_addr.insert(addr, index);
        self.report.placed += 1;
        self.flush().await;
        Ok(())
    }

    async fn deliver(&mut self, local: SocketAddr, bytes: Bytes) {
        let Ok(message) = msg::parse(bytes) else { return };
        let now = self.clock.now().mono;
        if let Some(&index) = self.call_by_addr.get(&local) {
            self.deliver_to_caller(now, index, &message);
        } else if let Some(&agent) = self.agent_by_addr.get(&local) {
            self.deliver_to_agent(now, agent, message);
        }
        self.flush().await;
    }

    fn deliver_to_caller(&mut self, now: Instant, index: u32, message: &Message) {
        let Some(call) = self.calls.get_mut(&index) else { return };
        match message {
            Message::Response(response) => {
                let is_invite = response.cseq().is_ok_and(|cseq| cseq.method == Method::Invite);
                let elapsed_us = now.saturating_duration_since(call.invite_at).as_micros() as u64;
                if is_invite && response.status == 100 && !call.trying_seen {
                    call.trying_seen = true;
                    record(&mut self.report.invite_to_trying_us, elapsed_us);
                }
                if is_invite && (200..300).contains(&response.status) && !call.ok_seen {
                    call.ok_seen = true;
                    // The phone ACKs this 2xx right away: the wait for an agent starts now.
                    call.ack_at = Some(now);
                    record(&mut self.report.invite_to_ok_us, elapsed_us);
                    self.stats.accepted(self.clock.now(), index);
                    if let Some(reference) = response.headers.get_str(&HeaderName::from_bytes(REFERENCE_HEADER)) {
                        self.call_by_reference.insert(reference.to_string(), index);
                    }
                    let owner = StreamOwner::Caller(index);
                    if let Some(remote) = sdp_media::remote_media(&response.body) {
                        self.rtp.set_remote(owner, remote, now);
                    }
                    if let Some(digit) = call.menu_digit {
                        if !self.rtp.press_key(owner, digit, now + MENU_KEY_DELAY) {
                            self.report.key_presses_impossible += 1;
                        }
                    }
                }
                call.phone.on_response(now, response, &mut self.outbox);
            }
            Message::Request(request) => call.phone.on_request(request, &mut self.outbox),
        }
        self.after_call_step(index);
    }

    fn deliver_to_agent(&mut self, now: Instant, agent: usize, message: Message) {
        let before = self.agents[agent].counters();
        let (offer_call_id, offer_reference, offer_media) = match &message {
            Message::Request(request) if request.method == Method::Invite => (
                request.headers.get(&HeaderName::CallId).cloned(),
                request.headers.get_str(&HeaderName::from_bytes(REFERENCE_HEADER)).map(str::to_string),
                sdp_media::remote_media(&request.body),
            ),
            _ => (None, None, None),
        };
        match message {
            Message::Request(request) => self.agents[agent].on_request(now, request, &mut self.outbox),
            Message::Response(response) => self.agents[agent].on_response(now, &response, &mut self.outbox),
        }
        let after = self.agents[agent].counters();
        if after.cancelled > before.cancelled {
            // The offer ended unanswered: its caller (if still waiting) waits for the next.
            self.agent_tracks[agent] = AgentTrack::default();
        }
        let new_offer = offer_call_id.is_some()
            && offer_call_id != self.agent_tracks[agent].offer_call_id
            && after.busy == before.busy;
        if new_offer {
            self.agent_tracks[agent].offer_call_id = offer_call_id;
            self.agent_tracks[agent].remote = offer_media;
            self.attribute_offer(now, agent, offer_reference.as_deref());
        }
        self.after_agent_step(now, agent, before.answered);
    }

    /// Gives the new offer at `agent` to the caller whose reference it carries.
    fn attribute_offer(&mut self, now: Instant, agent: usize, reference: Option<&str>) {
        self.agent_tracks[agent].caller = None;
        let Some(&index) = reference.and_then(|reference| self.call_by_reference.get(reference)) else {
            self.report.offers_unknown_reference += 1;
            tracing::warn!(agent, "offer with a reference no caller of this run was given");
            return;
        };
        let Some(call) = self.calls.get_mut(&index).filter(|call| call.phone.state() == CallerState::Up) else {
            self.report.offers_caller_gone += 1;
            return;
        };
        self.report.offers_attributed += 1;
        self.agent_tracks[agent].caller = Some(index);
        if call.queue_wait.is_none() {
            let wait = now.saturating_duration_since(call.ack_at.unwrap_or(now));
            record(&mut self.report.wait_to_agent_us, wait.as_micros() as u64);
            call.queue_wait = Some(call.entry_clock.queue_wait_trace(wait));
        }
    }

    /// When the agent phone has just answered, its caller is connected and the agent
    /// talks for the caller's talk time; the leg's RTP runs from that answer until the
    /// call ends (BYE either way).
    fn after_agent_step(&mut self, now: Instant, agent: usize, answered_before: u64) {
        let owner = StreamOwner::Agent(agent);
        if self.rtp.is_open(owner) && !self.agents[agent].in_call() {
            self.rtp.close(owner);
        }
        if self.agents[agent].counters().answered <= answered_before {
            return;
        }
        self.open_agent_rtp(now, agent);
        let caller = self.agent_tracks[agent].caller.and_then(|index| self.calls.get_mut(&index));
        let talk = match caller {
            Some(call) => {
                call.phone.on_connected();
                call.answered_by = Some(self.agents[agent].id().to_string());
                call.talk
            }
            None => FALLBACK_TALK,
        };
        // The load generator plays every call as handled: transfers are the replay's.
        self.agents[agent].on_bridged(now, AgentTask::Talk(talk), &mut self.outbox);
    }

    /// Binds the RTP socket of the leg `agent` just answered (its 200 OK, still in the
    /// outbox, gets the port) and sends to the daemon's address from the offer.
    fn open_agent_rtp(&mut self, now: Instant, agent: usize) {
        let owner = StreamOwner::Agent(agent);
        let addr = self.agents[agent].addr();
        match self.rtp.open(owner, addr.ip(), now) {
            Ok(port) => {
                self.rtp_port_by_sip_addr.insert(addr, port);
                if let Some(remote) = self.agent_tracks[agent].remote {
                    self.rtp.set_remote(owner, remote, now);
                }
            }
            Err(error) => tracing::warn!(%error, agent, "cannot bind an agent leg's RTP socket"),
        }
    }

    async fn fire_timers(&mut self) {
        let clock_now = self.clock.now();
        let now = clock_now.mono;
        while let Some(timer) = self.timers.pop_due(clock_now) {
            match timer {
                PhoneTimer::Caller { index, kind, generation } => {
                    if let Some(call) = self.calls.get_mut(&index) {
                        call.phone.on_timer(now, kind, generation, &mut self.outbox);
                        self.after_call_step(index);
                    }
                }
                PhoneTimer::Agent { index, kind, generation } => {
                    let agent = usize::from(index);
                    if let Some(phone) = self.agents.get_mut(agent) {
                        let answered_before = phone.counters().answered;
                        phone.on_timer(now, kind, generation, &mut self.outbox);
                        self.after_agent_step(now, agent, answered_before);
                    }
                }
                // The load generator rings no backoffice.
                PhoneTimer::Backoffice { .. } => {}
            }
        }
        self.rtp.poll(now);
        self.flush().await;
    }

    /// Counts and forgets a call that is over.
    fn after_call_step(&mut self, index: u32) {
        let Some(call) = self.calls.get_mut(&index) else { return };
        let state = call.phone.state();
        let owner = StreamOwner::Caller(index);
        if matches!(state, CallerState::HangingUp | CallerState::Done) && self.rtp.is_open(owner) {
            // A BYE was sent or received: the phone stops sending RTP.
            call.rtp_received += self.rtp.close(owner);
        }
        if state != CallerState::Done {
            return;
        }
        let Some(call) = self.calls.remove(&index) else { return };
        call.socket_reader.abort();
        self.call_by_addr.remove(&call.phone.addr());
        self.sockets.remove(&call.phone.addr());
        self.rtp_port_by_sip_addr.remove(&call.phone.addr());
        let now = self.clock.now();
        let waited = call.entry_clock.queue_wait_trace(now.mono.saturating_duration_since(call.ack_at.unwrap_or(now.mono)));
        if call.phone.was_connected() {
            if call.rtp_received > 0 {
                self.report.answered_with_media += 1;
            }
            let agent = call.answered_by.as_deref().unwrap_or_default();
            self.stats.answered(now, index, &call.department, agent, call.queue_wait.unwrap_or(waited));
            return;
        }
        match call.phone.end() {
            CallerEnd::Abandoned => self.stats.abandoned(now, index, &call.department, waited),
            CallerEnd::Refused(status) => self.fail(index, format!("refused with {status}")),
            CallerEnd::TimedOut => self.fail(index, "a request was never answered".to_string()),
            CallerEnd::DaemonHungUp => self.fail(index, "the daemon hung up before an agent answered".to_string()),
            CallerEnd::CallerHungUp | CallerEnd::Open => self.fail(index, "ended without an agent".to_string()),
        }
    }

    fn fail(&mut self, index: u32, reason: String) {
        self.report.failed += 1;
        if self.report.failure_reasons.len() < MAX_FAILURE_REASONS {
            self.report.failure_reasons.push(format!("call {index}: {reason}"));
        }
    }

    fn progress(&self, elapsed: Duration) -> LoadgenProgress {
        let stats = self.stats.report(self.clock.now());
        let waiting = self.calls.values().filter(|call| !call.phone.was_connected()).count() as u64;
        LoadgenProgress {
            elapsed,
            placed: self.report.placed,
            active: self.calls.len() as u64,
            waiting,
            answered: stats.queues.iter().map(|queue| queue.answered).sum(),
            abandoned: stats.queues.iter().map(|queue| queue.abandoned()).sum(),
            failed: self.report.failed,
            service_level: stats.service_level_counts().service_level(),
        }
    }

    /// Sends what the phones queued and starts their timers.
    async fn flush(&mut self) {
        for (at, timer) in self.outbox.timers.drain(..) {
            self.timers.schedule_mono(at, timer);
        }
        let sends: Vec<(SocketAddr, Bytes)> = self.outbox.sends.drain(..).collect();
        for (from, mut bytes) in sends {
            let Some(socket) = self.sockets.get(&from) else { continue };
            if let Some(&port) = self.rtp_port_by_sip_addr.get(&from) {
                if sdp_media::has_audio_sdp(&bytes) {
                    bytes = sdp_media::with_rtp_port(bytes, port);
                }
            }
            if let Err(error) = socket.send_to(&bytes, self.target).await {
                tracing::debug!(%error, %from, "loadgen send failed");
            }
        }
    }

    /// Stops the socket readers.
    fn close(&mut self) {
        for reader in self.agent_readers.drain(..) {
            reader.abort();
        }
        for (_, call) in self.calls.drain() {
            call.socket_reader.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::trace::TRACE_VERSION;

    fn header() -> TraceHeader {
        TraceHeader {
            veertien_trace: TRACE_VERSION,
            tenant: "proef".into(),
            number: "14010".into(),
            start_wall: "2026-01-05T09:00:00+01:00".into(),
            seed: 1,
            calls: 0,
            profile: "unit".into(),
        }
    }

    fn login() -> AgentLogin {
        AgentLogin { id: "tim".into(), realm: "proef.veertien".into(), password: "demo-tim".into() }
    }

    #[tokio::test]
    async fn refuses_a_target_outside_loopback() {
        let target: SocketAddr = "192.0.2.1:5060".parse().expect("literal address");
        let result = run_loadgen(LoadgenOptions::new(header(), Vec::new(), target, vec![login()])).await;
        assert!(matches!(result, Err(LoadgenError::NotLoopback(addr)) if addr == target));
    }

    #[tokio::test]
    async fn refuses_a_speed_that_is_not_positive() {
        let target: SocketAddr = "127.0.0.1:5060".parse().expect("literal address");
        let mut options = LoadgenOptions::new(header(), Vec::new(), target, vec![login()]);
        options.speed = 0.0;
        assert!(matches!(run_loadgen(options).await, Err(LoadgenError::BadSpeed(_))));
    }

    #[tokio::test]
    async fn reports_agents_that_cannot_register() {
        // Nobody listens on this socket's port once it is dropped: REGISTERs go unanswered.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
        let target = silent.local_addr().expect("bound address");
        drop(silent);
        let result = run_loadgen(LoadgenOptions::new(header(), Vec::new(), target, vec![login()])).await;
        assert!(matches!(result, Err(LoadgenError::Registration { registered: 0, wanted: 1, .. })));
    }

    #[test]
    fn entry_without_key_is_welcome_and_menu_prompt_then_the_timeout() {
        let menu = Menu {
            prompt: "menu".into(),
            timeout_s: 5,
            default: crate::dialplan::Destination::Queue(crate::dialplan::QueueId::new("q")),
            options: Default::default(),
        };
        let durations = |name: &str| match name {
            WELCOME_PROMPT => Some(Duration::from_millis(3_800)),
            "menu" => Some(Duration::from_millis(13_600)),
            _ => None,
        };
        assert_eq!(entry_without_key(Some(&menu), durations), Duration::from_millis(22_400));
        assert_eq!(entry_without_key(None, durations), Duration::ZERO);
    }
}
