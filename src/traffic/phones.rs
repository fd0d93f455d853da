//! Simulated phones that speak SIP text to the engine: callers (INVITE, ACK, a menu
//! digit through the media plane, BYE, at the end of their talk time after a transfer)
//! and agents (REGISTER with digest, answer offers, hang up after the talk time or
//! transfer the caller as [`AgentTask`] says: REFER and NOTIFYs, or a warm transfer asked
//! of the driver). Sans-IO like the engine: a phone consumes parsed
//! messages and timer firings and appends what it sends and the timers it wants to a
//! [`PhoneOutbox`]; the driver carries the bytes over a network (simulated or real).
//!
//! Requests a phone sends are retransmitted on T1 doubling to T2 (RFC 3261 §17.1.1.2,
//! §17.1.2.2) until a response arrives, and an agent's 2xx is retransmitted until its ACK
//! (§13.3.1.4), so a lossy network delays calls but does not break them.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::core::addr_text::{IpText, SocketAddrText};
use crate::core::time::Instant;
use crate::engine::REFERENCE_HEADER;
use crate::sip::auth::{compute_response, DigestAlgorithm, QopAuth};
use crate::sip::msg::{HeaderName, Method, Request, Response};

use super::agent_task::{AgentTask, REFER_HANG_UP_DELAY, WARM_CONSULT};

/// T1 of the phones' retransmissions (RFC 3261 default).
pub(super) const T1: Duration = Duration::from_millis(500);
/// T2: the cap of the retransmission interval.
const T2: Duration = Duration::from_secs(4);
/// Transmissions of one request before a phone gives up (about 64·T1 in total).
const MAX_TRANSMISSIONS: u32 = 11;
/// Registration lifetime the agents ask for; they refresh at half of it.
const REGISTER_EXPIRES_S: u64 = 3600;

/// A timer a phone asked for; stale firings are recognised by `generation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneTimer {
    /// A caller's timer; `index` is the trace line (0-based).
    Caller { index: u32, kind: CallerTimer, generation: u32 },
    /// An agent's timer; `index` into the simulated agents.
    Agent { index: u16, kind: AgentTimer, generation: u32 },
    /// A timer of the simulated backoffice; `dialog` numbers a member's call.
    Backoffice { dialog: u32, kind: BackofficeTimer, generation: u32 },
}

/// What a backoffice timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackofficeTimer {
    /// The desk phone picks up.
    Answer,
    /// Retransmit the 2xx until the ACK arrives.
    RetransmitOk,
}

/// What a caller's timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerTimer {
    /// Retransmit the outstanding request.
    Retransmit,
    /// Patience ran out: hang up unless connected to an agent.
    GiveUp,
    /// The conversation with the backoffice is over: hang up.
    HangUp,
}

/// What an agent's timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentTimer {
    /// Retransmit the outstanding request (REGISTER, BYE).
    Retransmit,
    /// Retransmit the 2xx until the ACK arrives.
    RetransmitOk,
    /// Answer the ringing call.
    Answer,
    /// The conversation is over: hang up.
    HangUp,
    /// Refresh the registration.
    Reregister,
    /// Time to transfer the caller (the task's talk before the transfer is over).
    Transfer,
    /// The REFER was accepted: put the call down.
    LeaveAfterRefer,
    /// The warm transfer's consultation is over: complete it.
    CompleteTransfer,
}

/// What a phone asks of the driver that is not SIP: a warm transfer runs over the API
/// (`Command::Transfer`, `Command::CompleteTransfer`), and the driver owns the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneRequest {
    /// Start a warm transfer of the call `reference` to `group`.
    WarmTransfer { agent: u16, reference: String, group: String },
    /// Complete the warm transfer of `reference`: the member takes the caller.
    CompleteTransfer { agent: u16, reference: String },
}

/// Where phones put what they send and the timers they want.
#[derive(Debug, Default)]
pub struct PhoneOutbox {
    /// Datagrams: from which phone address, and the bytes (always to the daemon).
    pub sends: Vec<(SocketAddr, Bytes)>,
    /// Timers to start.
    pub timers: Vec<(Instant, PhoneTimer)>,
    /// Requests to the driver.
    pub requests: Vec<PhoneRequest>,
}

impl PhoneOutbox {
    pub(super) fn send(&mut self, from: SocketAddr, text: String) {
        self.sends.push((from, Bytes::from(text)));
    }
}

/// A request waiting for its response, retransmitted until then.
#[derive(Debug, Clone)]
pub(super) struct Outstanding {
    bytes: Bytes,
    interval: Duration,
    transmissions: u32,
}

impl Outstanding {
    pub(super) fn new(bytes: Bytes) -> Self {
        Outstanding { bytes, interval: T1, transmissions: 1 }
    }

