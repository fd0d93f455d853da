//! RFC 4733 telephone-event detection: turns the stream of event packets into one digit
//! per key press. A sender repeats one event under a single RTP timestamp (§2.5.1.2):
//! updates with growing duration while the key is down, then the end packet three times
//! (§2.5.1.4). So the timestamp identifies a press; we report it once, on its first end
//! packet, or when its end packets were all lost: when the next press starts or after
//! [`DEFAULT_END_TIMEOUT_MS`] without a packet.

use std::time::Duration;

use super::rtp::RtpHeaderView;
use crate::core::time::Instant;

/// How long a press may go without packets before we report it without its end packet.
/// Senders update every 50 ms or so (RFC 4733 §2.5.1.2), so this survives several losses.
pub const DEFAULT_END_TIMEOUT_MS: u64 = 400;
/// The telephone-event clock rate for G.711 calls: durations are in 1/8000 s units.
const EVENT_CLOCK_RATE_HZ: u32 = 8000;

/// One detected key press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfEvent {
    /// `0`-`9`, `*`, `#`, `A`-`D`, or `!` for flash (the dtmf-relay convention).
    pub digit: char,
    /// How long the key was down, as far as the packets told us.
    pub duration_ms: u32,
}

/// The 4-byte telephone-event payload (RFC 4733 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code (0-9 digits, 10 `*`, 11 `#`, 12-15 A-D, 16 flash).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// The power level in -dBm0 (0-63).
    pub volume: u8,
    /// The duration so far in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first event of a payload; `None` when it is shorter than 4 bytes.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let [event, flags, duration_high, duration_low, ..] = *payload else {
            return None;
        };
        Some(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([duration_high, duration_low]),
        })
    }

    /// The key for a DTMF event code (RFC 4733 §3.2), `None` for other tones.
    pub fn digit(&self) -> Option<char> {
        const DIGITS: &[u8; 17] = b"0123456789*#ABCD!";
        DIGITS.get(usize::from(self.event)).map(|byte| char::from(*byte))
    }

    /// The event code of a key (the inverse of [`TelephoneEvent::digit`]).
    pub fn event_of(digit: char) -> Option<u8> {
        const DIGITS: &[u8; 17] = b"0123456789*#ABCD!";
        DIGITS.iter().position(|byte| char::from(*byte) == digit.to_ascii_uppercase()).map(|index| index as u8)
    }

    /// The 4-byte payload (RFC 4733 §2.3); the R bit is always zero.
    pub fn to_payload(&self) -> [u8; 4] {
        let [high, low] = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3f), high, low]
    }
}

/// The payloads of one key press of `length` in packets every `packet_interval`, as a
/// sender writes them (RFC 4733 §2.5): updates with a growing duration, then the same
/// end packet three times. All share the RTP timestamp of the press's start; the first
/// carries the marker bit. `None` for a key that is not DTMF.
pub fn key_press_payloads(digit: char, length: Duration, packet_interval: Duration) -> Option<Vec<[u8; 4]>> {
    const END_REPEATS: usize = 3;
    const VOLUME_DBM0: u8 = 10;
    let event = TelephoneEvent::event_of(digit)?;
    let units_per_packet = packet_interval.as_micros() as u64 * u64::from(EVENT_CLOCK_RATE_HZ) / 1_000_000;
    let updates = (length.as_micros() / packet_interval.as_micros().max(1)).max(1) as u64;
    let mut payloads: Vec<[u8; 4]> = (1..=updates)
        .map(|step| {
            let duration = (step * units_per_packet).min(u64::from(u16::MAX)) as u16;
            TelephoneEvent { event, end: false, volume: VOLUME_DBM0, duration }.to_payload()
        })
        .collect();
    let total = (updates * units_per_packet).min(u64::from(u16::MAX)) as u16;
    let end = TelephoneEvent { event, end: true, volume: VOLUME_DBM0, duration: total }.to_payload();
    payloads.extend(std::iter::repeat_n(end, END_REPEATS));
    Some(payloads)
}

/// A press seen but not yet reported.
#[derive(Clone, Copy, Debug)]
struct Pending {
    timestamp: u32,
    digit: char,
    duration: u16,
    last_packet_at: Instant,
    /// Its end packet arrived while an earlier press was being reported; report at once.
    ended: bool,
}

impl Pending {
    fn event(&self) -> DtmfEvent {
        DtmfEvent { digit: self.digit, duration_ms: u32::from(self.duration) * 1000 / EVENT_CLOCK_RATE_HZ }
    }
}

/// Detects key presses in the telephone-event packets of one call leg.
#[derive(Debug)]
pub struct DtmfDetector {
    payload_type: u8,
    end_timeout: Duration,
    ssrc: Option<u32>,
    pending: Option<Pending>,
    last_reported_timestamp: Option<u32>,
}

/// Whether RTP timestamp `a` is after `b`, allowing for wrap-around (RFC 3550 §5.1).
fn is_after(a: u32, b: u32) -> bool {
    let difference = a.wrapping_sub(b);
    difference != 0 && difference < 0x8000_0000
}

