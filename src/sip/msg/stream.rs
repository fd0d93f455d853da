//! Stream (TCP, TLS) framing by Content-Length (RFC 3261 §18.3): on a stream the
//! Content-Length header is mandatory and is the only way to find where a message ends.
//! CRLFs between messages are keep-alives (RFC 5626 §3.5.1) and are skipped.

use super::parse::parse_content_length;
use bytes::{Bytes, BytesMut};

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
    max_message_bytes: usize,
    buffer: BytesMut,
    /// How far the search for the end of the header section has already looked, so that
    /// a message arriving byte by byte is not rescanned from the start each time.
    searched_bytes: usize,
}

impl StreamFramer {
    /// A framer that refuses messages larger than `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> Self {
        StreamFramer { max_message_bytes, buffer: BytesMut::new(), searched_bytes: 0 }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a message.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete message, if one is buffered. Keep-alive CRLFs are skipped.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, StreamError> {
        let keepalive_len = self.buffer.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        if keepalive_len > 0 {
            let _keepalive = self.buffer.split_to(keepalive_len);
            self.searched_bytes = self.searched_bytes.saturating_sub(keepalive_len);
        }
        let Some(head_len) = self.find_head_end() else {
            if self.buffer.len() > self.max_message_bytes {
                return Err(StreamError::HeadersTooLong(self.max_message_bytes));
            }
            return Ok(None);
        };
        let head = self.buffer.get(..head_len).unwrap_or_default();
        let body_len = content_length_of(head)?;
        let total_len = head_len.checked_add(body_len).ok_or(StreamError::BodyTooLong(self.max_message_bytes))?;
        if total_len > self.max_message_bytes {
            if head_len > self.max_message_bytes {
                return Err(StreamError::HeadersTooLong(self.max_message_bytes));
            }
            return Err(StreamError::BodyTooLong(self.max_message_bytes));
        }
        if self.buffer.len() < total_len {
            return Ok(None);
        }
        self.searched_bytes = 0;
        Ok(Some(self.buffer.split_to(total_len).freeze()))
    }

    /// The length of the header section including the empty line (CRLF CRLF, or bare LF
    /// line ends as the parser accepts them), if it is complete.
    fn find_head_end(&mut self) -> Option<usize> {
        let buffer = &self.buffer;
        let mut index = self.searched_bytes;
        while index < buffer.len() {
            if buffer[index] == b'\n' {
                match (buffer.get(index + 1), buffer.get(index + 2)) {
                    (Some(b'\n'), _) => return Some(index + 2),
                    (Some(b'\r'), Some(b'\n')) => return Some(index + 3),
                    // Not enough bytes yet to decide: look here again next time.
                    (None, _) | (Some(b'\r'), None) => break,
                    _ => {}
                }
            }
            index += 1;
        }
        self.searched_bytes = index;
        None
    }
}

/// The Content-Length (or compact `l`) of a header section; all values must agree.
fn content_length_of(head: &[u8]) -> Result<usize, StreamError> {
    let mut found = None;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let name = line.get(..colon).unwrap_or_default();
        let name = trim_ascii_whitespace(name);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = line.get(colon + 1..).unwrap_or_default();
        let value = parse_content_length(trim_ascii_whitespace(value)).ok_or(StreamError::BadContentLength)?;
        if found.is_some_and(|previous| previous != value) {
            return Err(StreamError::BadContentLength);
        }
        found = Some(value);
    }
    found.ok_or(StreamError::BadContentLength)
}

fn trim_ascii_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |last| last + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn several_messages_in_one_push_with_keepalives() {
        let mut framer = StreamFramer::new(4096);
        let first = message(b"one");
        let second = message(b"\x00\r\n\r\nbinary\xff");
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(&first);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(&second);
        framer.push(&stream);
        assert_eq!(framer.next_message(), Ok(Some(Bytes::from(first))));
        assert_eq!(framer.next_message(), Ok(Some(Bytes::from(second))));
        assert_eq!(framer.next_message(), Ok(None));
        assert_eq!(framer.buffered_bytes(), 0);
    }

    #[test]
    fn one_message_byte_by_byte() {
        let mut framer = StreamFramer::new(4096);
        let whole = message(b"v=0\r\n\r\n\x80\x81");
        for (index, byte) in whole.iter().enumerate() {
            assert_eq!(framer.next_message(), Ok(None), "complete too early at byte {index}");
            framer.push(&[*byte]);
        }
        assert_eq!(framer.next_message(), Ok(Some(Bytes::from(whole))));
    }

    #[test]
    fn compact_content_length_and_bare_lf() {
        let mut framer = StreamFramer::new(4096);
        framer.push(b"OPTIONS sip:a@example.com SIP/2.0\nl : 2\n\nhiNEXT");
        assert_eq!(framer.next_message(), Ok(Some(Bytes::from_static(b"OPTIONS sip:a@example.com SIP/2.0\nl : 2\n\nhi"))));
        assert_eq!(framer.buffered_bytes(), 4);
    }

    #[test]
    fn missing_or_bad_content_length_is_an_error() {
        for head in [
            &b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: x\r\n\r\n"[..],
            b"OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: -1\r\n\r\n",
            b"OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n",
        ] {
            let mut framer = StreamFramer::new(4096);
            framer.push(head);
            assert_eq!(framer.next_message(), Err(StreamError::BadContentLength));
        }
    }

    #[test]
    fn bounds_headers_and_bodies() {
        let mut framer = StreamFramer::new(64);
        framer.push(&[b'a'; 65]);
        assert_eq!(framer.next_message(), Err(StreamError::HeadersTooLong(64)));
        let mut framer = StreamFramer::new(64);
        framer.push(b"OPTIONS sip:a@example.com SIP/2.0\r\nl: 999999\r\n\r\n");
        assert_eq!(framer.next_message(), Err(StreamError::BodyTooLong(64)));
    }
}
