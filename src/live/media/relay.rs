//! The relay fast path between bridged legs, and the one outgoing RTP stream per leg.
//!
//! A bridged packet never passes through the engine loop or another task: the receive
//! task of leg A rewrites it in its own buffer and sends it on leg B's socket to B's peer.
//! Each leg's peer sees a single stream (our SSRC, continuous sequence numbers and
//! timestamps, RFC 3550 §5.1) whether its audio comes from our prompts or from the other
//! leg: [`OutboundStream`] keeps the offset between the current source and that stream,
//! and recomputes it (with the marker bit, RFC 3551 §4.1) whenever the source changes.

use crate::engine::MediaFormat;
use crate::media::g711::transcode_in_place;
use crate::media::playout::SAMPLES_PER_FRAME;
use crate::media::rtp::RtpHeaderView;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::UdpSocket;

/// Samples per millisecond at the 8 kHz clock of G.711 and telephone-event.
const SAMPLES_PER_MS: u128 = 8;

/// Where the audio sent to a peer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// Our prompt playout, by its SSRC.
    Prompts(u32),
    /// The other leg of a bridge, by that peer's SSRC.
    Relay(u32),
}

/// The stream a leg's peer receives from us.
#[derive(Debug)]
pub(super) struct OutboundStream {
    ssrc: u32,
    source: Option<Source>,
    sequence_offset: u16,
    timestamp_offset: u32,
    last_sequence: u16,
    last_timestamp: u32,
    last_sent_at: Option<tokio::time::Instant>,
}

impl OutboundStream {
    /// A stream with our SSRC and random starting points (RFC 3550 §5.1).
    pub(super) fn new(random: u64) -> Self {
        OutboundStream {
            ssrc: (random >> 32) as u32,
            source: None,
            sequence_offset: 0,
            timestamp_offset: 0,
            last_sequence: (random >> 16) as u16,
            last_timestamp: random as u32 & 0x7fff_ffff,
            last_sent_at: None,
        }
    }

    /// Rewrites the fixed header of `packet` (already valid RTP from `source`) into this
    /// stream: SSRC, sequence number, timestamp, and the marker on a source change.
    pub(super) fn rewrite(&mut self, source: Source, packet: &mut [u8], now: tokio::time::Instant) {
        let sequence = u16::from_be_bytes([packet[2], packet[3]]);
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        if self.source != Some(source) {
            let elapsed_ms = self
                .last_sent_at
                .map_or(0, |at| now.saturating_duration_since(at).as_millis());
            let gap_samples = (elapsed_ms * SAMPLES_PER_MS).max(SAMPLES_PER_FRAME as u128) as u32;
            let next_timestamp = self.last_timestamp.wrapping_add(gap_samples);
            self.sequence_offset = self.last_sequence.wrapping_add(1).wrapping_sub(sequence);
            self.timestamp_offset = next_timestamp.wrapping_sub(timestamp);
            self.source = Some(source);
            packet[1] |= 0x80;
        }
        let sequence = sequence.wrapping_add(self.sequence_offset);
        let timestamp = timestamp.wrapping_add(self.timestamp_offset);
        packet[2..4].copy_from_slice(&sequence.to_be_bytes());
        packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.last_sequence = sequence;
        self.last_timestamp = timestamp;
        self.last_sent_at = Some(now);
    }
}

/// What other tasks may read or change about a leg, behind one short-held lock.
#[derive(Debug)]
pub(super) struct LegState {
    /// Where to send: the SDP address until the peer's first packet shows its real one.
    pub(super) peer: Option<SocketAddr>,
    /// Whether `peer` was learned from a packet (symmetric RTP) rather than from SDP.
    pub(super) peer_latched: bool,
    /// The address the peer's SDP gave, to tell a moved peer from a late first answer.
    pub(super) sdp_remote: Option<SocketAddr>,
    pub(super) format: Option<MediaFormat>,
    pub(super) outbound: OutboundStream,
    /// The other leg while bridged.
    pub(super) bridged_to: Option<Arc<Leg>>,
}

/// One media session as seen by the relay: its RTP socket and its shared state.
#[derive(Debug)]
pub(super) struct Leg {
    pub(super) rtp: Arc<UdpSocket>,
    state: Mutex<LegState>,
}

impl Leg {
    pub(super) fn new(rtp: Arc<UdpSocket>, state: LegState) -> Self {
        Leg {
            rtp,
            state: Mutex::new(state),
        }
    }

