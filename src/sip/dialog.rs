//! Dialogs (RFC 3261 §12): the state two user agents share for one call leg, from which
//! every in-dialog request (re-INVITE, BYE, ACK for a 2xx, UPDATE, ...) is built.
//!
//! A dialog does no I/O and knows nothing of transactions: the TU creates it from the
//! initial request and its response, feeds it the in-dialog requests and responses it sees,
//! and asks it to build requests it then sends through the transaction layer.

use crate::core::rng::SeededRng;
use crate::sip::msg::{HeaderName, Method, NameAddr, Request, Response, SipUri, TypedError};
use crate::sip::transport::TransportKind;
use bytes::Bytes;

/// Max-Forwards on requests we originate (RFC 3261 §8.1.1.6 recommends 70).
const MAX_FORWARDS: u32 = 70;

/// The first CSeq number of a side that has not sent a request yet. RFC 3261 §8.1.1.5 allows
/// any value below 2^31; a fixed one keeps traces comparable.
const INITIAL_LOCAL_SEQ: u32 = 1;

/// A fresh tag for From (UAC) or To (UAS) (RFC 3261 §19.3: at least 32 bits of randomness;
/// 10 characters of `[a-z0-9]` carry about 51).
pub fn new_tag(rng: &mut SeededRng) -> String {
    rng.token(10)
}

/// Which side of a request we are, to read the dialog id from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalSide {
    /// We sent the request (or received its response): our tag is in From.
    Sender,
    /// We received the request: our tag is in To.
    Receiver,
}

/// The dialog id (RFC 3261 §12): Call-ID, local tag and remote tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogKey {
    /// The Call-ID.
    pub call_id: Bytes,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (empty for an RFC 2543 peer that sent none, §12.1.1).
    pub remote_tag: String,
}

impl DialogKey {
    /// The dialog a request belongs to, seen from `local_side`.
    pub fn from_request(request: &Request, local_side: LocalSide) -> Result<DialogKey, DialogError> {
        let from_tag = request.from_tag()?.unwrap_or("").to_string();
        let to_tag = request.to_tag()?.unwrap_or("").to_string();
        Ok(Self::arrange(request.call_id()?.clone(), from_tag, to_tag, local_side))
    }

    /// The dialog a response belongs to, seen from `local_side` of its request.
    pub fn from_response(response: &Response, local_side: LocalSide) -> Result<DialogKey, DialogError> {
        let from_tag = response.from_tag()?.unwrap_or("").to_string();
        let to_tag = response.to_tag()?.unwrap_or("").to_string();
        Ok(Self::arrange(response.call_id()?.clone(), from_tag, to_tag, local_side))
    }

    fn arrange(call_id: Bytes, from_tag: String, to_tag: String, local_side: LocalSide) -> DialogKey {
        match local_side {
            LocalSide::Sender => DialogKey { call_id, local_tag: from_tag, remote_tag: to_tag },
            LocalSide::Receiver => DialogKey { call_id, local_tag: to_tag, remote_tag: from_tag },
        }
    }
}

/// The dialog states (RFC 3261 §12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response with a To tag.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// Ended by BYE (sent or received) or by a failed INVITE.
    Terminated,
}

/// Why a dialog could not be created or a request not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header the dialog needs is missing or does not parse.
    #[error("dialog header: {0}")]
    Header(#[from] TypedError),
    /// The response has no To tag, or the request no From tag (§12.1.2).
    #[error("missing dialog tag")]
    MissingTag,
    /// No Contact to take the remote target from (§12.1.1, §12.1.2).
    #[error("missing contact")]
    MissingContact,
    /// The response does not create a dialog (only 101–299 do, §12.1).
    #[error("status {0} does not create a dialog")]
    NotDialogCreating(u16),
    /// §12.2.2: a request with a CSeq lower than the remote sequence number; the TU answers 500.
    #[error("cseq {received} below remote sequence {remote}")]
    CSeqOutOfOrder {
        /// The CSeq number of the request.
        received: u32,
        /// The highest CSeq number seen from the peer.
        remote: u32,
    },
    /// The message belongs to another dialog.
    #[error("message belongs to another dialog")]
    WrongDialog,
}