    /// The bytes to send again and the delay until the next try, or `None` when done.
    pub(super) fn next(&mut self) -> Option<(Bytes, Duration)> {
        if self.transmissions >= MAX_TRANSMISSIONS {
            return None;
        }
        self.transmissions += 1;
        self.interval = (self.interval * 2).min(T2);
        Some((self.bytes.clone(), self.interval))
    }
}

/// A phone's one request in flight (REGISTER, INVITE, BYE): its retransmission state and
/// the generation that tells a current retransmission timer from a stale one.
#[derive(Debug, Clone, Default)]
struct Retransmission {
    outstanding: Option<Outstanding>,
    generation: u32,
}

/// What a retransmission timer found.
enum Retransmit {
    /// The timer belongs to an earlier request, or the request was answered.
    Nothing,
    /// Send these bytes again and set the timer for the next try after this delay.
    Again(Bytes, Duration),
    /// Out of tries.
    GaveUp,
}

impl Retransmission {
    /// Starts retransmitting `bytes`; returns the generation for the first timer (at T1).
    fn start(&mut self, bytes: Bytes) -> u32 {
        self.outstanding = Some(Outstanding::new(bytes));
        self.generation += 1;
        self.generation
    }

    /// The response arrived: stale timers of this request do nothing.
    fn stop(&mut self) {
        self.outstanding = None;
        self.generation += 1;
    }

    /// A retransmission timer of `generation` fired.
    fn fire(&mut self, generation: u32) -> Retransmit {
        if generation != self.generation {
            return Retransmit::Nothing;
        }
        match self.outstanding.as_mut().map(Outstanding::next) {
            Some(Some((bytes, interval))) => Retransmit::Again(bytes, interval),
            Some(None) => {
                self.outstanding = None;
                Retransmit::GaveUp
            }
            None => Retransmit::Nothing,
        }
    }
}

/// Where a caller's call stands, from its own side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerState {
    /// INVITE sent, no final response yet.
    Inviting,
    /// The daemon answered and we ACKed.
    Up,
    /// We sent BYE.
    HangingUp,
    /// The call is over.
    Done,
}

/// How a caller's call ended, from its own side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerEnd {
    /// Still going.
    Open,
    /// The daemon refused the INVITE (status).
    Refused(u16),
    /// The daemon hung up on us (after a conversation, a closed prompt or overflow).
    DaemonHungUp,
    /// We hung up after waiting `patience` without an agent.
    Abandoned,
    /// We hung up ourselves after the conversation (not used when the agent hangs up).
    CallerHungUp,
    /// Our request was never answered.
    TimedOut,
}

/// One simulated caller: one call of the trace.
#[derive(Debug)]
pub struct CallerPhone {
    index: u32,
    addr: SocketAddr,
    daemon: SocketAddr,
    number: String,
    user: String,
    /// Our Call-ID.
    call_id: String,
    to_tag: Option<String>,
    state: CallerState,
    end: CallerEnd,
    connected: bool,
    hang_up_when_answered: bool,
    retransmission: Retransmission,
    invite_branch: String,
    give_up_generation: u32,
    talk_generation: u32,
    /// The call's reference number, from the daemon's 200 OK.
    reference: Option<String>,
}

impl CallerPhone {
    /// A caller at `addr` for trace line `index`, dialling `number` as SIP user `user`.
    pub fn new(index: u32, addr: SocketAddr, daemon: SocketAddr, number: &str, user: &str) -> Self {
        CallerPhone {
            index,
            addr,
            daemon,
            number: number.to_string(),
            user: user.to_string(),
            call_id: format!("sim-call-{index}"),
            to_tag: None,
            state: CallerState::Inviting,
            end: CallerEnd::Open,
            connected: false,
            hang_up_when_answered: false,
            retransmission: Retransmission::default(),
            invite_branch: format!("z9hG4bK-c{index}-inv"),
            give_up_generation: 0,
            talk_generation: 0,
            reference: None,
        }
    }

    /// The caller's SIP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the call stands.
    pub fn state(&self) -> CallerState {
        self.state
    }

    /// How the call ended (`Open` while it goes on).
    pub fn end(&self) -> CallerEnd {
        self.end
    }

    /// True once an agent was bridged to this call.
    pub fn was_connected(&self) -> bool {
        self.connected
    }

    /// The call's reference number (`X-Veertien-Reference` of the daemon's 200 OK), once
    /// answered: it names the call in the offers and transfers of its agents.
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// The caller talks `talk` more (to a backoffice member who took it over), then
    /// hangs up: the member's desk phone does not know the trace's talk time.
    pub fn hang_up_after(&mut self, now: Instant, talk: Duration, out: &mut PhoneOutbox) {
        self.talk_generation += 1;
        out.timers.push((now + talk, self.timer(CallerTimer::HangUp, self.talk_generation)));
    }

