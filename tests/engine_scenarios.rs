//! Scenario tests of the engine in virtual time: raw SIP in, outputs checked. No sockets,
//! no sleeping: the test advances the engine's clock to its next deadline.

use bytes::Bytes;
use std::path::Path;
use std::time::Duration;
use veertien::core::time::{Instant, Now, WallTime};
use veertien::engine::{Engine, EngineConfig, EndReason, Input, MediaCommand, Notification, Output};
use veertien::sip::msg::{self, HeaderName, Message, Response};
use veertien::sip::timers::SipTimers;
use veertien::sip::transport::{Peer, TransportKind};

const DAEMON: &str = "127.0.0.1:5060";
const TRUNK: &str = "127.0.0.1:5070";

struct World {
    engine: Engine,
    now: Instant,
    sent: Vec<(Peer, Message)>,
    notifications: Vec<Notification>,
    media: Vec<MediaCommand>,
}

fn config(answer_delay_ms: u64) -> EngineConfig {
    EngineConfig {
        timers: SipTimers { t1_ms: 500, t2_ms: 4000, t4_ms: 5000 },
        advertised: DAEMON.parse().expect("literal"),
        trusted_peers: vec!["127.0.0.1".parse().expect("literal")],
        user_agent: "veertien-test".into(),
        max_transactions: 1000,
        max_calls: 100,
        max_udp_datagram_bytes: 4096,
        retry_after_s: 30,
        answer_delay_ms,
        http_base_url: "http://127.0.0.1:8080".into(),
        max_waiting_calls: 100,
        rtp_port_min: 20000,
        rtp_port_max: 20010,
    }
}

impl World {
    fn new(config: EngineConfig) -> Self {
        let plan = veertien::dialplan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans"))
            .expect("shipped dial plans load");
        let now = Instant::from_micros(1_000_000);
        World {
            engine: Engine::new(plan, config, 42, Now::new(now, WallTime(1_764_000_000_000))),
            now,
            sent: Vec::new(),
            notifications: Vec::new(),
            media: Vec::new(),
        }
    }

    fn now(&self) -> Now {
        Now::new(self.now, WallTime(1_764_000_000_000 + (self.now.as_micros() / 1000) as i64))
    }

    fn peer(&self, remote: &str, transport: TransportKind) -> Peer {
        Peer { transport, local: DAEMON.parse().expect("literal"), remote: remote.parse().expect("literal"), connection: None }
    }

    fn deliver_from(&mut self, remote: &str, text: &str) {
        let peer = self.peer(remote, TransportKind::Udp);
        self.deliver_peer(peer, text);
    }

    fn deliver_peer(&mut self, peer: Peer, text: &str) {
        let input = Input::Message { now: self.now(), peer, bytes: Bytes::from(text.replace('\n', "\r\n")) };
        self.engine.handle_input(input);
        self.collect();
    }

    fn deliver(&mut self, text: &str) {
        self.deliver_from(TRUNK, text);
    }

