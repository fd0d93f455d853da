//! The engine in virtual time for scenario tests: raw SIP in, outputs collected. No
//! sockets, no sleeping: tests advance the engine's clock to its next deadline.
#![allow(dead_code)]

pub mod phones;

use bytes::Bytes;
use std::path::Path;
use std::time::Duration;
use veertien::core::time::{Instant, Now, WallTime};
use veertien::engine::{Engine, EngineConfig, EndReason, Input, MediaCommand, Notification, Output, Record};
use veertien::sip::msg::{self, HeaderName, Message, Response};
use veertien::sip::timers::SipTimers;
use veertien::sip::transport::{Peer, TransportKind};

/// Monday 2025-11-24 16:00 UTC (17:00 in Almere): inside opening hours.
pub const OPEN_WALL_MS: i64 = 1_764_000_000_000;

pub const DAEMON: &str = "127.0.0.1:5060";
pub const TRUNK: &str = "127.0.0.1:5070";

pub struct World {
    pub engine: Engine,
    pub now: Instant,
    pub wall_start_ms: i64,
    pub sent: Vec<(Peer, Message)>,
    pub notifications: Vec<Notification>,
    pub media: Vec<MediaCommand>,
    /// What the engine asked the store to keep; the world's store commits at once.
    pub records: Vec<Record>,
    /// When set, the world's store answers every write `PersistFailed`.
    pub store_fails: bool,
    /// Every output in the order the engine gave it, as a short line ("transmit 200",
    /// "media close", "notify call_ended", "persist"), to check the order across kinds.
    pub trail: Vec<String>,
}

pub fn config(answer_delay_ms: u64) -> EngineConfig {
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
        outbound_proxy: None,
        max_waiting_calls: 100,
        rtp_port_min: 20000,
        rtp_port_max: 20010,
        caller_hash_key: [0u8; 32],
        persist: veertien::engine::PersistLimits::default(),
    }
}

impl World {
    pub fn new(config: EngineConfig) -> Self {
        Self::at_wall(config, OPEN_WALL_MS)
    }

    /// A world whose wall clock starts at `wall_start_ms` (Unix ms).
    pub fn at_wall(config: EngineConfig, wall_start_ms: i64) -> Self {
        let plan = veertien::dialplan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans"))
            .expect("shipped dial plans load");
        Self::with_plan(config, plan, wall_start_ms)
    }

    /// A world over one tenant written in dial-plan TOML.
    pub fn with_tenant(config: EngineConfig, tenant_toml: &str) -> Self {
        let tenant = veertien::dialplan::parse_tenant("test.toml", tenant_toml).expect("the test plan parses");
        let plan = veertien::dialplan::DialPlan::new(vec![("test.toml".to_string(), tenant)]).expect("the test plan is valid");
        Self::with_plan(config, plan, OPEN_WALL_MS)
    }

    fn with_plan(config: EngineConfig, plan: veertien::dialplan::DialPlan, wall_start_ms: i64) -> Self {
        let now = Instant::from_micros(1_000_000);
        let start = Now::new(now, WallTime(wall_start_ms));
        let ports = veertien::engine::even_ports(config.rtp_port_min, config.rtp_port_max);
        let mut engine = Engine::new(plan, config, 42, start);
        // No sockets here: the world's driver announces every port of the range at once.
        engine.handle_input(Input::RtpPortsBound { now: start, ports });
        World {
            engine,
            now,
            wall_start_ms,
            sent: Vec::new(),
            notifications: Vec::new(),
            media: Vec::new(),
            records: Vec::new(),
            store_fails: false,
            trail: Vec::new(),
        }
    }

    pub fn now(&self) -> Now {
        Now::new(self.now, WallTime(self.wall_start_ms + (self.now.as_micros() / 1000) as i64))
    }

    pub fn peer(&self, remote: &str, transport: TransportKind) -> Peer {
        Peer { transport, local: DAEMON.parse().expect("literal"), remote: remote.parse().expect("literal"), connection: None }
    }