    /// Sends the INVITE (with an SDP offer for RTP at our own address) and starts the
    /// patience timer.
    pub fn start(&mut self, now: Instant, patience: Duration, out: &mut PhoneOutbox) {
        let ip = IpText(self.addr.ip());
        let sdp = format!(
            "v=0\r\no=- {i} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
            i = self.index
        );
        let text = format!(
            "INVITE sip:{number}@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{ip}>;tag=c{index}\r\nTo: <sip:{number}@{daemon}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@{addr}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            number = self.number,
            daemon = SocketAddrText(self.daemon),
            addr = SocketAddrText(self.addr),
            branch = self.invite_branch,
            user = self.user,
            index = self.index,
            call_id = self.call_id,
            len = sdp.len(),
        );
        self.send_request(now, text, out);
        out.timers.push((now + patience, self.timer(CallerTimer::GiveUp, self.give_up_generation)));
    }

    /// An agent was bridged to us: patience no longer applies.
    pub fn on_connected(&mut self) {
        self.connected = true;
        self.give_up_generation += 1;
    }

    /// A timer fired.
    pub fn on_timer(&mut self, now: Instant, kind: CallerTimer, generation: u32, out: &mut PhoneOutbox) {
        match kind {
            CallerTimer::Retransmit => match self.retransmission.fire(generation) {
                Retransmit::Again(bytes, interval) => {
                    out.sends.push((self.addr, bytes));
                    out.timers.push((now + interval, self.timer(CallerTimer::Retransmit, generation)));
                }
                Retransmit::GaveUp => self.finish(CallerEnd::TimedOut),
                Retransmit::Nothing => {}
            },
            CallerTimer::GiveUp if generation == self.give_up_generation && !self.connected => match self.state {
                CallerState::Up => {
                    self.end = CallerEnd::Abandoned;
                    self.send_bye(now, out);
                }
                CallerState::Inviting => self.hang_up_when_answered = true,
                CallerState::HangingUp | CallerState::Done => {}
            },
            CallerTimer::HangUp if generation == self.talk_generation && self.state == CallerState::Up => self.send_bye(now, out),
            _ => {}
        }
    }

    /// A response from the daemon.
    pub fn on_response(&mut self, now: Instant, response: &Response, out: &mut PhoneOutbox) {
        let Ok(cseq) = response.cseq() else { return };
        match (cseq.method, self.state) {
            (Method::Invite, CallerState::Inviting) if response.status < 200 => self.stop_retransmit(),
            (Method::Invite, _) if (200..300).contains(&response.status) => {
                // Every 2xx (also a retransmission, when our ACK was lost) is ACKed.
                let Some(tag) = response.to_header().ok().and_then(|to| to.tag().map(str::to_string)) else { return };
                self.send_ack(&tag, None, out);
                if self.state == CallerState::Inviting {
                    self.stop_retransmit();
                    self.reference = response.headers.get_str(&HeaderName::from_bytes(REFERENCE_HEADER)).map(str::to_string);
                    self.to_tag = Some(tag);
                    self.state = CallerState::Up;
                    if self.hang_up_when_answered {
                        self.end = CallerEnd::Abandoned;
                        self.send_bye(now, out);
                    }
                }
            }
            (Method::Invite, _) if response.status >= 300 => {
                // RFC 3261 §17.1.1.3: a non-2xx final response is ACKed in its transaction.
                let tag = response.to_header().ok().and_then(|to| to.tag().map(str::to_string)).unwrap_or_default();
                let branch = self.invite_branch.clone();
                self.send_ack(&tag, Some(&branch), out);
                if self.state == CallerState::Inviting {
                    self.stop_retransmit();
                    self.finish(CallerEnd::Refused(response.status));
                }
            }
            (Method::Bye, CallerState::HangingUp) if response.status >= 200 => {
                self.stop_retransmit();
                if self.end == CallerEnd::Open {
                    self.end = CallerEnd::CallerHungUp;
                }
                self.state = CallerState::Done;
            }
            _ => {}
        }
    }

    /// A request from the daemon (BYE ends the call; anything else is acknowledged).
    pub fn on_request(&mut self, request: &Request, out: &mut PhoneOutbox) {
        if request.method == Method::Ack {
            return;
        }
        out.send(self.addr, response_text(request, 200, "OK"));
        if request.method == Method::Bye && matches!(self.state, CallerState::Up | CallerState::Inviting) {
            self.stop_retransmit();
            self.finish(CallerEnd::DaemonHungUp);
        }
    }

    fn finish(&mut self, end: CallerEnd) {
        if self.end == CallerEnd::Open {
            self.end = end;
        }
        self.state = CallerState::Done;
    }

