//! The datagram parser. (Skeleton: implemented by the message-layer work.)

use super::message::{Message, Request};
use bytes::Bytes;

/// Why a datagram is not a SIP message we can process.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    /// Short lowercase description, used in the 400's reason phrase and the log.
    pub reason: String,
    /// The status to answer with (400, or 505 for an unsupported SIP version).
    pub status: u16,
    /// When the message is a request whose Via, From, To, Call-ID and CSeq could be read,
    /// those headers (and the start line), so the caller can answer; `None` means drop.
    pub request_for_reply: Option<Box<Request>>,
}

/// Parses one complete message (a UDP datagram, or a frame from [`super::StreamFramer`]).
pub fn parse(_datagram: Bytes) -> Result<Message, ParseError> {
    todo!("message layer")
}
