//! Serialisation. Bodies are written byte for byte (binary-safe) and Content-Length is
//! always recomputed from the body, so a message we send is framed correctly on TCP.

use super::header_name::HeaderName;
use super::headers::Headers;
use super::message::{Message, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};

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
    out.put_slice(body.len().to_string().as_bytes());
    out.put_slice(b"\r\n\r\n");
    out.put_slice(body);
}

impl Request {
    /// The wire form.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(256 + self.body.len());
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
        let mut out = BytesMut::with_capacity(256 + self.body.len());
        out.put_slice(b"SIP/2.0 ");
        out.put_slice(self.status.to_string().as_bytes());
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
