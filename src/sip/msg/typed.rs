//! Typed views of the headers the engine reads. Parsed on demand from raw values; every
//! view has a `Display` that writes it back in wire form (so the engine can add `received`,
//! `rport` or a `tag` and put the header back).
//!
//! The parsing lives next to each type's grammar: [`super::via`], [`super::uri`],
//! [`super::name_addr`]; `CSeq` is small enough to live here.

use super::lex;
use super::method::Method;
use std::fmt;

/// Why a typed view could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypedError {
    /// A mandatory header is absent; the name is the header's canonical spelling.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The header is present but does not parse.
    #[error("invalid {0} header")]
    Invalid(&'static str),
}

/// A transport token of a Via (RFC 3261 §20.42); unknown transports are kept (RFC 4475 §3.1.1.10).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other(String),
}

/// A `name[=value]` parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// One Via value: `SIP/2.0/UDP host:port;params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    pub transport: Transport,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

/// A CSeq value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// A SIP or SIPS URI (RFC 3261 §19.1), or another scheme kept opaque.
///
/// `scheme` is lower-cased. `user` and `password` keep their `%XX` escapes as received so
/// the URI serialises back unchanged; [`SipUri::user_unescaped`] decodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<Param>,
    pub headers: Vec<Param>,
}

/// `[display-name] <uri>;params` or `uri;params` (From, To, Contact, Route, Record-Route).
///
/// `display_name` holds the text without quotes and escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    pub display_name: Option<String>,
    pub uri: SipUri,
    pub params: Vec<Param>,
}

impl Transport {
    /// The transport for a Via token (case-insensitive).
    pub fn from_token(token: &str) -> Transport {
        const KNOWN: [(&str, Transport); 6] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        KNOWN
            .into_iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(token))
            .map_or_else(|| Transport::Other(token.to_string()), |(_, transport)| transport)
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(token) => token,
        }
    }

    /// True for transports secured by TLS (default port 5061, RFC 3261 §19.1.2).
    pub fn is_secure(&self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Param {
    /// A parameter with a value.
    pub fn new(name: &str, value: &str) -> Param {
        Param { name: name.to_string(), value: Some(value.to_string()) }
    }

    /// A parameter without a value (`;lr`).
    pub fn flag(name: &str) -> Param {
        Param { name: name.to_string(), value: None }
    }
}

impl fmt::Display for Param {
    /// `;name` or `;name=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, ";{}={}", self.name, value),
            None => write!(f, ";{}", self.name),
        }
    }
}

/// The value of parameter `name` (case-insensitive): `None` absent, `Some(None)` a flag.
pub(crate) fn find_param<'a>(params: &'a [Param], name: &str) -> Option<Option<&'a str>> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name)).map(|p| p.value.as_deref())
}

/// Sets parameter `name` (replacing an existing one's value in place, else appending).
pub(crate) fn set_param(params: &mut Vec<Param>, name: &str, value: Option<&str>) {
    let value = value.map(str::to_string);
    match params.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
        Some(existing) => existing.value = value,
        None => params.push(Param { name: name.to_string(), value }),
    }
}

impl CSeq {
    /// `1 INVITE`. The number must fit 32 bits (RFC 3261 §8.1.1.5) and the method must be a
    /// token; they are separated by linear white space.
    pub fn parse(raw: &[u8]) -> Result<CSeq, TypedError> {
        const WHAT: &str = "CSeq";
        let text = lex::text(raw, WHAT)?;
        let digits_len = text.bytes().take_while(u8::is_ascii_digit).count();
        let (digits, rest) = text.split_at(digits_len);
        if digits.is_empty() || digits.len() > 10 || !rest.starts_with([' ', '\t']) {
            return Err(TypedError::Invalid(WHAT));
        }
        let seq: u32 = digits.parse().map_err(|_| TypedError::Invalid(WHAT))?;
        let method = lex::trim(rest);
        if !lex::is_token(method.as_bytes()) {
            return Err(TypedError::Invalid(WHAT));
        }
        Ok(CSeq { seq, method: Method::from_token(method.as_bytes()) })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_parses_and_round_trips() {
        let cseq = CSeq::parse(b" 4294967295   INVITE ").expect("valid");
        assert_eq!(cseq.seq, u32::MAX);
        assert_eq!(cseq.method, Method::Invite);
        assert_eq!(cseq.to_string(), "4294967295 INVITE");
        let extension = CSeq::parse(b"1 NEWMETHOD").expect("valid");
        assert_eq!(extension.method, Method::Extension(bytes::Bytes::from_static(b"NEWMETHOD")));
    }

    #[test]
    fn cseq_rejects_bad_values() {
        assert!(CSeq::parse(b"4294967296 INVITE").is_err());
        assert!(CSeq::parse(b"36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse(b"-1 INVITE").is_err());
        assert!(CSeq::parse(b"1INVITE").is_err());
        assert!(CSeq::parse(b"1 IN VITE").is_err());
        assert!(CSeq::parse(b"1").is_err());
        assert!(CSeq::parse(b"").is_err());
    }

    #[test]
    fn param_display_and_set() {
        let mut params = vec![Param::flag("rport"), Param::new("branch", "z9hG4bK1")];
        set_param(&mut params, "RPORT", Some("5060"));
        set_param(&mut params, "received", Some("192.0.2.1"));
        let text: String = params.iter().map(|p| p.to_string()).collect();
        assert_eq!(text, ";rport=5060;branch=z9hG4bK1;received=192.0.2.1");
        assert_eq!(find_param(&params, "rport"), Some(Some("5060")));
    }
}