    fn send_ack(&self, to_tag: &str, branch: Option<&str>, out: &mut PhoneOutbox) {
        let branch = branch.map_or_else(|| format!("z9hG4bK-c{}-ack", self.index), str::to_string);
        let text = format!(
            "ACK sip:{number}@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{ip}>;tag=c{index}\r\nTo: <sip:{number}@{daemon}>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            number = self.number,
            daemon = SocketAddrText(self.daemon),
            addr = SocketAddrText(self.addr),
            user = self.user,
            ip = IpText(self.addr.ip()),
            index = self.index,
            call_id = self.call_id,
        );
        out.send(self.addr, text);
    }

    fn send_bye(&mut self, now: Instant, out: &mut PhoneOutbox) {
        let to_tag = self.to_tag.clone().unwrap_or_default();
        let text = format!(
            "BYE sip:{number}@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-c{index}-bye\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{ip}>;tag=c{index}\r\nTo: <sip:{number}@{daemon}>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
            number = self.number,
            daemon = SocketAddrText(self.daemon),
            addr = SocketAddrText(self.addr),
            user = self.user,
            ip = IpText(self.addr.ip()),
            index = self.index,
            call_id = self.call_id,
        );
        self.state = CallerState::HangingUp;
        self.send_request(now, text, out);
    }

    fn send_request(&mut self, now: Instant, text: String, out: &mut PhoneOutbox) {
        let bytes = Bytes::from(text);
        out.sends.push((self.addr, bytes.clone()));
        let generation = self.retransmission.start(bytes);
        out.timers.push((now + T1, self.timer(CallerTimer::Retransmit, generation)));
    }

    fn stop_retransmit(&mut self) {
        self.retransmission.stop();
    }

    fn timer(&self, kind: CallerTimer, generation: u32) -> PhoneTimer {
        PhoneTimer::Caller { index: self.index, kind, generation }
    }
}

/// The dialog of the call an agent's phone has.
#[derive(Debug, Clone)]
struct AgentDialog {
    /// The daemon's INVITE.
    invite: Request,
    /// Our To tag.
    tag: String,
    /// Our 2xx, retransmitted until the ACK.
    ok: Option<Bytes>,
    confirmed: bool,
    /// The call's reference (`X-Veertien-Reference` of the offer).
    reference: Option<String>,
}

/// Counters of what an agent's phone saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounters {
    /// Offers answered.
    pub answered: u64,
    /// Offers refused with 486 because the phone already had a call.
    pub busy: u64,
    /// Offers that arrived while a call the daemon had ACKed was up: a busy agent offered.
    pub offered_while_in_call: u64,
    /// Offers cancelled before the answer.
    pub cancelled: u64,
    /// Time with a call up (answer to hang-up).
    pub talk_time: Duration,
}

/// One simulated agent phone.
#[derive(Debug)]
pub struct AgentPhone {
    index: u16,
    id: String,
    realm: String,
    password: String,
    addr: SocketAddr,
    daemon: SocketAddr,
    answer_delay: Duration,
    registered: bool,
    register_cseq: u32,
    /// CSeq of our in-dialog requests (REFER, BYE), increasing over the phone's life.
    dialog_cseq: u32,
    dialog: Option<AgentDialog>,
    /// What to do with the call bridged to us.
    task: Option<AgentTask>,
    /// CSeq of our REFER while it waits for its response.
    refer_cseq: Option<u32>,
    /// A final NOTIFY said the transfer failed: the caller comes back, we stay.
    refer_failed: bool,
    leave_generation: u32,
    /// A warm transfer was asked for; the consultation has not started.
    awaiting_consult: bool,
    /// Call-ID of the offer last cancelled, to recognise its late retransmissions.
    last_cancelled: Option<Bytes>,
    answered_at: Option<Instant>,
    hanging_up: bool,
    retransmission: Retransmission,
    ok_retransmit: Option<Outstanding>,
    ok_generation: u32,
    answer_generation: u32,
    hang_up_generation: u32,
    counters: AgentCounters,
}

impl AgentPhone {
    /// The phone of agent `id` (digest username) in `realm`, logging in with `password`.
    pub fn new(
        index: u16,
        id: &str,
        realm: &str,
        password: &str,
        addr: SocketAddr,
        daemon: SocketAddr,
        answer_delay: Duration,
    ) -> Self {
        AgentPhone {
            index,
            id: id.to_string(),
            realm: realm.to_string(),
            password: password.to_string(),
            addr,
            daemon,
            answer_delay,
            registered: false,
            register_cseq: 0,
            dialog_cseq: 0,
            dialog: None,
            task: None,
            refer_cseq: None,
            refer_failed: false,
            leave_generation: 0,
            awaiting_consult: false,
            last_cancelled: None,
            answered_at: None,
            hanging_up: false,
            retransmission: Retransmission::default(),
            ok_retransmit: None,
            ok_generation: 0,
            answer_generation: 0,
            hang_up_generation: 0,
            counters: AgentCounters::default(),
        }
    }

