//! The datagram parser (RFC 3261 §7, grammar §25).
//!
//! Zero-copy: the start line, header values and body are `Bytes` slices of the input; a
//! header value is copied only when it was folded over several lines and must be unfolded.
//!
//! Leniency, on purpose: lines may end in CRLF or a bare LF (some deployed stacks and test
//! tools send bare LF; accepting it costs nothing and rejects nothing valid), CRLFs before
//! the start line are skipped (RFC 3261 §7.5), header names may be followed by white space
//! before the colon (`HCOLON`), and header names are case-insensitive with compact forms.
//! Everything RFC 4475 §3.1.2 calls malformed is rejected.

use super::header_name::HeaderName;
use super::header_syntax::check_header_syntax;
use super::headers::{Header, Headers};
use super::lex;
use super::message::{Message, Request, Response};
use super::method::Method;
use super::typed::{SipUri, Via};
use bytes::{BufMut, Bytes, BytesMut};

/// Why a datagram is not a SIP message we can process.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    /// Short lowercase description, used in the 400's reason phrase and the log.
    pub reason: String,
    /// The status to answer with (400, or 505 for an unsupported SIP version).
    pub status: u16,
    /// When the message is a request whose Via, From, To, Call-ID and CSeq could be read,
    /// those headers (and the start line), so the caller can answer; `None` means drop.
    pub request_for_reply: Option<Box<Request>>,
}

impl ParseError {
    /// The answer to send, when there is one: `status` with the Via, From, To, Call-ID and
    /// CSeq of the request (RFC 3261 §8.2.6.2) and `reason` as the reason phrase. The
    /// caller adds a To tag if it wants one. `None` means drop the message.
    pub fn reply(&self) -> Option<Response> {
        let request = self.request_for_reply.as_deref()?;
        Some(Response::to_request(request, self.status, &self.reason))
    }
}

/// The most digits a Content-Length may have; anything longer cannot be a real body size
/// and could overflow.
const MAX_CONTENT_LENGTH_DIGITS: usize = 9;

/// Parses one complete message (a UDP datagram, or a frame from [`super::StreamFramer`]).
///
/// A missing Content-Length means the body is the rest of the datagram (RFC 3261 §18.3
/// allows this on UDP; [`super::StreamFramer`] enforces it on streams). Bytes after the
/// declared length are discarded (§18.3); fewer bytes than declared is a 400.
pub fn parse(datagram: Bytes) -> Result<Message, ParseError> {
    let start = datagram.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    let head = split_head(&datagram, start).map_err(drop_error)?;
    let start_line = datagram.slice(head.start_line.0..head.start_line.1);
    match parse_start_line(&start_line).map_err(drop_error)? {
        StartLine::Response { status, reason } => {
            let body = checked_body(&datagram, &head).map_err(drop_error)?;
            Ok(Message::Response(Response { status, reason, headers: head.headers, body }))
        }
        StartLine::Request { method, uri, problem } => {
            let outcome = match problem {
                Some(problem) => Err(problem),
                None => check_request_uri(&uri)
                    .and_then(|()| checked_body(&datagram, &head))
                    .map_err(|reason| (400, reason)),
            };
            match outcome {
                Ok(body) => Ok(Message::Request(Request { method, uri, headers: head.headers, body })),
                Err((status, reason)) => {
                    let request_for_reply = request_for_reply(&method, &uri, &head.headers);
                    Err(ParseError { reason, status, request_for_reply })
                }
            }
        }
    }
}

fn drop_error(reason: String) -> ParseError {
    ParseError { reason, status: 400, request_for_reply: None }
}

/// Start line and header fields, with the offset where the body begins.
struct Head {
    start_line: (usize, usize),
    headers: Headers,
    body_start: usize,
}

