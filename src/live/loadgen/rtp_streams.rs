//! The load generator's RTP: one UDP socket on loopback per caller and per answered agent
//! leg, 20 ms G.711 silence packets to the daemon's media address, RFC 4733 key presses,
//! and counting what the daemon sends back (prompts to callers, the relayed other leg).
//!
//! Real phones send RTP the whole call; the daemon's media plane hangs up a call whose
//! peer stays silent past `rtp.inactivity_timeout_s`, and it latches the peer's address
//! from its first packet (symmetric RTP, RFC 4961), so each stream sends and receives on
//! one socket. No task per stream: the load generator's loop calls [`RtpStreams::poll`]
//! at [`RtpStreams::next_due`], which sends what is due on every stream (one ticker for
//! all) and drains the sockets without blocking.
//!
//! Each packet carries 20 ms of audio; `interval` is how often a stream sends one. At the
//! default 20 ms that is a real phone's stream; a larger interval is like a phone with
//! silence suppression (RFC 3551 §4.1: the timestamp jumps over the silent gap) and
//! lowers the load on the daemon and on this process.

use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::core::time::Instant;
use crate::media::dtmf;
use crate::media::rtp::{write_rtp, RtpHeader};

use super::sdp_media::RemoteMedia;

/// Audio per packet: 20 ms at 8 kHz.
const PACKET_AUDIO: Duration = Duration::from_millis(20);
/// Samples (bytes of G.711) per packet.
const SAMPLES_PER_PACKET: usize = 160;
/// G.711 A-law silence (ITU-T G.711: 0x55 with even bits inverted).
const PCMA_SILENCE: u8 = 0xD5;
/// G.711 µ-law silence.
const PCMU_SILENCE: u8 = 0xFF;
/// Static payload type of PCMU.
const PCMU_PT: u8 = 0;
/// How long a key is held.
const KEY_PRESS: Duration = Duration::from_millis(100);
/// Largest packet read.
const READ_BUFFER_BYTES: usize = 2048;

/// Whose stream it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamOwner {
    /// The caller of trace line `index`.
    Caller(u32),
    /// The answered leg of agent phone `index` (one at a time per phone).
    Agent(usize),
}

/// What the streams sent and received so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpCounters {
    /// Packets sent (audio and telephone-event).
    pub sent: u64,
    /// Packets callers received from the daemon.
    pub received_by_callers: u64,
    /// Packets agent phones received from the daemon.
    pub received_by_agents: u64,
    /// Key presses sent (each as its RFC 4733 packet series).
    pub key_presses: u64,
    /// Sends the kernel refused (other than a full buffer).
    pub send_errors: u64,
}

/// One stream: its socket, where it sends, and its RTP state.
struct RtpStream {
    socket: UdpSocket,
    remote: Option<RemoteMedia>,
    ssrc: u32,
    sequence: u16,
    /// Our media clock's zero: timestamps are real time since then, in samples.
    started_at: Instant,
    /// A key press to start at this time.
    key_at: Option<(Instant, char)>,
    /// Telephone-event packets still to send: due time, the press's timestamp, whether it
    /// is the press's first packet, payload.
    key_packets: VecDeque<(Instant, u32, bool, [u8; 4])>,
    /// Packets this stream received.
    received: u64,
}

impl RtpStream {
    fn timestamp_at(&self, at: Instant) -> u32 {
        let samples = at.saturating_duration_since(self.started_at).as_micros() as u64 * 8 / 1000;
        (self.ssrc as u64).wrapping_add(samples) as u32
    }

    fn pressing_key(&self, now: Instant) -> bool {
        !self.key_packets.is_empty() || self.key_at.is_some_and(|(at, _)| at <= now)
    }

    fn next_key_due(&self) -> Option<Instant> {
        let key_packet = self.key_packets.front().map(|(at, ..)| *at);
        let key_start = self.key_at.map(|(at, _)| at);
        key_packet.into_iter().chain(key_start).min()
    }

    /// Starts a due key press and sends its due packets.
    fn send_key_packets(&mut self, now: Instant, buffers: &mut Buffers, counters: &mut RtpCounters) {
        let Some(remote) = self.remote else { return };
        if let Some((at, digit)) = self.key_at.filter(|(at, _)| *at <= now) {
            self.key_at = None;
            let timestamp = self.timestamp_at(at);
            if let Some(payloads) = dtmf::key_press_payloads(digit, KEY_PRESS, PACKET_AUDIO) {
                counters.key_presses += 1;
                let due = payloads.into_iter().enumerate().map(|(i, payload)| (at + PACKET_AUDIO * i as u32, timestamp, i == 0, payload));
                self.key_packets.extend(due);
            }
        }
        while let Some(&(at, timestamp, first, payload)) = self.key_packets.front() {
            if at > now {
                break;
            }
            self.key_packets.pop_front();
            let Some(pt) = remote.telephone_event_pt else { continue };
            // RFC 4733 §2.5.1.1: the first packet of an event carries the marker bit.
            self.send(buffers, pt, first, timestamp, &payload, remote.addr, counters);
        }
    }

