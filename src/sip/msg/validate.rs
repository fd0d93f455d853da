//! Semantic checks of a parsed message before the transaction layer sees it
//! (RFC 3261 §8.2.1–§8.2.2, RFC 4475 §3.3). Syntax was already checked by the parser;
//! these are the rules that need the whole message, and they produce the answer to send.

use super::header_name::HeaderName;
use super::headers::{Header, Headers};
use super::message::{Request, Response};
use super::parse::parse_content_length;
use super::typed::{CSeq, NameAddr, SipUri, Via};
use bytes::Bytes;

/// Why a request is refused, with everything needed to build the answer: the status,
/// its reason phrase and extra headers (e.g. `Unsupported` for 420).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<Header>,
}

impl Rejection {
    /// The answer to `request`: status, reason phrase, the headers RFC 3261 §8.2.6.2 copies,
    /// and this rejection's extra headers. The caller adds a To tag if it wants one.
    pub fn response_to(&self, request: &Request) -> Response {
        let mut response = Response::to_request(request, self.status, &self.reason);
        for header in &self.headers {
            response.headers.push(header.name.clone(), header.value.clone());
        }
        response
    }

    fn bad_request(reason: impl Into<String>) -> Rejection {
        Rejection { status: 400, reason: reason.into(), headers: Vec::new() }
    }
}

/// Headers every request carries (RFC 3261 §8.1.1); Max-Forwards is left out on purpose
/// so that RFC 2543 peers (RFC 4475 §3.4.1 `inv2543`) are still served.
const MANDATORY: [(HeaderName, &str); 5] = [
    (HeaderName::To, "To"),
    (HeaderName::From, "From"),
    (HeaderName::CSeq, "CSeq"),
    (HeaderName::CallId, "Call-ID"),
    (HeaderName::Via, "Via"),
];

/// Headers that may appear once only (RFC 3261 §7.3.1 and the §20 grammar: no `#`-list).
const SINGLE_VALUED: [(HeaderName, &str); 7] = [
    (HeaderName::To, "To"),
    (HeaderName::From, "From"),
    (HeaderName::CSeq, "CSeq"),
    (HeaderName::CallId, "Call-ID"),
    (HeaderName::MaxForwards, "Max-Forwards"),
    (HeaderName::ContentLength, "Content-Length"),
    (HeaderName::ContentType, "Content-Type"),
];

/// URI schemes we route (RFC 3261 §8.2.2.1: anything else gets 416).
const SUPPORTED_SCHEMES: [&str; 2] = ["sip", "sips"];

/// Checks a request as a UAS must before processing it (RFC 3261 §8.2.2, RFC 4475 §3.3).
/// `supported` lists the option tags we implement; a `Require` naming any other gets 420
/// (§8.2.2.3). On `Err`, answer with the rejection (never for ACK, which gets no answer).
pub fn validate_request(req: &Request, supported: &[&str]) -> Result<(), Rejection> {
    check_common(&req.headers, &req.body).map_err(Rejection::bad_request)?;
    let cseq = CSeq::parse(header(&req.headers, &HeaderName::CSeq)).map_err(|_| Rejection::bad_request("Invalid CSeq"))?;
    if cseq.method != req.method {
        return Err(Rejection::bad_request("CSeq Method Does Not Match Request"));
    }
    if let Some(raw) = req.headers.get(&HeaderName::MaxForwards) {
        if parse_max_forwards(raw).is_none() {
            return Err(Rejection::bad_request("Invalid Max-Forwards"));
        }
    }
    let scheme = SipUri::checked_scheme(&req.uri).map_err(|_| Rejection::bad_request("Invalid Request-URI"))?;
    if !SUPPORTED_SCHEMES.iter().any(|supported| supported.eq_ignore_ascii_case(scheme)) {
        return Err(Rejection { status: 416, reason: "Unsupported URI Scheme".to_string(), headers: Vec::new() });
    }
    check_require(&req.headers, supported)
}

