//! Requests derived from an INVITE without the TU: the ACK for a non-2xx final response
//! (RFC 3261 §17.1.1.3) and the CANCEL of a pending INVITE (§9.1).

use crate::sip::msg::{HeaderName, Method, Request, Response};
use bytes::Bytes;

/// The ACK the INVITE client transaction sends for a 300–699 response (RFC 3261 §17.1.1.3):
/// same Request-URI, Call-ID, From and CSeq number as the INVITE (method ACK), the To of the
/// response (it carries the UAS tag), only the INVITE's top Via, and its Route headers.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    copy_top_via(invite, &mut ack);
    copy_all(invite, &mut ack, &HeaderName::MaxForwards);
    copy_all(invite, &mut ack, &HeaderName::From);
    match response.headers.get(&HeaderName::To) {
        Some(to) => ack.headers.push(HeaderName::To, to.clone()),
        None => copy_all(invite, &mut ack, &HeaderName::To),
    }
    copy_all(invite, &mut ack, &HeaderName::CallId);
    ack.headers.push(HeaderName::CSeq, cseq_with_method(invite, "ACK"));
    copy_all(invite, &mut ack, &HeaderName::Route);
    ack
}

/// The CANCEL for a request we sent (RFC 3261 §9.1): same Request-URI, Call-ID, To, From,
/// CSeq number (method CANCEL), the request's top Via only (same branch, so the server
/// matches it to the INVITE) and its Route headers. Send it with
/// [`super::TransactionLayer::send_request`]; only after a provisional response (§9.1).
pub fn cancel_for(request: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, request.uri.clone());
    copy_top_via(request, &mut cancel);
    copy_all(request, &mut cancel, &HeaderName::MaxForwards);
    copy_all(request, &mut cancel, &HeaderName::From);
    copy_all(request, &mut cancel, &HeaderName::To);
    copy_all(request, &mut cancel, &HeaderName::CallId);
    cancel.headers.push(HeaderName::CSeq, cseq_with_method(request, "CANCEL"));
    copy_all(request, &mut cancel, &HeaderName::Route);
    cancel
}

/// Only the top Via value; a request we built has it in a field of its own, but if it shares
/// a field with others, the parsed first value is written back.
fn copy_top_via(from: &Request, to: &mut Request) {
    match from.top_via() {
        Ok(via) => to.headers.push(HeaderName::Via, via.to_string()),
        Err(_) => copy_first(from, to, &HeaderName::Via),
    }
}

fn copy_first(from: &Request, to: &mut Request, name: &HeaderName) {
    if let Some(value) = from.headers.get(name) {
        to.headers.push(name.clone(), value.clone());
    }
}

fn copy_all(from: &Request, to: &mut Request, name: &HeaderName) {
    for value in from.headers.get_all(name) {
        to.headers.push(name.clone(), value.clone());
    }
}

fn cseq_with_method(request: &Request, method: &str) -> Bytes {
    let seq = request.cseq().map(|cseq| cseq.seq).unwrap_or(0);
    Bytes::from(format!("{seq} {method}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Request {
        let mut req = Request::new(Method::Invite, "sip:14036@gemeente.example");
        req.headers.push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc");
        req.headers.push(HeaderName::MaxForwards, "70");
        req.headers.push(HeaderName::Route, "<sip:edge.example;lr>");
        req.headers.push(HeaderName::From, "<sip:kcc@gemeente.example>;tag=ours");
        req.headers.push(HeaderName::To, "<sip:14036@gemeente.example>");
        req.headers.push(HeaderName::CallId, "c-1");
        req.headers.push(HeaderName::CSeq, "7 INVITE");
        req.headers.push(HeaderName::Contact, "<sip:kcc@192.0.2.1>");
        req
    }

    #[test]
    fn ack_takes_to_from_response_and_keeps_cseq_number() {
        let invite = invite();
        let mut busy = Response::to_request(&invite, 486, "Busy Here");
        busy.headers.set(HeaderName::To, "<sip:14036@gemeente.example>;tag=theirs");
        busy.headers.push_front(HeaderName::Via, "SIP/2.0/UDP proxy.example;branch=z9hG4bKx");
        let ack = ack_for_non_2xx(&invite, &busy);
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.uri, invite.uri);
        assert_eq!(ack.to_header().expect("to").tag(), Some("theirs"));
        assert_eq!(ack.cseq().expect("cseq").seq, 7);
        assert_eq!(ack.cseq().expect("cseq").method, Method::Ack);
        assert_eq!(ack.top_via().expect("via").branch(), Some("z9hG4bKabc"));
        assert_eq!(ack.headers.count(&HeaderName::Via), 1);
        assert_eq!(ack.headers.get_str(&HeaderName::Route), Some("<sip:edge.example;lr>"));
        assert_eq!(ack.headers.count(&HeaderName::Contact), 0);
    }

    #[test]
    fn cancel_keeps_branch_and_number() {
        let invite = invite();
        let cancel = cancel_for(&invite);
        assert_eq!(cancel.method, Method::Cancel);
        assert_eq!(cancel.top_via().expect("via").branch(), Some("z9hG4bKabc"));
        assert_eq!(cancel.cseq().expect("cseq").seq, 7);
        assert_eq!(cancel.cseq().expect("cseq").method, Method::Cancel);
        assert_eq!(cancel.to_header().expect("to").tag(), None);
    }
}
