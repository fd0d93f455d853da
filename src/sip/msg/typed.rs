//! Typed views of the headers the engine reads. Parsed on demand from raw values.
//! (Skeleton: implemented by the message-layer work.)

use super::method::Method;
use bytes::Bytes;

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    pub display_name: Option<String>,
    pub uri: SipUri,
    pub params: Vec<Param>,
}

impl Via {
    /// The first value of a (possibly comma-separated) Via field.
    pub fn parse_first(_raw: &[u8]) -> Result<Via, TypedError> {
        todo!("message layer")
    }
    /// All values of one Via field.
    pub fn parse_list(_raw: &[u8]) -> Result<Vec<Via>, TypedError> {
        todo!("message layer")
    }
    /// A parameter: `None` if absent, `Some(None)` if present without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }
    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }
}

impl CSeq {
    /// `1 INVITE`.
    pub fn parse(_raw: &[u8]) -> Result<CSeq, TypedError> {
        todo!("message layer")
    }
}

impl SipUri {
    /// A URI (sip, sips; other schemes are kept with `host` holding the opaque part).
    pub fn parse(_raw: &[u8]) -> Result<SipUri, TypedError> {
        todo!("message layer")
    }
}

impl NameAddr {
    /// One value.
    pub fn parse(_raw: &[u8]) -> Result<NameAddr, TypedError> {
        todo!("message layer")
    }
    /// A comma-separated list (commas inside quotes or angle brackets do not split).
    pub fn parse_list(_raw: &[u8]) -> Result<Vec<NameAddr>, TypedError> {
        todo!("message layer")
    }
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.iter().find(|p| p.name.eq_ignore_ascii_case("tag")).and_then(|p| p.value.as_deref())
    }
}