/// Splits lines up to the empty line that ends the header section, unfolding
/// continuation lines (RFC 3261 §7.3.1).
fn split_head(input: &Bytes, from: usize) -> Result<Head, String> {
    let mut position = from;
    let mut start_line = None;
    // Our own messages and the phones' carry 8 to 14 fields.
    let mut headers = Headers::with_capacity(16);
    let mut pending: Option<PendingField> = None;
    loop {
        let newline = input
            .get(position..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
            .ok_or_else(|| "header section not terminated".to_string())?;
        let line_end = position + newline;
        let content_end = if line_end > position && input.get(line_end - 1) == Some(&b'\r') {
            line_end - 1
        } else {
            line_end
        };
        let next = line_end + 1;
        let line = input.get(position..content_end).unwrap_or_default();
        if start_line.is_none() {
            if line.is_empty() {
                return Err("empty start line".to_string());
            }
            start_line = Some((position, content_end));
        } else if line.is_empty() {
            if let Some(field) = pending.take() {
                headers.push(field.name.clone(), field.value(input));
            }
            let start_line = start_line.ok_or_else(|| "missing start line".to_string())?;
            return Ok(Head { start_line, headers, body_start: next });
        } else if matches!(line.first(), Some(b' ' | b'\t')) {
            let field = pending.as_mut().ok_or_else(|| "continuation line without a header".to_string())?;
            field.value_end = content_end;
            field.folded = true;
        } else {
            if let Some(field) = pending.take() {
                headers.push(field.name.clone(), field.value(input));
            }
            let colon = line.iter().position(|b| *b == b':').ok_or_else(|| "header line without colon".to_string())?;
            let name = line.get(..colon).unwrap_or_default();
            let name_end = name.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(0, |last| last + 1);
            let name = name.get(..name_end).unwrap_or_default();
            if !lex::is_token(name) {
                return Err("invalid header name".to_string());
            }
            pending = Some(PendingField {
                name: HeaderName::from_bytes(name),
                value_start: position + colon + 1,
                value_end: content_end,
                folded: false,
            });
        }
        position = next;
    }
}

/// A header field whose value may still grow by continuation lines.
struct PendingField {
    name: HeaderName,
    value_start: usize,
    value_end: usize,
    folded: bool,
}

impl PendingField {
    /// The trimmed value: a slice of the input, or an unfolded copy (each line break and
    /// the white space around it become one SP, RFC 3261 §7.3.1).
    fn value(&self, input: &Bytes) -> Bytes {
        let range = self.value_start..self.value_end.max(self.value_start);
        if !self.folded {
            // The usual case: trim by index and slice the input once (each `Bytes` slice
            // is a reference-count update, and this runs for every header field).
            let raw = input.get(range.clone()).unwrap_or_default();
            let start = raw.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(raw.len());
            let end = raw.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |last| last + 1);
            return input.slice(range.start + start..range.start + end.max(start));
        }
        let raw = input.slice(range);
        let mut out = BytesMut::with_capacity(raw.len());
        let mut in_break = false;
        for &byte in raw.iter() {
            if byte == b'\r' || byte == b'\n' {
                in_break = true;
            } else if in_break && (byte == b' ' || byte == b'\t') {
                continue;
            } else {
                if in_break {
                    out.put_u8(b' ');
                    in_break = false;
                }
                out.put_u8(byte);
            }
        }
        let value = out.freeze();
        trim_bytes(&value)
    }
}

/// `value` without leading and trailing SP/HT (a zero-copy slice).
fn trim_bytes(value: &Bytes) -> Bytes {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |last| last + 1);
    value.slice(start..end.max(start))
}

enum StartLine {
    /// `problem` is a status and reason to answer with once the headers are known.
    Request { method: Method, uri: Bytes, problem: Option<(u16, String)> },
    Response { status: u16, reason: Bytes },
}

/// `Request-Line = Method SP Request-URI SP SIP-Version` or
/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 §7.1, §7.2).
/// Exactly one SP separates the parts (RFC 4475 §3.1.2.8–§3.1.2.10).
fn parse_start_line(line: &Bytes) -> Result<StartLine, String> {
    if line.starts_with(b"SIP/") {
        return parse_status_line(line);
    }
    let method_end = line.iter().position(|b| *b == b' ').ok_or_else(|| "malformed start line".to_string())?;
    let method_token = line.get(..method_end).unwrap_or_default();
    if !lex::is_token(method_token) {
        return Err("malformed start line".to_string());
    }
    let method = Method::from_token(method_token);
    let rest = line.slice(method_end + 1..);
    let (uri, version) = match rest.iter().position(|b| *b == b' ') {
        Some(space) => (rest.slice(..space), rest.slice(space + 1..)),
        None => (rest.clone(), Bytes::new()),
    };
    let problem = if uri.is_empty() {
        Some((400, "malformed request line".to_string()))
    } else if version.as_ref() == b"SIP/2.0" {
        None
    } else if is_sip_version(&version) {
        // RFC 3261 §8.2.2.1 / RFC 4475 §3.1.2.16: an unsupported version gets 505.
        Some((505, "version not supported".to_string()))
    } else {
        Some((400, "malformed request line".to_string()))
    };
    Ok(StartLine::Request { method, uri, problem })
}

