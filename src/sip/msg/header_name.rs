//! Header names: case-insensitive (RFC 3261 §7.3.1), with the compact forms of §7.3.3.

use bytes::Bytes;

/// A header field name. Known names are variants; compact forms (`i`, `v`, `l`, `f`, `t`,
/// `m`, `c`, `e`, `k`, `s`, `r`, `o`, `u`, `b`, `x`) map to the same variant as the long form.
#[derive(Clone, Debug)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    Contact,
    ContentLength,
    ContentType,
    ContentEncoding,
    Route,
    RecordRoute,
    Allow,
    Accept,
    Supported,
    Require,
    ProxyRequire,
    Unsupported,
    Expires,
    MinExpires,
    RetryAfter,
    Authorization,
    WwwAuthenticate,
    ProxyAuthorization,
    ProxyAuthenticate,
    UserAgent,
    Server,
    Date,
    Subject,
    Event,
    ReferTo,
    ReferredBy,
    Replaces,
    SessionExpires,
    CallInfo,
    Reason,
    Warning,
    /// Any other name, as spelled on the wire (compared case-insensitively).
    Other(Bytes),
}

impl HeaderName {
    /// The name for a wire token, resolving compact forms and case.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            match name[0].to_ascii_lowercase() {
                b'v' => return HeaderName::Via,
                b'f' => return HeaderName::From,
                b't' => return HeaderName::To,
                b'i' => return HeaderName::CallId,
                b'm' => return HeaderName::Contact,
                b'l' => return HeaderName::ContentLength,
                b'c' => return HeaderName::ContentType,
                b'e' => return HeaderName::ContentEncoding,
                b'k' => return HeaderName::Supported,
                b's' => return HeaderName::Subject,
                b'o' => return HeaderName::Event,
                b'r' => return HeaderName::ReferTo,
                b'b' => return HeaderName::ReferredBy,
                b'x' => return HeaderName::SessionExpires,
                _ => {}
            }
        }
        for (known, canonical) in KNOWN {
            if name.eq_ignore_ascii_case(canonical.as_bytes()) {
                return known.clone();
            }
        }
        HeaderName::Other(Bytes::copy_from_slice(name))
    }

    /// The canonical long-form spelling used when serialising.
    pub fn as_str(&self) -> &str {
        if let HeaderName::Other(raw) = self {
            return std::str::from_utf8(raw).unwrap_or("X-Invalid");
        }
        KNOWN
            .iter()
            .find(|(known, _)| known == self)
            .map(|(_, canonical)| *canonical)
            .unwrap_or("X-Invalid")
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for HeaderName {}

const KNOWN: &[(HeaderName, &str)] = &[
    (HeaderName::Via, "Via"),
    (HeaderName::From, "From"),
    (HeaderName::To, "To"),
    (HeaderName::CallId, "Call-ID"),
    (HeaderName::CSeq, "CSeq"),
    (HeaderName::MaxForwards, "Max-Forwards"),
    (HeaderName::Contact, "Contact"),
    (HeaderName::ContentLength, "Content-Length"),
    (HeaderName::ContentType, "Content-Type"),
    (HeaderName::ContentEncoding, "Content-Encoding"),
    (HeaderName::Route, "Route"),
    (HeaderName::RecordRoute, "Record-Route"),
    (HeaderName::Allow, "Allow"),
    (HeaderName::Accept, "Accept"),
    (HeaderName::Supported, "Supported"),
    (HeaderName::Require, "Require"),
    (HeaderName::ProxyRequire, "Proxy-Require"),
    (HeaderName::Unsupported, "Unsupported"),
    (HeaderName::Expires, "Expires"),
    (HeaderName::MinExpires, "Min-Expires"),
    (HeaderName::RetryAfter, "Retry-After"),
    (HeaderName::Authorization, "Authorization"),
    (HeaderName::WwwAuthenticate, "WWW-Authenticate"),
    (HeaderName::ProxyAuthorization, "Proxy-Authorization"),
    (HeaderName::ProxyAuthenticate, "Proxy-Authenticate"),
    (HeaderName::UserAgent, "User-Agent"),
    (HeaderName::Server, "Server"),
    (HeaderName::Date, "Date"),
    (HeaderName::Subject, "Subject"),
    (HeaderName::Event, "Event"),
    (HeaderName::ReferTo, "Refer-To"),
    (HeaderName::ReferredBy, "Referred-By"),
    (HeaderName::Replaces, "Replaces"),
    (HeaderName::SessionExpires, "Session-Expires"),
    (HeaderName::CallInfo, "Call-Info"),
    (HeaderName::Reason, "Reason"),
    (HeaderName::Warning, "Warning"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive() {
        assert_eq!(HeaderName::from_bytes(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"cAlL-iD"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"X-Foo"), HeaderName::from_bytes(b"x-foo"));
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
    }
}
