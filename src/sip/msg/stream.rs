//! Stream (TCP) framing by Content-Length. (Skeleton: implemented by the message-layer work.)

use bytes::Bytes;

/// Why a stream cannot be framed further; the connection should be closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    /// The header section exceeded the bound without ending.
    #[error("header section longer than {0} bytes")]
    HeadersTooLong(usize),
    /// Content-Length missing (mandatory on streams, RFC 3261 §18.3) or invalid.
    #[error("missing or invalid content-length")]
    BadContentLength,
    /// Declared body exceeds the bound.
    #[error("body longer than {0} bytes")]
    BodyTooLong(usize),
}

/// Accumulates bytes from a stream and yields complete messages.
#[derive(Debug)]
pub struct StreamFramer {
    _max_message_bytes: usize,
}

impl StreamFramer {
    /// A framer that refuses messages larger than `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> Self {
        StreamFramer { _max_message_bytes: max_message_bytes }
    }
    /// Appends received bytes.
    pub fn push(&mut self, _bytes: &[u8]) {
        todo!("message layer")
    }
    /// The next complete message, if one is buffered. Keep-alive CRLFs are skipped.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, StreamError> {
        todo!("message layer")
    }
}