impl DtmfDetector {
    /// A detector for the negotiated telephone-event payload type.
    pub fn new(payload_type: u8) -> Self {
        Self::with_end_timeout(payload_type, Duration::from_millis(DEFAULT_END_TIMEOUT_MS))
    }

    /// A detector that reports a press without end packets after `end_timeout` of silence.
    pub fn with_end_timeout(payload_type: u8, end_timeout: Duration) -> Self {
        DtmfDetector { payload_type, end_timeout, ssrc: None, pending: None, last_reported_timestamp: None }
    }

    /// Feeds one RTP packet received at `now`; packets of other payload types are ignored.
    pub fn handle_packet(&mut self, now: Instant, packet: &RtpHeaderView<'_>) -> Option<DtmfEvent> {
        if packet.payload_type() != self.payload_type {
            return None;
        }
        let event = TelephoneEvent::parse(packet.payload())?;
        let digit = event.digit()?;
        let timestamp = packet.timestamp();
        let mut flushed = None;
        if self.ssrc != Some(packet.ssrc()) {
            // A new source (e.g. after a re-INVITE) restarts the timestamp space.
            flushed = self.report_pending();
            self.last_reported_timestamp = None;
            self.ssrc = Some(packet.ssrc());
        }
        if let Some(last) = self.last_reported_timestamp {
            if !is_after(timestamp, last) {
                // A repeated end packet or a late update of a press already reported.
                return flushed;
            }
        }
        match &mut self.pending {
            Some(pending) if pending.timestamp == timestamp => {
                pending.duration = pending.duration.max(event.duration);
                pending.last_packet_at = now;
                if event.end {
                    return self.report_pending();
                }
                return flushed;
            }
            Some(pending) if !is_after(timestamp, pending.timestamp) => return flushed,
            Some(_) => {
                // The next press started: the previous one lost all its end packets.
                flushed = self.report_pending();
            }
            None => {}
        }
        self.pending =
            Some(Pending { timestamp, digit, duration: event.duration, last_packet_at: now, ended: event.end });
        if event.end && flushed.is_none() {
            return self.report_pending();
        }
        flushed
    }

