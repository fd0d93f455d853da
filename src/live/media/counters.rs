//! Media plane counters: atomics bumped by the session tasks and read live by `/health`,
//! so the numbers are current even while the engine loop is idle.

use serde::ser::SerializeStruct;
use std::sync::atomic::{AtomicU64, Ordering};

/// What every media session has seen and done since start.
#[derive(Debug, Default)]
pub struct MediaCounters {
    /// Valid RTP packets received from peers (audio and telephone-event).
    pub rtp_packets_received: AtomicU64,
    /// Prompt frames sent to peers.
    pub rtp_packets_sent: AtomicU64,
    /// Packets forwarded between bridged legs.
    pub rtp_packets_relayed: AtomicU64,
    /// Bridged packets that could not be forwarded (no peer address yet, no matching
    /// payload type on the other leg, or the socket buffer was full).
    pub rtp_relay_dropped: AtomicU64,
    /// Datagrams on an RTP port that were neither RTP nor RTCP, or came from a stranger.
    pub rtp_packets_invalid: AtomicU64,
    /// RTCP packets received (on the RTCP port or multiplexed on the RTP port).
    pub rtcp_packets_received: AtomicU64,
    /// Key presses detected (RFC 4733 telephone-event).
    pub dtmf_digits: AtomicU64,
    /// Sessions reported inactive.
    pub inactivity_timeouts: AtomicU64,
    /// Ports that could not be bound: skipped when the engine reserved them, or a session
    /// that could not open.
    pub bind_failures: AtomicU64,
}

impl MediaCounters {
    /// Adds one to `counter`.
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The current value of `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl serde::Serialize for MediaCounters {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = [
            ("rtp_packets_received", &self.rtp_packets_received),
            ("rtp_packets_sent", &self.rtp_packets_sent),
            ("rtp_packets_relayed", &self.rtp_packets_relayed),
            ("rtp_relay_dropped", &self.rtp_relay_dropped),
            ("rtp_packets_invalid", &self.rtp_packets_invalid),
            ("rtcp_packets_received", &self.rtcp_packets_received),
            ("dtmf_digits", &self.dtmf_digits),
            ("inactivity_timeouts", &self.inactivity_timeouts),
            ("bind_failures", &self.bind_failures),
        ];
        let mut state = serializer.serialize_struct("MediaCounters", fields.len())?;
        for (name, counter) in fields {
            state.serialize_field(name, &Self::get(counter))?;
        }
        state.end()
    }
}