    fn collect(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Transmit { peer, bytes } => {
                    let message = msg::parse(bytes).expect("the engine sends parseable SIP");
                    self.sent.push((peer, message));
                }
                Output::Notify(notification) => self.notifications.push(notification),
                Output::Media(command) => self.media.push(command),
            }
        }
    }

    /// Advances virtual time to `until`, firing every deadline on the way.
    fn advance_to(&mut self, until: Instant) {
        while let Some(deadline) = self.engine.poll_timeout() {
            if deadline > until {
                break;
            }
            self.now = self.now.max(deadline);
            self.engine.handle_input(Input::Timeout(self.now()));
            self.collect();
        }
        self.now = until;
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        self.advance_to(until);
    }

    fn responses(&self) -> Vec<&Response> {
        self.sent
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn statuses(&self) -> Vec<u16> {
        self.responses().iter().map(|r| r.status).collect()
    }

    fn take_sent(&mut self) -> Vec<(Peer, Message)> {
        std::mem::take(&mut self.sent)
    }

    fn ended(&self) -> Vec<EndReason> {
        self.notifications
            .iter()
            .filter_map(|n| match n {
                Notification::CallEnded { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    fn arrived(&self) -> usize {
        self.notifications.iter().filter(|n| matches!(n, Notification::CallArrived { .. })).count()
    }
}

const OFFER: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n";

fn invite(number: &str, call_id: &str, branch: &str, body: &str) -> String {
    let content_type = if body.is_empty() { String::new() } else { "Content-Type: application/sdp\n".to_string() };
    format!(
        "INVITE sip:{number}@127.0.0.1:5060 SIP/2.0\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
Max-Forwards: 70\n\
From: <sip:0612345678@127.0.0.1>;tag=caller1\n\
To: <sip:{number}@127.0.0.1>\n\
Call-ID: {call_id}\n\
CSeq: 1 INVITE\n\
Contact: <sip:caller@127.0.0.1:5070>\n\
{content_type}Content-Length: {}\n\n{body}",
        body.replace('\n', "\r\n").len()
    )
}

fn in_dialog(method: &str, call_id: &str, to_tag: &str, cseq: u32, branch: &str) -> String {
    format!(
        "{method} sip:veertien@127.0.0.1:5060 SIP/2.0\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
Max-Forwards: 70\n\
From: <sip:0612345678@127.0.0.1>;tag=caller1\n\
To: <sip:14036@127.0.0.1>;tag={to_tag}\n\
Call-ID: {call_id}\n\
CSeq: {cseq} {method}\n\
Content-Length: 0\n\n"
    )
}

fn to_tag(response: &Response) -> String {
    response.to_header().expect("To").tag().expect("tag").to_string()
}

/// Runs INVITE → 100 → 200 → ACK and returns our To tag.
fn establish(world: &mut World, call_id: &str) -> String {
    world.deliver(&invite("14036", call_id, &format!("z9hG4bK-{call_id}"), OFFER));
    let ok = world.responses().into_iter().find(|r| r.status == 200).expect("200 OK").clone();
    let tag = to_tag(&ok);
    world.deliver(&in_dialog("ACK", call_id, &tag, 1, &format!("z9hG4bK-ack-{call_id}")));
    tag
}

#[test]
fn call_to_tenant_number_is_answered_with_sdp_and_ended_by_bye() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-a", "z9hG4bK-a", OFFER));
    assert_eq!(world.statuses(), vec![100, 200]);
    let ok = world.responses()[1].clone();
    let sdp = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(sdp.contains("m=audio 200"), "answer uses a port from the pool: {sdp}");
    assert!(ok.headers.get(&HeaderName::Contact).is_some(), "2xx to INVITE carries Contact");
    assert!(matches!(world.media.first(), Some(MediaCommand::Open { rtp_port: 20000, .. })));
    let tag = to_tag(&ok);
    world.deliver(&in_dialog("ACK", "call-a", &tag, 1, "z9hG4bK-a-ack"));
    assert!(world.notifications.iter().any(|n| matches!(n, Notification::CallEstablished { .. })));
    world.take_sent();
    world.deliver(&in_dialog("BYE", "call-a", &tag, 2, "z9hG4bK-a-bye"));
    assert_eq!(world.statuses(), vec![200]);
    assert_eq!(world.ended(), vec![EndReason::CallerHungUp]);
    assert!(matches!(world.media.last(), Some(MediaCommand::Close { rtp_port: 20000, .. })));
    assert_eq!(world.engine.active_calls(), 0);
}

#[test]
fn the_other_tenant_numbers_reach_almere_too() {
    let mut world = World::new(config(0));
    world.deliver(&invite("0365399911", "call-n", "z9hG4bK-n", OFFER));
    assert_eq!(world.statuses(), vec![100, 200]);
}

#[test]
fn retransmitted_invites_create_one_call() {
    let mut world = World::new(config(0));
    let text = invite("14036", "call-r", "z9hG4bK-r", OFFER);
    for _ in 0..50 {
        world.deliver(&text);
    }
    assert_eq!(world.arrived(), 1);
    assert_eq!(world.engine.active_calls(), 1);
    // RFC 6026 §7.1: after the 2xx the transaction absorbs retransmitted INVITEs; the 2xx
    // is retransmitted on the TU's own timer, not per received INVITE.
    assert_eq!(world.statuses().iter().filter(|s| **s == 200).count(), 1);
}

#[test]
fn unknown_number_gets_404() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14999", "call-u", "z9hG4bK-u", OFFER));
    assert_eq!(world.statuses(), vec![404]);
    assert_eq!(world.engine.stats().unknown_number, 1);
    assert_eq!(world.arrived(), 0);
}

#[test]
fn untrusted_source_gets_403() {
    let mut world = World::new(config(0));
    world.deliver_from("127.0.0.2:5070", &invite("14036", "call-t", "z9hG4bK-t", OFFER));
    assert_eq!(world.statuses(), vec![403]);
    assert_eq!(world.engine.stats().untrusted_source, 1);
}

#[test]
fn max_forwards_zero_gets_483() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-m", "z9hG4bK-m", OFFER).replace("Max-Forwards: 70", "Max-Forwards: 0"));
    assert_eq!(world.statuses(), vec![483]);
}

#[test]
fn unsupported_methods_get_405_or_501_with_allow() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-s", "z9hG4bK-s", "").replace("INVITE", "SUBSCRIBE"));
    world.deliver(&invite("14036", "call-f", "z9hG4bK-f", "").replace("INVITE", "FROBNICATE"));
    assert_eq!(world.statuses(), vec![405, 501]);
    for response in world.responses() {
        let allow = response.headers.get_str(&HeaderName::Allow).expect("Allow");
        assert!(allow.contains("INVITE") && allow.contains("BYE"));
    }
}

