//! SDP (RFC 4566) offer/answer (RFC 3264) for audio calls: what a SIP phone or trunk
//! sends, parsed tolerantly and never panicking. We answer with G.711 (PCMA preferred, as
//! Dutch networks use A-law; PCMU accepted) and RFC 4733 telephone-event.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Why an offer or answer is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// No `v=`/`m=` structure we can read.
    #[error("malformed sdp: {0}")]
    Malformed(&'static str),
    /// No audio stream, or none with a codec we speak; the engine answers 488.
    #[error("no common audio codec")]
    NoCommonCodec,
}

/// The codecs we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// G.711 µ-law, static payload type 0.
    Pcmu,
}

/// Media direction attributes (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer takes for an offered direction (RFC 3264 §6.1).
    fn mirrored(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }
}

/// Our side of a media session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    pub ip: IpAddr,
    pub rtp_port: u16,
    pub session_id: u64,
    pub session_version: u64,
}

/// What offer and answer agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP; `None` when the peer holds (`c=0.0.0.0`) or disabled the stream.
    pub remote_rtp: Option<SocketAddr>,
    /// Our direction.
    pub direction: Direction,
    pub ptime_ms: u32,
}

/// One `m=` section as offered.
#[derive(Debug, Default)]
struct MediaSection {
    kind: String,
    port: u16,
    protocol: String,
    formats: Vec<String>,
    connection: Option<IpAddr>,
    rtpmaps: Vec<(u8, String)>,
    direction: Option<Direction>,
    ptime_ms: Option<u32>,
}

/// A parsed session description (only what audio negotiation needs).
#[derive(Debug, Default)]
struct SessionDescription {
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    media: Vec<MediaSection>,
}

/// `c=IN IP4 addr` → addr (a `/ttl` suffix is dropped).
fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_whitespace();
    let (_net, _family, address) = (parts.next()?, parts.next()?, parts.next()?);
    address.split('/').next()?.parse().ok()
}

fn parse_direction(attribute: &str) -> Option<Direction> {
    match attribute {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    }
}

fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut session = SessionDescription::default();
    let mut saw_version = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((kind, value)) = line.split_once('=') else { continue };
        match (kind, session.media.last_mut()) {
            ("v", _) => saw_version = true,
            ("m", _) => {
                let mut parts = value.split_whitespace();
                let kind = parts.next().unwrap_or_default().to_string();
                let port = parts.next().and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok());
                let Some(port) = port else { return Err(SdpError::Malformed("m= line without a port")) };
                let protocol = parts.next().unwrap_or_default().to_string();
                let formats = parts.map(str::to_string).collect();
                session.media.push(MediaSection { kind, port, protocol, formats, ..MediaSection::default() });
            }
            ("c", None) => session.connection = parse_connection(value),
            ("c", Some(media)) => media.connection = parse_connection(value),
            ("a", media) => {
                let (name, attribute_value) = value.split_once(':').unwrap_or((value, ""));
                match (name, media) {
                    (_, None) => session.direction = parse_direction(name).or(session.direction),
                    ("rtpmap", Some(media)) => {
                        let mut parts = attribute_value.splitn(2, ' ');
                        let pt = parts.next().and_then(|pt| pt.trim().parse().ok());
                        if let (Some(pt), Some(encoding)) = (pt, parts.next()) {
                            media.rtpmaps.push((pt, encoding.trim().to_ascii_lowercase()));
                        }
                    }
                    ("ptime", Some(media)) => media.ptime_ms = attribute_value.trim().parse().ok(),
                    (_, Some(media)) => media.direction = parse_direction(name).or(media.direction),
                }
            }
            _ => {}
        }
    }
    if !saw_version {
        return Err(SdpError::Malformed("no v= line"));
    }
    Ok(session)
}

