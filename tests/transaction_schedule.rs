//! The transaction layer in virtual time: exact RFC 3261 Table 4 retransmission schedules,
//! RFC 6026 Accepted states, matching, and the bound. No sockets, no sleeping: the test
//! jumps from one `poll_timeout` deadline to the next.

use std::net::SocketAddr;
use std::time::Duration;
use veertien::core::ids::{ConnectionId, TransactionId};
use veertien::core::time::Instant;
use veertien::sip::msg::{HeaderName, Message, Method, Request, Response};
use veertien::sip::timers::SipTimers;
use veertien::sip::transaction::{TransactionError, TransactionEvent, TransactionLayer};
use veertien::sip::transport::Peer;

const LOCAL: &str = "192.0.2.1:5060";
const REMOTE: &str = "198.51.100.7:5060";

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

fn udp() -> Peer {
    Peer::udp(addr(LOCAL), addr(REMOTE))
}

fn tcp() -> Peer {
    Peer::tcp(addr(LOCAL), addr(REMOTE), Some(ConnectionId(1)))
}

fn ms(millis: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(millis)
}

fn request(method: Method, branch: &str, transport: &str) -> Request {
    let mut req = Request::new(method.clone(), "sip:14036@gemeente.example");
    req.headers.push(HeaderName::Via, format!("SIP/2.0/{transport} 198.51.100.7:5060;branch={branch}"));
    req.headers.push(HeaderName::MaxForwards, "70");
    req.headers.push(HeaderName::From, "<sip:caller@example.com>;tag=from1");
    req.headers.push(HeaderName::To, "<sip:14036@gemeente.example>");
    req.headers.push(HeaderName::CallId, "call-1@example.com");
    // CANCEL and ACK carry the CSeq number of the INVITE they belong to (RFC 3261 §9.1, §17.1.1.3).
    req.headers.push(HeaderName::CSeq, format!("1 {method}"));
    req
}

fn response(req: &Request, status: u16, reason: &str) -> Response {
    let mut resp = Response::to_request(req, status, reason);
    if status > 100 {
        resp.headers.set(HeaderName::To, "<sip:14036@gemeente.example>;tag=to1");
    }
    resp
}

/// The layer plus a log of every event with the virtual time it came out.
struct Harness {
    layer: TransactionLayer,
    now: Instant,
    log: Vec<(Instant, TransactionEvent)>,
}

impl Harness {
    fn new(timers: SipTimers) -> Self {
        Harness { layer: TransactionLayer::new(timers), now: Instant::ZERO, log: Vec::new() }
    }

    fn drain(&mut self) {
        while let Some(event) = self.layer.poll_event() {
            self.log.push((self.now, event));
        }
    }

    fn at(&mut self, when: Instant) {
        self.run_until(when);
        self.now = when;
    }

    /// Fires every deadline up to and including `end`, in order.
    fn run_until(&mut self, end: Instant) {
        while let Some(deadline) = self.layer.poll_timeout() {
            if deadline > end {
                break;
            }
            self.now = deadline;
            self.layer.handle_timeout(deadline);
            self.drain();
        }
        self.now = end;
    }

    fn receive(&mut self, msg: Message, peer: Peer) {
        self.layer.handle_message(self.now, msg, peer);
        self.drain();
    }

    fn send_request(&mut self, req: Request, peer: Peer) -> TransactionId {
        let id = self.layer.send_request(self.now, req, peer);
        self.drain();
        id
    }

    fn send_response(&mut self, tx: TransactionId, resp: Response) -> Result<(), TransactionError> {
        let result = self.layer.send_response(self.now, tx, resp);
        self.drain();
        result
    }

    /// Times (ms) of transmissions whose wire form starts with `prefix`.
    fn transmit_times_ms(&self, prefix: &str) -> Vec<u64> {
        self.log
            .iter()
            .filter_map(|(at, event)| match event {
                TransactionEvent::Transmit { bytes, .. } if bytes.starts_with(prefix.as_bytes()) => {
                    Some(at.as_micros() / 1000)
                }
                _ => None,
            })
            .collect()
    }