    /// The agent id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The phone's SIP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True once the daemon accepted the registration.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// True while a call is up or being answered.
    pub fn in_call(&self) -> bool {
        self.dialog.as_ref().is_some_and(|d| d.ok.is_some())
    }

    /// What the phone saw so far.
    pub fn counters(&self) -> AgentCounters {
        self.counters
    }

    /// Sends the first REGISTER (without credentials: the daemon challenges it).
    pub fn start(&mut self, now: Instant, out: &mut PhoneOutbox) {
        self.send_register(now, None, out);
    }

    /// A caller was bridged to this phone (answered, or back after a bounce): carry out
    /// `task`, from the caller's trace line.
    pub fn on_bridged(&mut self, now: Instant, task: AgentTask, out: &mut PhoneOutbox) {
        self.hang_up_generation += 1;
        self.awaiting_consult = false;
        let (delay, kind) = match &task {
            AgentTask::Talk(talk) => (*talk, AgentTimer::HangUp),
            AgentTask::ColdTransfer { after, .. } | AgentTask::WarmTransfer { after, .. } => (*after, AgentTimer::Transfer),
        };
        self.task = Some(task);
        out.timers.push((now + delay, self.timer(kind, self.hang_up_generation)));
    }

    /// True while this phone waits for the member of its warm transfer to answer.
    pub fn awaiting_consult(&self) -> bool {
        self.awaiting_consult
    }

    /// The member of our warm transfer answered and we talk to them: complete the
    /// transfer after the consultation.
    pub fn on_consulting(&mut self, now: Instant, out: &mut PhoneOutbox) {
        if std::mem::take(&mut self.awaiting_consult) {
            self.hang_up_generation += 1;
            out.timers.push((now + WARM_CONSULT, self.timer(AgentTimer::CompleteTransfer, self.hang_up_generation)));
        }
    }

    /// The driver could not start or complete our warm transfer: talk on with the caller.
    pub fn on_transfer_refused(&mut self, now: Instant, out: &mut PhoneOutbox) {
        self.awaiting_consult = false;
        self.talk_on(now, out);
    }

    /// The reference of the call this phone has, if any.
    pub fn reference(&self) -> Option<&str> {
        self.dialog.as_ref().and_then(|dialog| dialog.reference.as_deref())
    }

    /// The transfer was refused: the rest of the talk time with the caller, then hang up.
    fn talk_on(&mut self, now: Instant, out: &mut PhoneOutbox) {
        let rest = match &self.task {
            Some(AgentTask::ColdTransfer { rest, .. } | AgentTask::WarmTransfer { rest, .. }) => *rest,
            _ => Duration::ZERO,
        };
        self.hang_up_generation += 1;
        out.timers.push((now + rest, self.timer(AgentTimer::HangUp, self.hang_up_generation)));
    }

    /// The task's transfer is due.
    fn transfer(&mut self, now: Instant, out: &mut PhoneOutbox) {
        match self.task.clone() {
            Some(AgentTask::ColdTransfer { group, .. }) => self.send_refer(now, &group, out),
            Some(AgentTask::WarmTransfer { group, .. }) => match self.reference().map(str::to_string) {
                Some(reference) => {
                    self.awaiting_consult = true;
                    out.requests.push(PhoneRequest::WarmTransfer { agent: self.index, reference, group });
                }
                None => self.talk_on(now, out),
            },
            _ => {}
        }
    }

    /// The consultation is over: ask the driver to complete the warm transfer.
    fn complete_transfer(&mut self, out: &mut PhoneOutbox) {
        if let Some(reference) = self.reference().map(str::to_string) {
            out.requests.push(PhoneRequest::CompleteTransfer { agent: self.index, reference });
        }
    }

    /// A timer fired.
    pub fn on_timer(&mut self, now: Instant, kind: AgentTimer, generation: u32, out: &mut PhoneOutbox) {
        match kind {
            AgentTimer::Retransmit => {
                if let Retransmit::Again(bytes, interval) = self.retransmission.fire(generation) {
                    out.sends.push((self.addr, bytes));
                    out.timers.push((now + interval, self.timer(AgentTimer::Retransmit, generation)));
                }
            }
            AgentTimer::RetransmitOk if generation == self.ok_generation => {
                if let Some(Some((bytes, interval))) = self.ok_retransmit.as_mut().map(Outstanding::next) {
                    out.sends.push((self.addr, bytes));
                    out.timers.push((now + interval, self.timer(AgentTimer::RetransmitOk, generation)));
                }
            }
            AgentTimer::Answer if generation == self.answer_generation => self.answer(now, out),
            AgentTimer::HangUp if generation == self.hang_up_generation => self.hang_up(now, out),
            AgentTimer::Transfer if generation == self.hang_up_generation => self.transfer(now, out),
            AgentTimer::CompleteTransfer if generation == self.hang_up_generation => self.complete_transfer(out),
            AgentTimer::LeaveAfterRefer if generation == self.leave_generation => self.hang_up(now, out),
            AgentTimer::Reregister => self.send_register(now, None, out),
            _ => {}
        }
    }