/// One dialog (RFC 3261 §12.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID, local and remote tag.
    pub id: DialogKey,
    /// Early, confirmed or terminated.
    pub state: DialogState,
    /// The CSeq number of our last request; `None` until we send one (UAS, §12.1.1).
    pub local_seq: Option<u32>,
    /// The highest CSeq number seen from the peer; `None` until it sends one (UAC, §12.1.2).
    pub remote_seq: Option<u32>,
    /// The local URI with display name, without tag (our From in requests we send).
    pub local_party: NameAddr,
    /// The remote URI with display name, without tag (the To of requests we send).
    pub remote_party: NameAddr,
    /// Where in-dialog requests go: the peer's Contact (refreshed by target refresh requests).
    pub remote_target: SipUri,
    /// Our Contact, sent in target refresh requests.
    pub local_contact: NameAddr,
    /// The proxies in-dialog requests traverse, in the order they are visited.
    pub route_set: Vec<NameAddr>,
    /// True when the dialog was set up with a SIPS Request-URI (§12.1.1).
    pub secure: bool,
}

impl Dialog {
    /// The dialog a UAS creates when it answers `request` with a 101–299 carrying
    /// `local_tag` in To (§12.1.1): route set from Record-Route in order, remote target from
    /// the request's Contact, remote sequence from its CSeq. It starts Early; call
    /// [`Dialog::confirm`] when sending the 2xx.
    pub fn uas_from_request(
        request: &Request,
        local_tag: String,
        local_contact: NameAddr,
    ) -> Result<Dialog, DialogError> {
        let from = request.from_header()?;
        let to = request.to_header()?;
        let remote_target = first_contact(&request.contacts()?)?;
        Ok(Dialog {
            id: DialogKey {
                call_id: request.call_id()?.clone(),
                local_tag,
                remote_tag: from.tag().unwrap_or("").to_string(),
            },
            state: DialogState::Early,
            local_seq: None,
            remote_seq: Some(request.cseq()?.seq),
            local_party: without_tag(to),
            remote_party: without_tag(from),
            remote_target,
            local_contact,
            route_set: request.record_routes()?,
            secure: request_uri_is_sips(request),
        })
    }