    fn times_of(&self, wanted: impl Fn(&TransactionEvent) -> bool) -> Vec<u64> {
        self.log.iter().filter(|(_, e)| wanted(e)).map(|(at, _)| at.as_micros() / 1000).collect()
    }

    fn count(&self, wanted: impl Fn(&TransactionEvent) -> bool) -> usize {
        self.log.iter().filter(|(_, e)| wanted(e)).count()
    }

    /// The id of the one server transaction reported as a new request.
    fn only_new_request(&self) -> TransactionId {
        let ids: Vec<_> = self
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                TransactionEvent::Request { tx, .. } => Some(*tx),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 1, "exactly one new request expected: {ids:?}");
        ids[0]
    }
}

fn is_timeout(tx: TransactionId) -> impl Fn(&TransactionEvent) -> bool {
    move |e| matches!(e, TransactionEvent::Timeout { tx: t } if *t == tx)
}

fn is_terminated(tx: TransactionId) -> impl Fn(&TransactionEvent) -> bool {
    move |e| matches!(e, TransactionEvent::Terminated { tx: t } if *t == tx)
}

/// Retransmission times for a timer that starts at T1 and doubles, capped at `cap_ms`,
/// strictly before the 64*T1 timeout: RFC 3261 Table 4 written as a formula.
fn doubling_schedule_ms(t1_ms: u64, cap_ms: u64) -> Vec<u64> {
    let timeout_ms = 64 * t1_ms;
    let mut times = vec![0];
    let mut at = 0;
    let mut interval = t1_ms;
    while at + interval < timeout_ms {
        at += interval;
        times.push(at);
        interval = (interval * 2).min(cap_ms);
    }
    times
}

#[test]
fn invite_client_over_udp_doubles_timer_a_until_timer_b() {
    let mut h = Harness::new(SipTimers::default());
    let tx = h.send_request(request(Method::Invite, "z9hG4bKc1", "UDP"), udp());
    h.run_until(ms(40_000));
    assert_eq!(h.transmit_times_ms("INVITE "), vec![0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    assert_eq!(h.times_of(is_timeout(tx)), vec![32_000]);
    assert_eq!(h.times_of(is_terminated(tx)), vec![32_000]);
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.poll_timeout(), None);
}

#[test]
fn non_invite_client_over_udp_caps_timer_e_at_t2_until_timer_f() {
    let mut h = Harness::new(SipTimers::default());
    let tx = h.send_request(request(Method::Options, "z9hG4bKc2", "UDP"), udp());
    h.run_until(ms(40_000));
    assert_eq!(
        h.transmit_times_ms("OPTIONS "),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(h.times_of(is_timeout(tx)), vec![32_000]);
    assert!(h.layer.is_empty());
}

#[test]
fn non_default_t1_t2_scale_the_schedule() {
    let timers = SipTimers { t1_ms: 100, t2_ms: 1_000, t4_ms: 2_000 };
    let mut h = Harness::new(timers);
    let invite_tx = h.send_request(request(Method::Invite, "z9hG4bKc3", "UDP"), udp());
    h.run_until(ms(10_000));
    assert_eq!(h.transmit_times_ms("INVITE "), doubling_schedule_ms(100, u64::MAX));
    assert_eq!(h.transmit_times_ms("INVITE "), vec![0, 100, 300, 700, 1_500, 3_100, 6_300]);
    assert_eq!(h.times_of(is_timeout(invite_tx)), vec![6_400]);

    let mut h = Harness::new(timers);
    let options_tx = h.send_request(request(Method::Options, "z9hG4bKc4", "UDP"), udp());
    h.run_until(ms(10_000));
    assert_eq!(h.transmit_times_ms("OPTIONS "), doubling_schedule_ms(100, 1_000));
    assert_eq!(h.times_of(is_timeout(options_tx)), vec![6_400]);
}

#[test]
fn non_invite_client_in_proceeding_retransmits_every_t2() {
    let mut h = Harness::new(SipTimers::default());
    let req = request(Method::Options, "z9hG4bKc5", "UDP");
    let tx = h.send_request(req.clone(), udp());
    h.at(ms(700));
    h.receive(Message::Response(response(&req, 100, "Trying")), udp());
    h.run_until(ms(12_000));
    // E fired at 0.5 s (Trying), then in Proceeding at 1.5 s and every T2 after.
    assert_eq!(h.transmit_times_ms("OPTIONS "), vec![0, 500, 1_500, 5_500, 9_500]);
    h.receive(Message::Response(response(&req, 200, "OK")), udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Response { .. })), 2);
    // Timer K = T4 absorbs retransmitted finals, then the transaction ends.
    h.at(ms(13_000));
    h.receive(Message::Response(response(&req, 200, "OK")), udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Response { .. })), 2);
    h.run_until(ms(20_000));
    assert_eq!(h.times_of(is_terminated(tx)), vec![17_000]);
    assert_eq!(h.transmit_times_ms("OPTIONS "), vec![0, 500, 1_500, 5_500, 9_500]);
}

