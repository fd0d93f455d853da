//! Agents whose phones register over TCP, through the engine in virtual time: they are
//! rung over the connection their REGISTER came in on; when that connection closes, a
//! ringing offer fails over (or the caller keeps waiting and the next ring asks the driver
//! for a new connection), and a connected leg ends the call.

mod engine_world;

use engine_world::*;
use std::time::Duration;
use veertien::core::ids::{ConnectionId, MediaSessionId};
use veertien::engine::{EndReason, Input, MediaCommand, MediaEvent, Notification, OfferOutcome};
use veertien::sip::auth::{compute_response, DigestAlgorithm, QopAuth};
use veertien::sip::msg::{HeaderName, Message, Method, Request, Response};
use veertien::sip::transport::{Peer, TransportKind};

const REALM: &str = "almere.veertien";

/// One agent's phone: digest user, MD5 HA1 (shipped dial plan, demo passwords), the
/// address its TCP connection comes from, its Contact address and the connection id.
struct Phone {
    user: &'static str,
    ha1_md5: &'static str,
    source: &'static str,
    contact: &'static str,
    connection: u64,
}

const ANOUK: Phone = Phone {
    user: "anouk",
    ha1_md5: "3ed34954af728575b0e207f558388c1f",
    source: "127.0.0.1:40001",
    contact: "127.0.0.1:5080",
    connection: 7,
};
const FATIMA: Phone = Phone {
    user: "fatima",
    ha1_md5: "7fc9bd30778154089ee5e4c07f3621b1",
    source: "127.0.0.1:40002",
    contact: "127.0.0.1:5082",
    connection: 8,
};

impl Phone {
    fn peer(&self) -> Peer {
        Peer::tcp(DAEMON.parse().expect("literal"), self.source.parse().expect("literal"), Some(ConnectionId(self.connection)))
    }

    fn register(&self, cseq: u32, authorization: Option<String>) -> String {
        let auth = authorization.map(|a| format!("Authorization: {a}\n")).unwrap_or_default();
        format!(
            "REGISTER sip:127.0.0.1:5060 SIP/2.0\n\
Via: SIP/2.0/TCP {source};branch=z9hG4bK-reg-{user}-{cseq}\n\
Max-Forwards: 70\n\
From: <sip:{user}@127.0.0.1>;tag={user}1\n\
To: <sip:{user}@127.0.0.1>\n\
Call-ID: reg-{user}\n\
CSeq: {cseq} REGISTER\n\
Contact: <sip:{user}@{contact}>\n\
Expires: 3600\n\
{auth}Content-Length: 0\n\n",
            source = self.source,
            user = self.user,
            contact = self.contact,
        )
    }

    fn authorization(&self, challenge: &Response) -> String {
        let nonce = challenge_param(challenge, "nonce");
        let opaque = challenge_param(challenge, "opaque");
        let uri = "sip:127.0.0.1:5060";
        let qop = QopAuth { nonce_count: "00000001", cnonce: "c0ffee" };
        let response = compute_response(DigestAlgorithm::Md5, self.ha1_md5, "REGISTER", uri, &nonce, Some(qop));
        format!(
            "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\", opaque=\"{opaque}\"",
            self.user
        )
    }

    /// Registers over its TCP connection (401 challenge, then 200).
    fn register_over_tcp(&self, world: &mut World) {
        world.deliver_peer(self.peer(), &self.register(1, None));
        let challenge = last_response(world);
        assert_eq!(challenge.status, 401);
        world.deliver_peer(self.peer(), &self.register(2, Some(self.authorization(&challenge))));
        assert_eq!(last_response(world).status, 200, "correct digest registers the phone");
        world.take_sent();
    }

