//! Sans-IO media: SDP offer/answer, the RTP header view, G.711, RFC 4733 DTMF detection,
//! prompt playout pacing and WAV prompt loading. Nothing here opens a socket or a file, or
//! reads a clock: the driver passes bytes and [`crate::core::time::Instant`]s in.

pub mod dtmf;
pub mod g711;
pub mod playout;
pub mod rtp;
pub mod sdp;
pub mod wav;
