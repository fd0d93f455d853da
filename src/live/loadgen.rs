//! `veertien loadgen`: plays a trace against a running daemon over real UDP on loopback,
//! with the simulated phones of [`crate::sim::phones`] (the same SIP logic the replay
//! uses) and measures what callers experience.
//!
//! Each agent phone and each call gets its own UDP socket, so every Via and Contact names
//! the socket its responses and requests must reach. Arrivals, patience and talk time come
//! from the trace, divided by the speed-up; the agents' ring time is real time.
//!
//! Over the wire a caller cannot see which agent it was bridged to, so an offer reaching
//! an agent phone is attributed to the caller that has waited longest (answered, not yet
//! offered). With one first-in-first-out queue per run (the shipped tenants route every
//! caller who presses no key to one queue) this is exactly the daemon's choice; it gives
//! the "wait to agent" latency and tells the agent phone how long to talk.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::LiveClock;
use crate::core::time::Instant;
use crate::dialplan::{DialPlan, TenantId};
use crate::sim::phones::{AgentPhone, CallerEnd, CallerPhone, CallerState, PhoneOutbox, PhoneTimer};
use crate::sim::trace::{TraceCall, TraceHeader};
use crate::sip::msg::{self, HeaderName, Message, Method};

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
/// Talk time of an offer that reached an agent after its caller was gone (a race).
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

/// Progress so far, passed to [`LoadgenOptions::progress`] once a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadgenProgress {
    /// Real time since the first call could start.
    pub elapsed: Duration,
    /// Calls placed so far.
    pub placed: u64,
    /// Calls in progress.
    pub active: u64,
    /// Calls in progress not (yet) with an agent.
    pub waiting: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Calls the caller gave up on, as the trace intended.
    pub abandoned: u64,
    /// Calls that failed.
    pub failed: u64,
    /// Share of answered-or-abandoned calls answered within the service-level target
    /// (trace time); `None` before the first such call.
    pub service_level: Option<f64>,
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
    /// Called once a second with the progress.
    pub progress: Option<ProgressCallback>,
}

impl LoadgenOptions {
    /// Options with the defaults: speed 1, all calls, 10 minutes, 1 s ring, 25 s target.
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
            progress: None,
        }
    }
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

/// The result of a run.
#[derive(Debug, Clone)]
pub struct LoadgenReport {
    /// Calls placed.
    pub placed: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Calls the caller gave up on after its patience, as the trace intended.
    pub abandoned: u64,
    /// Calls that ended in a SIP error or timeout the trace did not intend, or were still
    /// going when the time bound ended the run.
    pub failed: u64,
    /// The first reasons of failed calls.
    pub failure_reasons: Vec<String>,
    /// First INVITE sent to the first 100 Trying, microseconds.
    pub invite_to_trying_us: Histogram<u64>,
    /// First INVITE sent to the first 2xx, microseconds.
    pub invite_to_ok_us: Histogram<u64>,
    /// Caller's ACK to the offer reaching an agent phone, microseconds.
    pub wait_to_agent_us: Histogram<u64>,
    /// Answered-or-abandoned calls answered within the service-level target.
    pub service_level: Option<f64>,
    /// Real time from the first possible call to the end.
    pub elapsed: Duration,
    /// True when the time bound stopped the run before every call ended.
    pub stopped_by_time_bound: bool,
}

impl fmt::Display for LoadgenReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "calls placed {}  answered {}  abandoned {}  failed {}", self.placed, self.answered, self.abandoned, self.failed)?;
        match self.service_level {
            Some(level) => writeln!(f, "service level {:.1} %", level * 100.0)?,
            None => writeln!(f, "service level -")?,
        }
        writeln!(f, "{:<22} {:>7} {:>9} {:>9} {:>9} {:>9}", "latency (ms)", "count", "p50", "p90", "p99", "max")?;
        for (name, histogram) in [
            ("INVITE -> 100", &self.invite_to_trying_us),
            ("INVITE -> 200", &self.invite_to_ok_us),
            ("wait to agent", &self.wait_to_agent_us),
        ] {
            let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
            writeln!(
                f,
                "{name:<22} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                histogram.len(),
                ms(0.5),
                ms(0.9),
                ms(0.99),
                histogram.max() as f64 / 1000.0
            )?;
        }
        write!(f, "elapsed {:.1} s", self.elapsed.as_secs_f64())?;
        if self.stopped_by_time_bound {
            write!(f, " (stopped by the time bound)")?;
        }
        for reason in &self.failure_reasons {
            write!(f, "\nfailed: {reason}")?;
        }
        Ok(())
    }
}

