//! A simulated backoffice: the desk phones of a municipality's departments behind their
//! PBX, reached through one address (the daemon's `outbound_proxy`), because the shipped
//! dial plans name desk phones by host name. Sans-IO and deterministic like the phones:
//! parsed requests and timer firings in, datagrams and timers out to a [`PhoneOutbox`];
//! the ring delays are drawn from a seeded stream.
//!
//! Whether anybody picks up is not drawn here: the trace line of the call decides
//! (`backoffice_answers`), looked up by the offer's `X-Veertien-Reference` by the driver.
//! A desk phone that will answer does so after a ring delay of [`MIN_RING`] to
//! [`MAX_RING`]: shorter than the shortest time one member rings in the shipped plans (15 s,
//! an in-turn group of two with 30 s), so the trace, not the draw, decides the outcome.
//! Of several members rung together for one call only the first offered answers; the
//! others ring until the daemon cancels them. A desk phone that does not answer rings
//! (180) until the daemon's ring time runs out and it CANCELs (200, then 487). An answer
//! is retransmitted until the ACK (RFC 3261 §13.3.1.4); a BYE is answered 200. Desk
//! phones never hang up themselves: the caller ends the conversation.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;

use crate::core::addr_text::IpText;
use crate::core::rng::SeededRng;
use crate::core::time::Instant;
use crate::engine::REFERENCE_HEADER;
use crate::sip::msg::{HeaderName, Method, Request, Response, SipUri};

use super::phones::{response_text, response_with_tag, BackofficeTimer, Outstanding, PhoneOutbox, PhoneTimer, T1};
use super::sample::uniform;

/// Shortest ring before a desk phone that answers picks up.
pub const MIN_RING: Duration = Duration::from_secs(3);
/// Longest ring before a desk phone that answers picks up.
pub const MAX_RING: Duration = Duration::from_secs(12);

/// One member's call at a desk phone.
#[derive(Debug)]
struct DeskCall {
    number: u32,
    invite: Request,
    tag: String,
    reference: Option<String>,
    /// This desk phone is the one that picks the call up.
    picks_up: bool,
    ok: Option<Outstanding>,
    ok_bytes: Option<Bytes>,
    generation: u32,
}

/// What the backoffice saw over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackofficeCounters {
    /// Member INVITEs received (not counting retransmissions).
    pub offered: u64,
    /// Offers a desk phone answered.
    pub answered: u64,
    /// Offers the daemon cancelled.
    pub cancelled: u64,
}

/// The desk phones behind one PBX address.
#[derive(Debug)]
pub struct Backoffice {
    addr: SocketAddr,
    rng: SeededRng,
    /// Calls by Call-ID.
    calls: HashMap<Bytes, DeskCall>,
    /// Dialog numbers to Call-IDs, for timers.
    by_number: HashMap<u32, Bytes>,
    /// References a desk phone already took or will take: one member answers per call.
    answering: HashSet<String>,
    /// Call-IDs of finished calls, for late retransmissions.
    finished: HashSet<Bytes>,
    next_number: u32,
    counters: BackofficeCounters,
}

impl Backoffice {
    /// The backoffice reached at `addr`, its ring delays drawn from `seed`.
    pub fn new(addr: SocketAddr, seed: u64) -> Self {
        Backoffice {
            addr,
            rng: SeededRng::fork(seed, "sim.backoffice"),
            calls: HashMap::new(),
            by_number: HashMap::new(),
            answering: HashSet::new(),
            finished: HashSet::new(),
            next_number: 0,
            counters: BackofficeCounters::default(),
        }
    }

    /// The PBX address (the daemon's outbound proxy).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it saw so far.
    pub fn counters(&self) -> BackofficeCounters {
        self.counters
    }

    /// The reference an INVITE is about (`X-Veertien-Reference`).
    pub fn reference_of(request: &Request) -> Option<&str> {
        request.headers.get_str(&HeaderName::from_bytes(REFERENCE_HEADER))
    }