    /// A request from the daemon: an offer, its CANCEL, the ACK, a BYE.
    pub fn on_request(&mut self, now: Instant, request: Request, out: &mut PhoneOutbox) {
        match request.method {
            Method::Invite => self.on_invite(now, request, true, out),
            Method::Ack => {
                // Only an ACK for our 2xx confirms; the ACK for a 487 does not.
                if self.dialog.as_ref().is_some_and(|d| d.ok.is_some() && same_call(&d.invite, &request)) {
                    if let Some(dialog) = self.dialog.as_mut() {
                        dialog.confirmed = true;
                    }
                    self.ok_retransmit = None;
                    self.ok_generation += 1;
                }
            }
            Method::Cancel => {
                out.send(self.addr, response_text(&request, 200, "OK"));
                let ringing = self.dialog.as_ref().is_some_and(|d| d.ok.is_none() && same_call(&d.invite, &request));
                if ringing {
                    if let Some(dialog) = self.dialog.take() {
                        out.send(self.addr, response_with_tag(&dialog.invite, 487, "Request Terminated", &dialog.tag));
                        self.last_cancelled = dialog.invite.headers.get(&HeaderName::CallId).cloned();
                    }
                    self.answer_generation += 1;
                    self.counters.cancelled += 1;
                }
            }
            Method::Bye => {
                out.send(self.addr, response_text(&request, 200, "OK"));
                if self.dialog.as_ref().is_some_and(|d| same_call(&d.invite, &request)) {
                    self.end_dialog(now);
                }
            }
            Method::Notify => {
                out.send(self.addr, response_text(&request, 200, "OK"));
                // RFC 3515 §2.4.5: the sipfrag's status line says how the transfer went;
                // a final failure means the caller comes back to us.
                let status = std::str::from_utf8(&request.body)
                    .ok()
                    .and_then(|body| body.strip_prefix("SIP/2.0 "))
                    .and_then(|rest| rest.get(..3))
                    .and_then(|code| code.parse::<u16>().ok());
                if status.is_some_and(|status| status >= 300) && self.dialog.as_ref().is_some_and(|d| same_call(&d.invite, &request)) {
                    self.refer_failed = true;
                    self.leave_generation += 1;
                }
            }
            _ => out.send(self.addr, response_text(&request, 200, "OK")),
        }
    }

    /// A response from the daemon: the registration's challenge and result, our BYE's.
    pub fn on_response(&mut self, now: Instant, response: &Response, out: &mut PhoneOutbox) {
        let Ok(cseq) = response.cseq() else { return };
        if response.status < 200 {
            return;
        }
        match cseq.method {
            Method::Register if cseq.seq == self.register_cseq => {
                self.stop_retransmit();
                match response.status {
                    401 => {
                        if let Some(authorization) = self.authorization(response) {
                            self.send_register(now, Some(authorization), out);
                        }
                    }
                    200..=299 => {
                        self.registered = true;
                        let refresh = Duration::from_secs(REGISTER_EXPIRES_S / 2);
                        out.timers.push((now + refresh, self.timer(AgentTimer::Reregister, 0)));
                    }
                    _ => self.registered = false,
                }
            }
            Method::Bye if self.hanging_up => {
                self.stop_retransmit();
                self.hanging_up = false;
            }
            Method::Refer if self.refer_cseq == Some(cseq.seq) => {
                self.stop_retransmit();
                self.refer_cseq = None;
                if (200..300).contains(&response.status) {
                    if !self.refer_failed {
                        self.leave_generation += 1;
                        out.timers.push((now + REFER_HANG_UP_DELAY, self.timer(AgentTimer::LeaveAfterRefer, self.leave_generation)));
                    }
                } else {
                    self.talk_on(now, out);
                }
            }
            _ => {}
        }
    }

    /// An offer of a transfer to a group this agent is a member of: the trace line says
    /// whether the group answers (`answers`), so the agent lets it ring when it does not;
    /// a busy phone refuses it (486) like any offer, and that is no ACD fault.
    pub fn on_member_offer(&mut self, now: Instant, invite: Request, answers: bool, out: &mut PhoneOutbox) {
        let offered_while_in_call = self.counters.offered_while_in_call;
        self.on_invite(now, invite, answers, out);
        self.counters.offered_while_in_call = offered_while_in_call;
    }