/// The encoding of payload type `pt` in `media`: its rtpmap, or the static table of
/// RFC 3551 §6 for 0 and 8, which need no rtpmap.
fn encoding(media: &MediaSection, pt: u8) -> Option<String> {
    if let Some((_, encoding)) = media.rtpmaps.iter().find(|(mapped, _)| *mapped == pt) {
        return Some(encoding.clone());
    }
    match pt {
        0 => Some("pcmu/8000".into()),
        8 => Some("pcma/8000".into()),
        _ => None,
    }
}

/// Chooses our codec and telephone-event from an audio section.
fn choose(media: &MediaSection) -> Option<(Codec, u8, Option<u8>)> {
    let offered: Vec<(u8, String)> = media
        .formats
        .iter()
        .filter_map(|format| format.parse::<u8>().ok())
        .filter_map(|pt| encoding(media, pt).map(|encoding| (pt, encoding)))
        .collect();
    let find = |name: &str| offered.iter().find(|(_, encoding)| encoding.starts_with(name)).map(|(pt, _)| *pt);
    let (codec, pt) = match (find("pcma/8000"), find("pcmu/8000")) {
        (Some(pt), _) => (Codec::Pcma, pt),
        (None, Some(pt)) => (Codec::Pcmu, pt),
        (None, None) => return None,
    };
    Some((codec, pt, find("telephone-event/8000")))
}

fn remote_address(session: &SessionDescription, media: &MediaSection) -> Option<SocketAddr> {
    let ip = media.connection.or(session.connection)?;
    (!ip.is_unspecified() && media.port != 0).then_some(SocketAddr::new(ip, media.port))
}

fn write_session_header(out: &mut String, local: &LocalMedia) {
    let family = if local.ip.is_ipv4() { "IP4" } else { "IP6" };
    let _ = write!(
        out,
        "v=0\r\no=veertien {} {} IN {family} {}\r\ns=veertien\r\nc=IN {family} {}\r\nt=0 0\r\n",
        local.session_id, local.session_version, local.ip, local.ip
    );
}

fn write_audio(out: &mut String, port: u16, codecs: &[(u8, &str)], telephone_event: Option<u8>, direction: Direction) {
    let mut formats: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    formats.extend(telephone_event.map(|pt| pt.to_string()));
    let _ = write!(out, "m=audio {port} RTP/AVP {}\r\n", formats.join(" "));
    for (pt, name) in codecs {
        let _ = write!(out, "a=rtpmap:{pt} {name}/8000\r\n");
    }
    if let Some(pt) = telephone_event {
        let _ = write!(out, "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n");
    }
    let _ = write!(out, "a=ptime:20\r\na={}\r\n", direction.attribute());
}

/// Answers `offer` (RFC 3264 §6): the same m-lines in the same order, the first audio
/// stream accepted with one codec (and telephone-event if offered, keeping the offerer's
/// payload type numbers), every other stream rejected with port 0.
pub fn answer(offer: &str, local: &LocalMedia) -> Result<(String, Negotiated), SdpError> {
    let session = parse(offer)?;
    let mut out = String::with_capacity(256);
    write_session_header(&mut out, local);
    let mut negotiated = None;
    for media in &session.media {
        let usable = media.kind == "audio" && media.protocol.starts_with("RTP/AVP") && negotiated.is_none();
        match usable.then(|| choose(media)).flatten() {
            Some((codec, payload_type, telephone_event_pt)) => {
                let offered = media.direction.or(session.direction).unwrap_or(Direction::SendRecv);
                let direction = offered.mirrored();
                let name = if codec == Codec::Pcma { "PCMA" } else { "PCMU" };
                write_audio(&mut out, local.rtp_port, &[(payload_type, name)], telephone_event_pt, direction);
                negotiated = Some(Negotiated {
                    codec,
                    payload_type,
                    telephone_event_pt,
                    remote_rtp: remote_address(&session, media),
                    direction,
                    ptime_ms: media.ptime_ms.unwrap_or(20),
                });
            }
            None => {
                let formats = if media.formats.is_empty() { "0".to_string() } else { media.formats.join(" ") };
                let _ = write!(out, "m={} 0 {} {formats}\r\n", media.kind, media.protocol);
            }
        }
    }
    negotiated.map(|negotiated| (out, negotiated)).ok_or(SdpError::NoCommonCodec)
}