/// `SIP/1*DIGIT.1*DIGIT`.
fn is_sip_version(text: &[u8]) -> bool {
    let Some(numbers) = text.strip_prefix(b"SIP/") else { return false };
    let mut parts = numbers.split(|b| *b == b'.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or_default();
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    parts.next().is_none() && all_digits(major) && all_digits(minor)
}

fn parse_status_line(line: &Bytes) -> Result<StartLine, String> {
    let rest = line.strip_prefix(b"SIP/2.0 ").ok_or_else(|| "unsupported version in status line".to_string())?;
    let code = rest.get(..3).ok_or_else(|| "malformed status line".to_string())?;
    let after_code = rest.get(3..).unwrap_or_default();
    if !code.iter().all(u8::is_ascii_digit) || !(after_code.is_empty() || after_code.starts_with(b" ")) {
        return Err("malformed status code".to_string());
    }
    let status = code.iter().fold(0u16, |acc, digit| acc * 10 + u16::from(digit - b'0'));
    if !(100..=699).contains(&status) {
        return Err("status code out of range".to_string());
    }
    // "SIP/2.0 " is 8 bytes, then 3 digits and the separating SP.
    let reason = line.slice((8 + 3 + 1).min(line.len())..);
    Ok(StartLine::Response { status, reason })
}

/// The Request-URI must parse; a SIP URI there may not carry headers (RFC 3261 §19.1.1
/// table, RFC 4475 §3.1.2.11). Unknown schemes pass here and get 416 from validation.
fn check_request_uri(uri: &Bytes) -> Result<(), String> {
    let text = std::str::from_utf8(uri).map_err(|_| "invalid request-uri".to_string())?;
    let has_headers = SipUri::check_for_headers(text).map_err(|_| "invalid request-uri".to_string())?;
    if has_headers {
        return Err("headers in request-uri".to_string());
    }
    Ok(())
}

/// Checks header syntax and cuts the body by Content-Length.
fn checked_body(input: &Bytes, head: &Head) -> Result<Bytes, String> {
    check_header_syntax(&head.headers)?;
    let available = input.len().saturating_sub(head.body_start);
    let body_start = head.body_start.min(input.len());
    let mut declared = None;
    let mut conflicting = false;
    for raw in head.headers.get_all(&HeaderName::ContentLength) {
        let length = parse_content_length(raw).ok_or_else(|| "invalid content-length".to_string())?;
        match declared {
            Some(previous) if previous != length => conflicting = true,
            _ => declared = Some(length),
        }
    }
    let body_len = match declared {
        // Conflicting values: the framing is unknown; keep every byte and let validation
        // answer 400 (RFC 4475 §3.3.9 `mcl01`).
        Some(_) if conflicting => available,
        Some(length) if length > available => return Err("body shorter than content-length".to_string()),
        Some(length) => length,
        None => available,
    };
    Ok(input.slice(body_start..body_start + body_len))
}

/// `Content-Length = 1*DIGIT` (RFC 3261 §20.14), bounded.
pub(crate) fn parse_content_length(raw: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(raw).ok().map(lex::trim)?;
    if text.is_empty() || text.len() > MAX_CONTENT_LENGTH_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The headers needed to answer a request we cannot process: every Via (the top one must
/// parse, it says where the answer goes), From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
fn request_for_reply(method: &Method, uri: &Bytes, headers: &Headers) -> Option<Box<Request>> {
    Via::parse_first(headers.get(&HeaderName::Via)?).ok()?;
    let needed = [HeaderName::From, HeaderName::To, HeaderName::CallId, HeaderName::CSeq];
    if needed.iter().any(|name| headers.get(name).is_none()) {
        return None;
    }
    let mut request = Request::new(method.clone(), uri.clone());
    for Header { name, value } in headers.iter() {
        if name == &HeaderName::Via || needed.contains(name) {
            request.headers.push(name.clone(), value.clone());
        }
    }
    Some(Box::new(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        match parse(Bytes::copy_from_slice(text.as_bytes())) {
            Ok(Message::Request(request)) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    const BASIC: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
        From: <sip:alice@example.com>;tag=1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: abc\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 4\r\n\
        \r\n\
        body";

    #[test]
    fn parses_a_basic_request_zero_copy() {
        let input = Bytes::copy_from_slice(BASIC.as_bytes());
        let Ok(Message::Request(parsed)) = parse(input.clone()) else { panic!("expected a request") };
        assert_eq!(parsed.method, Method::Invite);
        assert_eq!(parsed.uri.as_ref(), b"sip:bob@example.com");
        assert_eq!(parsed.body.as_ref(), b"body");
        assert_eq!(parsed.call_id().expect("present").as_ref(), b"abc");
        let call_id = parsed.headers.get(&HeaderName::CallId).expect("present");
        let input_range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
        assert!(input_range.contains(&(call_id.as_ptr() as usize)), "value is a slice of the input");
    }

    #[test]
    fn tolerates_bare_lf_leading_crlf_and_unfolds() {
        let text = "\r\n\r\nOPTIONS sip:a@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\nSubject: one\n  two\n\tthree\nl: 0\n\n";
        let parsed = request(text);
        assert_eq!(parsed.headers.get(&HeaderName::Subject).expect("present").as_ref(), b"one two three");
        assert_eq!(parsed.top_via().expect("valid").host, "h");
    }

    #[test]
    fn truncates_extra_bytes_and_rejects_short_bodies() {
        let long = request(&format!("{BASIC}EXTRA"));
        assert_eq!(long.body.as_ref(), b"body");
        let short = parse(Bytes::copy_from_slice(BASIC.trim_end_matches("body").as_bytes())).expect_err("short body");
        assert_eq!(short.status, 400);
        assert!(short.request_for_reply.is_some());
    }

    #[test]
    fn missing_content_length_takes_the_rest() {
        let parsed = request("MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n\x00\x01binary");
        assert_eq!(parsed.body.as_ref(), b"\x00\x01binary");
    }

    #[test]
    fn parses_responses_with_empty_and_utf8_reasons() {
        for (line, reason) in [("SIP/2.0 100 ", ""), ("SIP/2.0 180", ""), ("SIP/2.0 200 Prima \u{e9}", "Prima \u{e9}")] {
            let text = format!("{line}\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n");
            let Ok(Message::Response(parsed)) = parse(Bytes::from(text)) else { panic!("expected a response") };
            assert_eq!(parsed.reason.as_ref(), reason.as_bytes());
        }
    }

    #[test]
    fn rejects_bad_start_lines() {
        for bad in [
            "SIP/2.0 4294967301 big\r\n\r\n",
            "SIP/2.0 99 low\r\n\r\n",
            "SIP/2.0 20x OK\r\n\r\n",
            "SIP/3.0 200 OK\r\n\r\n",
            "INVITE  sip:a@example.com SIP/2.0\r\n\r\n",
            "INVITE sip:a@example.com SIP/2.0 \r\n\r\n",
            "INVITE <sip:a@example.com> SIP/2.0\r\n\r\n",
            "INVITE sip:a@example.com?Route=x SIP/2.0\r\n\r\n",
            "INV(ITE sip:a@example.com SIP/2.0\r\n\r\n",
            "garbage\r\n\r\n",
            "",
            "\r\n\r\n",
            "INVITE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n",
        ] {
            assert!(parse(Bytes::from(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unsupported_version_gets_505_with_reply_headers() {
        let text = BASIC.replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1);
        let error = parse(Bytes::from(text)).expect_err("bad version");
        assert_eq!(error.status, 505);
        let reply = error.reply().expect("headers readable");
        assert_eq!((reply.status, reply.headers.len()), (505, 5));
        assert_eq!(reply.cseq().expect("copied").seq, 1);
    }

    #[test]
    fn bad_header_syntax_is_400_and_unreadable_via_means_drop() {
        let bad_cseq = BASIC.replace("CSeq: 1 INVITE", "CSeq: 99999999999 INVITE");
        let error = parse(Bytes::from(bad_cseq)).expect_err("bad cseq");
        assert_eq!(error.status, 400);
        assert!(error.request_for_reply.is_some());
        let bad_via = BASIC.replace("UDP 192.0.2.1;branch=z9hG4bK1", "UDP 192.0.2.1;;,;");
        let error = parse(Bytes::from(bad_via)).expect_err("bad via");
        assert!(error.request_for_reply.is_none());
    }

    #[test]
    fn negative_content_length_is_rejected() {
        let text = BASIC.replace("Content-Length: 4", "Content-Length: -4");
        assert!(parse(Bytes::from(text)).is_err());
    }
}