    fn on_invite(&mut self, now: Instant, invite: Request, answers: bool, out: &mut PhoneOutbox) {
        if self.last_cancelled.is_some() && invite.headers.get(&HeaderName::CallId) == self.last_cancelled.as_ref() {
            // A retransmission of the offer we already ended: answer it as before.
            out.send(self.addr, response_with_tag(&invite, 487, "Request Terminated", &format!("a{}-cancelled", self.index)));
            return;
        }
        if let Some(dialog) = &self.dialog {
            if same_call(&dialog.invite, &invite) {
                // A retransmission: our 2xx (if any) is retransmitted on its own timer.
                return;
            }
            self.counters.busy += 1;
            // An offer crossing our 2xx with the daemon's CANCEL is a race the daemon
            // resolves with ACK and BYE (RFC 3261 §9.1); only an offer during a call the
            // daemon itself confirmed (ACKed) is an error.
            if dialog.confirmed {
                self.counters.offered_while_in_call += 1;
            }
            out.send(self.addr, response_with_tag(&invite, 486, "Busy Here", &format!("a{}-busy", self.index)));
            return;
        }
        let tag = format!("a{}-{}", self.index, self.counters.answered + self.counters.cancelled + self.counters.busy);
        let reference = invite.headers.get_str(&HeaderName::from_bytes(REFERENCE_HEADER)).map(str::to_string);
        self.dialog = Some(AgentDialog { invite, tag, ok: None, confirmed: false, reference });
        self.answer_generation += 1;
        if !answers {
            // A backoffice member who does not pick up: it rings until the daemon cancels.
        } else if self.answer_delay.is_zero() {
            self.answer(now, out);
        } else {
            out.timers.push((now + self.answer_delay, self.timer(AgentTimer::Answer, self.answer_generation)));
        }
    }

    fn answer(&mut self, now: Instant, out: &mut PhoneOutbox) {
        let addr = self.addr;
        let Some(dialog) = self.dialog.as_mut() else { return };
        if dialog.ok.is_some() {
            return;
        }
        let mut response = Response::to_request(&dialog.invite, 200, "OK");
        if let Some(to) = dialog.invite.headers.get(&HeaderName::To) {
            response.headers.set(HeaderName::To, format!("{};tag={}", String::from_utf8_lossy(to), dialog.tag));
        }
        response.headers.push(HeaderName::Contact, format!("<sip:{}@{}>", self.id, SocketAddrText(addr)));
        response.headers.push(HeaderName::ContentType, "application/sdp");
        let ip = IpText(addr.ip());
        response.body = Bytes::from(format!(
            "v=0\r\no=- {i} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\n",
            i = self.index
        ));
        let bytes = response.to_bytes();
        dialog.ok = Some(bytes.clone());
        out.sends.push((addr, bytes.clone()));
        self.ok_retransmit = Some(Outstanding::new(bytes));
        self.ok_generation += 1;
        out.timers.push((now + T1, self.timer(AgentTimer::RetransmitOk, self.ok_generation)));
        self.answered_at = Some(now);
        self.counters.answered += 1;
    }

    fn hang_up(&mut self, now: Instant, out: &mut PhoneOutbox) {
        let Some(dialog) = &self.dialog else { return };
        if dialog.ok.is_none() {
            return;
        }
        let invite = &dialog.invite;
        let call_id = invite.headers.get_str(&HeaderName::CallId).unwrap_or_default();
        let daemon_side = invite.headers.get_str(&HeaderName::From).unwrap_or_default();
        self.dialog_cseq += 1;
        let text = format!(
            "BYE sip:veertien@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-a{index}-bye{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{id}@{ip}>;tag={tag}\r\nTo: {daemon_side}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} BYE\r\nContent-Length: 0\r\n\r\n",
            daemon = SocketAddrText(self.daemon),
            addr = SocketAddrText(self.addr),
            index = self.index,
            cseq = self.dialog_cseq,
            id = self.id,
            ip = IpText(self.addr.ip()),
            tag = dialog.tag,
        );
        self.end_dialog(now);
        self.hanging_up = true;
        self.send_request(now, text, out);
    }

    /// REFER in our dialog to `group` at the daemon (RFC 3515 §2.4): the daemon rings it.
    fn send_refer(&mut self, now: Instant, group: &str, out: &mut PhoneOutbox) {
        let Some(dialog) = &self.dialog else { return };
        if dialog.ok.is_none() {
            return;
        }
        let invite = &dialog.invite;
        let call_id = invite.headers.get_str(&HeaderName::CallId).unwrap_or_default();
        let daemon_side = invite.headers.get_str(&HeaderName::From).unwrap_or_default();
        self.dialog_cseq += 1;
        let text = format!(
            "REFER sip:veertien@{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-a{index}-ref{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{id}@{ip}>;tag={tag}\r\nTo: {daemon_side}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REFER\r\nContact: <sip:{id}@{addr}>\r\nRefer-To: <sip:{group}@{daemon}>\r\nReferred-By: <sip:{id}@{ip}>\r\nContent-Length: 0\r\n\r\n",
            daemon = SocketAddrText(self.daemon),
            addr = SocketAddrText(self.addr),
            index = self.index,
            cseq = self.dialog_cseq,
            id = self.id,
            ip = IpText(self.addr.ip()),
            tag = dialog.tag,
        );
        self.refer_cseq = Some(self.dialog_cseq);
        self.refer_failed = false;
        self.send_request(now, text, out);
    }