    /// When [`Self::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.map(
            |pending| {
                if pending.ended {
                    pending.last_packet_at
                } else {
                    pending.last_packet_at + self.end_timeout
                }
            },
        )
    }

    /// Reports a press whose end packets did not arrive in time.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<DtmfEvent> {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => self.report_pending(),
            _ => None,
        }
    }

    fn report_pending(&mut self) -> Option<DtmfEvent> {
        let pending = self.pending.take()?;
        self.last_reported_timestamp = Some(pending.timestamp);
        Some(pending.event())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{write_rtp, RtpHeader};

    const TE_PT: u8 = 101;
    const SSRC: u32 = 0x1234_5678;

    fn packet(timestamp: u32, event: u8, end: bool, duration: u16) -> Vec<u8> {
        let mut buf = Vec::new();
        let flags = if end { 0x80 | 10 } else { 10 };
        let [high, low] = duration.to_be_bytes();
        let header = RtpHeader { marker: duration == 160, payload_type: TE_PT, sequence: 0, timestamp, ssrc: SSRC };
        write_rtp(&mut buf, &header, &[event, flags, high, low]);
        buf
    }

    fn at_ms(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    /// Feeds a press's packets 20 ms apart from `start_ms`, returning what was reported.
    fn feed(detector: &mut DtmfDetector, start_ms: u64, packets: &[Vec<u8>]) -> Vec<DtmfEvent> {
        packets
            .iter()
            .enumerate()
            .filter_map(|(index, bytes)| {
                let view = RtpHeaderView::parse(bytes).expect("test packet is valid");
                detector.handle_packet(at_ms(start_ms + 20 * index as u64), &view)
            })
            .collect()
    }

    fn press(timestamp: u32, event: u8, updates: u16, end_copies: usize) -> Vec<Vec<u8>> {
        let mut packets: Vec<Vec<u8>> = (1..=updates).map(|i| packet(timestamp, event, false, i * 160)).collect();
        packets.extend((0..end_copies).map(|_| packet(timestamp, event, true, (updates + 1) * 160)));
        packets
    }

    #[test]
    fn normal_press_with_three_end_packets_is_one_digit() {
        let mut detector = DtmfDetector::new(TE_PT);
        let reported = feed(&mut detector, 0, &press(1000, 5, 4, 3));
        assert_eq!(reported, [DtmfEvent { digit: '5', duration_ms: 100 }]);
        assert_eq!(detector.poll_timeout(), None);
    }

    #[test]
    fn long_press_is_one_digit_with_full_duration() {
        let mut detector = DtmfDetector::new(TE_PT);
        let reported = feed(&mut detector, 0, &press(1000, 11, 99, 3));
        assert_eq!(reported, [DtmfEvent { digit: '#', duration_ms: 2000 }]);
    }

    #[test]
    fn lost_end_packets_are_reported_after_the_timeout() {
        let mut detector = DtmfDetector::new(TE_PT);
        assert!(feed(&mut detector, 0, &press(1000, 10, 3, 0)).is_empty());
        let deadline = detector.poll_timeout().expect("a press is pending");
        assert_eq!(deadline, at_ms(40 + DEFAULT_END_TIMEOUT_MS));
        assert_eq!(detector.handle_timeout(at_ms(100)), None);
        assert_eq!(detector.handle_timeout(deadline), Some(DtmfEvent { digit: '*', duration_ms: 60 }));
        // A late end packet of the same press must not report it again.
        assert!(feed(&mut detector, 500, &press(1000, 10, 0, 3)).is_empty());
    }

    #[test]
    fn lost_end_packets_are_reported_when_the_next_press_starts() {
        let mut detector = DtmfDetector::new(TE_PT);
        assert!(feed(&mut detector, 0, &press(1000, 1, 3, 0)).is_empty());
        let reported = feed(&mut detector, 200, &press(3000, 2, 2, 3));
        assert_eq!(reported, [DtmfEvent { digit: '1', duration_ms: 60 }, DtmfEvent { digit: '2', duration_ms: 60 }]);
    }

    #[test]
    fn next_press_seen_only_by_its_end_is_reported_right_after() {
        let mut detector = DtmfDetector::new(TE_PT);
        assert!(feed(&mut detector, 0, &press(1000, 1, 3, 0)).is_empty());
        let reported = feed(&mut detector, 200, &press(3000, 9, 0, 1));
        assert_eq!(reported, [DtmfEvent { digit: '1', duration_ms: 60 }]);
        assert_eq!(detector.poll_timeout(), Some(at_ms(200)));
        assert_eq!(detector.handle_timeout(at_ms(200)), Some(DtmfEvent { digit: '9', duration_ms: 20 }));
    }

    #[test]
    fn two_quick_presses_of_the_same_digit_are_two_digits() {
        let mut detector = DtmfDetector::new(TE_PT);
        let mut packets = press(1000, 7, 2, 3);
        packets.extend(press(1800, 7, 2, 3));
        let digits: Vec<char> = feed(&mut detector, 0, &packets).iter().map(|e| e.digit).collect();
        assert_eq!(digits, ['7', '7']);
    }

    #[test]
    fn timestamps_wrap_and_other_payloads_are_ignored() {
        let mut detector = DtmfDetector::new(TE_PT);
        let mut packets = press(u32::MAX - 100, 0, 1, 3);
        packets.extend(press(500, 3, 1, 3));
        let digits: Vec<char> = feed(&mut detector, 0, &packets).iter().map(|e| e.digit).collect();
        assert_eq!(digits, ['0', '3']);
        let mut audio = Vec::new();
        write_rtp(
            &mut audio,
            &RtpHeader { marker: false, payload_type: 8, sequence: 1, timestamp: 9000, ssrc: SSRC },
            &[0, 0x80, 0, 160],
        );
        let view = RtpHeaderView::parse(&audio).expect("valid");
        assert_eq!(detector.handle_packet(at_ms(900), &view), None);
        assert_eq!(detector.poll_timeout(), None);
    }

    #[test]
    fn event_codes_map_to_keys() {
        let digits: String =
            (0..=16).filter_map(|event| TelephoneEvent { event, end: false, volume: 0, duration: 0 }.digit()).collect();
        assert_eq!(digits, "0123456789*#ABCD!");
        assert_eq!(TelephoneEvent { event: 17, end: false, volume: 0, duration: 0 }.digit(), None);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
        assert_eq!(
            TelephoneEvent::parse(&[4, 0x8a, 0x03, 0x20]),
            Some(TelephoneEvent { event: 4, end: true, volume: 10, duration: 800 })
        );
    }

    #[test]
    fn encoded_key_press_is_detected_once_with_its_digit_and_length() {
        for digit in ['0', '5', '9', '*', '#', 'A'] {
            let payloads = key_press_payloads(digit, Duration::from_millis(100), Duration::from_millis(20)).expect("a DTMF key");
            assert_eq!(payloads.len(), 5 + 3, "five updates, three end packets");
            let packets: Vec<Vec<u8>> = payloads
                .iter()
                .map(|payload| {
                    let mut buf = Vec::new();
                    let header = RtpHeader { marker: false, payload_type: TE_PT, sequence: 0, timestamp: 8000, ssrc: SSRC };
                    write_rtp(&mut buf, &header, payload);
                    buf
                })
                .collect();
            let mut detector = DtmfDetector::new(TE_PT);
            let events = feed(&mut detector, 0, &packets);
            assert_eq!(events, vec![DtmfEvent { digit, duration_ms: 100 }], "key {digit}");
        }
    }

    #[test]
    fn a_key_that_is_not_dtmf_has_no_payloads() {
        assert_eq!(key_press_payloads('x', Duration::from_millis(100), Duration::from_millis(20)), None);
    }
}