#[test]
fn invite_client_acks_non_2xx_itself_and_absorbs_retransmissions_for_timer_d() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKc6", "UDP");
    let tx = h.send_request(invite.clone(), udp());
    h.at(ms(100));
    h.receive(Message::Response(response(&invite, 180, "Ringing")), udp());
    h.at(ms(2_000));
    let busy = response(&invite, 486, "Busy Here");
    h.receive(Message::Response(busy.clone()), udp());
    h.at(ms(3_000));
    h.receive(Message::Response(busy), udp());
    h.run_until(ms(40_000));
    // A provisional stops Timer A: only the first INVITE went out.
    assert_eq!(h.transmit_times_ms("INVITE "), vec![0]);
    assert_eq!(h.transmit_times_ms("ACK "), vec![2_000, 3_000]);
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Response { response, .. } if response.status == 486)), 1);
    assert_eq!(h.times_of(is_terminated(tx)), vec![34_000]);
    assert!(h.times_of(is_timeout(tx)).is_empty());
}

#[test]
fn invite_client_accepted_passes_2xx_retransmissions_until_timer_m() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKc7", "UDP");
    let tx = h.send_request(invite.clone(), udp());
    h.at(ms(1_000));
    let ok = response(&invite, 200, "OK");
    h.receive(Message::Response(ok.clone()), udp());
    h.at(ms(1_500));
    h.receive(Message::Response(ok.clone()), udp());
    h.run_until(ms(40_000));
    let oks = h.count(|e| matches!(e, TransactionEvent::Response { response, .. } if response.status == 200));
    assert_eq!(oks, 2, "RFC 6026: 2xx retransmissions reach the TU in Accepted");
    assert_eq!(h.transmit_times_ms("INVITE "), vec![0, 500]);
    assert!(h.transmit_times_ms("ACK ").is_empty(), "the ACK for a 2xx is the TU's job");
    assert_eq!(h.times_of(is_terminated(tx)), vec![33_000]);
    h.receive(Message::Response(ok), udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::StrayResponse { .. })), 1);
}

#[test]
fn invite_server_retransmits_non_2xx_per_timer_g_until_timer_h() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKs1", "UDP");
    h.receive(Message::Request(invite.clone()), udp());
    let tx = h.only_new_request();
    h.send_response(tx, response(&invite, 486, "Busy Here")).expect("live transaction");
    h.run_until(ms(40_000));
    assert_eq!(
        h.transmit_times_ms("SIP/2.0 486"),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(h.times_of(is_timeout(tx)), vec![32_000]);
    assert!(h.transmit_times_ms("SIP/2.0 100").is_empty(), "the TU answered within 200 ms");
}

