//! ACD benchmark on the sans-IO engine (ignored by default; prints figures):
//!
//! 1. queued callers held at once and the engine's memory per queued caller (process RSS
//!    delta over the callers; media sockets are the live driver's and not included);
//! 2. the time from an agent becoming free (its caller hangs up; wrap-up 0) to the engine
//!    emitting the INVITE for the next waiting caller, p50/p99 with hdrhistogram, while
//!    thousands of callers wait;
//! 3. full-path calls per second of engine work: caller → queue → agent answers → BYE.
//!
//! Run: `cargo test --release --test acd_bench -- --ignored --nocapture`

use bytes::Bytes;
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::time::{Duration, Instant as WallClock};
use veertien::acd::PauseReason;
use veertien::core::time::{Instant, Now, WallTime};
use veertien::dialplan::{AgentId, DialPlan, TenantId};
use veertien::engine::{Command, Engine, EngineConfig, Input, Output};
use veertien::sip::auth::{compute_response, DigestAlgorithm, QopAuth};
use veertien::sip::msg::{self, HeaderName, Message, Method, Request, Response};
use veertien::sip::timers::SipTimers;
use veertien::sip::transport::{Peer, TransportKind};

const AGENTS: usize = 50;
const READY_SAMPLES: usize = 2_000;
const FULL_PATH_CALLS: usize = 5_000;
const REALM: &str = "bench.veertien";
const DAEMON: &str = "127.0.0.1:5060";

/// Callers queued at once (env `ACD_BENCH_QUEUED`, default 5,000).
fn queued_callers() -> usize {
    std::env::var("ACD_BENCH_QUEUED").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000)
}

fn plan() -> DialPlan {
    let mut text = format!(
        "[tenant]\nid = \"bench\"\nname = \"Bench\"\nrealm = \"{REALM}\"\nnumbers = [\"14011\"]\n\
         [hours]\nmon = [\"00:00-24:00\"]\ntue = [\"00:00-24:00\"]\nwed = [\"00:00-24:00\"]\nthu = [\"00:00-24:00\"]\n\
         fri = [\"00:00-24:00\"]\nsat = [\"00:00-24:00\"]\nsun = [\"00:00-24:00\"]\nclose_on_public_holidays = false\n\
         closed_prompt = \"closed\"\n\
         [[queue]]\nid = \"q\"\nname = \"Q\"\nmax_length = 10000\nmax_wait_s = 3600\nring_timeout_s = 30\nwrap_up_s = 0\n"
    );
    for i in 0..AGENTS {
        let ha1 = DigestAlgorithm::Md5.ha1(&agent_name(i), REALM, "pw");
        text.push_str(&format!("[[agent]]\nid = \"{}\"\nname = \"A\"\nha1_md5 = \"{ha1}\"\nqueues = [\"q\"]\n", agent_name(i)));
    }
    let tenant = veertien::dialplan::parse_tenant("bench.toml", &text).expect("bench dial plan");
    DialPlan::new(vec![("bench.toml".into(), tenant)]).expect("plan")
}

fn agent_name(i: usize) -> String {
    format!("agent{i}")
}

fn agent_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 6000 + i as u16))
}

fn caller_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + (i % 50_000) as u16))
}

struct Bench {
    engine: Engine,
    now: Instant,
}

impl Bench {
    fn new() -> Self {
        let config = EngineConfig {
            timers: SipTimers { t1_ms: 500, t2_ms: 4000, t4_ms: 5000 },
            advertised: DAEMON.parse().expect("literal"),
            trusted_peers: vec!["127.0.0.1".parse().expect("literal")],
            user_agent: "bench".into(),
            max_transactions: 1_000_000,
            max_calls: 100_000,
            max_udp_datagram_bytes: 65_507,
            retry_after_s: 5,
            answer_delay_ms: 0,
            http_base_url: "http://127.0.0.1:8080".into(),
            outbound_proxy: None,
            max_waiting_calls: 100_000,
            rtp_port_min: 20_000,
            rtp_port_max: 60_000,
            caller_hash_key: [0u8; 32],
            persist: veertien::engine::PersistLimits::default(),
        };
        let now = Instant::from_micros(1_000_000);
        let start = Now::new(now, WallTime(1_764_000_000_000));
        let ports = veertien::engine::even_ports(config.rtp_port_min, config.rtp_port_max);
        let mut engine = Engine::new(plan(), config, 1, start);
        engine.handle_input(veertien::engine::Input::RtpPortsBound { now: start, ports });
        Bench { engine, now }
    }