    /// The dialog a UAC creates from a 101–299 response with a To tag to its `request`
    /// (§12.1.2): route set from the response's Record-Route in reverse order, remote target
    /// from its Contact, local sequence from the request's CSeq. Early for 1xx, Confirmed for 2xx.
    pub fn uac_from_response(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let state = match response.status {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            other => return Err(DialogError::NotDialogCreating(other)),
        };
        let from = request.from_header()?;
        let to = response.to_header()?;
        let local_tag = from.tag().ok_or(DialogError::MissingTag)?.to_string();
        let remote_tag = to.tag().ok_or(DialogError::MissingTag)?.to_string();
        let mut route_set = response.record_routes()?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogKey { call_id: request.call_id()?.clone(), local_tag, remote_tag },
            state,
            local_seq: Some(request.cseq()?.seq),
            remote_seq: None,
            local_party: without_tag(from),
            remote_party: without_tag(to),
            remote_target: first_contact(&response.contacts()?)?,
            local_contact: request.contacts()?.into_iter().next().ok_or(DialogError::MissingContact)?,
            route_set,
            secure: request_uri_is_sips(request),
        })
    }

    /// Early → Confirmed (a 2xx was sent or received).
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    /// Ends the dialog (BYE sent, or the INVITE failed).
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// True when `request`, received by us, belongs to this dialog.
    pub fn matches(&self, request: &Request) -> bool {
        DialogKey::from_request(request, LocalSide::Receiver).is_ok_and(|key| key == self.id)
    }

    /// A new in-dialog request (§12.2.1.1): CSeq one above the last, Request-URI and Route
    /// from the remote target and route set (loose or strict routing), From/To with the
    /// dialog's URIs and tags, our Contact on target refresh requests. The caller supplies a
    /// fresh branch and our sent-by. Use [`Dialog::make_ack`] for the ACK of a 2xx.
    pub fn make_request(
        &mut self,
        method: Method,
        branch: String,
        local_via_sent_by: &str,
        transport: TransportKind,
    ) -> Request {
        let seq = self.local_seq.map_or(INITIAL_LOCAL_SEQ, |last| last.wrapping_add(1));
        self.local_seq = Some(seq);
        self.build(method, seq, &branch, local_via_sent_by, transport)
    }

    /// The ACK for a 2xx to the INVITE with CSeq number `invite_cseq` (§13.2.2.4): built like
    /// an in-dialog request, but with the INVITE's CSeq number and without advancing ours.
    pub fn make_ack(
        &self,
        invite_cseq: u32,
        branch: String,
        local_via_sent_by: &str,
        transport: TransportKind,
    ) -> Request {
        self.build(Method::Ack, invite_cseq, &branch, local_via_sent_by, transport)
    }

    /// Our response to `request` (the dialog-creating request or an in-dialog one): the
    /// §8.2.6.2 copies plus our To tag (not on 100, §8.2.6.1); on 101–299, the request's
    /// Record-Route values (§12.1.1) and, for target refresh methods, our Contact (§12.1.1,
    /// §12.2.2).
    pub fn make_response(&self, request: &Request, status: u16, reason: &str) -> Result<Response, DialogError> {
        let mut response = Response::to_request(request, status, reason);
        if status > 100 {
            response.set_to_tag(&self.id.local_tag)?;
        }
        if (101..=299).contains(&status) {
            for record_route in request.headers.get_all(&HeaderName::RecordRoute) {
                response.headers.push(HeaderName::RecordRoute, record_route.clone());
            }
            if is_target_refresh(&request.method) {
                response.headers.push(HeaderName::Contact, self.local_contact.to_string());
            }
        }
        Ok(response)
    }

    /// An in-dialog request from the peer (§12.2.2). A CSeq below the remote sequence number
    /// is refused with [`DialogError::CSeqOutOfOrder`] (the TU answers 500). Target refresh
    /// requests with a Contact replace the remote target; BYE terminates the dialog.
    pub fn handle_request(&mut self, request: &Request) -> Result<(), DialogError> {
        if !self.matches(request) {
            return Err(DialogError::WrongDialog);
        }
        // ACK and CANCEL reuse the number of the request they belong to (§13.2.2.4, §9.1).
        if !matches!(request.method, Method::Ack | Method::Cancel) {
            let received = request.cseq()?.seq;
            if let Some(remote) = self.remote_seq {
                if received < remote {
                    return Err(DialogError::CSeqOutOfOrder { received, remote });
                }
            }
            self.remote_seq = Some(received);
        }
        if is_target_refresh(&request.method) {
            if let Some(contact) = request.contacts()?.into_iter().next() {
                self.remote_target = contact.uri;
            }
        }
        if request.method == Method::Bye {
            self.terminate();
        }
        Ok(())
    }

    /// A response to a request we sent in this dialog (§12.2.1.2, §13.2.2.4): a 2xx to a
    /// target refresh request updates the remote target; a 2xx to the INVITE of an early
    /// dialog confirms it and recomputes the route set from the 2xx.
    pub fn handle_response(&mut self, method: &Method, response: &Response) -> Result<(), DialogError> {
        if DialogKey::from_response(response, LocalSide::Sender)? != self.id {
            return Err(DialogError::WrongDialog);
        }
        if !(200..=299).contains(&response.status) {
            return Ok(());
        }
        if *method == Method::Invite && self.state == DialogState::Early {
            let mut route_set = response.record_routes()?;
            route_set.reverse();
            self.route_set = route_set;
            self.confirm();
        }
        if is_target_refresh(method) {
            if let Some(contact) = response.contacts()?.into_iter().next() {
                self.remote_target = contact.uri;
            }
        }
        Ok(())
    }

    fn build(
        &self,
        method: Method,
        seq: u32,
        branch: &str,
        local_via_sent_by: &str,
        transport: TransportKind,
    ) -> Request {
        let (request_uri, routes) = self.request_uri_and_routes();
        let mut request = Request::new(method.clone(), request_uri.to_string());
        request
            .headers
            .push(HeaderName::Via, format!("SIP/2.0/{} {local_via_sent_by};branch={branch}", transport.via_token()));
        request.headers.push(HeaderName::MaxForwards, MAX_FORWARDS.to_string());
        for route in routes {
            request.headers.push(HeaderName::Route, route.to_string());
        }
        request.headers.push(HeaderName::From, self.local_party.clone().with_tag(&self.id.local_tag).to_string());
        let to = match self.id.remote_tag.as_str() {
            "" => self.remote_party.clone(),
            tag => self.remote_party.clone().with_tag(tag),
        };
        request.headers.push(HeaderName::To, to.to_string());
        request.headers.push(HeaderName::CallId, self.id.call_id.clone());
        request.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        if is_target_refresh(&method) {
            request.headers.push(HeaderName::Contact, self.local_contact.to_string());
        }
        request
    }

    /// §12.2.1.1: empty route set or a loose router first (`lr`): Request-URI is the remote
    /// target and Route the route set. A strict router first: Request-URI is that router's
    /// URI (without parameters a Request-URI may not carry), Route the rest of the set
    /// followed by the remote target.
    fn request_uri_and_routes(&self) -> (SipUri, Vec<NameAddr>) {
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if first.uri.param("lr").is_some() => (self.remote_target.clone(), self.route_set.clone()),
            Some(first) => {
                let mut request_uri = first.uri.clone();
                request_uri.params.retain(|p| !p.name.eq_ignore_ascii_case("method"));
                request_uri.headers.clear();
                let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
                routes.push(NameAddr::from_uri(self.remote_target.clone()));
                (request_uri, routes)
            }
        }
    }
}