#[test]
fn missing_call_id_gets_400_naming_it() {
    let mut world = World::new(config(0));
    let text = invite("14036", "call-x", "z9hG4bK-x", OFFER).replace("Call-ID: call-x\n", "");
    world.deliver(&text);
    let responses = world.responses();
    assert_eq!(responses.len(), 1, "exactly one answer");
    assert_eq!(responses[0].status, 400);
    assert!(String::from_utf8_lossy(&responses[0].reason).contains("Call-ID"));
}

#[test]
fn garbage_is_dropped_and_counted() {
    let mut world = World::new(config(0));
    world.deliver("\u{1}\u{2}hello there, not SIP\n\n");
    assert!(world.sent.is_empty());
    assert_eq!(world.engine.stats().malformed_dropped, 1);
}

#[test]
fn oversized_udp_request_gets_513() {
    let mut world = World::new(config(0));
    let padding = "X-Padding: ".to_string() + &"a".repeat(5000) + "\n";
    let text = invite("14036", "call-big", "z9hG4bK-big", "").replacen("Max-Forwards: 70\n", &format!("Max-Forwards: 70\n{padding}"), 1);
    world.deliver(&text);
    assert_eq!(world.statuses(), vec![513]);
    assert_eq!(world.arrived(), 0);
}

#[test]
fn options_probe_gets_200() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-o", "z9hG4bK-o", "").replace("INVITE", "OPTIONS"));
    assert_eq!(world.statuses(), vec![200]);
}

#[test]
fn offer_without_common_codec_gets_488() {
    let mut world = World::new(config(0));
    let g729_only = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 18\n";
    world.deliver(&invite("14036", "call-c", "z9hG4bK-c", g729_only));
    assert_eq!(world.statuses(), vec![488]);
    assert_eq!(world.engine.stats().no_common_codec, 1);
    assert_eq!(world.engine.active_calls(), 0);
}

#[test]
fn late_offer_gets_our_offer_in_the_200() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-l", "z9hG4bK-l", ""));
    let ok = world.responses().into_iter().find(|r| r.status == 200).expect("200").clone();
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio"));
}