    /// The phone's answer to the daemon's INVITE, sent over its connection.
    fn answer(&self, world: &mut World, invite: &Request, status: u16) {
        let mut response = Response::to_request(invite, status, if status == 200 { "OK" } else { "Busy Here" });
        let to = format!("{};tag=phone-{}", String::from_utf8_lossy(invite.headers.get(&HeaderName::To).expect("To")), self.user);
        response.headers.set(HeaderName::To, to);
        if status == 200 {
            response.headers.push(HeaderName::Contact, format!("<sip:{}@{};transport=tcp>", self.user, self.contact));
            response.headers.push(HeaderName::ContentType, "application/sdp");
            response.body = bytes::Bytes::from_static(
                b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\n",
            );
        }
        let text = String::from_utf8_lossy(&response.to_bytes()).replace("\r\n", "\n");
        world.deliver_peer(self.peer(), &text);
    }
}

fn challenge_param(response: &Response, name: &str) -> String {
    let challenge = response
        .headers
        .get_all(&HeaderName::WwwAuthenticate)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .find(|v| v.contains("MD5"))
        .expect("an MD5 challenge");
    let start = challenge.find(&format!("{name}=\"")).expect("parameter") + name.len() + 2;
    challenge[start..].split('"').next().expect("closing quote").to_string()
}

fn last_response(world: &World) -> Response {
    world.responses().last().cloned().cloned().expect("a response")
}

/// INVITEs the daemon sent, with the peer each went to.
fn invites_sent(world: &World) -> Vec<(Peer, Request)> {
    world
        .sent
        .iter()
        .filter_map(|(peer, m)| match m {
            Message::Request(r) if r.method == Method::Invite => Some((*peer, r.clone())),
            _ => None,
        })
        .collect()
}

fn requests_sent(world: &World, method: Method) -> Vec<(Peer, Request)> {
    world
        .sent
        .iter()
        .filter_map(|(peer, m)| match m {
            Message::Request(r) if r.method == method => Some((*peer, r.clone())),
            _ => None,
        })
        .collect()
}

fn offer_outcomes(world: &World) -> Vec<(String, OfferOutcome)> {
    world
        .notifications
        .iter()
        .filter_map(|n| match n {
            Notification::OfferEnded { agent, outcome, .. } => Some((agent.as_str().to_string(), *outcome)),
            _ => None,
        })
        .collect()
}

/// A caller dials 14036 and presses `digit`; returns the caller's To tag.
fn call_and_press(world: &mut World, digit: char) -> String {
    let tag = establish(world, "caller-1");
    let session: MediaSessionId = world
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Open { session, .. } => Some(*session),
            _ => None,
        })
        .expect("caller media opened");
    let now = world.now();
    world.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session, digit } });
    world.collect();
    tag
}

fn close(world: &mut World, peer: Peer) {
    let now = world.now();
    world.engine.handle_input(Input::ConnectionClosed { now, peer });
    world.collect();
}

#[test]
fn an_agent_registered_over_tcp_is_rung_over_its_registration_connection() {
    let mut world = World::new(config(0));
    ANOUK.register_over_tcp(&mut world);
    call_and_press(&mut world, '0');
    let invites = invites_sent(&world);
    assert_eq!(invites.len(), 1, "the one registered agent is rung");
    let (peer, invite) = &invites[0];
    assert_eq!(peer.transport, TransportKind::Tcp);
    assert_eq!(peer.connection, Some(ConnectionId(ANOUK.connection)), "the REGISTER's connection is reused");
    let via = invite.headers.get_str(&HeaderName::Via).expect("Via");
    assert!(via.starts_with("SIP/2.0/TCP "), "{via}");

    // The answer comes back over the connection; ACK goes over it too.
    world.take_sent();
    ANOUK.answer(&mut world, invite, 200);
    let acks = requests_sent(&world, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].0.connection, Some(ConnectionId(ANOUK.connection)));
}

