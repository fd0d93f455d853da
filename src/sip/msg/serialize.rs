//! Serialisation. Bodies are written byte for byte (binary-safe) and Content-Length is
//! always recomputed from the body, so a message we send is framed correctly on TCP.

use super::header_name::HeaderName;
use super::headers::Headers;
use super::message::{Message, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};

/// The exact size of the header section and body as [`write_headers_and_body`] writes
/// them, so the output buffer is allocated once (every message we send passes here).
fn headers_and_body_len(headers: &Headers, body: &Bytes) -> usize {
    let fields: usize = headers
        .iter()
        .filter(|header| header.name != HeaderName::ContentLength)
        .map(|header| header.name.as_str().len() + 2 + header.value.len() + 2)
        .sum();
    fields + b"Content-Length: ".len() + decimal_len(body.len()) + 4 + body.len()
}

/// How many decimal digits `value` has.
fn decimal_len(value: usize) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Writes `value` in decimal without a temporary `String`.
fn put_decimal(out: &mut BytesMut, value: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

fn write_headers_and_body(out: &mut BytesMut, headers: &Headers, body: &Bytes) {
    for header in headers.iter() {
        if header.name == HeaderName::ContentLength {
            continue;
        }
        out.put_slice(header.name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(&header.value);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"Content-Length: ");
    put_decimal(out, body.len());
    out.put_slice(b"\r\n\r\n");
    out.put_slice(body);
}

impl Request {
    /// The wire form.
    pub fn to_bytes(&self) -> Bytes {
        let start_line_len = self.method.as_bytes().len() + 1 + self.uri.len() + b" SIP/2.0\r\n".len();
        let mut out = BytesMut::with_capacity(start_line_len + headers_and_body_len(&self.headers, &self.body));
        out.put_slice(self.method.as_bytes());
        out.put_u8(b' ');
        out.put_slice(&self.uri);
        out.put_slice(b" SIP/2.0\r\n");
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out.freeze()
    }
}

impl Response {
    /// The wire form.
    pub fn to_bytes(&self) -> Bytes {
        let start_line_len = b"SIP/2.0 ".len() + decimal_len(usize::from(self.status)) + 1 + self.reason.len() + 2;
        let mut out = BytesMut::with_capacity(start_line_len + headers_and_body_len(&self.headers, &self.body));
        out.put_slice(b"SIP/2.0 ");
        put_decimal(&mut out, usize::from(self.status));
        out.put_u8(b' ');
        out.put_slice(&self.reason);
        out.put_slice(b"\r\n");
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out.freeze()
    }
}

impl Message {
    /// The wire form.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::msg::Method;

    #[test]
    fn decimals_and_sizes_are_exact() {
        for value in [0usize, 7, 9, 10, 99, 100, 487, 65_535, 1_000_000, usize::MAX] {
            let mut out = BytesMut::new();
            put_decimal(&mut out, value);
            assert_eq!(out.as_ref(), value.to_string().as_bytes());
            assert_eq!(decimal_len(value), value.to_string().len());
        }
        let mut request = Request::new(Method::Invite, "sip:14036@192.0.2.1");
        request.headers.push(HeaderName::CallId, "abc");
        request.headers.push(HeaderName::ContentLength, "999");
        request.body = Bytes::from_static(b"v=0\r\n");
        let wire = request.to_bytes();
        assert_eq!(wire.as_ref(), b"INVITE sip:14036@192.0.2.1 SIP/2.0\r\nCall-ID: abc\r\nContent-Length: 5\r\n\r\nv=0\r\n");
        let mut response = Response::new(180, "Ringing");
        response.headers.push(HeaderName::CallId, "abc");
        let wire = response.to_bytes();
        assert_eq!(wire.as_ref(), b"SIP/2.0 180 Ringing\r\nCall-ID: abc\r\nContent-Length: 0\r\n\r\n");
        let head_len = b"SIP/2.0 180 Ringing\r\n".len();
        assert_eq!(head_len + headers_and_body_len(&response.headers, &response.body), wire.len());
    }
}