#[test]
fn invite_server_ack_stops_timer_g_and_timer_i_absorbs_acks() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKs2", "UDP");
    h.receive(Message::Request(invite.clone()), udp());
    let tx = h.only_new_request();
    h.at(ms(50));
    h.send_response(tx, response(&invite, 404, "Not Found")).expect("live transaction");
    h.at(ms(2_000));
    let ack = request(Method::Ack, "z9hG4bKs2", "UDP");
    h.receive(Message::Request(ack.clone()), udp());
    h.at(ms(3_000));
    h.receive(Message::Request(ack), udp());
    h.run_until(ms(40_000));
    assert_eq!(h.transmit_times_ms("SIP/2.0 404"), vec![50, 550, 1_550]);
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Ack { .. })), 0, "ACKs for a non-2xx are absorbed");
    assert_eq!(h.times_of(is_terminated(tx)), vec![7_000]);
    assert!(h.times_of(is_timeout(tx)).is_empty());
}

#[test]
fn invite_server_sends_100_trying_after_200_ms_of_tu_silence() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKs3", "UDP");
    h.receive(Message::Request(invite.clone()), udp());
    let tx = h.only_new_request();
    h.at(ms(1_000));
    h.receive(Message::Request(invite.clone()), udp());
    assert_eq!(h.transmit_times_ms("SIP/2.0 100"), vec![200, 1_000], "retransmitted INVITE gets the last provisional");

    let mut prompt = Harness::new(SipTimers::default());
    prompt.receive(Message::Request(invite.clone()), udp());
    let prompt_tx = prompt.only_new_request();
    prompt.at(ms(100));
    prompt.send_response(prompt_tx, response(&invite, 180, "Ringing")).expect("live transaction");
    prompt.run_until(ms(1_000));
    assert!(prompt.transmit_times_ms("SIP/2.0 100").is_empty());
    assert_eq!(prompt.transmit_times_ms("SIP/2.0 180"), vec![100]);
    assert_eq!(h.layer.state(tx), Some(veertien::sip::transaction::State::Proceeding));
}

#[test]
fn invite_server_accepted_absorbs_invites_passes_acks_until_timer_l() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKs4", "UDP");
    h.receive(Message::Request(invite.clone()), udp());
    let tx = h.only_new_request();
    h.send_response(tx, response(&invite, 200, "OK")).expect("live transaction");
    h.at(ms(500));
    h.receive(Message::Request(invite.clone()), udp());
    // The TU retransmits its 2xx itself (RFC 3261 §13.3.1.4); Accepted lets it through.
    h.send_response(tx, response(&invite, 200, "OK")).expect("2xx retransmission in Accepted");
    assert_eq!(h.send_response(tx, response(&invite, 486, "Busy Here")), Err(TransactionError::AlreadyCompleted(tx)));
    h.at(ms(600));
    h.receive(Message::Request(request(Method::Ack, "z9hG4bKs4ack", "UDP")), udp());
    h.run_until(ms(40_000));
    assert_eq!(h.transmit_times_ms("SIP/2.0 200"), vec![0, 500], "INVITE retransmission absorbed");
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Ack { .. })), 1);
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Request { .. })), 1);
    assert_eq!(h.times_of(is_terminated(tx)), vec![32_000]);
    assert_eq!(h.send_response(tx, response(&invite, 200, "OK")), Err(TransactionError::UnknownTransaction(tx)));
}

#[test]
fn non_invite_server_resends_last_response_until_timer_j() {
    let mut h = Harness::new(SipTimers::default());
    let options = request(Method::Options, "z9hG4bKs5", "UDP");
    h.receive(Message::Request(options.clone()), udp());
    let tx = h.only_new_request();
    h.at(ms(100));
    h.receive(Message::Request(options.clone()), udp());
    assert!(h.transmit_times_ms("SIP/2.0").is_empty(), "Trying absorbs retransmissions silently");
    h.send_response(tx, response(&options, 200, "OK")).expect("live transaction");
    h.at(ms(5_000));
    h.receive(Message::Request(options.clone()), udp());
    h.run_until(ms(40_000));
    assert_eq!(h.transmit_times_ms("SIP/2.0 200"), vec![100, 5_000]);
    assert_eq!(h.times_of(is_terminated(tx)), vec![32_100]);
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Request { .. })), 1);
}

