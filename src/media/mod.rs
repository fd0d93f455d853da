//! Sans-IO media: SDP offer/answer. (RTP, G.711, DTMF and playout come with the media issue.)

pub mod sdp;