/// Methods whose Contact replaces the remote target: re-INVITE (RFC 3261 §12.2), UPDATE
/// (RFC 3311), SUBSCRIBE/NOTIFY (RFC 6665) and REFER (RFC 3515).
fn is_target_refresh(method: &Method) -> bool {
    matches!(method, Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer)
}

fn first_contact(contacts: &[NameAddr]) -> Result<SipUri, DialogError> {
    contacts.first().map(|c| c.uri.clone()).ok_or(DialogError::MissingContact)
}

fn without_tag(mut party: NameAddr) -> NameAddr {
    party.params.retain(|p| !p.name.eq_ignore_ascii_case("tag"));
    party
}

fn request_uri_is_sips(request: &Request) -> bool {
    request.uri().is_ok_and(|uri| uri.scheme == "sips")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller_invite() -> Request {
        let mut req = Request::new(Method::Invite, "sip:14036@kcc.gemeente.example");
        req.headers.push(HeaderName::Via, "SIP/2.0/UDP edge.example;branch=z9hG4bKe1");
        req.headers.push(HeaderName::Via, "SIP/2.0/UDP phone.example;branch=z9hG4bKp1");
        req.headers.push(HeaderName::RecordRoute, "<sip:edge.example;lr>, <sip:core.example;lr>");
        req.headers.push(HeaderName::From, "\"Caller\" <sip:caller@example.com>;tag=remote1");
        req.headers.push(HeaderName::To, "<sip:14036@gemeente.example>");
        req.headers.push(HeaderName::CallId, "abc@phone.example");
        req.headers.push(HeaderName::CSeq, "5 INVITE");
        req.headers.push(HeaderName::Contact, "<sip:caller@198.51.100.7:5062>");
        req
    }

    fn our_contact() -> NameAddr {
        NameAddr::parse(b"<sip:kcc@192.0.2.1:5060>").expect("contact")
    }

    fn uas_dialog() -> Dialog {
        Dialog::uas_from_request(&caller_invite(), "local1".into(), our_contact()).expect("dialog")
    }

    #[test]
    fn uas_dialog_takes_route_set_in_order_and_remote_target_from_contact() {
        let dialog = uas_dialog();
        assert_eq!(dialog.id.local_tag, "local1");
        assert_eq!(dialog.id.remote_tag, "remote1");
        assert_eq!(dialog.remote_seq, Some(5));
        assert_eq!(dialog.local_seq, None);
        assert_eq!(dialog.state, DialogState::Early);
        let hosts: Vec<_> = dialog.route_set.iter().map(|r| r.uri.host.as_str()).collect();
        assert_eq!(hosts, vec!["edge.example", "core.example"]);
        assert_eq!(dialog.remote_target.port, Some(5062));
        assert!(!dialog.secure);
    }

    #[test]
    fn uas_bye_goes_to_remote_target_via_loose_routes_with_swapped_tags() {
        let mut dialog = uas_dialog();
        dialog.confirm();
        let bye = dialog.make_request(Method::Bye, "z9hG4bKb1".into(), "192.0.2.1:5060", TransportKind::Udp);
        assert_eq!(bye.uri().expect("uri"), dialog.remote_target);
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).cloned().collect();
        assert_eq!(routes, vec![Bytes::from("<sip:edge.example;lr>"), Bytes::from("<sip:core.example;lr>")]);
        assert_eq!(bye.from_header().expect("from").tag(), Some("local1"));
        assert_eq!(bye.to_header().expect("to").tag(), Some("remote1"));
        assert_eq!(bye.to_header().expect("to").display_name.as_deref(), Some("Caller"));
        assert_eq!(bye.cseq().expect("cseq").seq, INITIAL_LOCAL_SEQ);
        assert_eq!(bye.headers.count(&HeaderName::Contact), 0);
        assert_eq!(bye.top_via().expect("via").branch(), Some("z9hG4bKb1"));
        let second = dialog.make_request(Method::Info, "z9hG4bKb2".into(), "192.0.2.1:5060", TransportKind::Tcp);
        assert_eq!(second.cseq().expect("cseq").seq, INITIAL_LOCAL_SEQ + 1);
    }

    fn answer_200(request: &Request) -> Response {
        let mut ok = Response::to_request(request, 200, "OK");
        ok.headers.set(HeaderName::To, "<sip:14036@gemeente.example>;tag=uas9");
        ok.headers.push(HeaderName::RecordRoute, "<sip:edge.example;lr>");
        ok.headers.push(HeaderName::RecordRoute, "<sip:core.example;lr>");
        ok.headers.push(HeaderName::Contact, "<sip:agent@203.0.113.5:5080>");
        ok
    }

    fn our_invite() -> Request {
        let mut invite = Request::new(Method::Invite, "sip:agent@gemeente.example");
        invite.headers.push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKi1");
        invite.headers.push(HeaderName::From, "<sip:kcc@gemeente.example>;tag=ours");
        invite.headers.push(HeaderName::To, "<sip:agent@gemeente.example>");
        invite.headers.push(HeaderName::CallId, "leg2@kcc");
        invite.headers.push(HeaderName::CSeq, "20 INVITE");
        invite.headers.push(HeaderName::Contact, "<sip:kcc@192.0.2.1>");
        invite
    }

    #[test]
    fn uac_dialog_reverses_route_set_and_acks_with_invite_cseq() {
        let invite = our_invite();
        let dialog = Dialog::uac_from_response(&invite, &answer_200(&invite)).expect("dialog");
        assert_eq!(dialog.state, DialogState::Confirmed);
        assert_eq!(
            dialog.id,
            DialogKey { call_id: Bytes::from("leg2@kcc"), local_tag: "ours".into(), remote_tag: "uas9".into() }
        );
        let hosts: Vec<_> = dialog.route_set.iter().map(|r| r.uri.host.as_str()).collect();
        assert_eq!(hosts, vec!["core.example", "edge.example"]);
        let ack = dialog.make_ack(20, "z9hG4bKa1".into(), "192.0.2.1", TransportKind::Udp);
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.cseq().expect("cseq").seq, 20);
        assert_eq!(ack.uri().expect("uri").host, "203.0.113.5");
        assert_eq!(dialog.local_seq, Some(20), "ACK does not advance the local sequence");
    }

    #[test]
    fn uac_reinvite_and_bye_advance_cseq_and_carry_contact_on_refresh() {
        let invite = our_invite();
        let mut dialog = Dialog::uac_from_response(&invite, &answer_200(&invite)).expect("dialog");
        let reinvite = dialog.make_request(Method::Invite, "z9hG4bKr1".into(), "192.0.2.1", TransportKind::Udp);
        assert_eq!(reinvite.cseq().expect("cseq").seq, 21);
        assert_eq!(reinvite.contacts().expect("contact").len(), 1);
        let mut ok = answer_200(&reinvite);
        ok.headers.set(HeaderName::Contact, "<sip:agent@203.0.113.6:5080>");
        dialog.handle_response(&Method::Invite, &ok).expect("same dialog");
        assert_eq!(dialog.remote_target.host, "203.0.113.6");
        let bye = dialog.make_request(Method::Bye, "z9hG4bKr2".into(), "192.0.2.1", TransportKind::Udp);
        assert_eq!(bye.cseq().expect("cseq").seq, 22);
        assert_eq!(bye.uri().expect("uri").host, "203.0.113.6");
    }

    #[test]
    fn early_dialog_confirmed_by_2xx_recomputes_route_set() {
        let invite = our_invite();
        let mut ringing = answer_200(&invite);
        ringing.status = 180;
        ringing.headers.remove(&HeaderName::RecordRoute);
        let mut dialog = Dialog::uac_from_response(&invite, &ringing).expect("early dialog");
        assert_eq!(dialog.state, DialogState::Early);
        assert!(dialog.route_set.is_empty());
        dialog.handle_response(&Method::Invite, &answer_200(&invite)).expect("same dialog");
        assert_eq!(dialog.state, DialogState::Confirmed);
        assert_eq!(dialog.route_set.len(), 2);
    }

    #[test]
    fn strict_router_becomes_request_uri_and_remote_target_last_route() {
        let mut dialog = uas_dialog();
        dialog.route_set =
            NameAddr::parse_list(b"<sip:strict.example;method=INVITE>, <sip:next.example;lr>").expect("routes");
        let bye = dialog.make_request(Method::Bye, "z9hG4bKs1".into(), "192.0.2.1", TransportKind::Udp);
        assert_eq!(&bye.uri[..], b"sip:strict.example");
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).cloned().collect();
        assert_eq!(routes, vec![Bytes::from("<sip:next.example;lr>"), Bytes::from("<sip:caller@198.51.100.7:5062>")]);
    }

    fn in_dialog_request(method: Method, seq: u32) -> Request {
        let mut req = Request::new(method.clone(), "sip:kcc@192.0.2.1:5060");
        req.headers.push(HeaderName::From, "<sip:caller@example.com>;tag=remote1");
        req.headers.push(HeaderName::To, "<sip:14036@gemeente.example>;tag=local1");
        req.headers.push(HeaderName::CallId, "abc@phone.example");
        req.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        req
    }

    #[test]
    fn lower_cseq_is_out_of_order_and_reinvite_refreshes_target() {
        let mut dialog = uas_dialog();
        dialog.confirm();
        assert_eq!(
            dialog.handle_request(&in_dialog_request(Method::Info, 4)),
            Err(DialogError::CSeqOutOfOrder { received: 4, remote: 5 })
        );
        let mut reinvite = in_dialog_request(Method::Invite, 6);
        reinvite.headers.push(HeaderName::Contact, "<sip:caller@198.51.100.8>");
        dialog.handle_request(&reinvite).expect("in order");
        assert_eq!(dialog.remote_seq, Some(6));
        assert_eq!(dialog.remote_target.host, "198.51.100.8");
        dialog.handle_request(&in_dialog_request(Method::Ack, 6)).expect("ACK keeps the number");
        dialog.handle_request(&in_dialog_request(Method::Bye, 7)).expect("in order");
        assert_eq!(dialog.state, DialogState::Terminated);
    }

    #[test]
    fn requests_of_other_dialogs_do_not_match() {
        let mut dialog = uas_dialog();
        let mut other = in_dialog_request(Method::Bye, 9);
        other.headers.set(HeaderName::To, "<sip:14036@gemeente.example>;tag=someone-else");
        assert!(!dialog.matches(&other));
        assert_eq!(dialog.handle_request(&other), Err(DialogError::WrongDialog));
        assert!(dialog.matches(&in_dialog_request(Method::Bye, 9)));
    }

    #[test]
    fn uac_needs_a_to_tag_and_a_dialog_creating_status() {
        let invite = our_invite();
        let mut no_tag = answer_200(&invite);
        no_tag.headers.set(HeaderName::To, "<sip:agent@gemeente.example>");
        assert_eq!(Dialog::uac_from_response(&invite, &no_tag), Err(DialogError::MissingTag));
        let mut busy = answer_200(&invite);
        busy.status = 486;
        assert_eq!(Dialog::uac_from_response(&invite, &busy), Err(DialogError::NotDialogCreating(486)));
        let mut no_contact = answer_200(&invite);
        no_contact.headers.remove(&HeaderName::Contact);
        assert_eq!(Dialog::uac_from_response(&invite, &no_contact), Err(DialogError::MissingContact));
    }

    #[test]
    fn uas_responses_carry_tag_record_route_and_contact() {
        let invite = caller_invite();
        let dialog = uas_dialog();
        let trying = dialog.make_response(&invite, 100, "Trying").expect("response");
        assert_eq!(trying.to_header().expect("to").tag(), None);
        assert_eq!(trying.headers.count(&HeaderName::Contact), 0);
        let ok = dialog.make_response(&invite, 200, "OK").expect("response");
        assert_eq!(ok.to_header().expect("to").tag(), Some("local1"));
        assert_eq!(ok.record_routes().expect("record-route").len(), 2);
        assert_eq!(ok.contacts().expect("contact"), vec![our_contact()]);
        let busy = dialog.make_response(&invite, 486, "Busy Here").expect("response");
        assert_eq!(busy.to_header().expect("to").tag(), Some("local1"));
        assert_eq!(busy.headers.count(&HeaderName::RecordRoute), 0);
        let bye_ok = dialog.make_response(&in_dialog_request(Method::Bye, 6), 200, "OK").expect("response");
        assert_eq!(bye_ok.headers.count(&HeaderName::Contact), 0);
    }

    #[test]
    fn tags_are_seeded() {
        let first = new_tag(&mut SeededRng::fork(3, "tags"));
        assert_eq!(first, new_tag(&mut SeededRng::fork(3, "tags")));
        assert_eq!(first.len(), 10);
    }
}
