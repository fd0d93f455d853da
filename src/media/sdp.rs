//! SDP (RFC 4566) for what SIP phones send, and the offer/answer rules of RFC 3264 for
//! one audio stream. We parse only the lines we act on and skip everything else, because
//! phones add vendor attributes freely and an unknown line must never fail a call.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use thiserror::Error;

/// The RTP profile we speak: plain RTP/AVP (no SRTP, no feedback profile).
const PROFILE_RTP_AVP: &str = "RTP/AVP";
/// The ptime when the offer names none (RFC 3551 §4.5: 20 ms for G.711).
const DEFAULT_PTIME_MS: u32 = 20;
/// The payload type we offer for telephone-event on outgoing legs.
const OFFER_TELEPHONE_EVENT_PT: u8 = 101;
/// The RFC 4733 events we receive: digits 0-9, *, #, A-D and flash.
const TELEPHONE_EVENTS: &str = "0-16";

/// The audio codecs we speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 A-law, the codec of European networks (our first preference).
    Pcma,
    /// G.711 µ-law.
    Pcmu,
}

impl Codec {
    /// The static payload type of RFC 3551 §6.
    pub const fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcma => 8,
            Codec::Pcmu => 0,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
        }
    }

    /// Our preference order: A-law first, as Dutch networks use A-law.
    const PREFERENCE: [Codec; 2] = [Codec::Pcma, Codec::Pcmu];
}

/// The direction of a media stream (RFC 3264 §5.1), seen from the side that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Both send and receive (the default when no attribute is present).
    #[default]
    SendRecv,
    /// Only send.
    SendOnly,
    /// Only receive.
    RecvOnly,
    /// Neither send nor receive.
    Inactive,
}

impl Direction {
    /// The direction the other side must use (RFC 3264 §6.1: sendonly is answered with
    /// recvonly, recvonly with sendonly; sendrecv and inactive stay as they are).
    pub const fn mirrored(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// The attribute name (`sendrecv`, ...).
    pub const fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// Our side of a media session: where we receive RTP and the `o=` line identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address we receive RTP on.
    pub ip: IpAddr,
    /// The port we receive RTP on (RTCP on the next port).
    pub rtp_port: u16,
    /// The `o=` session id, stable for the dialog.
    pub session_id: u64,
    /// The `o=` session version; the caller increments it for each changed description.
    pub session_version: u64,
}

/// The outcome of an offer/answer exchange, seen from our side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec both sides use.
    pub codec: Codec,
    /// The payload type that carries `codec`.
    pub payload_type: u8,
    /// The payload type of RFC 4733 telephone-event, when the peer supports it.
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP; `None` when the peer is on hold (c=0.0.0.0) or gave port 0.
    pub remote_rtp: Option<SocketAddr>,
    /// Our direction: `RecvOnly` means we only receive (the peer put us on hold).
    pub direction: Direction,
    /// The packet duration the peer wants to receive.
    pub ptime_ms: u32,
}

/// Why a session description could not be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// A `c=` or `m=` line does not follow RFC 4566.
    #[error("malformed SDP line {line_number} ({kind}=): {reason}")]
    Malformed {
        /// 1-based line number.
        line_number: usize,
        /// The line type character.
        kind: char,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The description has no `v=` line first.
    #[error("SDP does not start with v=0")]
    MissingVersion,
    /// No audio stream with a codec we speak (the engine answers 488 Not Acceptable Here).
    #[error("no common audio codec")]
    NoCommonCodec,
    /// The accepted audio stream has no connection address at either level.
    #[error("audio stream has no connection address")]
    MissingConnection,
}

/// The `o=` line (RFC 4566 §5.2), kept as text because we only compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The user name (often `-`).
    pub username: String,
    /// The session id.
    pub session_id: String,
    /// The session version; a re-offer with the same version changes nothing.
    pub session_version: String,
    /// The address of the machine that created the session.
    pub address: String,
}