    fn end_dialog(&mut self, now: Instant) {
        self.dialog = None;
        self.task = None;
        self.refer_cseq = None;
        self.awaiting_consult = false;
        self.leave_generation += 1;
        self.ok_retransmit = None;
        self.ok_generation += 1;
        self.hang_up_generation += 1;
        if let Some(answered_at) = self.answered_at.take() {
            self.counters.talk_time += now.saturating_duration_since(answered_at);
        }
    }

    /// The digest Authorization for the challenge in `response` (RFC 3261 §22.4, RFC
    /// 7616): SHA-256 when offered, else MD5, with qop=auth.
    fn authorization(&self, response: &Response) -> Option<String> {
        let challenges: Vec<String> = response
            .headers
            .get_all(&HeaderName::WwwAuthenticate)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let (algorithm, challenge) = challenges
            .iter()
            .find(|c| c.contains("SHA-256"))
            .map(|c| (DigestAlgorithm::Sha256, c))
            .or_else(|| challenges.iter().find(|c| c.contains("MD5")).map(|c| (DigestAlgorithm::Md5, c)))?;
        let nonce = quoted_param(challenge, "nonce")?;
        let opaque = quoted_param(challenge, "opaque");
        let uri = format!("sip:{}", SocketAddrText(self.daemon));
        let cnonce = format!("a{}c{}", self.index, self.register_cseq);
        let ha1 = algorithm.ha1(&self.id, &self.realm, &self.password);
        let qop = QopAuth { nonce_count: "00000001", cnonce: &cnonce };
        let digest = compute_response(algorithm, &ha1, "REGISTER", &uri, nonce, Some(qop));
        let opaque = opaque.map(|o| format!(", opaque=\"{o}\"")).unwrap_or_default();
        Some(format!(
            "Digest username=\"{id}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{digest}\", algorithm={alg}, qop=auth, nc=00000001, cnonce=\"{cnonce}\"{opaque}",
            id = self.id,
            realm = self.realm,
            alg = algorithm.token(),
        ))
    }

    fn send_register(&mut self, now: Instant, authorization: Option<String>, out: &mut PhoneOutbox) {
        self.register_cseq += 1;
        let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let text = format!(
            "REGISTER sip:{daemon} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-a{index}-reg{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{id}@{host}>;tag=a{index}reg\r\nTo: <sip:{id}@{host}>\r\nCall-ID: sim-reg-{index}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{id}@{addr}>\r\nExpires: {REGISTER_EXPIRES_S}\r\n{auth}Content-Length: 0\r\n\r\n",
            daemon = SocketAddrText(self.daemon),
            addr = SocketAddrText(self.addr),
            index = self.index,
            cseq = self.register_cseq,
            id = self.id,
            host = IpText(self.daemon.ip()),
        );
        self.send_request(now, text, out);
    }

    fn send_request(&mut self, now: Instant, text: String, out: &mut PhoneOutbox) {
        let bytes = Bytes::from(text);
        out.sends.push((self.addr, bytes.clone()));
        let generation = self.retransmission.start(bytes);
        out.timers.push((now + T1, self.timer(AgentTimer::Retransmit, generation)));
    }

    fn stop_retransmit(&mut self) {
        self.retransmission.stop();
    }

    fn timer(&self, kind: AgentTimer, generation: u32) -> PhoneTimer {
        PhoneTimer::Agent { index: self.index, kind, generation }
    }
}

/// True when both requests belong to the same call (same Call-ID).
fn same_call(a: &Request, b: &Request) -> bool {
    a.headers.get(&HeaderName::CallId) == b.headers.get(&HeaderName::CallId)
}

/// The value of `name="..."` in a challenge.
fn quoted_param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = challenge.find(&key)? + key.len();
    challenge[start..].split('"').next()
}

pub(super) fn response_text(request: &Request, status: u16, reason: &str) -> String {
    String::from_utf8_lossy(&Response::to_request(request, status, reason).to_bytes()).into_owned()
}

/// A response that carries our To tag (a final response creating or refusing a dialog).
pub(super) fn response_with_tag(request: &Request, status: u16, reason: &str, tag: &str) -> String {
    let mut response = Response::to_request(request, status, reason);
    if let Some(to) = request.headers.get(&HeaderName::To) {
        response.headers.set(HeaderName::To, format!("{};tag={tag}", String::from_utf8_lossy(to)));
    }
    String::from_utf8_lossy(&response.to_bytes()).into_owned()
}
