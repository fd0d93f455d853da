//! Transport rules of RFC 3261 §18 that do not need a socket: where a request came from,
//! stamping `received`/`rport` into its top Via, and where a response must go.

use crate::core::addr_text::IpText;
use crate::core::ids::ConnectionId;
use crate::sip::msg::{Request, Response};
use std::net::{IpAddr, SocketAddr};

/// Requests larger than this many bytes should not go over UDP (RFC 3261 §18.1.1: within
/// 200 bytes of a 1500-byte path MTU, use a congestion-controlled transport).
///
/// What the daemon does: the engine, which knows whether a peer accepts TCP, sends such a
/// request over TCP when it can. Otherwise the transaction layer sends it over UDP anyway
/// and counts it in [`crate::sip::transaction::TransactionStats::oversized_udp_requests`],
/// because failing a call is worse than a possibly fragmented datagram on a LAN trunk.
pub const UDP_MTU_LIMIT_BYTES: usize = 1300;

/// The transports the daemon speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Unreliable datagrams: the transaction layer retransmits.
    Udp,
    /// A reliable stream: no retransmissions, wait timers are zero (RFC 3261 §17).
    Tcp,
}

impl TransportKind {
    /// True for transports that deliver reliably (no retransmission timers).
    pub fn is_reliable(self) -> bool {
        matches!(self, TransportKind::Tcp)
    }

    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
        }
    }
}

/// Where a message came from / goes to. std::net types are plain data, allowed in sans-IO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport.
    pub transport: TransportKind,
    /// Our address (the socket the message arrived on or leaves from).
    pub local: SocketAddr,
    /// The other side's address.
    pub remote: SocketAddr,
    /// The stream connection, for TCP; `None` asks the driver to use or open one to `remote`.
    pub connection: Option<ConnectionId>,
}

impl Peer {
    /// A UDP peer.
    pub fn udp(local: SocketAddr, remote: SocketAddr) -> Peer {
        Peer { transport: TransportKind::Udp, local, remote, connection: None }
    }

    /// A TCP peer on a known connection (or `None` to let the driver pick or open one).
    pub fn tcp(local: SocketAddr, remote: SocketAddr, connection: Option<ConnectionId>) -> Peer {
        Peer { transport: TransportKind::Tcp, local, remote, connection }
    }

    /// True when the transport is reliable.
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

/// Fills in `received` (RFC 3261 §18.2.1) and `rport` (RFC 3581 §4) in the top Via of a
/// request that arrived from `peer`, so responses built from it find their way back.
///
/// `received` is added when sent-by is a host name or an address other than the packet
/// source; when the client asked for `rport`, it is filled with the source port and
/// `received` is always added (RFC 3581 §4). A request without a parseable top Via is left
/// unchanged: the transaction layer drops it.
pub fn stamp_received(req: &mut Request, peer: &Peer) {
    let Ok(view) = req.top_via_view() else { return };
    let source_ip = peer.remote.ip();
    let wants_rport = view.rport().is_some();
    let sent_by_is_source = parse_ip(view.host()) == Some(source_ip);
    if sent_by_is_source && !wants_rport {
        return;
    }
    // Only now copy the Via out, to change it.
    let Ok(mut top) = req.top_via() else { return };
    top.set_received(&IpText(source_ip).to_string());
    if wants_rport {
        top.set_rport(peer.remote.port());
    }
    // Cannot fail: the top Via was just read from this request.
    let _ = req.set_top_via(&top);
}

/// Where a server sends a response to a request that arrived from `peer`
/// (RFC 3261 §18.2.2, RFC 3581 §4), read from the top Via of `resp`:
/// 1. reliable transport: back over the same connection;
/// 2. `maddr`: that address (only if it is an IP address; we resolve no names), sent-by port;
/// 3. `rport` filled in: `received` address and that port;
/// 4. `received`: that address and the sent-by port (default 5060);
/// 5. otherwise sent-by, if it is an IP address; a host name falls back to the source
///    address, because the sans-IO core resolves no names.
pub fn response_target(resp: &Response, peer: &Peer) -> Peer {
    if peer.is_reliable() {
        return *peer;
    }
    let Ok(via) = resp.top_via_view() else { return *peer };
    let sent_by_port = via.sent_by_port_or_default();
    let remote = if let Some(maddr_ip) = via.maddr().and_then(parse_ip) {
        SocketAddr::new(maddr_ip, sent_by_port)
    } else if let (Some(Some(rport)), Some(received_ip)) = (via.rport(), via.received().and_then(parse_ip)) {
        SocketAddr::new(received_ip, rport)
    } else if let Some(received_ip) = via.received().and_then(parse_ip) {
        SocketAddr::new(received_ip, sent_by_port)
    } else if let Some(sent_by_ip) = parse_ip(via.host()) {
        SocketAddr::new(sent_by_ip, sent_by_port)
    } else {
        peer.remote
    };
    Peer { remote, ..*peer }
}

/// An IP address from a Via or URI host (IPv6 in brackets or bare).
fn parse_ip(host: &str) -> Option<IpAddr> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::msg::{HeaderName, Method};