/// An `a=rtpmap` entry (RFC 4566 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type it maps.
    pub payload_type: u8,
    /// The encoding name, e.g. `PCMA` or `telephone-event`.
    pub encoding: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
}

/// One `m=` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type (`audio`, `video`, ...).
    pub media: String,
    /// The transport port; 0 disables the stream.
    pub port: u16,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub protocol: String,
    /// The format list exactly as offered (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// The media-level `c=` address, if any.
    pub connection: Option<IpAddr>,
    /// The `a=rtpmap` entries.
    pub rtpmaps: Vec<RtpMap>,
    /// The `a=fmtp` entries as (payload type, parameters).
    pub fmtps: Vec<(u8, String)>,
    /// The `a=ptime` value.
    pub ptime_ms: Option<u32>,
    /// The media-level direction attribute.
    pub direction: Option<Direction>,
    /// The `a=rtcp` port (RFC 3605).
    pub rtcp_port: Option<u16>,
}

impl MediaDescription {
    /// The codec carried by payload type `pt`: the rtpmap when present, else the static
    /// table of RFC 3551 (types 0 and 8 need no rtpmap line).
    fn codec_of(&self, pt: u8) -> Option<Codec> {
        if let Some(map) = self.rtpmaps.iter().find(|m| m.payload_type == pt) {
            if map.clock_rate != 8000 {
                return None;
            }
            return Codec::PREFERENCE.into_iter().find(|c| map.encoding.eq_ignore_ascii_case(c.encoding_name()));
        }
        Codec::PREFERENCE.into_iter().find(|c| c.static_payload_type() == pt)
    }

    /// The offered payload types that parse as numbers, in offer order.
    fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| f.parse::<u8>().ok()).filter(|pt| *pt < 128)
    }

    /// The 8 kHz telephone-event payload type among the formats.
    fn telephone_event_pt(&self) -> Option<u8> {
        self.payload_types().find(|pt| {
            self.rtpmaps.iter().any(|m| {
                m.payload_type == *pt && m.clock_rate == 8000 && m.encoding.eq_ignore_ascii_case("telephone-event")
            })
        })
    }

    /// Whether this is an audio stream in a profile we speak, not disabled.
    fn is_usable_audio(&self) -> bool {
        self.media.eq_ignore_ascii_case("audio") && self.protocol == PROFILE_RTP_AVP && self.port != 0
    }
}

/// A parsed session description.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SessionDescription {
    /// The `o=` line.
    pub origin: Option<Origin>,
    /// The session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// The session-level direction attribute.
    pub direction: Option<Direction>,
    /// The `m=` sections in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// The direction of `media`: its own attribute, else the session's, else sendrecv.
    fn direction_of(&self, media: &MediaDescription) -> Direction {
        media.direction.or(self.direction).unwrap_or_default()
    }

    /// Where `media` wants RTP: `None` for port 0 or an unspecified (hold) address.
    fn remote_rtp_of(&self, media: &MediaDescription) -> Result<Option<SocketAddr>, SdpError> {
        let ip = media.connection.or(self.connection).ok_or(SdpError::MissingConnection)?;
        if ip.is_unspecified() || media.port == 0 {
            return Ok(None);
        }
        Ok(Some(SocketAddr::new(ip, media.port)))
    }
}

/// Whether an offer (a re-INVITE's) puts the other side on hold: its first audio stream
/// is `sendonly` or `inactive`, or has the RFC 2543 hold address `0.0.0.0` (RFC 3264 §8.4).
/// `None` when the text is no usable SDP (an empty re-INVITE body changes nothing).
pub fn holds(sdp: &str) -> Option<bool> {
    let description = parse(sdp).ok()?;
    let audio = description.media.iter().find(|media| media.media == "audio")?;
    let direction = description.direction_of(audio);
    let zero_address = audio.connection.or(description.connection).is_some_and(|ip| ip.is_unspecified());
    Some(matches!(direction, Direction::SendOnly | Direction::Inactive) || zero_address)
}