    fn now(&self) -> Now {
        Now::new(self.now, WallTime(1_764_000_000_000 + (self.now.as_micros() / 1000) as i64))
    }

    /// Delivers `text` from `from` and returns what the engine sent, parsed.
    fn send(&mut self, from: SocketAddr, text: String) -> Vec<Message> {
        let peer = Peer { transport: TransportKind::Udp, local: DAEMON.parse().expect("literal"), remote: from, connection: None };
        self.engine.handle_input(Input::Message { now: self.now(), peer, bytes: Bytes::from(text) });
        self.drain()
    }

    fn drain(&mut self) -> Vec<Message> {
        let mut sent = Vec::new();
        while let Some(output) = self.engine.poll_output() {
            if let Output::Transmit { bytes, .. } = output {
                sent.push(msg::parse(bytes).expect("engine output parses"));
            }
        }
        sent
    }

    fn register(&mut self, i: usize) {
        let name = agent_name(i);
        let addr = agent_addr(i);
        let register = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:{DAEMON} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-r{i}-{cseq}\r\nMax-Forwards: 70\r\n\
                 From: <sip:{name}@127.0.0.1>;tag=r{i}\r\nTo: <sip:{name}@127.0.0.1>\r\nCall-ID: reg-{i}\r\nCSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:{name}@{addr}>\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n"
            )
        };
        let challenge = self.send(addr, register(1, "")).into_iter().find_map(response).expect("401");
        let value = String::from_utf8_lossy(challenge.headers.get(&HeaderName::WwwAuthenticate).expect("challenge")).into_owned();
        let param = |key: &str| value.split(&format!("{key}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
        let (nonce, opaque) = (param("nonce"), param("opaque"));
        let ha1 = DigestAlgorithm::Md5.ha1(&name, REALM, "pw");
        let uri = format!("sip:{DAEMON}");
        let qop = QopAuth { nonce_count: "00000001", cnonce: "c" };
        let digest = compute_response(DigestAlgorithm::Md5, &ha1, "REGISTER", &uri, &nonce, Some(qop));
        let auth = format!(
            "Authorization: Digest username=\"{name}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{digest}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\", opaque=\"{opaque}\"\r\n"
        );
        let ok = self.send(addr, register(2, &auth)).into_iter().find_map(response).expect("200");
        assert_eq!(ok.status, 200);
    }

    /// INVITE → 200 → ACK; the caller then waits in the queue. Returns the 200 and what
    /// the engine sent after the ACK (an INVITE to an agent, when one is free).
    fn call(&mut self, i: usize) -> (Response, Vec<Message>) {
        let from = caller_addr(i);
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\n";
        let invite = format!(
            "INVITE sip:14011@{DAEMON} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-c{i}\r\nMax-Forwards: 70\r\n\
             From: <sip:caller@127.0.0.1>;tag=c{i}\r\nTo: <sip:14011@127.0.0.1>\r\nCall-ID: call-{i}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:caller@{from}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        let ok = self.send(from, invite).into_iter().filter_map(response).find(|r| r.status == 200).expect("200");
        let tag = ok.to_header().expect("To").tag().expect("tag").to_string();
        let ack = format!(
            "ACK sip:veertien@{DAEMON} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-a{i}\r\nMax-Forwards: 70\r\n\
             From: <sip:caller@127.0.0.1>;tag=c{i}\r\nTo: <sip:14011@127.0.0.1>;tag={tag}\r\nCall-ID: call-{i}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        );
        let after_ack = self.send(from, ack);
        (ok, after_ack)
    }

    /// Delivers `text` and fires what is due at the same instant; returns the engine's own
    /// time for that (outputs collected, not parsed) and the parsed outputs.
    fn timed(&mut self, from: SocketAddr, text: String) -> (Duration, Vec<Message>) {
        let peer = Peer { transport: TransportKind::Udp, local: DAEMON.parse().expect("literal"), remote: from, connection: None };
        let mut raw = Vec::new();
        let started = WallClock::now();
        self.engine.handle_input(Input::Message { now: self.now(), peer, bytes: Bytes::from(text) });
        while let Some(output) = self.engine.poll_output() {
            raw.push(output);
        }
        while self.engine.poll_timeout().is_some_and(|at| at <= self.now) {
            self.engine.handle_input(Input::Timeout(self.now()));
            while let Some(output) = self.engine.poll_output() {
                raw.push(output);
            }
        }
        let elapsed = started.elapsed();
        let sent = raw
            .into_iter()
            .filter_map(|o| match o {
                Output::Transmit { bytes, .. } => msg::parse(bytes).ok(),
                _ => None,
            })
            .collect();
        (elapsed, sent)
    }

    fn command(&mut self, command: Command) -> Vec<Message> {
        let now = self.now();
        let _ = self.engine.handle_command(now, command);
        self.drain()
    }
}

fn response(message: Message) -> Option<Response> {
    match message {
        Message::Response(r) => Some(r),
        Message::Request(_) => None,
    }
}

fn invite_to_agent(messages: Vec<Message>) -> Option<Request> {
    messages.into_iter().find_map(|m| match m {
        Message::Request(r) if r.method == Method::Invite => Some(r),
        _ => None,
    })
}

/// The agent's phone answers `invite` with `status`.
fn answer(invite: &Request, status: u16) -> String {
    let mut response = Response::to_request(invite, status, "X");
    let to = format!("{};tag=p", String::from_utf8_lossy(invite.headers.get(&HeaderName::To).expect("To")));
    response.headers.set(HeaderName::To, to);
    if status == 200 {
        response.headers.push(HeaderName::Contact, "<sip:agent@127.0.0.1:6000>");
        response.headers.push(HeaderName::ContentType, "application/sdp");
        response.body = Bytes::from_static(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 8000 RTP/AVP 8\r\n");
    }
    String::from_utf8_lossy(&response.to_bytes()).into_owned()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

#[test]
#[ignore]
fn acd_benchmark() {
    let mut bench = Bench::new();
    let tenant = TenantId::new("bench");
    for i in 0..AGENTS {
        bench.register(i);
        let agent = AgentId::new(agent_name(i));
        bench.command(Command::AgentPause { tenant: tenant.clone(), agent, reason: PauseReason::Break });
    }

    // 1. Queued callers held at once, and memory per queued caller.
    let queued_count = queued_callers();
    let rss_before = rss_kib();
    let started = WallClock::now();
    let mut queued = Vec::with_capacity(queued_count);
    for i in 0..queued_count {
        let (ok, _) = bench.call(i);
        queued.push((i, ok.to_header().expect("To").tag().expect("tag").to_string()));
    }
    let queue_time = started.elapsed();
    let rss_after = rss_kib();
    println!(
        "queued callers held at once: {queued_count} (engine reports {} active calls); RSS {rss_before} KiB -> {rss_after} KiB: {:.2} KiB per queued caller; {:.0} arrivals/s",
        bench.engine.active_calls(),
        (rss_after.saturating_sub(rss_before)) as f64 / queued_count as f64,
        queued_count as f64 / queue_time.as_secs_f64()
    );

    // 2. An agent's call ends -> the INVITE for the next waiting caller, while the
    //    callers wait. Agents answer every offer; wrap-up is 0, so the caller's BYE frees
    //    the agent and the ACD offers it the next caller (FIFO: offers follow arrivals).
    let mut waiting: std::collections::VecDeque<(usize, String)> = queued.into_iter().collect();
    let mut connected: Vec<Option<(usize, String)>> = vec![None; AGENTS];
    for i in 0..AGENTS {
        let sent = bench.command(Command::AgentReady { tenant: tenant.clone(), agent: AgentId::new(agent_name(i)) });
        let invite = invite_to_agent(sent).expect("a ready agent is offered the first waiting caller");
        bench.send(agent_addr(i), answer(&invite, 200));
        connected[i] = waiting.pop_front();
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    for sample in 0..READY_SAMPLES.min(queued_count.saturating_sub(AGENTS)) {
        let i = sample % AGENTS;
        let Some((n, tag)) = connected[i].take() else { break };
        let from = caller_addr(n);
        let bye = format!(
            "BYE sip:veertien@{DAEMON} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-b{n}\r\nMax-Forwards: 70\r\n\
             From: <sip:caller@127.0.0.1>;tag=c{n}\r\nTo: <sip:14011@127.0.0.1>;tag={tag}\r\nCall-ID: call-{n}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        // Engine work from the caller's BYE to the INVITE for the next caller: the BYE
        // (the agent's leg is torn down, the ACD frees the agent, wrap-up 0 fires), then
        // the phone's 200 to our BYE (the leg is gone; the deferred offer goes out).
        let (mut engine_time, sent) = bench.timed(from, bye);
        let bye_to_agent = sent.iter().find_map(|m| match m {
            Message::Request(r) if r.method == Method::Bye => Some(r.clone()),
            _ => None,
        });
        let mut invite = invite_to_agent(sent);
        if let Some(bye) = bye_to_agent {
            let ok = Response::to_request(&bye, 200, "OK");
            let (time, sent) = bench.timed(agent_addr(i), String::from_utf8_lossy(&ok.to_bytes()).into_owned());
            engine_time += time;
            invite = invite.or_else(|| invite_to_agent(sent));
        }
        latency.record(engine_time.as_nanos().max(1) as u64).expect("in range");
        let invite = invite.expect("the freed agent is offered the next caller at once");
        bench.send(agent_addr(i), answer(&invite, 200));
        connected[i] = waiting.pop_front();
        bench.now += Duration::from_millis(10);
    }
    println!(
        "agent's call ends (caller BYE) -> INVITE for the next caller, {queued_count} callers queued at the start ({} samples): p50 {} µs, p99 {} µs, max {} µs",
        latency.len(),
        latency.value_at_quantile(0.5) / 1000,
        latency.value_at_quantile(0.99) / 1000,
        latency.max() / 1000
    );

    // 3. Full path with a fresh engine: every agent ready; each call is queued, offered,
    //    answered, talked (virtual time) and hung up by the caller.
    let mut bench = Bench::new();
    for i in 0..AGENTS {
        bench.register(i);
    }
    let started = WallClock::now();
    let mut answered = 0;
    for n in 0..FULL_PATH_CALLS {
        let (ok, after_ack) = bench.call(n);
        let tag = ok.to_header().expect("To").tag().expect("tag").to_string();
        let invite = invite_to_agent(after_ack).expect("a free agent is rung at once");
        // Agent phones answer from the address they registered; which one does not
        // matter to the engine's transaction matching (by branch).
        let phone = agent_addr(0);
        bench.send(phone, answer(&invite, 200));
        answered += 1;
        let from = caller_addr(n);
        let bye = format!(
            "BYE sip:veertien@{DAEMON} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-b{n}\r\nMax-Forwards: 70\r\n\
             From: <sip:caller@127.0.0.1>;tag=c{n}\r\nTo: <sip:14011@127.0.0.1>;tag={tag}\r\nCall-ID: call-{n}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        let to_agent = bench.send(from, bye);
        if let Some(bye) = to_agent.into_iter().find_map(|m| match m {
            Message::Request(r) if r.method == Method::Bye => Some(r),
            _ => None,
        }) {
            let ok = Response::to_request(&bye, 200, "OK");
            bench.send(phone, String::from_utf8_lossy(&ok.to_bytes()).into_owned());
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(answered, FULL_PATH_CALLS);
    println!(
        "full path through the engine (INVITE, 200, ACK, queue, offer, BYE): {FULL_PATH_CALLS} calls in {:.2} s = {:.0} calls/s",
        elapsed.as_secs_f64(),
        FULL_PATH_CALLS as f64 / elapsed.as_secs_f64()
    );
}