    fn request_with_via(via: &str) -> Request {
        let mut req = Request::new(Method::Invite, "sip:14036@gemeente.example");
        req.headers.push(HeaderName::Via, via.to_string());
        req.headers.push(HeaderName::CallId, "c1");
        req.headers.push(HeaderName::Via, "SIP/2.0/UDP proxy.example;branch=z9hG4bKp");
        req
    }

    fn udp_from(remote: &str) -> Peer {
        Peer::udp("192.0.2.1:5060".parse().expect("addr"), remote.parse().expect("addr"))
    }

    #[test]
    fn received_added_only_when_sent_by_differs() {
        let mut same = request_with_via("SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKa");
        stamp_received(&mut same, &udp_from("198.51.100.7:5062"));
        assert_eq!(same.top_via().expect("via").received(), None);

        let mut named = request_with_via("SIP/2.0/UDP phone.example:5062;branch=z9hG4bKa");
        stamp_received(&mut named, &udp_from("198.51.100.7:5062"));
        assert_eq!(named.top_via().expect("via").received(), Some("198.51.100.7"));
        // Field order is kept: Via, Call-ID, Via.
        let names: Vec<_> = named.headers.iter().map(|h| h.name.clone()).collect();
        assert_eq!(names, vec![HeaderName::Via, HeaderName::CallId, HeaderName::Via]);
        assert_eq!(named.vias().expect("vias").len(), 2);
    }

    #[test]
    fn rport_filled_and_received_always_added() {
        let mut req = request_with_via("SIP/2.0/UDP 198.51.100.7:5060;rport;branch=z9hG4bKa");
        stamp_received(&mut req, &udp_from("198.51.100.7:40000"));
        let via = req.top_via().expect("via");
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some("198.51.100.7"));
    }

    #[test]
    fn response_goes_to_rport_then_received_then_sent_by() {
        let peer = udp_from("203.0.113.9:40000");
        let mut req = request_with_via("SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKa");
        stamp_received(&mut req, &peer);
        let resp = Response::to_request(&req, 200, "OK");
        assert_eq!(response_target(&resp, &peer).remote, "203.0.113.9:40000".parse().expect("addr"));

        let mut req = request_with_via("SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKa");
        stamp_received(&mut req, &peer);
        let resp = Response::to_request(&req, 200, "OK");
        assert_eq!(response_target(&resp, &peer).remote, "203.0.113.9:5070".parse().expect("addr"));

        let req = request_with_via("SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKa");
        let resp = Response::to_request(&req, 200, "OK");
        assert_eq!(response_target(&resp, &peer).remote, "203.0.113.9:5060".parse().expect("addr"));

        let req = request_with_via("SIP/2.0/UDP 10.0.0.5;maddr=239.1.1.1;branch=z9hG4bKa");
        let resp = Response::to_request(&req, 200, "OK");
        assert_eq!(response_target(&resp, &peer).remote, "239.1.1.1:5060".parse().expect("addr"));
    }

    #[test]
    fn reliable_response_reuses_connection() {
        let peer = Peer::tcp(
            "192.0.2.1:5060".parse().expect("addr"),
            "203.0.113.9:40000".parse().expect("addr"),
            Some(ConnectionId(4)),
        );
        let req = request_with_via("SIP/2.0/TCP 10.0.0.5:5070;branch=z9hG4bKa");
        let resp = Response::to_request(&req, 180, "Ringing");
        assert_eq!(response_target(&resp, &peer), peer);
    }
}