/// Parses a session description, skipping lines and attributes we do not act on.
pub fn parse(sdp: &str) -> Result<SessionDescription, SdpError> {
    let mut description = SessionDescription::default();
    let mut seen_version = false;
    for (index, raw_line) in sdp.split('\n').enumerate() {
        let line_number = index + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.trim().is_empty() {
            continue;
        }
        let mut chars = line.chars();
        let (Some(kind), Some('=')) = (chars.next(), chars.next()) else {
            // RFC 4566 §5 wants every line as <type>=<value>; a stray line is skipped.
            continue;
        };
        // `kind` may be any character in hostile input; slice after it, not at byte 2.
        let value = &line[kind.len_utf8() + 1..];
        let malformed = |reason| SdpError::Malformed { line_number, kind, reason };
        if !seen_version {
            if kind != 'v' || value.trim() != "0" {
                return Err(SdpError::MissingVersion);
            }
            seen_version = true;
            continue;
        }
        match kind {
            // We never act on o=, so a vendor's odd origin must not fail the call.
            'o' => description.origin = parse_origin(value),
            'c' => {
                let address = parse_connection(value).ok_or_else(|| malformed("expected IN IP4|IP6 <address>"))?;
                match description.media.last_mut() {
                    Some(media) => media.connection = Some(address),
                    None => description.connection = Some(address),
                }
            }
            'm' => description
                .media
                .push(parse_media(value).ok_or_else(|| malformed("expected <media> <port> <proto> <fmt>..."))?),
            'a' => {
                let (name, argument) = match value.split_once(':') {
                    Some((name, argument)) => (name, Some(argument)),
                    None => (value, None),
                };
                let name = name.trim();
                if let Some(direction) = Direction::from_attribute(name) {
                    match description.media.last_mut() {
                        Some(media) => media.direction = Some(direction),
                        None => description.direction = Some(direction),
                    }
                    continue;
                }
                // The remaining attributes we act on are media-level only. A malformed one is
                // skipped like an unknown one: a garbled rtpmap of a codec we do not speak must
                // not fail the call, and a garbled one of ours just leaves that type unmapped.
                let (Some(media), Some(argument)) = (description.media.last_mut(), argument) else {
                    continue;
                };
                match name {
                    "rtpmap" => media.rtpmaps.extend(parse_rtpmap(argument)),
                    "fmtp" => {
                        let (pt, parameters) = argument.split_once(' ').unwrap_or((argument, ""));
                        if let Ok(pt) = pt.trim().parse::<u8>() {
                            media.fmtps.push((pt, parameters.trim().to_owned()));
                        }
                    }
                    "ptime" => {
                        // Some phones send fractional ptime; we round down, a zero is ignored.
                        let whole = argument.trim().split('.').next().unwrap_or("");
                        media.ptime_ms = whole.parse::<u32>().ok().filter(|ms| *ms > 0);
                    }
                    "rtcp" => {
                        let port = argument.split_whitespace().next().unwrap_or("");
                        media.rtcp_port = port.parse::<u16>().ok();
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_version {
        return Err(SdpError::MissingVersion);
    }
    Ok(description)
}

fn parse_origin(value: &str) -> Option<Origin> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [username, session_id, session_version, _net_type, _addr_type, address] = fields.as_slice() else {
        return None;
    };
    Some(Origin {
        username: (*username).to_owned(),
        session_id: (*session_id).to_owned(),
        session_version: (*session_version).to_owned(),
        address: (*address).to_owned(),
    })
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut fields = value.split_whitespace();
    let (Some("IN"), Some(address_type), Some(address)) = (fields.next(), fields.next(), fields.next()) else {
        return None;
    };
    // Multicast addresses carry /ttl and /count suffixes (RFC 4566 §5.7).
    let address = address.split('/').next().unwrap_or(address);
    match address_type {
        "IP4" => address.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut fields = value.split_whitespace();
    let media = fields.next()?.to_owned();
    // A port may carry a /<number of ports> suffix.
    let port_field = fields.next()?;
    let port = port_field.split('/').next()?.parse::<u16>().ok()?;
    let protocol = fields.next()?.to_owned();
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    if formats.is_empty() {
        return None;
    }
    Some(MediaDescription {
        media,
        port,
        protocol,
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime_ms: None,
        direction: None,
        rtcp_port: None,
    })
}

fn parse_rtpmap(argument: &str) -> Option<RtpMap> {
    let (pt, encoding) = argument.trim().split_once(' ')?;
    let payload_type = pt.parse::<u8>().ok()?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next()?.to_owned();
    let clock_rate = parts.next()?.parse::<u32>().ok()?;
    Some(RtpMap { payload_type, encoding: name, clock_rate })
}

/// Answers `offer` for our side (RFC 3264 §6): the same m-lines in the same order, the
/// first usable audio stream accepted with PCMA (else PCMU) and telephone-event under the
/// offerer's payload type numbers, every other stream rejected with port 0.
pub fn answer(offer: &str, local: &LocalMedia) -> Result<(String, Negotiated), SdpError> {
    let offer = parse(offer)?;
    let mut negotiated = None;
    let mut media_sections = String::new();
    for media in &offer.media {
        let chosen = if negotiated.is_none() && media.is_usable_audio() { choose_codec(media) } else { None };
        let Some((codec, payload_type)) = chosen else {
            // RFC 3264 §6: a rejected stream keeps its m-line with port 0 and the offered formats.
            let _ = write!(media_sections, "m={} 0 {} {}\r\n", media.media, media.protocol, media.formats.join(" "));
            continue;
        };
        let offered_direction = offer.direction_of(media);
        let our_direction = offered_direction.mirrored();
        let telephone_event_pt = media.telephone_event_pt();
        write_audio_section(
            &mut media_sections,
            local.rtp_port,
            codec,
            payload_type,
            telephone_event_pt,
            our_direction,
        );
        negotiated = Some(Negotiated {
            codec,
            payload_type,
            telephone_event_pt,
            remote_rtp: offer.remote_rtp_of(media)?,
            direction: our_direction,
            ptime_ms: media.ptime_ms.unwrap_or(DEFAULT_PTIME_MS),
        });
    }
    let negotiated = negotiated.ok_or(SdpError::NoCommonCodec)?;
    let mut text = session_header(local);
    text.push_str(&media_sections);
    Ok((text, negotiated))
}

/// Our codec for an offered audio stream and the offerer's payload type for it.
fn choose_codec(media: &MediaDescription) -> Option<(Codec, u8)> {
    Codec::PREFERENCE
        .into_iter()
        .find_map(|codec| media.payload_types().find(|pt| media.codec_of(*pt) == Some(codec)).map(|pt| (codec, pt)))
}

/// An offer for an outgoing leg: PCMA, PCMU and telephone-event 101.
pub fn offer(local: &LocalMedia, direction: Direction) -> String {
    let mut text = session_header(local);
    let pcma = Codec::Pcma.static_payload_type();
    let pcmu = Codec::Pcmu.static_payload_type();
    let te = OFFER_TELEPHONE_EVENT_PT;
    let _ = write!(
        text,
        "m=audio {port} {PROFILE_RTP_AVP} {pcma} {pcmu} {te}\r\n\
         a=rtpmap:{pcma} PCMA/8000\r\n\
         a=rtpmap:{pcmu} PCMU/8000\r\n\
         a=rtpmap:{te} telephone-event/8000\r\n\
         a=fmtp:{te} {TELEPHONE_EVENTS}\r\n\
         a=ptime:{DEFAULT_PTIME_MS}\r\n\
         a={direction}\r\n",
        port = local.rtp_port,
        direction = direction.attribute(),
    );
    text
}

/// Reads the answer to our [`offer`]: the first accepted audio stream, with the first
/// codec in the answerer's list that we speak.
pub fn parse_answer(answer: &str) -> Result<Negotiated, SdpError> {
    let description = parse(answer)?;
    for media in description.media.iter().filter(|m| m.is_usable_audio()) {
        let Some((codec, payload_type)) =
            media.payload_types().find_map(|pt| media.codec_of(pt).map(|codec| (codec, pt)))
        else {
            continue;
        };
        return Ok(Negotiated {
            codec,
            payload_type,
            telephone_event_pt: media.telephone_event_pt(),
            remote_rtp: description.remote_rtp_of(media)?,
            direction: description.direction_of(media).mirrored(),
            ptime_ms: media.ptime_ms.unwrap_or(DEFAULT_PTIME_MS),
        });
    }
    Err(SdpError::NoCommonCodec)
}

fn address_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// The session-level lines shared by offers and answers.
fn session_header(local: &LocalMedia) -> String {
    let address_type = address_type(local.ip);
    format!(
        "v=0\r\n\
         o=veertien {} {} IN {address_type} {ip}\r\n\
         s=veertien\r\n\
         c=IN {address_type} {ip}\r\n\
         t=0 0\r\n",
        local.session_id,
        local.session_version,
        ip = crate::core::addr_text::IpText(local.ip),
    )
}

fn write_audio_section(
    out: &mut String,
    rtp_port: u16,
    codec: Codec,
    payload_type: u8,
    telephone_event_pt: Option<u8>,
    direction: Direction,
) {
    let _ = write!(out, "m=audio {rtp_port} {PROFILE_RTP_AVP} {payload_type}");
    if let Some(te) = telephone_event_pt {
        let _ = write!(out, " {te}");
    }
    let _ = write!(out, "\r\na=rtpmap:{payload_type} {}/8000\r\n", codec.encoding_name());
    if let Some(te) = telephone_event_pt {
        let _ = write!(out, "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} {TELEPHONE_EVENTS}\r\n");
    }
    let _ = write!(out, "a=ptime:{DEFAULT_PTIME_MS}\r\na={}\r\n", direction.attribute());
}

#[cfg(test)]
mod tests {
    #[test]
    fn hold_is_sendonly_inactive_or_the_zero_address() {
        let base = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";
        assert_eq!(holds(base), Some(false));
        assert_eq!(holds(&format!("{base}a=sendonly\r\n")), Some(true));
        assert_eq!(holds(&format!("{base}a=inactive\r\n")), Some(true));
        assert_eq!(holds(&format!("{base}a=recvonly\r\n")), Some(false));
        assert_eq!(holds(&base.replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0")), Some(true));
        assert_eq!(holds(""), None);
    }

    use super::*;

    fn local() -> LocalMedia {
        LocalMedia { ip: "192.0.2.10".parse().expect("literal"), rtp_port: 40000, session_id: 77, session_version: 1 }
    }

    /// What SIPp's built-in uac scenario sends: PCMU only, static type without rtpmap.
    const SIPP_UAC: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    /// A baresip-style offer: opus first, both G.711 laws, telephone-event on 101.
    const BARESIP: &str = "v=0\r\no=- 1803741207 2389137580 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 10372 RTP/AVP 96 0 8 101\r\nb=AS:64\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtcp-mux\r\na=ssrc:1234 cname:abc\r\na=sendrecv\r\nm=video 10374 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n";

    /// A Cisco-style offer: many codecs, static types without rtpmap, dynamic DTMF type.
    const CISCO: &str = "v=0\no=CiscoSystemsCCM-SIP 2000 1 IN IP4 203.0.113.5\ns=SIP Call\nc=IN IP4 203.0.113.5\nb=TIAS:64000\nt=0 0\nm=audio 24580 RTP/AVP 9 0 8 18 116 118 100\nb=TIAS:64000\na=rtpmap:9 G722/8000\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\na=rtpmap:116 iLBC/8000\na=rtpmap:118 L16/16000\na=rtpmap:100 telephone-event/8000\na=fmtp:100 0-15\na=ptime:20\na=rtcp:24581\nx-vendor-line: ignored\n";

    const HOLD_OLD_STYLE: &str =
        "v=0\r\no=- 1 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 10372 RTP/AVP 8\r\n";

    const HOLD_SENDONLY: &str = "v=0\r\no=- 1 3 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 10372 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";

    #[test]
    fn sipp_offer_gets_pcmu_static() {
        let (text, negotiated) = answer(SIPP_UAC, &local()).expect("acceptable");
        assert_eq!(negotiated.codec, Codec::Pcmu);
        assert_eq!(negotiated.payload_type, 0);
        assert_eq!(negotiated.telephone_event_pt, None);
        assert_eq!(negotiated.remote_rtp, Some("127.0.0.1:6000".parse().expect("literal")));
        assert_eq!(negotiated.direction, Direction::SendRecv);
        assert_eq!(negotiated.ptime_ms, 20);
        assert!(text.contains("m=audio 40000 RTP/AVP 0\r\n"), "{text}");
        assert!(text.contains("c=IN IP4 192.0.2.10\r\n"));
        assert!(text.contains("o=veertien 77 1 IN IP4 192.0.2.10\r\n"));
        assert!(text.ends_with("a=sendrecv\r\n"));
    }

    #[test]
    fn baresip_offer_prefers_pcma_and_rejects_video() {
        let (text, negotiated) = answer(BARESIP, &local()).expect("acceptable");
        assert_eq!(negotiated.codec, Codec::Pcma);
        assert_eq!(negotiated.payload_type, 8);
        assert_eq!(negotiated.telephone_event_pt, Some(101));
        let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(m_lines, ["m=audio 40000 RTP/AVP 8 101", "m=video 0 RTP/AVP 97"]);
    }

    #[test]
    fn cisco_offer_static_types_without_rtpmap_and_offerers_dtmf_type() {
        let (text, negotiated) = answer(CISCO, &local()).expect("acceptable");
        assert_eq!((negotiated.codec, negotiated.payload_type), (Codec::Pcma, 8));
        assert_eq!(negotiated.telephone_event_pt, Some(100));
        assert!(text.contains("a=rtpmap:100 telephone-event/8000\r\n"));
        let parsed = parse(CISCO).expect("parses");
        assert_eq!(parsed.media[0].rtcp_port, Some(24581));
        assert_eq!(parsed.media[0].ptime_ms, Some(20));
        assert_eq!(parsed.origin.as_ref().map(|o| o.session_version.as_str()), Some("1"));
    }

    #[test]
    fn dynamic_type_for_pcma_is_kept() {
        let offer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 120\r\na=rtpmap:120 pcma/8000\r\n";
        let (_, negotiated) = answer(offer, &local()).expect("acceptable");
        assert_eq!((negotiated.codec, negotiated.payload_type), (Codec::Pcma, 120));
    }

    #[test]
    fn hold_offers() {
        let (_, negotiated) = answer(HOLD_OLD_STYLE, &local()).expect("acceptable");
        assert_eq!(negotiated.remote_rtp, None);
        let (text, negotiated) = answer(HOLD_SENDONLY, &local()).expect("acceptable");
        assert_eq!(negotiated.direction, Direction::RecvOnly);
        assert!(text.contains("a=recvonly\r\n"));
        assert_eq!(negotiated.remote_rtp, Some("198.51.100.7:10372".parse().expect("literal")));
    }

    #[test]
    fn media_level_connection_and_direction_override_session_level() {
        let offer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\na=inactive\r\nm=audio 5004 RTP/AVP 8\r\nc=IN IP4 198.51.100.99\r\na=recvonly\r\n";
        let (_, negotiated) = answer(offer, &local()).expect("acceptable");
        assert_eq!(negotiated.remote_rtp, Some("198.51.100.99:5004".parse().expect("literal")));
        assert_eq!(negotiated.direction, Direction::SendOnly);
        let session_only = offer.replace("a=recvonly\r\n", "");
        let (_, negotiated) = answer(&session_only, &local()).expect("acceptable");
        assert_eq!(negotiated.direction, Direction::Inactive);
    }

    #[test]
    fn no_common_codec_and_no_audio() {
        let g729_only = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(answer(g729_only, &local()), Err(SdpError::NoCommonCodec));
        let srtp_only = g729_only.replace("RTP/AVP 18", "RTP/SAVP 8");
        assert_eq!(answer(&srtp_only, &local()), Err(SdpError::NoCommonCodec));
        let video_only = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=video 5004 RTP/AVP 97\r\n";
        assert_eq!(answer(video_only, &local()), Err(SdpError::NoCommonCodec));
        // PCMA at the wrong clock rate is not PCMA we can play.
        let wideband = g729_only.replace("RTP/AVP 18", "RTP/AVP 96").replace("18 G729/8000", "96 PCMA/16000");
        assert_eq!(answer(&wideband, &local()), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn malformed_and_missing_lines() {
        assert_eq!(parse(""), Err(SdpError::MissingVersion));
        assert_eq!(parse("o=- 1 1 IN IP4 1.2.3.4\r\n"), Err(SdpError::MissingVersion));
        assert!(matches!(
            parse("v=0\r\nm=audio x RTP/AVP 0\r\n"),
            Err(SdpError::Malformed { line_number: 2, kind: 'm', .. })
        ));
        assert!(matches!(parse("v=0\r\nc=IN IP4 not-an-ip\r\n"), Err(SdpError::Malformed { kind: 'c', .. })));
        // Garbled lines we do not need are skipped, not fatal.
        let garbled = SIPP_UAC
            .replace("o=user1 53655765 2353687637 IN IP4 127.0.0.1", "o=broken")
            .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:zero\r\na=fmtp:x y\r\na=rtcp:none\r\n\u{fffd}=?");
        let (_, negotiated) = answer(&garbled, &local()).expect("still acceptable");
        assert_eq!(negotiated.codec, Codec::Pcmu);
        assert_eq!(parse(&garbled).expect("parses").origin, None);
        let no_connection = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8\r\n";
        assert_eq!(answer(no_connection, &local()), Err(SdpError::MissingConnection));
    }

    #[test]
    fn our_offer_round_trips_through_answer_and_parse_answer() {
        let text = offer(&local(), Direction::SendRecv);
        let peer = LocalMedia {
            ip: "198.51.100.20".parse().expect("literal"),
            rtp_port: 7078,
            session_id: 5,
            session_version: 9,
        };
        let (peer_answer, peer_view) = answer(&text, &peer).expect("we accept our own offer");
        assert_eq!(
            (peer_view.codec, peer_view.payload_type, peer_view.telephone_event_pt),
            (Codec::Pcma, 8, Some(101))
        );
        assert_eq!(peer_view.remote_rtp, Some("192.0.2.10:40000".parse().expect("literal")));
        let ours = parse_answer(&peer_answer).expect("acceptable answer");
        assert_eq!(ours.codec, Codec::Pcma);
        assert_eq!(ours.remote_rtp, Some("198.51.100.20:7078".parse().expect("literal")));
        assert_eq!(ours.direction, Direction::SendRecv);
        // An offer to put the peer on hold: the answer says recvonly, so we only send.
        let (hold_answer, _) = answer(&offer(&local(), Direction::SendOnly), &peer).expect("acceptable");
        assert_eq!(parse_answer(&hold_answer).expect("acceptable").direction, Direction::SendOnly);
    }

    #[test]
    fn parse_answer_takes_answerers_first_codec_and_rejected_stream() {
        let pcmu_first = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0 8\r\n";
        assert_eq!(parse_answer(pcmu_first).expect("acceptable").codec, Codec::Pcmu);
        let rejected = pcmu_first.replace("audio 5004", "audio 0");
        assert_eq!(parse_answer(&rejected), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn ipv6_local_media() {
        let local6 = LocalMedia { ip: "2001:db8::10".parse().expect("literal"), ..local() };
        let (text, _) = answer(SIPP_UAC, &local6).expect("acceptable");
        assert!(text.contains("c=IN IP6 2001:db8::10\r\n"));
    }
}