#[test]
fn a_ringing_offer_fails_over_to_another_agent_when_its_connection_closes() {
    let mut world = World::new(config(0));
    ANOUK.register_over_tcp(&mut world);
    FATIMA.register_over_tcp(&mut world);
    // Burgerzaken rings one agent at a time (longest idle); both serve it.
    call_and_press(&mut world, '1');
    let first = invites_sent(&world);
    assert_eq!(first.len(), 1, "one agent rung: {first:?}");
    let (rung_peer, _) = first[0];
    let (rung, other) = if rung_peer.connection == Some(ConnectionId(ANOUK.connection)) { (&ANOUK, &FATIMA) } else { (&FATIMA, &ANOUK) };
    assert_eq!(rung_peer.connection, Some(ConnectionId(rung.connection)));

    world.take_sent();
    close(&mut world, rung.peer());
    assert_eq!(offer_outcomes(&world), vec![(rung.user.to_string(), OfferOutcome::Unreachable)], "the lost ring counts as unreachable");
    let next = invites_sent(&world);
    assert_eq!(next.len(), 1, "the ACD offers the call to the other agent at once");
    assert_eq!(next[0].0.connection, Some(ConnectionId(other.connection)), "over the other agent's connection");
    assert_eq!(world.engine.active_calls(), 1, "the caller keeps waiting");
    assert!(world.ended().is_empty());
}

#[test]
fn with_its_connection_gone_the_caller_waits_and_the_next_ring_asks_for_a_new_connection() {
    let mut world = World::new(config(0));
    ANOUK.register_over_tcp(&mut world);
    call_and_press(&mut world, '0');
    assert_eq!(invites_sent(&world).len(), 1);
    world.take_sent();
    close(&mut world, ANOUK.peer());
    assert_eq!(offer_outcomes(&world), vec![("anouk".to_string(), OfferOutcome::Unreachable)]);
    assert!(invites_sent(&world).is_empty(), "nothing more goes to the closed connection");
    assert_eq!(world.engine.active_calls(), 1, "the caller stays queued");
    assert!(world.ended().is_empty());

    // After the ring timeout's cool-down the agent (still registered) is rung again, over
    // TCP to its Contact, naming no connection: the driver opens a new one.
    world.advance(Duration::from_secs(16));
    let again = invites_sent(&world);
    assert_eq!(again.len(), 1, "the agent is rung again");
    let (peer, _) = again[0];
    assert_eq!(peer.transport, TransportKind::Tcp);
    assert_eq!(peer.connection, None, "the closed connection is forgotten");
    assert_eq!(peer.remote, ANOUK.contact.parse().expect("literal"), "a new connection goes to the Contact");

    // The driver cannot connect there: the offer fails again, the caller still waits.
    world.take_sent();
    close(&mut world, peer);
    assert_eq!(offer_outcomes(&world).len(), 2);
    assert_eq!(offer_outcomes(&world)[1], ("anouk".to_string(), OfferOutcome::Unreachable));
    assert_eq!(world.engine.active_calls(), 1);
}

#[test]
fn a_connected_agent_leg_on_a_closed_connection_ends_the_call() {
    let mut world = World::new(config(0));
    ANOUK.register_over_tcp(&mut world);
    let caller_tag = call_and_press(&mut world, '0');
    let (_, invite) = invites_sent(&world).pop().expect("INVITE");
    ANOUK.answer(&mut world, &invite, 200);
    assert!(world.media.iter().any(|m| matches!(m, MediaCommand::Bridge { .. })), "bridged");
    world.take_sent();

    close(&mut world, ANOUK.peer());
    let byes = requests_sent(&world, Method::Bye);
    assert_eq!(byes.len(), 1, "the daemon hangs up the caller: {byes:?}");
    assert_eq!(byes[0].0.transport, TransportKind::Udp, "to the caller, not to the lost connection");
    let to = byes[0].1.to_header().expect("To");
    assert_eq!(to.tag(), Some("caller1"), "in the caller's dialog (our tag {caller_tag})");
    let ok = Response::to_request(&byes[0].1, 200, "OK");
    world.deliver(&String::from_utf8_lossy(&ok.to_bytes()).replace("\r\n", "\n"));
    assert_eq!(world.ended(), vec![EndReason::TransportFailure]);
    assert_eq!(world.engine.active_calls(), 0);
}
