//! Transaction keys: how a message finds its transaction (RFC 3261 §17.1.3, §17.2.3).

use crate::core::rng::SeededRng;
use crate::sip::msg::{Method, Request, Response, TypedError};
use bytes::Bytes;

/// The prefix that marks an RFC 3261 branch as globally unique (RFC 3261 §8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A fresh branch for a new client transaction: the magic cookie plus 16 random characters
/// from the seeded stream, so replays produce the same branches.
pub fn new_branch(rng: &mut SeededRng) -> String {
    format!("{MAGIC_COOKIE}{}", rng.token(16))
}

/// A client transaction: the top Via branch and the CSeq method (RFC 3261 §17.1.3). The
/// method matters because a CANCEL carries the branch of the INVITE it cancels.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: String,
    method: Method,
}

impl ClientKey {
    /// The key of a request we send.
    pub(crate) fn from_request(req: &Request) -> Result<ClientKey, TypedError> {
        let branch = req.top_via_view()?.branch().ok_or(TypedError::Invalid("Via"))?.to_string();
        Ok(ClientKey { branch, method: req.method.clone() })
    }

    /// The key a received response points at.
    pub(crate) fn from_response(resp: &Response) -> Result<ClientKey, TypedError> {
        let branch = resp.top_via_view()?.branch().ok_or(TypedError::Invalid("Via"))?.to_string();
        Ok(ClientKey { branch, method: resp.cseq()?.method })
    }

    /// The same branch for another method: a CANCEL's key with INVITE finds the INVITE it
    /// cancels (RFC 3261 §9.1: the CANCEL carries the INVITE's branch).
    pub(crate) fn with_method(&self, method: Method) -> ClientKey {
        ClientKey { branch: self.branch.clone(), method }
    }
}

/// A server transaction (RFC 3261 §17.2.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// Branch with the magic cookie: branch, sent-by (host lower-cased, port defaulted) and
    /// method, with ACK counted as INVITE so the ACK for a non-2xx finds its transaction.
    Rfc3261 { branch: String, host: String, port: u16, method: Method },
    /// RFC 2543 peers (no cookie): Request-URI, Call-ID, From tag, CSeq number and the top
    /// Via as a whole, with the method normalised the same way. The To tag of §17.2.3 is left
    /// out: the INVITE has none and its ACK carries ours, and the other fields already
    /// single out the transaction.
    Rfc2543 { request_uri: Bytes, call_id: Bytes, from_tag: Option<String>, cseq: u32, top_via: String, method: Method },
}

impl ServerKey {
    /// The key of a received request.
    pub(crate) fn from_request(req: &Request) -> Result<ServerKey, TypedError> {
        let view = req.top_via_view()?;
        let method = matching_method(&req.method);
        match view.branch() {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => Ok(ServerKey::Rfc3261 {
                branch: branch.to_string(),
                host: view.host().to_ascii_lowercase(),
                port: view.sent_by_port_or_default(),
                method,
            }),
            // RFC 2543 peers are rare: the whole Via, normalised by its parsed form.
            _ => Ok(ServerKey::Rfc2543 {
                request_uri: req.uri.clone(),
                call_id: req.call_id()?.clone(),
                from_tag: req.from_header()?.tag().map(str::to_string),
                cseq: req.cseq()?.seq,
                top_via: req.top_via()?.to_string(),
                method,
            }),
        }
    }

    /// The same key for another method: a CANCEL's key with INVITE finds the INVITE it
    /// cancels (RFC 3261 §9.2).
    pub(crate) fn with_method(&self, method: Method) -> ServerKey {
        let mut key = self.clone();
        match &mut key {
            ServerKey::Rfc3261 { method: m, .. } | ServerKey::Rfc2543 { method: m, .. } => *m = method,
        }
        key
    }
}

/// ACK belongs to the INVITE transaction (RFC 3261 §17.2.3).
fn matching_method(method: &Method) -> Method {
    match method {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::msg::HeaderName;

    fn request(method: Method, via: &str) -> Request {
        let mut req = Request::new(method.clone(), "sip:14036@gemeente.example");
        req.headers.push(HeaderName::Via, via.to_string());
        req.headers.push(HeaderName::From, "<sip:caller@example.com>;tag=f1");
        req.headers.push(HeaderName::To, "<sip:14036@gemeente.example>");
        req.headers.push(HeaderName::CallId, "call-1");
        req.headers.push(HeaderName::CSeq, format!("1 {method}"));
        req
    }

    #[test]
    fn ack_matches_invite_and_cancel_does_not() {
        let invite = ServerKey::from_request(&request(Method::Invite, "SIP/2.0/UDP Phone.Example;branch=z9hG4bK1"))
            .expect("key");
        let ack = ServerKey::from_request(&request(Method::Ack, "SIP/2.0/UDP phone.example:5060;branch=z9hG4bK1"))
            .expect("key");
        let cancel = ServerKey::from_request(&request(Method::Cancel, "SIP/2.0/UDP phone.example;branch=z9hG4bK1"))
            .expect("key");
        assert_eq!(invite, ack);
        assert_ne!(invite, cancel);
        assert_eq!(cancel.with_method(Method::Invite), invite);
    }

    #[test]
    fn branch_and_sent_by_both_count() {
        let a =
            ServerKey::from_request(&request(Method::Options, "SIP/2.0/UDP a.example;branch=z9hG4bK1")).expect("key");
        let other_host =
            ServerKey::from_request(&request(Method::Options, "SIP/2.0/UDP b.example;branch=z9hG4bK1")).expect("key");
        let other_branch =
            ServerKey::from_request(&request(Method::Options, "SIP/2.0/UDP a.example;branch=z9hG4bK2")).expect("key");
        assert_ne!(a, other_host);
        assert_ne!(a, other_branch);
    }

    #[test]
    fn rfc2543_fallback_without_cookie() {
        let invite =
            ServerKey::from_request(&request(Method::Invite, "SIP/2.0/UDP a.example;branch=old1")).expect("key");
        let ack = ServerKey::from_request(&request(Method::Ack, "SIP/2.0/UDP a.example;branch=old1")).expect("key");
        assert!(matches!(invite, ServerKey::Rfc2543 { .. }));
        assert_eq!(invite, ack);
        let no_branch = ServerKey::from_request(&request(Method::Invite, "SIP/2.0/UDP a.example")).expect("key");
        assert_ne!(invite, no_branch);
    }

    #[test]
    fn client_key_uses_cseq_method_of_response() {
        let invite = request(Method::Invite, "SIP/2.0/UDP a.example;branch=z9hG4bK9");
        let mut resp = Response::to_request(&invite, 200, "OK");
        assert_eq!(ClientKey::from_response(&resp).expect("key"), ClientKey::from_request(&invite).expect("key"));
        resp.headers.set(HeaderName::CSeq, "1 CANCEL");
        assert_ne!(ClientKey::from_response(&resp).expect("key"), ClientKey::from_request(&invite).expect("key"));
    }

    #[test]
    fn branches_carry_cookie_and_differ() {
        let mut rng = SeededRng::fork(1, "branches");
        let first = new_branch(&mut rng);
        assert!(first.starts_with(MAGIC_COOKIE));
        assert_ne!(first, new_branch(&mut rng));
    }
}