    /// Sends one packet of silence unless a key press is under way.
    fn send_audio(&mut self, now: Instant, buffers: &mut Buffers, counters: &mut RtpCounters) {
        let Some(remote) = self.remote else { return };
        // The key press replaces the audio while it lasts, as phones do.
        if self.pressing_key(now) {
            return;
        }
        let silence = if remote.audio_pt == PCMU_PT { PCMU_SILENCE } else { PCMA_SILENCE };
        let timestamp = self.timestamp_at(now);
        let payload = [silence; SAMPLES_PER_PACKET];
        self.send(buffers, remote.audio_pt, false, timestamp, &payload, remote.addr, counters);
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        buffers: &mut Buffers,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        to: SocketAddr,
        counters: &mut RtpCounters,
    ) {
        buffers.packet.clear();
        let header = RtpHeader { marker, payload_type, sequence: self.sequence, timestamp, ssrc: self.ssrc };
        write_rtp(&mut buffers.packet, &header, payload);
        self.sequence = self.sequence.wrapping_add(1);
        match self.socket.send_to(&buffers.packet, to) {
            Ok(_) => counters.sent += 1,
            // A full send buffer drops the packet, as a network would.
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(_) => counters.send_errors += 1,
        }
    }
}

/// Buffers reused for every packet.
struct Buffers {
    packet: Vec<u8>,
    read: Vec<u8>,
}

/// All RTP streams of a run.
pub struct RtpStreams {
    interval: Duration,
    streams: HashMap<StreamOwner, RtpStream>,
    /// The one ticker: every sending stream sends its audio packet at this time.
    next_tick: Option<Instant>,
    /// Streams with a key press not yet fully sent.
    keys_pending: usize,
    counters: RtpCounters,
    buffers: Buffers,
}

impl RtpStreams {
    /// Streams sending one 20 ms packet every `interval`.
    pub fn new(interval: Duration) -> Self {
        RtpStreams {
            interval: interval.max(Duration::from_millis(1)),
            streams: HashMap::new(),
            next_tick: None,
            keys_pending: 0,
            counters: RtpCounters::default(),
            buffers: Buffers { packet: Vec::with_capacity(12 + SAMPLES_PER_PACKET), read: vec![0; READ_BUFFER_BYTES] },
        }
    }

    /// Binds a stream's socket on `ip` (port chosen by the kernel) and returns its port;
    /// the stream sends nothing until [`RtpStreams::set_remote`].
    pub fn open(&mut self, owner: StreamOwner, ip: std::net::IpAddr, now: Instant) -> std::io::Result<u16> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        socket.set_nonblocking(true)?;
        let port = socket.local_addr()?.port();
        let ssrc = match owner {
            StreamOwner::Caller(index) => 0x4000_0000 ^ index,
            StreamOwner::Agent(index) => 0x8000_0000 ^ (index as u32) ^ (u32::from(port) << 12),
        };
        let stream =
            RtpStream { socket, remote: None, ssrc, sequence: ssrc as u16, started_at: now, key_at: None, key_packets: VecDeque::new(), received: 0 };
        self.close(owner);
        self.streams.insert(owner, stream);
        Ok(port)
    }

    /// Where `owner`'s stream sends: from the next tick on.
    pub fn set_remote(&mut self, owner: StreamOwner, remote: RemoteMedia, now: Instant) {
        let Some(stream) = self.streams.get_mut(&owner) else { return };
        stream.remote = Some(remote);
        if self.next_tick.is_none() {
            self.next_tick = Some(now);
        }
    }

    /// `owner` presses `digit` at `at`. Needs a telephone-event payload type in the
    /// daemon's SDP: without one nothing is sent and `false` is returned.
    pub fn press_key(&mut self, owner: StreamOwner, digit: char, at: Instant) -> bool {
        let Some(stream) = self.streams.get_mut(&owner) else { return false };
        if stream.remote.and_then(|remote| remote.telephone_event_pt).is_none() {
            return false;
        }
        if stream.next_key_due().is_none() {
            self.keys_pending += 1;
        }
        stream.key_at = Some((at, digit));
        true
    }

    /// Stops `owner`'s stream (at BYE), closes its socket and returns the packets it
    /// received.
    pub fn close(&mut self, owner: StreamOwner) -> u64 {
        let Some(mut stream) = self.streams.remove(&owner) else { return 0 };
        if stream.next_key_due().is_some() {
            self.keys_pending -= 1;
        }
        stream.received += drain(&stream.socket, &mut self.buffers.read);
        match owner {
            StreamOwner::Caller(_) => self.counters.received_by_callers += stream.received,
            StreamOwner::Agent(_) => self.counters.received_by_agents += stream.received,
        }
        stream.received
    }

    /// True when `owner` has an open stream.
    pub fn is_open(&self, owner: StreamOwner) -> bool {
        self.streams.contains_key(&owner)
    }

    /// Totals so far (a stream's receptions count once it is closed).
    pub fn counters(&self) -> RtpCounters {
        self.counters
    }

    /// When [`RtpStreams::poll`] has something to do.
    pub fn next_due(&self) -> Option<Instant> {
        let tick = self.next_tick.filter(|_| !self.streams.is_empty());
        let keys = (self.keys_pending > 0).then(|| self.streams.values().filter_map(RtpStream::next_key_due).min()).flatten();
        tick.into_iter().chain(keys).min()
    }

    /// Sends what is due at `now`: key-press packets, and at the tick one audio packet on
    /// every stream that knows the daemon's address; at the tick it also counts (and
    /// discards) what arrived.
    pub fn poll(&mut self, now: Instant) {
        if self.keys_pending > 0 {
            for stream in self.streams.values_mut() {
                let had_key = stream.next_key_due().is_some();
                stream.send_key_packets(now, &mut self.buffers, &mut self.counters);
                if had_key && stream.next_key_due().is_none() {
                    self.keys_pending -= 1;
                }
            }
        }
        let Some(tick) = self.next_tick.filter(|tick| *tick <= now) else { return };
        for stream in self.streams.values_mut() {
            stream.received += drain(&stream.socket, &mut self.buffers.read);
            stream.send_audio(now, &mut self.buffers, &mut self.counters);
        }
        // Behind (a busy loop)? Skip the missed ticks rather than burst them.
        let next = tick + self.interval;
        self.next_tick = Some(if next <= now { now + self.interval } else { next });
    }
}

