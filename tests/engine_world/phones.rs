//! Phones in the engine's virtual world: an agent's phone that registers with digest
//! authentication, answers the daemon's INVITEs and sends requests in their dialogs, and
//! desk phones that only answer. Raw SIP text, so a test reads what crosses the wire.

use super::World;
use veertien::sip::msg::{HeaderName, Message, Method, Request, Response};

/// Digest realm of the shipped Almere plan (and of the test plans that reuse its agents).
pub const REALM: &str = "almere.veertien";
/// HA1 (MD5) of `anouk:almere.veertien:demo-anouk`.
pub const ANOUK_HA1_MD5: &str = "3ed34954af728575b0e207f558388c1f";

fn register(user: &str, addr: &str, cseq: u32, authorization: Option<String>) -> String {
    let auth = authorization.map(|a| format!("Authorization: {a}\n")).unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-reg-{user}-{cseq}\nMax-Forwards: 70\nFrom: <sip:{user}@127.0.0.1>;tag=reg-{user}\nTo: <sip:{user}@127.0.0.1>\nCall-ID: reg-{user}\nCSeq: {cseq} REGISTER\nContact: <sip:{user}@{addr}>\nExpires: 3600\n{auth}Content-Length: 0\n\n"
    )
}

/// Registers `user` (HA1 `ha1_md5` in [`REALM`]) from the phone at `addr`: REGISTER, the
/// 401 challenge, the answer, 200.
pub fn register_phone(world: &mut World, user: &str, ha1_md5: &str, addr: &str) {
    world.deliver_from(addr, &register(user, addr, 1, None));
    let challenge = world.responses().last().cloned().cloned().expect("401");
    let authorization = authorization(&challenge, "REGISTER", "sip:127.0.0.1:5060", user, ha1_md5);
    world.deliver_from(addr, &register(user, addr, 2, Some(authorization)));
    assert_eq!(world.responses().last().map(|r| r.status), Some(200), "{user} registered");
    world.take_sent();
}

/// The `Authorization` value answering `challenge` (its MD5 offer) for `method` on `uri`.
pub fn authorization(challenge: &Response, method: &str, uri: &str, user: &str, ha1_md5: &str) -> String {
    use veertien::sip::auth::{compute_response, DigestAlgorithm, QopAuth};
    let param = |name: &str| {
        let value = challenge
            .headers
            .get_all(&HeaderName::WwwAuthenticate)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .find(|v| v.contains("MD5"))
            .expect("MD5 challenge");
        let start = value.find(&format!("{name}=\"")).expect("param") + name.len() + 2;
        value[start..].split('"').next().expect("quote").to_string()
    };
    let (nonce, opaque) = (param("nonce"), param("opaque"));
    let qop = QopAuth { nonce_count: "00000001", cnonce: "c0ffee" };
    let response = compute_response(DigestAlgorithm::Md5, ha1_md5, method, uri, &nonce, Some(qop));
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\", opaque=\"{opaque}\""
    )
}

/// Requests of `method` the daemon sent to `addr`, oldest first.
pub fn requests_to(world: &World, addr: &str, method: Method) -> Vec<Request> {
    world
        .sent
        .iter()
        .filter(|(peer, _)| peer.remote.to_string() == addr)
        .filter_map(|(_, message)| match message {
            Message::Request(request) if request.method == method => Some(request.clone()),
            _ => None,
        })
        .collect()
}

/// The phone's answer to the daemon's `invite`: `status`, with To tag `tag`, and for a 2xx
/// a Contact at `addr` and an SDP answer.
pub fn phone_answer(invite: &Request, status: u16, tag: &str, addr: &str) -> String {
    let mut response = Response::to_request(invite, status, if status == 200 { "OK" } else { "Failed" });
    let to = format!("{};tag={tag}", String::from_utf8_lossy(invite.headers.get(&HeaderName::To).expect("To")));
    response.headers.set(HeaderName::To, to);
    if status / 100 == 2 {
        response.headers.push(HeaderName::Contact, format!("<sip:phone@{addr}>"));
        response.headers.push(HeaderName::ContentType, "application/sdp");
        response.body = bytes::Bytes::from_static(b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\n");
    }
    String::from_utf8_lossy(&response.to_bytes()).replace("\r\n", "\n")
}

/// A request from the phone at `addr` in the dialog the daemon's `invite` created (the
/// phone answered with To tag `tag`), with `extra` header lines.
pub fn phone_request(invite: &Request, tag: &str, addr: &str, method: &str, cseq: u32, extra: &str) -> String {
    let header = |name: HeaderName| String::from_utf8_lossy(invite.headers.get(&name).expect("header")).into_owned();
    format!(
        "{method} sip:veertien@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK-{method}-{cseq}-{tag}\nMax-Forwards: 70\nFrom: {};tag={tag}\nTo: {}\nCall-ID: {}\nCSeq: {cseq} {method}\nContact: <sip:phone@{addr}>\n{extra}Content-Length: 0\n\n",
        header(HeaderName::To),
        header(HeaderName::From),
        header(HeaderName::CallId),
    )
}

/// The daemon's request `request` answered 200 by the phone at `addr` (NOTIFY, BYE).
pub fn phone_ok(request: &Request) -> String {
    let response = Response::to_request(request, 200, "OK");
    String::from_utf8_lossy(&response.to_bytes()).replace("\r\n", "\n")
}
