//! Dialogs over the transaction layer: two user agents, each a `TransactionLayer` plus a
//! `Dialog`, joined by a lossless virtual wire that serialises and re-parses every message.
//! Shows a call set up, a re-INVITE, BYE in both directions and the CSeq rules of §12.2.2.

use std::collections::VecDeque;
use std::net::SocketAddr;
use veertien::core::ids::TransactionId;
use veertien::core::rng::SeededRng;
use veertien::core::time::Instant;
use veertien::sip::dialog::{new_tag, Dialog, DialogError, DialogKey, DialogState, LocalSide};
use veertien::sip::msg::{parse, HeaderName, Message, Method, NameAddr, Request, Response};
use veertien::sip::timers::SipTimers;
use veertien::sip::transaction::{new_branch, TransactionEvent, TransactionLayer};
use veertien::sip::transport::{Peer, TransportKind};

const PHONE: &str = "198.51.100.7:5062";
const DAEMON: &str = "192.0.2.1:5060";

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

/// One user agent: its transaction layer and the events it has not handled yet.
struct Agent {
    address: SocketAddr,
    layer: TransactionLayer,
    inbox: VecDeque<TransactionEvent>,
    rng: SeededRng,
}

impl Agent {
    fn new(address: &str, seed: u64) -> Self {
        Agent {
            address: addr(address),
            layer: TransactionLayer::new(SipTimers::default()),
            inbox: VecDeque::new(),
            rng: SeededRng::fork(seed, "branches"),
        }
    }

    fn peer_to(&self, other: &Agent) -> Peer {
        Peer::udp(self.address, other.address)
    }

    fn sent_by(&self) -> String {
        self.address.to_string()
    }

    fn branch(&mut self) -> String {
        new_branch(&mut self.rng)
    }

    fn next_request(&mut self) -> (TransactionId, Request) {
        while let Some(event) = self.inbox.pop_front() {
            if let TransactionEvent::Request { tx, request, .. } = event {
                return (tx, request);
            }
        }
        panic!("no request arrived");
    }

    fn next_response(&mut self, wanted: TransactionId) -> Response {
        while let Some(event) = self.inbox.pop_front() {
            if let TransactionEvent::Response { tx, response } = event {
                if tx == wanted {
                    return response;
                }
            }
        }
        panic!("no response arrived for {wanted}");
    }

    fn next_ack(&mut self) -> Request {
        while let Some(event) = self.inbox.pop_front() {
            if let TransactionEvent::Ack { request, .. } = event {
                return request;
            }
        }
        panic!("no ACK arrived");
    }
}

/// Moves every transmitted message to the agent it is addressed to, parsing it on arrival,
/// until both agents are quiet. Other events stay in the agents' inboxes.
fn pump(now: Instant, a: &mut Agent, b: &mut Agent) {
    while deliver(now, a, b) | deliver(now, b, a) {}
}

/// Delivers what `from` transmitted to `to`; true if anything moved.
fn deliver(now: Instant, from: &mut Agent, to: &mut Agent) -> bool {
    let mut moved = false;
    while let Some(event) = from.layer.poll_event() {
        match event {
            TransactionEvent::Transmit { peer, bytes } => {
                assert_eq!(peer.remote, to.address, "message addressed to the other agent");
                let message = parse(bytes).expect("what we send parses");
                to.layer.handle_message(now, message, Peer::udp(to.address, from.address));
                moved = true;
            }
            other => from.inbox.push_back(other),
        }
    }
    moved
}

fn initial_invite(phone: &mut Agent) -> Request {
    let mut invite = Request::new(Method::Invite, "sip:14036@gemeente.example");
    invite.headers.push(HeaderName::Via, format!("SIP/2.0/UDP {};branch={}", phone.sent_by(), phone.branch()));
    invite.headers.push(HeaderName::MaxForwards, "70");
    invite.headers.push(HeaderName::From, "<sip:caller@example.com>;tag=phone-tag");
    invite.headers.push(HeaderName::To, "<sip:14036@gemeente.example>");
    invite.headers.push(HeaderName::CallId, "call-42@phone");
    invite.headers.push(HeaderName::CSeq, "100 INVITE");
    invite.headers.push(HeaderName::Contact, format!("<sip:caller@{}>", phone.sent_by()));
    invite
}

