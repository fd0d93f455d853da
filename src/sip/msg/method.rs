//! SIP methods, including extension methods (RFC 3261 §25.1 `extension-method = token`).

use bytes::Bytes;
use std::fmt;

/// A request method. Extension methods keep their exact (case-sensitive) spelling:
/// RFC 3261 §7.1 says method names are case-sensitive.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Info,
    Refer,
    Notify,
    Subscribe,
    Update,
    Prack,
    Message,
    Publish,
    /// Any other token, as it appeared on the wire.
    Extension(Bytes),
}

impl Method {
    /// The method for a token (assumed already validated as a `token`).
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"INFO" => Method::Info,
            b"REFER" => Method::Refer,
            b"NOTIFY" => Method::Notify,
            b"SUBSCRIBE" => Method::Subscribe,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            b"MESSAGE" => Method::Message,
            b"PUBLISH" => Method::Publish,
            other => Method::Extension(Bytes::copy_from_slice(other)),
        }
    }

    /// The wire spelling.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Options => b"OPTIONS",
            Method::Register => b"REGISTER",
            Method::Info => b"INFO",
            Method::Refer => b"REFER",
            Method::Notify => b"NOTIFY",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Update => b"UPDATE",
            Method::Prack => b"PRACK",
            Method::Message => b"MESSAGE",
            Method::Publish => b"PUBLISH",
            Method::Extension(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}