/// A call in progress and what was measured of it.
struct ActiveCall {
    phone: CallerPhone,
    socket_reader: JoinHandle<()>,
    invite_at: Instant,
    ack_at: Option<Instant>,
    trying_seen: bool,
    ok_seen: bool,
    offered: bool,
    talk: Duration,
    wait_trace: Option<Duration>,
}

/// What an agent phone is doing, as far as the load generator tracks it.
#[derive(Default)]
struct AgentTrack {
    offer_call_id: Option<Bytes>,
    caller: Option<u32>,
}

/// Timers of all phones in time order.
#[derive(Default)]
struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    timers: HashMap<u64, PhoneTimer>,
    next_seq: u64,
}

impl TimerQueue {
    fn push(&mut self, at: Instant, timer: PhoneTimer) {
        self.heap.push(Reverse((at, self.next_seq)));
        self.timers.insert(self.next_seq, timer);
        self.next_seq += 1;
    }

    fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<PhoneTimer> {
        let Reverse((at, seq)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.timers.remove(&seq)
    }
}

struct Loadgen {
    clock: LiveClock,
    target: SocketAddr,
    speed: f64,
    agent_ring: Duration,
    service_level_target: Duration,
    inbound_tx: mpsc::Sender<(SocketAddr, Bytes)>,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    agents: Vec<AgentPhone>,
    agent_tracks: Vec<AgentTrack>,
    agent_by_addr: HashMap<SocketAddr, usize>,
    agent_readers: Vec<JoinHandle<()>>,
    calls: HashMap<u32, ActiveCall>,
    call_by_addr: HashMap<SocketAddr, u32>,
    timers: TimerQueue,
    outbox: PhoneOutbox,
    report: LoadgenReport,
    within_target: u64,
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
        service_level_target: options.service_level_target,
        inbound_tx,
        sockets: HashMap::new(),
        agents: Vec::new(),
        agent_tracks: Vec::new(),
        agent_by_addr: HashMap::new(),
        agent_readers: Vec::new(),
        calls: HashMap::new(),
        call_by_addr: HashMap::new(),
        timers: TimerQueue::default(),
        outbox: PhoneOutbox::default(),
        report: empty_report(),
        within_target: 0,
    };
    let result = loadgen.run(&mut options, &mut inbound).await;
    loadgen.close();
    result
}