#[test]
fn missing_ack_retransmits_200_then_hangs_up() {
    let mut world = World::new(config(0));
    let start = world.now;
    world.deliver(&invite("14036", "call-k", "z9hG4bK-k", OFFER));
    world.take_sent();
    let mut retransmissions = Vec::new();
    let mut bye_at = None;
    while world.now < start + Duration::from_secs(40) {
        let Some(deadline) = world.engine.poll_timeout() else { break };
        world.advance_to(deadline);
        for (_, message) in world.take_sent() {
            match message {
                Message::Response(r) if r.status == 200 => retransmissions.push(world.now - start),
                Message::Request(r) if r.method == veertien::sip::msg::Method::Bye => bye_at = Some(world.now - start),
                _ => {}
            }
        }
        if bye_at.is_some() {
            break;
        }
    }
    let expected_ms: Vec<u64> = vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500];
    let got_ms: Vec<u64> = retransmissions.iter().map(|d| d.as_millis() as u64).collect();
    assert_eq!(got_ms, expected_ms, "RFC 3261 §13.3.1.4: T1 doubling up to T2");
    assert_eq!(bye_at.map(|d| d.as_millis()), Some(32_000), "BYE after 64*T1 without ACK");
}

#[test]
fn cancel_before_answer_gets_487() {
    let mut world = World::new(config(2000));
    world.deliver(&invite("14036", "call-cx", "z9hG4bK-cx", OFFER));
    assert_eq!(world.statuses(), vec![100, 180]);
    let cancel = invite("14036", "call-cx", "z9hG4bK-cx", "").replace("INVITE sip", "CANCEL sip").replace("1 INVITE", "1 CANCEL");
    world.take_sent();
    world.deliver(&cancel);
    let mut statuses = world.statuses();
    statuses.sort();
    assert_eq!(statuses, vec![200, 487]);
    assert_eq!(world.ended(), vec![EndReason::CallerCancelled]);
    world.take_sent();
    world.advance(Duration::from_secs(3));
    assert!(world.responses().iter().all(|r| r.status != 200), "a cancelled call is never answered");
}

#[test]
fn shutdown_refuses_new_calls_and_drains_established_ones() {
    let mut world = World::new(config(0));
    let tag = establish(&mut world, "call-d");
    let now = world.now();
    world.engine.handle_input(Input::Shutdown { now, drain: Duration::from_secs(10) });
    world.collect();
    world.take_sent();
    world.deliver(&invite("14036", "call-d2", "z9hG4bK-d2", OFFER));
    let refused = world.responses()[0].clone();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers.get_str(&HeaderName::RetryAfter), Some("30"));
    world.take_sent();
    world.advance(Duration::from_secs(11));
    let bye = world
        .take_sent()
        .into_iter()
        .find_map(|(_, m)| match m {
            Message::Request(r) if r.method == veertien::sip::msg::Method::Bye => Some(r),
            _ => None,
        })
        .expect("BYE after the drain time");
    assert_eq!(bye.from_header().expect("From").tag(), Some(tag.as_str()));
    let ok = Response::to_request(&bye, 200, "OK");
    let text = String::from_utf8_lossy(&ok.to_bytes()).replace("\r\n", "\n");
    world.deliver(&text);
    assert_eq!(world.ended(), vec![EndReason::ShutdownDrain]);
    assert!(world.engine.is_drained());
    assert!(world.notifications.contains(&Notification::Drained));
}

#[test]
fn tcp_responses_go_back_on_the_same_connection() {
    let mut world = World::new(config(0));
    let mut peer = world.peer(TRUNK, TransportKind::Tcp);
    peer.connection = Some(veertien::core::ids::ConnectionId(7));
    world.deliver_peer(peer, &invite("14036", "call-tcp", "z9hG4bK-tcp", OFFER).replace("SIP/2.0/UDP", "SIP/2.0/TCP"));
    assert_eq!(world.statuses(), vec![100, 200]);
    assert!(world.sent.iter().all(|(p, _)| p.connection == Some(veertien::core::ids::ConnectionId(7))));
}