/// Checks a response before it is matched to a transaction. Responses with bad headers
/// are dropped without an answer (RFC 3261 §18.1.2 and RFC 4475 §3.1.2), hence only a reason.
pub fn validate_response(resp: &Response) -> Result<(), String> {
    check_common(&resp.headers, &resp.body)?;
    CSeq::parse(header(&resp.headers, &HeaderName::CSeq)).map_err(|_| "Invalid CSeq".to_string())?;
    Ok(())
}

/// The first value of a header known to be present (checked by `check_common`).
fn header<'a>(headers: &'a Headers, name: &HeaderName) -> &'a [u8] {
    headers.get(name).map(Bytes::as_ref).unwrap_or_default()
}

/// Presence, uniqueness, From/To/Via syntax and Content-Length, shared by both kinds.
fn check_common(headers: &Headers, body: &Bytes) -> Result<(), String> {
    for (name, spelling) in &MANDATORY {
        if headers.get(name).is_none() {
            return Err(format!("Missing {spelling}"));
        }
    }
    for (name, spelling) in &SINGLE_VALUED {
        if headers.count(name) > 1 {
            return Err(format!("Multiple {spelling} Values"));
        }
    }
    for (name, spelling) in [(HeaderName::From, "From"), (HeaderName::To, "To")] {
        NameAddr::check(header(headers, &name)).map_err(|_| format!("Invalid {spelling}"))?;
    }
    for raw in headers.get_all(&HeaderName::Via) {
        Via::check_list(raw).map_err(|_| "Invalid Via".to_string())?;
    }
    if let Some(raw) = headers.get(&HeaderName::ContentLength) {
        let declared = parse_content_length(raw).ok_or_else(|| "Invalid Content-Length".to_string())?;
        // RFC 3261 §18.3: fewer body bytes than declared is an error (RFC 4475 §3.3.9).
        if declared > body.len() {
            return Err("Content-Length Larger Than Body".to_string());
        }
    }
    Ok(())
}

/// `Max-Forwards = 1*DIGIT`, an integer from 0 to 255 (RFC 3261 §20.22).
pub fn parse_max_forwards(raw: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(raw).ok()?.trim_matches([' ', '\t']);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.len() > 3 {
        return None;
    }
    digits.parse::<u16>().map_or(Some(0), |value| u8::try_from(value).ok())
}