#[test]
fn tcp_has_no_retransmissions_and_zero_wait_timers() {
    // INVITE client: one transmission, Timer B still fires.
    let mut h = Harness::new(SipTimers::default());
    let invite_tx = h.send_request(request(Method::Invite, "z9hG4bKt1", "TCP"), tcp());
    h.run_until(ms(40_000));
    assert_eq!(h.transmit_times_ms("INVITE "), vec![0]);
    assert_eq!(h.times_of(is_timeout(invite_tx)), vec![32_000]);

    // INVITE client non-2xx: ACK sent, Timer D = 0.
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKt2", "TCP");
    let tx = h.send_request(invite.clone(), tcp());
    h.at(ms(300));
    h.receive(Message::Response(response(&invite, 603, "Decline")), tcp());
    assert_eq!(h.transmit_times_ms("ACK "), vec![300]);
    assert_eq!(h.times_of(is_terminated(tx)), vec![300]);

    // Non-INVITE client: Timer K = 0.
    let mut h = Harness::new(SipTimers::default());
    let options = request(Method::Options, "z9hG4bKt3", "TCP");
    let tx = h.send_request(options.clone(), tcp());
    h.at(ms(300));
    h.receive(Message::Response(response(&options, 200, "OK")), tcp());
    assert_eq!(h.times_of(is_terminated(tx)), vec![300]);
    assert_eq!(h.transmit_times_ms("OPTIONS "), vec![0]);

    // INVITE server non-2xx: no Timer G; ACK ends it at once (Timer I = 0).
    let mut h = Harness::new(SipTimers::default());
    h.receive(Message::Request(invite.clone()), tcp());
    let tx = h.only_new_request();
    h.send_response(tx, response(&invite, 486, "Busy Here")).expect("live transaction");
    h.at(ms(5_000));
    assert_eq!(h.transmit_times_ms("SIP/2.0 486"), vec![0]);
    h.receive(Message::Request(request(Method::Ack, "z9hG4bKt2", "TCP")), tcp());
    assert_eq!(h.times_of(is_terminated(tx)), vec![5_000]);

    // Non-INVITE server: Timer J = 0.
    let mut h = Harness::new(SipTimers::default());
    h.receive(Message::Request(options.clone()), tcp());
    let tx = h.only_new_request();
    h.send_response(tx, response(&options, 200, "OK")).expect("live transaction");
    assert_eq!(h.times_of(is_terminated(tx)), vec![0]);
    assert!(h.layer.is_empty());
}

#[test]
fn stray_ack_and_stray_2xx_go_to_the_tu() {
    let mut h = Harness::new(SipTimers::default());
    h.receive(Message::Request(request(Method::Ack, "z9hG4bKnone", "UDP")), udp());
    let invite = request(Method::Invite, "z9hG4bKnone2", "UDP");
    h.receive(Message::Response(response(&invite, 200, "OK")), udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Ack { .. })), 1);
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::StrayResponse { response, .. } if response.status == 200)), 1);
    assert!(h.layer.is_empty());
}

#[test]
fn flood_of_50_retransmitted_invites_creates_one_request() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKflood", "UDP");
    for _ in 0..50 {
        h.receive(Message::Request(invite.clone()), udp());
    }
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Request { .. })), 1);
    assert_eq!(h.layer.len(), 1);
}

#[test]
fn cancel_matches_its_invite_and_unmatched_cancel_is_a_plain_request() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKs6", "UDP");
    h.receive(Message::Request(invite.clone()), udp());
    let invite_tx = h.only_new_request();
    h.at(ms(1_000));
    let cancel = request(Method::Cancel, "z9hG4bKs6", "UDP");
    h.receive(Message::Request(cancel.clone()), udp());
    let matched: Vec<_> = h
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            TransactionEvent::Cancel { invite_tx, cancel_tx, .. } => Some((*invite_tx, *cancel_tx)),
            _ => None,
        })
        .collect();
    assert_eq!(matched.len(), 1);
    let (cancelled, cancel_tx) = matched[0];
    assert_eq!(cancelled, invite_tx);
    assert_ne!(cancel_tx, invite_tx);
    h.send_response(cancel_tx, response(&cancel, 200, "OK")).expect("cancel transaction");
    h.send_response(invite_tx, response(&invite, 487, "Request Terminated")).expect("invite transaction");
    // A retransmitted CANCEL is absorbed and answered again, not reported.
    h.receive(Message::Request(cancel), udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Cancel { .. })), 1);
    assert_eq!(h.transmit_times_ms("SIP/2.0 200"), vec![1_000, 1_000]);
    assert_eq!(h.transmit_times_ms("SIP/2.0 487"), vec![1_000]);

    let mut h = Harness::new(SipTimers::default());
    h.receive(Message::Request(request(Method::Cancel, "z9hG4bKunknown", "UDP")), udp());
    assert_eq!(
        h.count(|e| matches!(e, TransactionEvent::Request { request, .. } if request.method == Method::Cancel)),
        1
    );
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Cancel { .. })), 0);
}

