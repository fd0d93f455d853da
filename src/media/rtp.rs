//! A zero-copy, bounds-checked view of an RTP packet (RFC 3550 §5.1) and its writer. The
//! view sits on the relay's hot path and sees whatever the network sends, so every length
//! field is checked against the buffer before it is used and parsing never panics.

use thiserror::Error;

/// The only RTP version in use (RFC 3550 §5.1).
const RTP_VERSION: u8 = 2;
/// The fixed header before CSRCs: flags, payload type, sequence, timestamp, SSRC.
const FIXED_HEADER_LEN: usize = 12;
/// The header-extension preamble: a 16-bit profile and a 16-bit length in words.
const EXTENSION_PREAMBLE_LEN: usize = 4;

/// Why bytes are not a usable RTP packet.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RtpError {
    /// Shorter than the fixed 12-byte header.
    #[error("packet of {len} bytes is shorter than the RTP header")]
    TooShort {
        /// The packet length.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC list runs past the end of the packet.
    #[error("CSRC list runs past the end of the packet")]
    CsrcOverrun,
    /// The header extension runs past the end of the packet.
    #[error("header extension runs past the end of the packet")]
    ExtensionOverrun,
    /// The padding count is zero or larger than the payload (RFC 3550 §5.1: P bit).
    #[error("invalid padding count {0}")]
    BadPadding(u8),
}

/// A parsed view over the bytes of one RTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeaderView<'a> {
    packet: &'a [u8],
    payload_start: usize,
    payload_end: usize,
}

impl<'a> RtpHeaderView<'a> {
    /// Checks `packet` and locates its payload; never panics, whatever the bytes.
    pub fn parse(packet: &'a [u8]) -> Result<Self, RtpError> {
        if packet.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort { len: packet.len() });
        }
        let version = packet[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let csrc_count = usize::from(packet[0] & 0x0f);
        let mut header_len = FIXED_HEADER_LEN + 4 * csrc_count;
        if header_len > packet.len() {
            return Err(RtpError::CsrcOverrun);
        }
        if packet[0] & 0x10 != 0 {
            // One-byte (0xBEDE, RFC 8285 §4.2) and two-byte (0x100x, §4.3) extensions share
            // this outer block; we relay and ignore their elements, so we only skip it.
            let preamble_end = header_len + EXTENSION_PREAMBLE_LEN;
            let preamble = packet.get(header_len..preamble_end).ok_or(RtpError::ExtensionOverrun)?;
            let length_words = usize::from(u16::from_be_bytes([preamble[2], preamble[3]]));
            header_len = preamble_end + 4 * length_words;
            if header_len > packet.len() {
                return Err(RtpError::ExtensionOverrun);
            }
        }
        let mut payload_end = packet.len();
        if packet[0] & 0x20 != 0 {
            let padding = packet[packet.len() - 1];
            let padding_len = usize::from(padding);
            if padding_len == 0 || padding_len > packet.len() - header_len {
                return Err(RtpError::BadPadding(padding));
            }
            payload_end -= padding_len;
        }
        Ok(RtpHeaderView { packet, payload_start: header_len, payload_end })
    }

    /// The version field (always 2 for a parsed view).
    pub fn version(&self) -> u8 {
        self.packet[0] >> 6
    }

    /// Whether the packet carries padding.
    pub fn padding(&self) -> bool {
        self.packet[0] & 0x20 != 0
    }

    /// Whether the packet carries a header extension.
    pub fn extension(&self) -> bool {
        self.packet[0] & 0x10 != 0
    }

    /// The number of CSRC identifiers.
    pub fn csrc_count(&self) -> u8 {
        self.packet[0] & 0x0f
    }

    /// The marker bit: the start of a talk spurt for audio (RFC 3551 §4.1).
    pub fn marker(&self) -> bool {
        self.packet[1] & 0x80 != 0
    }

    /// The payload type.
    pub fn payload_type(&self) -> u8 {
        self.packet[1] & 0x7f
    }

    /// The sequence number.
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.packet[2], self.packet[3]])
    }

    /// The media timestamp (8 kHz units for G.711 and telephone-event).
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.packet[4], self.packet[5], self.packet[6], self.packet[7]])
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.packet[8], self.packet[9], self.packet[10], self.packet[11]])
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let end = FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count());
        self.packet[FIXED_HEADER_LEN..end]
            .chunks_exact(4)
            .map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
    }

    /// The payload without header, extension and padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.packet[self.payload_start..self.payload_end]
    }
}

/// The header fields we write; we never send CSRCs, extensions or padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// The marker bit.
    pub marker: bool,
    /// The payload type (7 bits; higher bits are dropped).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: u32,
}