/// RFC 3261 §8.2.2.3: every option tag in `Require` must be one we support, else 420
/// with an `Unsupported` header naming the ones we lack.
fn check_require(headers: &Headers, supported: &[&str]) -> Result<(), Rejection> {
    let mut unsupported: Vec<String> = Vec::new();
    for raw in headers.get_all(&HeaderName::Require) {
        let text = String::from_utf8_lossy(raw);
        for tag in text.split(',').map(|tag| tag.trim_matches([' ', '\t'])).filter(|tag| !tag.is_empty()) {
            let known = supported.iter().any(|s| s.eq_ignore_ascii_case(tag));
            if !known && !unsupported.iter().any(|u| u.eq_ignore_ascii_case(tag)) {
                unsupported.push(tag.to_string());
            }
        }
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    Err(Rejection {
        status: 420,
        reason: "Bad Extension".to_string(),
        headers: vec![Header { name: HeaderName::Unsupported, value: Bytes::from(unsupported.join(", ")) }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::msg::{parse, Message};

    const BASIC: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
        From: <sip:alice@example.com>;tag=1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: abc\r\n\
        CSeq: 1 OPTIONS\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\
        \r\n";

    fn request(text: &str) -> Request {
        match parse(Bytes::copy_from_slice(text.as_bytes())) {
            Ok(Message::Request(request)) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn rejection(text: &str, supported: &[&str]) -> Rejection {
        validate_request(&request(text), supported).expect_err("should be rejected")
    }

    #[test]
    fn accepts_a_complete_request() {
        assert_eq!(validate_request(&request(BASIC), &[]), Ok(()));
    }

    #[test]
    fn names_each_missing_header() {
        for (line, spelling) in [
            ("To: <sip:bob@example.com>\r\n", "To"),
            ("From: <sip:alice@example.com>;tag=1\r\n", "From"),
            ("CSeq: 1 OPTIONS\r\n", "CSeq"),
            ("Call-ID: abc\r\n", "Call-ID"),
            ("Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n", "Via"),
        ] {
            let found = rejection(&BASIC.replace(line, ""), &[]);
            assert_eq!((found.status, found.reason.as_str()), (400, format!("Missing {spelling}").as_str()));
        }
        assert_eq!(validate_request(&request(&BASIC.replace("Max-Forwards: 70\r\n", "")), &[]), Ok(()));
    }

    #[test]
    fn rejects_duplicates_and_mismatches() {
        let twice = BASIC.replace("Call-ID: abc\r\n", "Call-ID: abc\r\nCall-ID: def\r\n");
        assert_eq!(rejection(&twice, &[]).reason, "Multiple Call-ID Values");
        let mismatch = BASIC.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        assert_eq!(rejection(&mismatch, &[]).status, 400);
        let lengths = BASIC.replace("Content-Length: 0\r\n", "Content-Length: 5\r\nContent-Length: 0\r\n");
        assert_eq!(rejection(&lengths, &[]).reason, "Multiple Content-Length Values");
    }

    #[test]
    fn max_forwards_must_be_0_to_255() {
        assert_eq!(parse_max_forwards(b"0068"), Some(68));
        assert_eq!(parse_max_forwards(b"0"), Some(0));
        assert_eq!(parse_max_forwards(b"255"), Some(255));
        assert_eq!(parse_max_forwards(b"256"), None);
        assert_eq!(parse_max_forwards(b"+5"), None);
        assert_eq!(parse_max_forwards(b""), None);
        let bad = BASIC.replace("Max-Forwards: 70", "Max-Forwards: seventy");
        assert_eq!(rejection(&bad, &[]).reason, "Invalid Max-Forwards");
    }

    #[test]
    fn unknown_scheme_gets_416() {
        let tel = BASIC.replace("OPTIONS sip:bob@example.com", "OPTIONS tel:+3114036");
        assert_eq!(rejection(&tel, &[]).status, 416);
    }

    #[test]
    fn unsupported_require_gets_420_listing_the_tags() {
        let require = BASIC.replace("Max-Forwards: 70\r\n", "Require: timer, foo\r\nRequire: bar\r\n");
        let found = rejection(&require, &["timer"]);
        assert_eq!(found.status, 420);
        assert_eq!(found.headers[0].name, HeaderName::Unsupported);
        assert_eq!(found.headers[0].value.as_ref(), b"foo, bar");
        assert_eq!(validate_request(&request(&require), &["TIMER", "foo", "bar"]), Ok(()));
        let response = found.response_to(&request(&require));
        assert_eq!((response.status, response.reason.as_ref()), (420, &b"Bad Extension"[..]));
        assert_eq!(response.headers.get_str(&HeaderName::Unsupported), Some("foo, bar"));
        assert_eq!(response.call_id().expect("copied").as_ref(), b"abc");
    }

    #[test]
    fn content_length_larger_than_body_is_400() {
        let mut built = request(BASIC);
        built.headers.set(HeaderName::ContentLength, "10");
        assert_eq!(validate_request(&built, &[]).expect_err("too long").reason, "Content-Length Larger Than Body");
    }

    #[test]
    fn responses_are_checked_for_mandatory_headers() {
        let Ok(Message::Response(ok)) = parse(Bytes::from(BASIC.replace("OPTIONS sip:bob@example.com SIP/2.0", "SIP/2.0 200 OK")))
        else {
            panic!("expected a response")
        };
        assert_eq!(validate_response(&ok), Ok(()));
        let mut missing = ok.clone();
        missing.headers.remove(&HeaderName::CallId);
        assert_eq!(validate_response(&missing), Err("Missing Call-ID".to_string()));
    }
}