#[test]
fn at_the_bound_new_requests_get_503_and_are_not_reported() {
    let mut h = Harness::new(SipTimers::default());
    h.layer = TransactionLayer::with_max_transactions(SipTimers::default(), 2);
    for branch in ["z9hG4bKb1", "z9hG4bKb2", "z9hG4bKb3"] {
        h.receive(Message::Request(request(Method::Invite, branch, "UDP")), udp());
    }
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Request { .. })), 2);
    assert_eq!(h.transmit_times_ms("SIP/2.0 503"), vec![0]);
    assert_eq!(h.layer.len(), 2);
    assert_eq!(h.layer.stats().refused_at_bound, 1);
    // A retransmission of an admitted request is still absorbed, not refused.
    h.receive(Message::Request(request(Method::Invite, "z9hG4bKb1", "UDP")), udp());
    assert_eq!(h.layer.stats().refused_at_bound, 1);
    // An outgoing request at the bound is not sent and times out at once.
    let tx = h.send_request(request(Method::Options, "z9hG4bKb4", "UDP"), udp());
    assert_eq!(h.times_of(is_timeout(tx)), vec![0]);
    assert!(h.transmit_times_ms("OPTIONS ").is_empty());
}

#[test]
fn requests_reported_with_received_stamped_and_malformed_ones_dropped() {
    let mut h = Harness::new(SipTimers::default());
    let mut invite = request(Method::Invite, "z9hG4bKr1", "UDP");
    invite.headers.set(HeaderName::Via, "SIP/2.0/UDP phone.example;rport;branch=z9hG4bKr1");
    h.receive(Message::Request(invite), udp());
    let reported = h.log.iter().find_map(|(_, e)| match e {
        TransactionEvent::Request { request, .. } => Some(request.clone()),
        _ => None,
    });
    let via = reported.expect("reported").top_via().expect("via");
    assert_eq!(via.received(), Some("198.51.100.7"));
    assert_eq!(via.rport(), Some(Some(5060)));

    let mut no_via = request(Method::Options, "z9hG4bKr2", "UDP");
    no_via.headers.remove(&HeaderName::Via);
    h.receive(Message::Request(no_via), udp());
    let mut no_cseq = Response::new(200, "OK");
    no_cseq.headers.push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr3");
    h.receive(Message::Response(no_cseq), udp());
    assert_eq!(h.layer.stats().malformed_dropped, 2);
}

#[test]
fn responses_on_client_transactions_and_unknown_ids_are_refused() {
    let mut h = Harness::new(SipTimers::default());
    let options = request(Method::Options, "z9hG4bKe1", "UDP");
    let tx = h.send_request(options.clone(), udp());
    assert_eq!(h.send_response(tx, response(&options, 200, "OK")), Err(TransactionError::NotServer(tx)));
    let unknown = TransactionId(999);
    assert_eq!(
        h.send_response(unknown, response(&options, 200, "OK")),
        Err(TransactionError::UnknownTransaction(unknown))
    );
    let mut no_branch = request(Method::Options, "x", "UDP");
    no_branch.headers.set(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1");
    let bad = h.send_request(no_branch, udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::TransportError { tx } if *tx == bad)), 1);
}

