//! Shared by the API, metrics and Prometheus tests: an in-process daemon on 127.0.0.1
//! port 0 with the always-open test tenant and two API tokens, a raw-UDP caller, and a
//! plain HTTP/1.1 client.

#![allow(dead_code)] // each test crate uses part of this module

#[path = "../in_process/mod.rs"]
mod in_process;

#[path = "../support/records.rs"]
pub mod records;

#[allow(unused_imports)] // api_bench does not read the store
pub use in_process::private_store_path;
use in_process::{receive, InProcessDaemon};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

/// Token with role `read`.
pub const READ_TOKEN: &str = "test-read-token-0123456789";
/// Token with role `supervise`.
pub const SUPERVISE_TOKEN: &str = "test-supervise-token-0123456789";
/// The caller's number: must never show up in logs or metrics.
pub const CALLER_NUMBER: &str = "0612345678";

/// An in-process daemon with the test tokens in its configuration.
pub struct Daemon {
    inner: InProcessDaemon,
    config_dir: PathBuf,
}

impl std::ops::Deref for Daemon {
    type Target = InProcessDaemon;

    fn deref(&self) -> &InProcessDaemon {
        &self.inner
    }
}

/// Starts a daemon with its own RTP range from `rtp_port_min` and the test tokens.
pub async fn start(rtp_port_min: u16) -> Daemon {
    let shipped = std::fs::read_to_string(in_process::shipped_config()).expect("shipped config");
    let tokens = format!(
        "tokens = [\n  {{ name = \"wallboard\", token = \"{READ_TOKEN}\", role = \"read\" }},\n  \
         {{ name = \"lead\", token = \"{SUPERVISE_TOKEN}\", role = \"supervise\" }},\n]"
    );
    let config_text = shipped.replace("tokens = []", &tokens);
    let config_dir = std::env::temp_dir().join(format!("veertien-api-test-{}-{rtp_port_min}", std::process::id()));
    std::fs::create_dir_all(&config_dir).expect("temp dir");
    let config_path = config_dir.join("veertien.toml");
    std::fs::write(&config_path, config_text).expect("temp config");
    let inner = in_process::start(&config_path, rtp_port_min, 40, &[]).await;
    Daemon { inner, config_dir }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpAnswer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("JSON body ({error}): {}", self.body))
    }

    /// The `error.code` of a JSON error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

impl Daemon {
    /// Stops the daemon and waits for it (drain 1 s).
    pub async fn stop(mut self) {
        self.inner.shutdown();
        self.inner.stopped_within(Duration::from_secs(10)).await;
        let _ = std::fs::remove_dir_all(&self.config_dir);
    }

    /// One HTTP/1.1 request over a fresh connection.
    pub async fn http(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> HttpAnswer {
        let mut stream = tokio::net::TcpStream::connect(self.http).await.expect("http connect");
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("http write");
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response))
            .await
            .expect("http answer in time")
            .expect("http read");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        HttpAnswer { status, head: head.to_string(), body: body.to_string() }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let answer = self.http("GET", "/metrics", None, "").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }
}

/// The value of the sample `series` (`name{label="value",...}`, labels in any order),
/// or `None` when absent.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    let wanted = normalise(series);
    metrics.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (name_and_labels, value) = line.rsplit_once(' ')?;
        (normalise(name_and_labels) == wanted).then(|| value.trim().parse().ok()).flatten()
    })
}

/// A series with its labels sorted, so label order does not matter.
fn normalise(series: &str) -> String {
    match series.split_once('{') {
        Some((name, labels)) => {
            let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').filter(|l| !l.is_empty()).collect();
            labels.sort_unstable();
            format!("{name}{{{}}}", labels.join(","))
        }
        None => series.to_string(),
    }
}

/// A caller on its own UDP socket.
pub struct Caller {
    socket: UdpSocket,
    leg: CallLeg,
}

const OFFER: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 7000 RTP/AVP 8 0\n";

/// The caller's side of one call, enough to write its requests.
struct CallLeg {
    daemon: SocketAddr,
    me: SocketAddr,
    call_id: String,
    /// Empty until the daemon's 200 OK names it.
    to_tag: String,
}

impl CallLeg {
    fn request(&self, method: &str, cseq: u32, extra: &str, body: &str) -> String {
        let CallLeg { daemon, me, call_id, to_tag } = self;
        let tag = if to_tag.is_empty() { String::new() } else { format!(";tag={to_tag}") };
        format!(
            "{method} sip:14010@{daemon} SIP/2.0\n\
Via: SIP/2.0/UDP {me};branch=z9hG4bK-{call_id}-{method}-{cseq}\n\
Max-Forwards: 70\n\
From: <sip:{CALLER_NUMBER}@127.0.0.1>;tag=t-{call_id}\n\
To: <sip:14010@127.0.0.1>{tag}\n\
Call-ID: {call_id}\n\
CSeq: {cseq} {method}\n\
Contact: <sip:{CALLER_NUMBER}@{me}>\n\
{extra}Content-Length: {}\n\n{body}",
            body.replace('\n', "\r\n").len()
        )
        .replace('\n', "\r\n")
    }
}