/// Our offer for an outgoing leg or a late-offer answer: PCMA, PCMU, telephone-event 101.
pub fn offer(local: &LocalMedia, direction: Direction) -> String {
    let mut out = String::with_capacity(256);
    write_session_header(&mut out, local);
    write_audio(&mut out, local.rtp_port, &[(8, "PCMA"), (0, "PCMU")], Some(101), direction);
    out
}

/// Reads the answer to our offer.
pub fn parse_answer(answer: &str) -> Result<Negotiated, SdpError> {
    let session = parse(answer)?;
    let media = session
        .media
        .iter()
        .find(|media| media.kind == "audio" && media.port != 0)
        .ok_or(SdpError::NoCommonCodec)?;
    let (codec, payload_type, telephone_event_pt) = choose(media).ok_or(SdpError::NoCommonCodec)?;
    Ok(Negotiated {
        codec,
        payload_type,
        telephone_event_pt,
        remote_rtp: remote_address(&session, media),
        direction: media.direction.or(session.direction).unwrap_or(Direction::SendRecv).mirrored(),
        ptime_ms: media.ptime_ms.unwrap_or(20),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalMedia {
        LocalMedia { ip: "127.0.0.1".parse().expect("literal"), rtp_port: 20000, session_id: 7, session_version: 1 }
    }

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn answers_sipp_default_offer_with_pcmu() {
        let (text, negotiated) = answer(SIPP_OFFER, &local()).expect("answer");
        assert_eq!(negotiated.codec, Codec::Pcmu);
        assert_eq!(negotiated.remote_rtp, Some("127.0.0.1:6000".parse().expect("literal")));
        assert!(text.contains("m=audio 20000 RTP/AVP 0\r\n"), "{text}");
    }

    #[test]
    fn prefers_pcma_and_keeps_offered_telephone_event_number() {
        let offer = "v=0\nc=IN IP4 127.0.0.1\nm=audio 7000 RTP/AVP 18 0 8 96\na=rtpmap:96 telephone-event/8000\n";
        let (text, negotiated) = answer(offer, &local()).expect("answer");
        assert_eq!((negotiated.codec, negotiated.payload_type), (Codec::Pcma, 8));
        assert_eq!(negotiated.telephone_event_pt, Some(96));
        assert!(text.contains("m=audio 20000 RTP/AVP 8 96"), "{text}");
    }

    #[test]
    fn rejects_video_and_mirrors_hold() {
        let offer = "v=0\nc=IN IP4 0.0.0.0\nm=video 5000 RTP/AVP 31\nm=audio 7000 RTP/AVP 8\na=sendonly\n";
        let (text, negotiated) = answer(offer, &local()).expect("answer");
        assert!(text.contains("m=video 0 RTP/AVP 31"), "{text}");
        assert_eq!(negotiated.direction, Direction::RecvOnly);
        assert_eq!(negotiated.remote_rtp, None, "c=0.0.0.0 means hold");
    }

    #[test]
    fn no_common_codec_and_garbage_are_errors() {
        let g729 = "v=0\nc=IN IP4 127.0.0.1\nm=audio 7000 RTP/AVP 18\n";
        assert_eq!(answer(g729, &local()).map(|_| ()), Err(SdpError::NoCommonCodec));
        assert!(answer("\u{0}garbage", &local()).is_err());
        assert!(answer("v=0\nm=audio notaport RTP/AVP 0\n", &local()).is_err());
    }

    #[test]
    fn our_offer_is_answerable() {
        let ours = offer(&local(), Direction::SendRecv);
        let negotiated = parse_answer(&ours).expect("our own offer parses as an answer");
        assert_eq!(negotiated.codec, Codec::Pcma);
        assert_eq!(negotiated.telephone_event_pt, Some(101));
    }
}