fn empty_report() -> LoadgenReport {
    let histogram = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid");
    LoadgenReport {
        placed: 0,
        answered: 0,
        abandoned: 0,
        failed: 0,
        failure_reasons: Vec::new(),
        invite_to_trying_us: histogram(),
        invite_to_ok_us: histogram(),
        wait_to_agent_us: histogram(),
        service_level: None,
        elapsed: Duration::ZERO,
        stopped_by_time_bound: false,
    }
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
            let mut wake = [arrival, self.timers.next_due(), Some(deadline)].into_iter().flatten().min().unwrap_or(deadline);
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
                self.fail(index, "still going when the time bound ended the run".to_string());
            }
        }
        self.settle(inbound).await;
        let now = self.clock.now().mono;
        self.report.elapsed = now.saturating_duration_since(zero);
        self.report.service_level = self.service_level();
        Ok(self.report.clone())
    }

    /// Trace time to real time.
    fn scale(&self, trace: Duration) -> Duration {
        trace.div_f64(self.speed)
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
            let wake = self.timers.next_due().map_or(deadline, |due| due.min(deadline));
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
            let wake = self.timers.next_due().map_or(deadline, |due| due.min(deadline));
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
        let socket_reader = self.spawn_reader(addr);
        let now = self.clock.now().mono;
        let mut phone = CallerPhone::new(index, addr, self.target, number, &call.caller);
        phone.start(now, self.scale(Duration::from_millis(call.patience_ms)), &mut self.outbox);
        self.calls.insert(
            index,
            ActiveCall {
                phone,
                socket_reader,
                invite_at: now,
                ack_at: None,
                trying_seen: false,
                ok_seen: false,
                offered: false,
                talk: self.scale(Duration::from_millis(call.talk_ms)),
                wait_trace: None,
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
                }
                call.phone.on_response(now, response, &mut self.outbox);
            }
            Message::Request(request) => call.phone.on_request(request, &mut self.outbox),
        }
        self.after_call_step(index);
    }

    fn deliver_to_agent(&mut self, now: Instant, agent: usize, message: Message) {
        let before = self.agents[agent].counters();
        let offer_call_id = match &message {
            Message::Request(request) if request.method == Method::Invite => request.headers.get(&HeaderName::CallId).cloned(),
            _ => None,
        };
        match message {
            Message::Request(request) => self.agents[agent].on_request(now, request, &mut self.outbox),
            Message::Response(response) => self.agents[agent].on_response(now, &response, &mut self.outbox),
        }
        let after = self.agents[agent].counters();
        if after.cancelled > before.cancelled {
            // The offer ended unanswered: its caller (if still waiting) waits for the next.
            if let Some(index) = self.agent_tracks[agent].caller.take() {
                if let Some(call) = self.calls.get_mut(&index) {
                    call.offered = false;
                }
            }
            self.agent_tracks[agent].offer_call_id = None;
        }
        let new_offer = offer_call_id.is_some()
            && offer_call_id != self.agent_tracks[agent].offer_call_id
            && after.busy == before.busy;
        if new_offer {
            self.agent_tracks[agent].offer_call_id = offer_call_id;
            self.attribute_offer(now, agent);
        }
        self.after_agent_step(now, agent, before.answered);
    }

    /// Gives the new offer at `agent` to the caller who has waited longest.
    fn attribute_offer(&mut self, now: Instant, agent: usize) {
        let longest_waiting = self
            .calls
            .iter()
            .filter(|(_, call)| !call.offered && call.ack_at.is_some() && call.phone.state() == CallerState::Up)
            .map(|(index, _)| *index)
            .min();
        self.agent_tracks[agent].caller = longest_waiting;
        let Some(call) = longest_waiting.and_then(|index| self.calls.get_mut(&index)) else { return };
        call.offered = true;
        if call.wait_trace.is_none() {
            let wait = now.saturating_duration_since(call.ack_at.unwrap_or(now));
            record(&mut self.report.wait_to_agent_us, wait.as_micros() as u64);
            call.wait_trace = Some(wait.mul_f64(self.speed));
        }
    }

    /// When the agent phone has just answered, its caller is connected and the agent
    /// talks for the caller's talk time.
    fn after_agent_step(&mut self, now: Instant, agent: usize, answered_before: u64) {
        if self.agents[agent].counters().answered <= answered_before {
            return;
        }
        let caller = self.agent_tracks[agent].caller.and_then(|index| self.calls.get_mut(&index));
        let talk = match caller {
            Some(call) => {
                call.phone.on_connected();
                call.talk
            }
            None => FALLBACK_TALK,
        };
        self.agents[agent].on_bridged(now, talk, &mut self.outbox);
    }

    async fn fire_timers(&mut self) {
        let now = self.clock.now().mono;
        while let Some(timer) = self.timers.pop_due(now) {
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
            }
        }
        self.flush().await;
    }

    /// Counts and forgets a call that is over.
    fn after_call_step(&mut self, index: u32) {
        let done = self.calls.get(&index).is_some_and(|call| call.phone.state() == CallerState::Done);
        if !done {
            return;
        }
        let Some(call) = self.calls.remove(&index) else { return };
        call.socket_reader.abort();
        self.call_by_addr.remove(&call.phone.addr());
        self.sockets.remove(&call.phone.addr());
        if call.phone.was_connected() {
            self.report.answered += 1;
            if call.wait_trace.is_some_and(|wait| wait <= self.service_level_target) {
                self.within_target += 1;
            }
            return;
        }
        match call.phone.end() {
            CallerEnd::Abandoned => self.report.abandoned += 1,
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

    fn service_level(&self) -> Option<f64> {
        let handled = self.report.answered + self.report.abandoned;
        (handled > 0).then(|| self.within_target as f64 / handled as f64)
    }

    fn progress(&self, elapsed: Duration) -> LoadgenProgress {
        let waiting = self.calls.values().filter(|call| !call.phone.was_connected()).count() as u64;
        LoadgenProgress {
            elapsed,
            placed: self.report.placed,
            active: self.calls.len() as u64,
            waiting,
            answered: self.report.answered,
            abandoned: self.report.abandoned,
            failed: self.report.failed,
            service_level: self.service_level(),
        }
    }

    /// Sends what the phones queued and starts their timers.
    async fn flush(&mut self) {
        for (at, timer) in self.outbox.timers.drain(..) {
            self.timers.push(at, timer);
        }
        let sends: Vec<(SocketAddr, Bytes)> = self.outbox.sends.drain(..).collect();
        for (from, bytes) in sends {
            let Some(socket) = self.sockets.get(&from) else { continue };
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

fn record(histogram: &mut Histogram<u64>, value_us: u64) {
    histogram.saturating_record(value_us.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::trace::TRACE_VERSION;

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
}