    /// A request from the daemon; `answers` is the call's trace line's
    /// `backoffice_answers` (only looked at for a new INVITE).
    pub fn on_request(&mut self, now: Instant, request: Request, answers: bool, out: &mut PhoneOutbox) {
        let Some(call_id) = request.headers.get(&HeaderName::CallId).cloned() else { return };
        match request.method {
            Method::Invite => self.on_invite(now, call_id, request, answers, out),
            Method::Ack => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    if call.ok_bytes.is_some() {
                        call.ok = None;
                        call.generation += 1;
                    }
                }
            }
            Method::Cancel => {
                out.send(self.addr, response_text(&request, 200, "OK"));
                let ringing = self.calls.get(&call_id).is_some_and(|call| call.ok_bytes.is_none());
                if ringing {
                    if let Some(call) = self.end_call(&call_id) {
                        out.send(self.addr, response_with_tag(&call.invite, 487, "Request Terminated", &call.tag));
                        self.counters.cancelled += 1;
                    }
                }
            }
            Method::Bye => {
                out.send(self.addr, response_text(&request, 200, "OK"));
                self.end_call(&call_id);
            }
            _ => out.send(self.addr, response_text(&request, 200, "OK")),
        }
    }

    /// A timer fired.
    pub fn on_timer(&mut self, now: Instant, dialog: u32, kind: BackofficeTimer, generation: u32, out: &mut PhoneOutbox) {
        let Some(call) = self.by_number.get(&dialog).and_then(|call_id| self.calls.get_mut(call_id)) else { return };
        if call.generation != generation {
            return;
        }
        match kind {
            BackofficeTimer::Answer if call.ok_bytes.is_none() => {
                let bytes = answer(&call.invite, &call.tag, self.addr, call.number);
                out.sends.push((self.addr, bytes.clone()));
                call.ok_bytes = Some(bytes.clone());
                call.ok = Some(Outstanding::new(bytes));
                call.generation += 1;
                out.timers.push((now + T1, timer(call.number, BackofficeTimer::RetransmitOk, call.generation)));
                self.counters.answered += 1;
            }
            BackofficeTimer::RetransmitOk => {
                if let Some(Some((bytes, interval))) = call.ok.as_mut().map(Outstanding::next) {
                    out.sends.push((self.addr, bytes));
                    out.timers.push((now + interval, timer(call.number, BackofficeTimer::RetransmitOk, generation)));
                }
            }
            BackofficeTimer::Answer => {}
        }
    }

    fn on_invite(&mut self, now: Instant, call_id: Bytes, invite: Request, answers: bool, out: &mut PhoneOutbox) {
        if let Some(call) = self.calls.get(&call_id) {
            // A retransmission: ringing again, or our answer again.
            match &call.ok_bytes {
                Some(bytes) => out.sends.push((self.addr, bytes.clone())),
                None => out.send(self.addr, response_with_tag(&call.invite, 180, "Ringing", &call.tag)),
            }
            return;
        }
        if self.finished.contains(&call_id) {
            out.send(self.addr, response_with_tag(&invite, 487, "Request Terminated", "bo-finished"));
            return;
        }
        self.counters.offered += 1;
        self.next_number += 1;
        let number = self.next_number;
        let tag = format!("bo-{number}");
        let reference = Backoffice::reference_of(&invite).map(str::to_string);
        out.send(self.addr, response_with_tag(&invite, 180, "Ringing", &tag));
        // Only the first member offered a call answers it (one desk phone picks up).
        let picks_up = answers && reference.as_ref().is_some_and(|reference| self.answering.insert(reference.clone()));
        let generation = 1;
        if picks_up {
            let ring = MIN_RING + (MAX_RING - MIN_RING).mul_f64(uniform(&mut self.rng));
            out.timers.push((now + ring, timer(number, BackofficeTimer::Answer, generation)));
        }
        self.by_number.insert(number, call_id.clone());
        self.calls.insert(call_id, DeskCall { number, invite, tag, reference, picks_up, ok: None, ok_bytes: None, generation });
    }

    fn end_call(&mut self, call_id: &Bytes) -> Option<DeskCall> {
        let call = self.calls.remove(call_id)?;
        self.by_number.remove(&call.number);
        self.finished.insert(call_id.clone());
        if let (Some(reference), true) = (&call.reference, call.picks_up) {
            // A later transfer of the same call may be answered again.
            self.answering.remove(reference);
        }
        Some(call)
    }
}

fn timer(dialog: u32, kind: BackofficeTimer, generation: u32) -> PhoneTimer {
    PhoneTimer::Backoffice { dialog, kind, generation }
}

/// The desk phone's 200 OK with an SDP answer at the PBX's address.
fn answer(invite: &Request, tag: &str, addr: SocketAddr, number: u32) -> Bytes {
    let mut response = Response::to_request(invite, 200, "OK");
    if let Some(to) = invite.headers.get(&HeaderName::To) {
        response.headers.set(HeaderName::To, format!("{};tag={tag}", String::from_utf8_lossy(to)));
    }
    let user = SipUri::parse(&invite.uri).ok().and_then(|uri| uri.user).unwrap_or_default();
    let ip = IpText(addr.ip());
    response.headers.push(HeaderName::Contact, format!("<sip:{user}@{ip}:{}>", addr.port()));
    response.headers.push(HeaderName::ContentType, "application/sdp");
    let port = 20_000 + (number % 20_000) * 2;
    response.body = Bytes::from(format!(
        "v=0\r\no=- {number} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 8\r\n"
    ));
    response.to_bytes()
}

/// True when `addr` is the backoffice's (any port of its IP).
pub fn is_backoffice(backoffice: SocketAddr, addr: SocketAddr) -> bool {
    let ip: IpAddr = backoffice.ip();
    addr.ip() == ip
}