#[test]
fn cancel_bounds_a_ringing_invite_with_timer_b() {
    let mut h = Harness::new(SipTimers::default());
    let invite = request(Method::Invite, "z9hG4bKx1", "UDP");
    let invite_tx = h.send_request(invite.clone(), udp());
    h.at(ms(1_000));
    h.receive(Message::Response(response(&invite, 180, "Ringing")), udp());
    // Without a CANCEL a ringing INVITE waits for its final response as long as it takes.
    h.run_until(ms(60_000));
    assert!(h.times_of(is_timeout(invite_tx)).is_empty());
    let cancel = veertien::sip::transaction::cancel_for(&invite);
    let cancel_tx = h.send_request(cancel.clone(), udp());
    h.at(ms(60_100));
    h.receive(Message::Response(response(&cancel, 200, "OK")), udp());
    h.run_until(ms(100_000));
    // No 487 arrived: the INVITE is given up 64*T1 after the CANCEL (RFC 3261 §9.1).
    assert_eq!(h.times_of(is_timeout(invite_tx)), vec![92_000]);
    assert_eq!(h.times_of(is_terminated(cancel_tx)), vec![65_100]);
    assert!(h.layer.is_empty());
}

#[test]
fn cancel_of_a_live_invite_is_admitted_at_the_bound() {
    let mut h = Harness::new(SipTimers::default());
    h.layer = TransactionLayer::with_max_transactions(SipTimers::default(), 1);
    let invite = request(Method::Invite, "z9hG4bKx2", "UDP");
    h.receive(Message::Request(invite), udp());
    let invite_tx = h.only_new_request();
    h.receive(Message::Request(request(Method::Cancel, "z9hG4bKx2", "UDP")), udp());
    assert_eq!(h.count(|e| matches!(e, TransactionEvent::Cancel { invite_tx: t, .. } if *t == invite_tx)), 1);
    assert_eq!(h.layer.stats().refused_at_bound, 0);
    h.receive(Message::Request(request(Method::Cancel, "z9hG4bKother", "UDP")), udp());
    assert_eq!(h.layer.stats().refused_at_bound, 1);
}

#[test]
fn oversized_udp_requests_are_sent_and_counted() {
    let mut h = Harness::new(SipTimers::default());
    let mut big = request(Method::Invite, "z9hG4bKbig", "UDP");
    big.body = bytes::Bytes::from(vec![b'v'; 1_400]);
    h.send_request(big, udp());
    h.send_request(request(Method::Options, "z9hG4bKsmall", "UDP"), udp());
    let mut big_tcp = request(Method::Invite, "z9hG4bKbigtcp", "TCP");
    big_tcp.body = bytes::Bytes::from(vec![b'v'; 1_400]);
    h.send_request(big_tcp, tcp());
    assert_eq!(h.layer.stats().oversized_udp_requests, 1);
    assert_eq!(h.transmit_times_ms("INVITE ").len(), 2);
}

#[test]
fn transport_failure_ends_the_transactions_that_send_there() {
    let mut h = Harness::new(SipTimers::default());
    let to_remote = h.send_request(request(Method::Options, "z9hG4bKf1", "UDP"), udp());
    let elsewhere = Peer::udp(addr(LOCAL), addr("203.0.113.50:5060"));
    let to_elsewhere = h.send_request(request(Method::Options, "z9hG4bKf2", "UDP"), elsewhere);
    let over_tcp = h.send_request(request(Method::Options, "z9hG4bKf3", "TCP"), tcp());
    h.at(ms(100));
    h.layer.handle_transport_error(h.now, udp());
    h.drain();
    let failed: Vec<_> = h
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            TransactionEvent::TransportError { tx } => Some(*tx),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![to_remote]);
    assert_eq!(h.layer.state(to_remote), None);
    assert!(h.layer.state(to_elsewhere).is_some());
    h.layer.handle_transport_error(h.now, Peer::tcp(addr(LOCAL), addr("203.0.113.99:1"), Some(ConnectionId(1))));
    h.drain();
    assert_eq!(h.layer.state(over_tcp), None);
    assert_eq!(h.layer.len(), 1);
}
