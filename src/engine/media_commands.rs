//! The contract between the engine and the media plane that a driver runs: commands the
//! engine emits (open, play, bridge, close) and events the media plane reports back (a
//! digit, a prompt finished, the stream went silent). The RTP itself never passes through
//! the engine (ARCHITECTURE rule 5): the driver's media plane paces prompts, detects DTMF
//! and relays bridged legs on its own.

use crate::core::ids::{CallId, MediaSessionId};
use crate::media::sdp::Codec;
use std::net::SocketAddr;
use std::sync::Arc;

/// How a session's RTP is encoded, as negotiated by SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    pub codec: Codec,
    pub payload_type: u8,
    /// RFC 4733 telephone-event payload type, if the peer offered it.
    pub telephone_event_pt: Option<u8>,
}

/// A prompt to play, by name: a WAV file `<name>.wav` in the prompt directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef(pub Arc<str>);

impl PromptRef {
    /// A prompt by file stem, e.g. `welcome`, `num_3`.
    pub fn new(name: &str) -> Self {
        PromptRef(Arc::from(name))
    }
}

/// Instructions to the media plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCommand {
    /// Bind the RTP port (and RTCP on port + 1) for this session. `remote` is where the
    /// peer's SDP says to send; symmetric RTP (RFC 4961) replaces it with the source of
    /// the peer's first packet, for callers behind NAT.
    Open { session: MediaSessionId, call: CallId, rtp_port: u16, remote: Option<SocketAddr>, format: Option<MediaFormat> },
    /// The peer's address or format changed (re-INVITE, late offer answered in the ACK).
    Update { session: MediaSessionId, remote: Option<SocketAddr>, format: MediaFormat },
    /// Play these prompts in order, then fall silent (or loop the last set when `looped`).
    /// Replaces whatever was playing. `barge_in`: a digit stops the playout.
    Play { session: MediaSessionId, prompts: Vec<PromptRef>, looped: bool, barge_in: bool },
    /// Stop any playout on the session.
    StopPlayout { session: MediaSessionId },
    /// Relay RTP between two sessions both ways (caller ↔ agent), rewriting SSRC,
    /// sequence and timestamp where the source switches and transcoding PCMA↔PCMU when the
    /// legs negotiated different codecs. Stops playout on both.
    Bridge { a: MediaSessionId, b: MediaSessionId },
    /// Stop relaying between the two sessions.
    Unbridge { a: MediaSessionId, b: MediaSessionId },
    /// Release the session's sockets and port.
    Close { session: MediaSessionId, rtp_port: u16 },
}

/// What the media plane reports back to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF digit (RFC 4733 telephone-event, or SIP INFO translated by the engine).
    Digit { session: MediaSessionId, digit: char },
    /// The prompts of the last `Play` finished (not sent for looped playout).
    PlayoutFinished { session: MediaSessionId },
    /// No RTP arrived for the inactivity timeout: the call is probably dead.
    Inactive { session: MediaSessionId },
    /// The session could not be opened (port bind failed); the engine ends the call.
    OpenFailed { session: MediaSessionId },
}
