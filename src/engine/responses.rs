//! Building and sending responses: the headers every response of ours carries, To tags
//! (RFC 3261 §8.2.6.2), and the stateless answers to messages no transaction can hold.

use super::Engine;
use crate::core::ids::TransactionId;
use crate::sip::msg::{HeaderName, Message, Method, ParseError, Rejection, Request, Response};
use crate::sip::transport::{self, Peer};

/// Methods we implement, for Allow (RFC 3261 §20.5) on OPTIONS, 405 and 501.
pub const ALLOWED_METHODS: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER, REFER, NOTIFY";

/// Extensions we support (for Supported and the Require check, RFC 3261 §8.2.2.3).
/// `replaces` (RFC 3891): an INVITE that requires it reaches the Replaces checks and gets
/// the status that RFC gives, rather than 420.
pub const SUPPORTED_EXTENSIONS: &[&str] = &["replaces"];

/// The header naming a call's reference number (spaces dropped): on the agent's INVITE
/// and on the caller's 200 OK, so phones and the upstream phone system can log it.
pub const REFERENCE_HEADER: &[u8] = b"X-Veertien-Reference";

impl Engine {
    /// A response to `request` with our Server header and, for non-100 responses whose
    /// To lacks a tag, `to_tag` added (RFC 3261 §8.2.6.2).
    pub(super) fn build_response(&self, request: &Request, status: u16, reason: &str, to_tag: &str) -> Response {
        let mut response = Response::to_request(request, status, reason);
        if status > 100 {
            let has_tag = request.to_header().map(|to| to.tag().is_some()).unwrap_or(false);
            if !has_tag {
                if let Some(to) = request.headers.get(&HeaderName::To) {
                    let mut value = to.to_vec();
                    value.extend_from_slice(b";tag=");
                    value.extend_from_slice(to_tag.as_bytes());
                    response.headers.set(HeaderName::To, value);
                }
            }
        }
        response.headers.push(HeaderName::Server, self.config.user_agent.clone());
        response
    }

    /// Sends `response` on server transaction `tx`. A transaction that is already gone
    /// (it timed out, or the peer's connection closed) is logged, not an error: there is
    /// nobody left to answer.
    pub(super) fn send_on(&mut self, tx: TransactionId, response: Response) {
        self.stats.responses_sent += 1;
        if let Err(error) = self.transactions.send_response(self.now.mono, tx, response) {
            tracing::debug!(%error, ?tx, "response not sent");
        }
        self.flush_transmits();
    }

    /// Answers `request` on `tx` with a fresh tag.
    pub(super) fn reply(&mut self, tx: TransactionId, request: &Request, status: u16, reason: &str) {
        let tag = self.new_tag();
        let response = self.build_response(request, status, reason, &tag);
        self.send_on(tx, response);
    }

    /// Answers with `extra` headers added.
    pub(super) fn reply_with(
        &mut self,
        tx: TransactionId,
        request: &Request,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, String)],
    ) {
        let tag = self.new_tag();
        let mut response = self.build_response(request, status, reason, &tag);
        for (name, value) in extra {
            response.headers.push(name.clone(), value.clone());
        }
        self.send_on(tx, response);
    }

    /// A message that did not parse: counted, and answered statelessly with 400/505 when
    /// the parser could read enough of a request to form a response (RFC 4475 §3.1.2).
    pub(super) fn on_malformed(&mut self, peer: Peer, error: ParseError) {
        tracing::debug!(reason = %error.reason, remote = %peer.remote, "malformed message");
        let Some(request) = error.request_for_reply else {
            self.stats.malformed_dropped += 1;
            return;
        };
        self.stats.malformed_answered += 1;
        let reason = if error.status == 505 { "Version Not Supported".to_string() } else { bad_request_reason(&error.reason) };
        let tag = self.new_tag();
        let response = self.build_response(&request, error.status, &reason, &tag);
        self.send_stateless(response, peer);
    }

    /// A request that failed the semantic checks (RFC 3261 §8.2, RFC 4475 §3.3): counted
    /// and answered statelessly, never an ACK (RFC 3261 §17.2.3: ACKs get no response).
    pub(super) fn reject(&mut self, request: &Request, rejection: Rejection, peer: Peer) {
        self.stats.requests_rejected += 1;
        if request.method == Method::Ack {
            return;
        }
        tracing::debug!(status = rejection.status, reason = %rejection.reason, "request rejected");
        let tag = self.new_tag();
        let mut response = self.build_response(request, rejection.status, &rejection.reason, &tag);
        for header in rejection.headers {
            response.headers.push(header.name, header.value);
        }
        self.send_stateless(response, peer);
    }

    /// A UDP request larger than we accept: 513 Message Too Large (RFC 3261 §21.5.14),
    /// sent statelessly so an oversized flood creates no state.
    pub(super) fn answer_oversized(&mut self, request: &Request, peer: Peer) {
        self.stats.malformed_answered += 1;
        let tag = self.new_tag();
        let response = self.build_response(request, 513, "Message Too Large", &tag);
        self.send_stateless(response, peer);
    }

    /// Sends a response outside any transaction, routed per RFC 3261 §18.2.2.
    pub(super) fn send_stateless(&mut self, response: Response, peer: Peer) {
        let target = transport::response_target(&response, &peer);
        self.transactions.send_stateless(Message::Response(response), target);
        self.flush_transmits();
    }
}

/// "Bad Request" with the parser's reason appended, so the sender learns what was wrong.
fn bad_request_reason(detail: &str) -> String {
    let printable: String = detail.chars().filter(|c| !c.is_control()).take(80).collect();
    format!("Bad Request ({printable})")
}
