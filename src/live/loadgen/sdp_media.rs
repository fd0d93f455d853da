//! The SDP side of the load generator's phones: putting a phone's real RTP port into the
//! SDP its SIP message carries, and reading where the daemon wants RTP.
//!
//! The simulated phones of [`crate::traffic::phones`] write a fixed placeholder port (the
//! replay has no sockets); rather than teach them about sockets, the load generator
//! rewrites the `m=audio` port of each outgoing message that carries SDP. Retransmissions
//! carry the same bytes, so they get the same port.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::media::sdp::{self, Codec};
use crate::sip::msg::{self, Message};

/// Where and how to send RTP to the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteMedia {
    /// The daemon's RTP address (c= and m=audio port).
    pub addr: SocketAddr,
    /// Payload type of the audio codec to send.
    pub audio_pt: u8,
    /// Payload type of RFC 4733 telephone-event, when the daemon takes it.
    pub telephone_event_pt: Option<u8>,
}

/// True when `bytes` (a SIP message) carries an audio description.
pub fn has_audio_sdp(bytes: &[u8]) -> bool {
    bytes.windows(b"m=audio ".len()).any(|window| window == b"m=audio ")
}

/// `bytes` with the port of every `m=audio` line set to `port` (Content-Length follows);
/// the bytes unchanged when they do not parse.
pub fn with_rtp_port(bytes: Bytes, port: u16) -> Bytes {
    let Ok(mut message) = msg::parse(bytes.clone()) else { return bytes };
    let body = match &message {
        Message::Request(request) => &request.body,
        Message::Response(response) => &response.body,
    };
    let text = String::from_utf8_lossy(body);
    let rewritten: String = text
        .split_inclusive("\r\n")
        .map(|line| match line.strip_prefix("m=audio ") {
            Some(rest) => {
                let after_port = rest.split_once(' ').map_or("\r\n", |(_, tail)| tail);
                let separator = if after_port == "\r\n" { "" } else { " " };
                format!("m=audio {port}{separator}{after_port}")
            }
            None => line.to_string(),
        })
        .collect();
    let body = Bytes::from(rewritten);
    match &mut message {
        Message::Request(request) => request.body = body,
        Message::Response(response) => response.body = body,
    }
    message.to_bytes()
}

/// The daemon's media in an SDP answer or offer it sent: PCMA (8) preferred over PCMU
/// when both are listed, else the first codec we speak.
pub fn remote_media(body: &[u8]) -> Option<RemoteMedia> {
    let text = std::str::from_utf8(body).ok()?;
    let negotiated = sdp::parse_answer(text).ok()?;
    let addr = negotiated.remote_rtp?;
    let description = sdp::parse(text).ok()?;
    let offers_pcma = description
        .media
        .iter()
        .filter(|media| media.media.eq_ignore_ascii_case("audio"))
        .any(|media| media.formats.iter().any(|format| format == "8"));
    let audio_pt = if offers_pcma { Codec::Pcma.static_payload_type() } else { negotiated.payload_type };
    Some(RemoteMedia { addr, audio_pt, telephone_event_pt: negotiated.telephone_event_pt })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

    fn offer() -> String {
        format!(
            "INVITE sip:14010@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK-1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:14010@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER_SDP}",
            OFFER_SDP.len()
        )
    }

    #[test]
    fn the_port_is_replaced_and_the_length_follows() {
        let rewritten = with_rtp_port(Bytes::from(offer()), 45_678);
        let Ok(Message::Request(request)) = msg::parse(rewritten) else { panic!("rewritten message parses") };
        let body = String::from_utf8_lossy(&request.body).into_owned();
        assert!(body.contains("m=audio 45678 RTP/AVP 8 0 101\r\n"), "{body}");
        assert!(!body.contains("6000"), "{body}");
        assert!(body.ends_with("telephone-event/8000\r\n"), "the rest of the body is kept: {body}");
    }

    #[test]
    fn remote_media_reads_address_codec_and_telephone_event() {
        let answer = "v=0\r\no=veertien 1 1 IN IP4 127.0.0.1\r\ns=veertien\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
        let media = remote_media(answer.as_bytes()).expect("usable SDP");
        assert_eq!(media.addr, "127.0.0.1:20002".parse().expect("literal"));
        assert_eq!(media.audio_pt, 8, "PCMA preferred");
        assert_eq!(media.telephone_event_pt, Some(101));
    }

    #[test]
    fn pcmu_only_gives_pcmu() {
        let answer = "v=0\r\no=veertien 1 1 IN IP4 127.0.0.1\r\ns=veertien\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 0\r\n";
        assert_eq!(remote_media(answer.as_bytes()).map(|media| media.audio_pt), Some(0));
    }
}