    /// The state; a task that panicked while holding the lock left it consistent enough
    /// (every field is written whole), so a poisoned lock is used as is.
    pub(super) fn state(&self) -> MutexGuard<'_, LegState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a bridged packet was not forwarded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RelayDrop {
    /// The other leg has no address or no negotiated format yet.
    NotReady,
    /// The payload type has no counterpart on the other leg (e.g. no telephone-event).
    NoPayloadMapping,
    /// The other leg's socket buffer is full or the send failed.
    SendFailed,
}

/// Forwards `packet` (valid RTP received on a leg with format `from`) to the peer of leg
/// `to`: payload type mapped, G.711 transcoded when the laws differ, header rewritten into
/// `to`'s outbound stream. Never awaits: a full socket buffer drops the packet, as the
/// network would.
pub(super) fn forward(
    from: MediaFormat,
    to: &Leg,
    packet: &mut [u8],
    now: tokio::time::Instant,
) -> Result<(), RelayDrop> {
    let Ok(view) = RtpHeaderView::parse(packet) else {
        return Err(RelayDrop::NoPayloadMapping);
    };
    let payload_type = view.payload_type();
    let source_ssrc = view.ssrc();
    let payload_start = view.payload().as_ptr() as usize - packet.as_ptr() as usize;
    let payload_end = payload_start + view.payload().len();
    let (destination, send_len) = {
        let mut state = to.state();
        let (Some(peer), Some(format)) = (state.peer, state.format) else {
            return Err(RelayDrop::NotReady);
        };
        let out_payload_type = if payload_type == from.payload_type {
            transcode_in_place(from.codec, format.codec, &mut packet[payload_start..payload_end]);
            format.payload_type
        } else if Some(payload_type) == from.telephone_event_pt {
            format.telephone_event_pt.ok_or(RelayDrop::NoPayloadMapping)?
        } else {
            return Err(RelayDrop::NoPayloadMapping);
        };
        packet[1] = (packet[1] & 0x80) | (out_payload_type & 0x7f);
        state.outbound.rewrite(Source::Relay(source_ssrc), packet, now);
        (peer, packet.len())
    };
    match to.rtp.try_send_to(&packet[..send_len], destination) {
        Ok(_) => Ok(()),
        Err(_) => Err(RelayDrop::SendFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{write_rtp, RtpHeader};
    use std::time::Duration;

    fn packet(sequence: u16, timestamp: u32, ssrc: u32) -> Vec<u8> {
        let mut buf = Vec::new();
        let header = RtpHeader {
            marker: false,
            payload_type: 8,
            sequence,
            timestamp,
            ssrc,
        };
        write_rtp(&mut buf, &header, &[0xd5; 160]);
        buf
    }

    fn fields(packet: &[u8]) -> (bool, u16, u32, u32) {
        let view = RtpHeaderView::parse(packet).expect("valid");
        (view.marker(), view.sequence(), view.timestamp(), view.ssrc())
    }

    #[test]
    fn a_source_switch_keeps_one_continuous_stream_with_a_marker() {
        let mut stream = OutboundStream::new(0x1111_2222_3333_4444);
        let start = tokio::time::Instant::now();
        let mut first = packet(100, 5000, 7);
        stream.rewrite(Source::Prompts(7), &mut first, start);
        let (marker, seq0, ts0, ssrc) = fields(&first);
        assert!(marker, "the first packet starts a talk spurt");
        assert_eq!(ssrc, 0x1111_2222);
        let mut second = packet(101, 5160, 7);
        stream.rewrite(Source::Prompts(7), &mut second, start + Duration::from_millis(20));
        assert_eq!(
            fields(&second),
            (false, seq0.wrapping_add(1), ts0.wrapping_add(160), ssrc)
        );
        // The agent's stream takes over 60 ms later with unrelated numbers.
        let mut relayed = packet(40_000, 9_999_999, 99);
        stream.rewrite(Source::Relay(99), &mut relayed, start + Duration::from_millis(80));
        assert_eq!(
            fields(&relayed),
            (true, seq0.wrapping_add(2), ts0.wrapping_add(160 + 480), ssrc)
        );
        let mut next = packet(40_001, 9_999_999 + 160, 99);
        stream.rewrite(Source::Relay(99), &mut next, start + Duration::from_millis(100));
        assert_eq!(
            fields(&next),
            (false, seq0.wrapping_add(3), ts0.wrapping_add(160 + 480 + 160), ssrc)
        );
    }
}