fn answer(request: &Request, status: u16, reason: &str, dialog: &Dialog) -> Response {
    dialog.make_response(request, status, reason).expect("request headers parse")
}

/// Sets up a call from the phone to the daemon; returns (phone dialog, daemon dialog).
fn establish(now: Instant, phone: &mut Agent, daemon: &mut Agent) -> (Dialog, Dialog) {
    let invite = initial_invite(phone);
    let invite_tx = phone.layer.send_request(now, invite.clone(), phone.peer_to(daemon));
    pump(now, phone, daemon);

    let (server_tx, received) = daemon.next_request();
    let daemon_contact = NameAddr::parse(format!("<sip:kcc@{}>", daemon.sent_by()).as_bytes()).expect("contact");
    let local_tag = new_tag(&mut SeededRng::fork(9, "tags"));
    let mut daemon_dialog = Dialog::uas_from_request(&received, local_tag, daemon_contact).expect("uas dialog");
    daemon.layer.send_response(now, server_tx, answer(&received, 180, "Ringing", &daemon_dialog)).expect("180");
    daemon.layer.send_response(now, server_tx, answer(&received, 200, "OK", &daemon_dialog)).expect("200");
    daemon_dialog.confirm();
    pump(now, phone, daemon);

    let ringing = phone.next_response(invite_tx);
    assert_eq!(ringing.status, 180);
    let mut phone_dialog = Dialog::uac_from_response(&invite, &ringing).expect("early dialog");
    assert_eq!(phone_dialog.state, DialogState::Early);
    let ok = phone.next_response(invite_tx);
    phone_dialog.handle_response(&Method::Invite, &ok).expect("same dialog");
    assert_eq!(phone_dialog.state, DialogState::Confirmed);

    // The ACK for a 2xx bypasses the transaction layer (RFC 3261 §13.2.2.4).
    let branch = phone.branch();
    let ack = phone_dialog.make_ack(100, branch, &phone.sent_by(), TransportKind::Udp);
    phone.layer.send_stateless(Message::Request(ack), phone.peer_to(daemon));
    pump(now, phone, daemon);
    let ack = daemon.next_ack();
    assert!(daemon_dialog.matches(&ack));
    daemon_dialog.handle_request(&ack).expect("ACK in dialog");
    (phone_dialog, daemon_dialog)
}

#[test]
fn both_sides_agree_on_the_dialog_id() {
    let (mut phone, mut daemon) = (Agent::new(PHONE, 1), Agent::new(DAEMON, 2));
    let (phone_dialog, daemon_dialog) = establish(Instant::ZERO, &mut phone, &mut daemon);
    assert_eq!(phone_dialog.id.call_id, daemon_dialog.id.call_id);
    assert_eq!(phone_dialog.id.local_tag, daemon_dialog.id.remote_tag);
    assert_eq!(phone_dialog.id.remote_tag, daemon_dialog.id.local_tag);
    assert_eq!(phone_dialog.remote_target, daemon_dialog.local_contact.uri);
    assert_eq!(daemon_dialog.remote_target, phone_dialog.local_contact.uri);
}

#[test]
fn daemon_hangs_up_with_bye() {
    let now = Instant::ZERO;
    let (mut phone, mut daemon) = (Agent::new(PHONE, 1), Agent::new(DAEMON, 2));
    let (mut phone_dialog, mut daemon_dialog) = establish(now, &mut phone, &mut daemon);

    let branch = daemon.branch();
    let bye = daemon_dialog.make_request(Method::Bye, branch, &daemon.sent_by(), TransportKind::Udp);
    let bye_tx = daemon.layer.send_request(now, bye, daemon.peer_to(&phone));
    pump(now, &mut phone, &mut daemon);

    let (phone_tx, received) = phone.next_request();
    assert_eq!(received.method, Method::Bye);
    assert_eq!(DialogKey::from_request(&received, LocalSide::Receiver).expect("key"), phone_dialog.id);
    phone_dialog.handle_request(&received).expect("BYE in dialog");
    assert_eq!(phone_dialog.state, DialogState::Terminated);
    phone.layer.send_response(now, phone_tx, Response::to_request(&received, 200, "OK")).expect("200 to BYE");
    pump(now, &mut phone, &mut daemon);

    assert_eq!(daemon.next_response(bye_tx).status, 200);
    daemon_dialog.terminate();
    assert_eq!(daemon_dialog.state, DialogState::Terminated);
}