/// Appends an RTP packet with `header` and `payload` to `buf`.
pub fn write_rtp(buf: &mut Vec<u8>, header: &RtpHeader, payload: &[u8]) {
    buf.reserve(FIXED_HEADER_LEN + payload.len());
    buf.push(RTP_VERSION << 6);
    buf.push((u8::from(header.marker) << 7) | (header.payload_type & 0x7f));
    buf.extend_from_slice(&header.sequence.to_be_bytes());
    buf.extend_from_slice(&header.timestamp.to_be_bytes());
    buf.extend_from_slice(&header.ssrc.to_be_bytes());
    buf.extend_from_slice(payload);
}

/// Whether `packet` is RTCP rather than RTP on a multiplexed port (RFC 5761 §4): RTCP
/// packet types 192-223 occupy the second byte where RTP has marker + payload type 64-95,
/// a payload type range RTP must not use when multiplexing. The defined types (SR, RR,
/// SDES, BYE, APP) are 200-204.
pub fn is_rtcp(packet: &[u8]) -> bool {
    match packet {
        [first, second, ..] => first >> 6 == RTP_VERSION && (192..=223).contains(second),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RtpHeader {
        RtpHeader { marker: true, payload_type: 8, sequence: 0xfffe, timestamp: 0x8000_0001, ssrc: 0xdead_beef }
    }

    #[test]
    fn write_then_parse_round_trips() {
        let mut buf = Vec::new();
        write_rtp(&mut buf, &header(), &[1, 2, 3]);
        let view = RtpHeaderView::parse(&buf).expect("valid");
        assert_eq!(view.version(), 2);
        assert!(view.marker());
        assert!(!view.padding() && !view.extension());
        assert_eq!(view.payload_type(), 8);
        assert_eq!(view.sequence(), 0xfffe);
        assert_eq!(view.timestamp(), 0x8000_0001);
        assert_eq!(view.ssrc(), 0xdead_beef);
        assert_eq!(view.payload(), &[1, 2, 3]);
        assert_eq!(view.csrcs().count(), 0);
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut packet = vec![0x80 | 0x20 | 0x10 | 2, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        packet.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 11]); // two CSRCs
        packet.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]); // one-byte extension, 1 word
        packet.extend_from_slice(&[9, 9]); // payload
        packet.extend_from_slice(&[0, 0, 3]); // padding of 3
        let view = RtpHeaderView::parse(&packet).expect("valid");
        assert_eq!(view.csrcs().collect::<Vec<_>>(), [10, 11]);
        assert_eq!(view.payload(), &[9, 9]);
    }

    #[test]
    fn two_byte_extension_profile_is_skipped() {
        let mut packet = vec![0x90, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        packet.extend_from_slice(&[0x10, 0x00, 0, 2, 1, 3, 7, 7, 7, 0, 0, 0]);
        packet.push(42);
        assert_eq!(RtpHeaderView::parse(&packet).expect("valid").payload(), &[42]);
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        assert_eq!(RtpHeaderView::parse(&[0x80; 11]), Err(RtpError::TooShort { len: 11 }));
        assert_eq!(RtpHeaderView::parse(&[0x40; 12]), Err(RtpError::BadVersion(1)));
        assert_eq!(RtpHeaderView::parse(&[0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err(RtpError::CsrcOverrun));
        let extension_too_long = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1];
        assert_eq!(RtpHeaderView::parse(&extension_too_long), Err(RtpError::ExtensionOverrun));
        let no_preamble = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe];
        assert_eq!(RtpHeaderView::parse(&no_preamble), Err(RtpError::ExtensionOverrun));
        let mut zero_padding = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(RtpHeaderView::parse(&zero_padding), Err(RtpError::BadPadding(0)));
        zero_padding[13] = 3;
        assert_eq!(RtpHeaderView::parse(&zero_padding), Err(RtpError::BadPadding(3)));
        zero_padding[13] = 2;
        assert_eq!(RtpHeaderView::parse(&zero_padding).expect("valid").payload(), &[] as &[u8]);
    }

    #[test]
    fn rtcp_is_told_apart_from_rtp() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 203, 0, 1]));
        let mut rtp = Vec::new();
        write_rtp(&mut rtp, &header(), &[]);
        assert!(!is_rtcp(&rtp));
        // PCMU with the marker bit is 0x80 in the second byte: RTP, not RTCP.
        assert!(!is_rtcp(&[0x80, 0x80, 0, 1]));
        assert!(!is_rtcp(&[0x80]));
        assert!(!is_rtcp(&[0x00, 200]));
    }
}