impl Caller {
    /// Dials the test tenant, waits for 200 OK and acknowledges it: the call is queued.
    pub async fn dial(daemon: SocketAddr, call_id: &str) -> Caller {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("caller socket");
        let me = socket.local_addr().expect("addr");
        let mut leg = CallLeg { daemon, me, call_id: call_id.to_string(), to_tag: String::new() };
        let invite = leg.request("INVITE", 1, "Content-Type: application/sdp\n", OFFER);
        socket.send_to(invite.as_bytes(), daemon).await.expect("send");
        let ok = loop {
            let message = receive(&socket, Duration::from_secs(5)).await.expect("responses to INVITE");
            let status: u16 = message.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            if status >= 200 {
                break message;
            }
        };
        assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
        leg.to_tag = ok
            .lines()
            .find(|l| l.starts_with("To:") || l.starts_with("t:"))
            .and_then(|l| l.split(";tag=").nth(1))
            .expect("To tag")
            .trim()
            .to_string();
        let ack = leg.request("ACK", 1, "", "");
        socket.send_to(ack.as_bytes(), daemon).await.expect("send ACK");
        Caller { socket, leg }
    }

    /// Hangs up and waits for the 200 OK to BYE.
    pub async fn hang_up(self) {
        let bye = self.leg.request("BYE", 2, "", "");
        self.socket.send_to(bye.as_bytes(), self.leg.daemon).await.expect("send BYE");
        loop {
            let message = receive(&self.socket, Duration::from_secs(5)).await.expect("answer to BYE");
            if message.starts_with("SIP/2.0 200") && message.contains("BYE") {
                return;
            }
        }
    }
}

/// HA1 = MD5("tessa:proef.veertien:demo-tessa"), as in the test dial plan.
const TESSA_HA1_MD5: &str = "12a24e3f7787ec8a3eb32959e89cd4f9";

/// Tessa's phone: registers with digest authentication and answers what rings.
pub struct AgentPhone {
    socket: UdpSocket,
    me: SocketAddr,
    daemon: SocketAddr,
}

impl AgentPhone {
    /// Registers tessa's phone (401 challenge, then 200); the daemon logs her in.
    pub async fn register(daemon: SocketAddr) -> AgentPhone {
        use veertien::sip::auth::{compute_response, DigestAlgorithm, QopAuth};
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("phone socket");
        let me = socket.local_addr().expect("addr");
        let uri = format!("sip:{daemon}");
        let register = |cseq: u32, authorization: String| {
            format!(
                "REGISTER {uri} SIP/2.0\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-reg-{cseq}\nMax-Forwards: 70\n\
From: <sip:tessa@127.0.0.1>;tag=phone-reg\nTo: <sip:tessa@127.0.0.1>\nCall-ID: reg-tessa-{me}\n\
CSeq: {cseq} REGISTER\nContact: <sip:tessa@{me}>\nExpires: 3600\n{authorization}Content-Length: 0\n\n"
            )
            .replace('\n', "\r\n")
        };
        socket.send_to(register(1, String::new()).as_bytes(), daemon).await.expect("send REGISTER");
        let challenge = receive(&socket, Duration::from_secs(5)).await.expect("challenge");
        assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
        let param = |name: &str| {
            let line = challenge
                .lines()
                .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("MD5"))
                .expect("an MD5 challenge");
            let start = line.find(&format!("{name}=\"")).expect("parameter") + name.len() + 2;
            line[start..].split('"').next().expect("closing quote").to_string()
        };
        let (nonce, opaque) = (param("nonce"), param("opaque"));
        let qop = QopAuth { nonce_count: "00000001", cnonce: "c0ffee" };
        let response = compute_response(DigestAlgorithm::Md5, TESSA_HA1_MD5, "REGISTER", &uri, &nonce, Some(qop));
        let authorization = format!(
            "Authorization: Digest username=\"tessa\", realm=\"proef.veertien\", nonce=\"{nonce}\", uri=\"{uri}\", \
response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\", opaque=\"{opaque}\"\n"
        );
        socket.send_to(register(2, authorization).as_bytes(), daemon).await.expect("send REGISTER");
        let ok = receive(&socket, Duration::from_secs(5)).await.expect("registered");
        assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
        AgentPhone { socket, me, daemon }
    }

    /// Waits for the daemon's INVITE and answers it 200 OK; returns the INVITE text.
    pub async fn answer(&self) -> String {
        use veertien::sip::msg::{parse, HeaderName, Message, Method, Response};
        loop {
            let text = receive(&self.socket, Duration::from_secs(10)).await.expect("the phone rings");
            let Ok(Message::Request(invite)) = parse(bytes::Bytes::from(text.clone().into_bytes())) else { continue };
            if invite.method != Method::Invite {
                continue;
            }
            let mut response = Response::to_request(&invite, 200, "OK");
            let to = format!("{};tag=phone1", String::from_utf8_lossy(invite.headers.get(&HeaderName::To).expect("To")));
            response.headers.set(HeaderName::To, to);
            response.headers.push(HeaderName::Contact, format!("<sip:tessa@{}>", self.me));
            response.headers.push(HeaderName::ContentType, "application/sdp");
            response.body = bytes::Bytes::from_static(
                b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\n",
            );
            self.socket.send_to(&response.to_bytes(), self.daemon).await.expect("send 200");
            return text;
        }
    }

    /// Answers every BYE (and ignores ACKs) for `wait`, so the daemon's legs end cleanly.
    pub async fn answer_byes(&self, wait: Duration) {
        use veertien::sip::msg::{parse, Message, Method, Response};
        let until = tokio::time::Instant::now() + wait;
        while let Some(text) = receive(&self.socket, until.saturating_duration_since(tokio::time::Instant::now())).await {
            if let Ok(Message::Request(bye)) = parse(bytes::Bytes::from(text.into_bytes())) {
                if bye.method == Method::Bye {
                    let ok = Response::to_request(&bye, 200, "OK");
                    self.socket.send_to(&ok.to_bytes(), self.daemon).await.expect("send 200");
                }
            }
        }
    }
}