    pub fn deliver_from(&mut self, remote: &str, text: &str) {
        let peer = self.peer(remote, TransportKind::Udp);
        self.deliver_peer(peer, text);
    }

    pub fn deliver_peer(&mut self, peer: Peer, text: &str) {
        let input = Input::Message { now: self.now(), peer, bytes: Bytes::from(text.replace('\n', "\r\n")) };
        self.engine.handle_input(input);
        self.collect();
    }

    pub fn deliver(&mut self, text: &str) {
        self.deliver_from(TRUNK, text);
    }

    pub fn collect(&mut self) {
        let mut answered = Vec::new();
        while let Some(output) = self.engine.poll_output() {
            self.trail.push(trail_line(&output));
            match output {
                Output::Transmit { peer, bytes } => {
                    let message = msg::parse(bytes).expect("the engine sends parseable SIP");
                    self.sent.push((peer, message));
                }
                Output::Notify(notification) => self.notifications.push(notification),
                Output::Media(command) => self.media.push(command),
                Output::Persist { ticket, record } => {
                    if !self.store_fails {
                        self.records.push(record);
                    }
                    answered.push(ticket);
                }
            }
        }
        for ticket in answered {
            let now = self.now();
            let input = if self.store_fails {
                Input::PersistFailed { now, ticket, reason: "disk full".into() }
            } else {
                Input::Persisted { now, ticket }
            };
            self.engine.handle_input(input);
            self.collect();
        }
    }

    /// Advances virtual time to `until`, firing every deadline on the way.
    pub fn advance_to(&mut self, until: Instant) {
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

    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        self.advance_to(until);
    }

    pub fn responses(&self) -> Vec<&Response> {
        self.sent
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    pub fn statuses(&self) -> Vec<u16> {
        self.responses().iter().map(|r| r.status).collect()
    }

    pub fn take_sent(&mut self) -> Vec<(Peer, Message)> {
        std::mem::take(&mut self.sent)
    }

    pub fn ended(&self) -> Vec<EndReason> {
        self.notifications
            .iter()
            .filter_map(|n| match n {
                Notification::CallEnded { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn arrived(&self) -> usize {
        self.notifications.iter().filter(|n| matches!(n, Notification::CallArrived { .. })).count()
    }
}

/// A short line naming an output, for [`World::trail`].
fn trail_line(output: &Output) -> String {
    match output {
        Output::Transmit { bytes, .. } => match msg::parse(bytes.clone()) {
            Ok(Message::Response(response)) => format!("transmit {}", response.status),
            Ok(Message::Request(request)) => format!("transmit {}", request.method),
            Err(_) => "transmit ?".into(),
        },
        Output::Media(command) => {
            let name = format!("{command:?}");
            format!("media {}", name.split([' ', '{', '(']).next().unwrap_or("").to_ascii_lowercase())
        }
        Output::Notify(notification) => {
            let name = format!("{notification:?}");
            format!("notify {}", name.split([' ', '{', '(']).next().unwrap_or(""))
        }
        Output::Persist { .. } => "persist".into(),
    }
}

pub const OFFER: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n";

pub fn invite(number: &str, call_id: &str, branch: &str, body: &str) -> String {
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

pub fn in_dialog(method: &str, call_id: &str, to_tag: &str, cseq: u32, branch: &str) -> String {
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

pub fn to_tag(response: &Response) -> String {
    response.to_header().expect("To").tag().expect("tag").to_string()
}

/// Runs INVITE → 100 → 200 → ACK and returns our To tag.
pub fn establish(world: &mut World, call_id: &str) -> String {
    world.deliver(&invite("14036", call_id, &format!("z9hG4bK-{call_id}"), OFFER));
    let ok = world
        .responses()
        .into_iter()
        .find(|r| r.status == 200 && r.headers.get_str(&HeaderName::CallId) == Some(call_id))
        .expect("200 OK")
        .clone();
    let tag = to_tag(&ok);
    world.deliver(&in_dialog("ACK", call_id, &tag, 1, &format!("z9hG4bK-ack-{call_id}")));
    tag
}