#[test]
fn caller_hangs_up_with_bye_after_a_reinvite() {
    let now = Instant::ZERO;
    let (mut phone, mut daemon) = (Agent::new(PHONE, 1), Agent::new(DAEMON, 2));
    let (mut phone_dialog, mut daemon_dialog) = establish(now, &mut phone, &mut daemon);

    // The daemon re-INVITEs (e.g. to put the caller on hold); its first own CSeq is fresh.
    let branch = daemon.branch();
    let reinvite = daemon_dialog.make_request(Method::Invite, branch, &daemon.sent_by(), TransportKind::Udp);
    let reinvite_seq = reinvite.cseq().expect("cseq").seq;
    let reinvite_tx = daemon.layer.send_request(now, reinvite, daemon.peer_to(&phone));
    pump(now, &mut phone, &mut daemon);
    let (phone_tx, received) = phone.next_request();
    phone_dialog.handle_request(&received).expect("re-INVITE in dialog");
    phone.layer.send_response(now, phone_tx, answer(&received, 200, "OK", &phone_dialog)).expect("200");
    pump(now, &mut phone, &mut daemon);
    let ok = daemon.next_response(reinvite_tx);
    daemon_dialog.handle_response(&Method::Invite, &ok).expect("same dialog");
    let branch = daemon.branch();
    let ack = daemon_dialog.make_ack(reinvite_seq, branch, &daemon.sent_by(), TransportKind::Udp);
    daemon.layer.send_stateless(Message::Request(ack), daemon.peer_to(&phone));
    pump(now, &mut phone, &mut daemon);
    phone_dialog.handle_request(&phone.next_ack()).expect("ACK in dialog");

    // The caller hangs up: its BYE continues its own CSeq space (INVITE was 100).
    let branch = phone.branch();
    let bye = phone_dialog.make_request(Method::Bye, branch, &phone.sent_by(), TransportKind::Udp);
    assert_eq!(bye.cseq().expect("cseq").seq, 101);
    let bye_tx = phone.layer.send_request(now, bye, phone.peer_to(&daemon));
    pump(now, &mut phone, &mut daemon);
    let (daemon_tx, received) = daemon.next_request();
    daemon_dialog.handle_request(&received).expect("BYE in dialog");
    assert_eq!(daemon_dialog.state, DialogState::Terminated);
    daemon.layer.send_response(now, daemon_tx, Response::to_request(&received, 200, "OK")).expect("200");
    pump(now, &mut phone, &mut daemon);
    assert_eq!(phone.next_response(bye_tx).status, 200);
}

#[test]
fn out_of_order_request_is_refused_for_a_500() {
    let now = Instant::ZERO;
    let (mut phone, mut daemon) = (Agent::new(PHONE, 1), Agent::new(DAEMON, 2));
    let (mut phone_dialog, mut daemon_dialog) = establish(now, &mut phone, &mut daemon);
    let mut late = phone_dialog.make_request(Method::Info, phone.branch(), &phone.sent_by(), TransportKind::Udp);
    late.headers.set(HeaderName::CSeq, "99 INFO");
    assert_eq!(daemon_dialog.handle_request(&late), Err(DialogError::CSeqOutOfOrder { received: 99, remote: 100 }));
    let in_order = phone_dialog.make_request(Method::Info, phone.branch(), &phone.sent_by(), TransportKind::Udp);
    daemon_dialog.handle_request(&in_order).expect("in order");
    assert_eq!(daemon_dialog.remote_seq, Some(in_order.cseq().expect("cseq").seq));
}