/// Reads everything waiting on `socket`; returns the number of packets.
fn drain(socket: &UdpSocket, buffer: &mut [u8]) -> u64 {
    let mut packets = 0;
    loop {
        match socket.recv_from(buffer) {
            Ok(_) => packets += 1,
            Err(error) if error.kind() == ErrorKind::WouldBlock => return packets,
            // ICMP port unreachable from an earlier send (the daemon closed the session).
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => continue,
            Err(_) => return packets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::DtmfDetector;
    use crate::media::rtp::RtpHeaderView;
    use std::net::{IpAddr, Ipv4Addr};

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn at_ms(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn receiver() -> UdpSocket {
        let socket = UdpSocket::bind((LOOPBACK, 0)).expect("bind loopback");
        socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        socket
    }

    fn read_packets(socket: &UdpSocket, count: usize) -> Vec<Vec<u8>> {
        let mut buffer = [0u8; 2048];
        (0..count)
            .map(|_| {
                let (len, _) = socket.recv_from(&mut buffer).expect("a packet arrives");
                buffer[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn a_stream_sends_pcma_silence_each_interval_and_nothing_before_its_remote() {
        let daemon = receiver();
        let mut streams = RtpStreams::new(Duration::from_millis(20));
        let owner = StreamOwner::Caller(7);
        streams.open(owner, LOOPBACK, at_ms(0)).expect("bind");
        assert_eq!(streams.next_due(), None, "nothing to send without the daemon's address");
        let remote = RemoteMedia { addr: daemon.local_addr().expect("addr"), audio_pt: 8, telephone_event_pt: Some(101) };
        streams.set_remote(owner, remote, at_ms(0));
        for tick in 0..3 {
            streams.poll(at_ms(tick * 20));
        }
        let packets = read_packets(&daemon, 3);
        let views: Vec<RtpHeaderView<'_>> = packets.iter().map(|p| RtpHeaderView::parse(p).expect("RTP")).collect();
        assert!(views.iter().all(|v| v.payload_type() == 8 && v.payload() == [PCMA_SILENCE; 160]));
        assert_eq!(views[1].sequence(), views[0].sequence().wrapping_add(1));
        assert_eq!(views[2].timestamp().wrapping_sub(views[0].timestamp()), 320, "40 ms at 8 kHz");
        assert_eq!(streams.counters().sent, 3);
    }

    #[test]
    fn a_key_press_reaches_a_detector_as_its_digit() {
        let daemon = receiver();
        let mut streams = RtpStreams::new(Duration::from_secs(60));
        let owner = StreamOwner::Caller(1);
        streams.open(owner, LOOPBACK, at_ms(0)).expect("bind");
        let remote = RemoteMedia { addr: daemon.local_addr().expect("addr"), audio_pt: 8, telephone_event_pt: Some(101) };
        streams.set_remote(owner, remote, at_ms(0));
        assert!(streams.press_key(owner, '3', at_ms(2000)));
        let mut now = 0;
        while let Some(due) = streams.next_due() {
            now = due.as_micros() / 1000;
            if now > 10_000 {
                break;
            }
            streams.poll(due);
        }
        // One audio packet at 0 ms, then 5 updates and 3 end packets of the key.
        let packets = read_packets(&daemon, 9);
        let mut detector = DtmfDetector::new(101);
        let events: Vec<_> = packets
            .iter()
            .filter_map(|p| detector.handle_packet(at_ms(now), &RtpHeaderView::parse(p).expect("RTP")))
            .collect();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].digit, '3');
        assert_eq!(streams.counters().key_presses, 1);
    }
}
