//! Requests and responses.

use super::header_name::HeaderName;
use super::headers::Headers;
use super::lex;
use super::method::Method;
use super::typed::{CSeq, NameAddr, SipUri, TypedError, Via};
use super::via::ViaView;
use bytes::Bytes;

/// A SIP request. `uri` is the raw Request-URI; [`Request::uri`] parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Bytes,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: Bytes,
    pub headers: Headers,
    pub body: Bytes,
}

/// Either kind of message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    /// The header list.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The header list, mutable.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }
}

/// Typed accessors shared by requests and responses. Each parses on call (lazy).
macro_rules! typed_accessors {
    ($ty:ty) => {
        impl $ty {
            /// The topmost Via (the one this element reads, RFC 3261 §8.2.6.2 / §18.2.1).
            pub fn top_via(&self) -> Result<Via, TypedError> {
                let raw = self.headers.get(&HeaderName::Via).ok_or(TypedError::Missing("Via"))?;
                Via::parse_first(raw)
            }

            /// The topmost Via read in place: [`Self::top_via`] without copying, for
            /// readers that only look.
            pub fn top_via_view(&self) -> Result<ViaView<'_>, TypedError> {
                let raw = self.headers.get(&HeaderName::Via).ok_or(TypedError::Missing("Via"))?;
                Via::view_first(raw)
            }

            /// The `tag` of From, as `from_header()?.tag()` answers, without copying.
            pub fn from_tag(&self) -> Result<Option<&str>, TypedError> {
                let raw = self.headers.get(&HeaderName::From).ok_or(TypedError::Missing("From"))?;
                NameAddr::tag_of(raw)
            }

            /// The `tag` of To, as `to_header()?.tag()` answers, without copying.
            pub fn to_tag(&self) -> Result<Option<&str>, TypedError> {
                let raw = self.headers.get(&HeaderName::To).ok_or(TypedError::Missing("To"))?;
                NameAddr::tag_of(raw)
            }

            /// Every Via value in order (comma-separated values split).
            pub fn vias(&self) -> Result<Vec<Via>, TypedError> {
                let mut out = Vec::new();
                for raw in self.headers.get_all(&HeaderName::Via) {
                    out.extend(Via::parse_list(raw)?);
                }
                Ok(out)
            }

            /// The Call-ID value.
            pub fn call_id(&self) -> Result<&Bytes, TypedError> {
                self.headers.get(&HeaderName::CallId).ok_or(TypedError::Missing("Call-ID"))
            }

            /// The CSeq header.
            pub fn cseq(&self) -> Result<CSeq, TypedError> {
                let raw = self.headers.get(&HeaderName::CSeq).ok_or(TypedError::Missing("CSeq"))?;
                CSeq::parse(raw)
            }

            /// The From header.
            pub fn from_header(&self) -> Result<NameAddr, TypedError> {
                let raw = self.headers.get(&HeaderName::From).ok_or(TypedError::Missing("From"))?;
                NameAddr::parse(raw)
            }

            /// The To header.
            pub fn to_header(&self) -> Result<NameAddr, TypedError> {
                let raw = self.headers.get(&HeaderName::To).ok_or(TypedError::Missing("To"))?;
                NameAddr::parse(raw)
            }

            /// Every Contact value (a `*` Contact yields an error; check the raw header).
            pub fn contacts(&self) -> Result<Vec<NameAddr>, TypedError> {
                let mut out = Vec::new();
                for raw in self.headers.get_all(&HeaderName::Contact) {
                    out.extend(NameAddr::parse_list(raw)?);
                }
                Ok(out)
            }

            /// Replaces the topmost Via value with `via` (e.g. after adding `received` and
            /// `rport`, RFC 3261 §18.2.1, RFC 3581 §4). Other values sharing the first Via
            /// field are kept as they were.
            pub fn set_top_via(&mut self, via: &Via) -> Result<(), TypedError> {
                let raw = self.headers.get(&HeaderName::Via).ok_or(TypedError::Missing("Via"))?;
                let text = lex::text(raw, "Via")?;
                let parts = lex::split_outside_quotes(text, b',', "Via")?;
                let mut values = vec![via.to_string()];
                values.extend(parts.iter().skip(1).map(|part| lex::trim(part).to_string()));
                self.headers.replace_first(&HeaderName::Via, values.join(", "));
                Ok(())
            }

            /// Record-Route values in order.
            pub fn record_routes(&self) -> Result<Vec<NameAddr>, TypedError> {
                let mut out = Vec::new();
                for raw in self.headers.get_all(&HeaderName::RecordRoute) {
                    out.extend(NameAddr::parse_list(raw)?);
                }
                Ok(out)
            }
        }
    };
}

typed_accessors!(Request);
typed_accessors!(Response);

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: impl Into<Bytes>) -> Self {
        Request { method, uri: uri.into(), headers: Headers::new(), body: Bytes::new() }
    }

    /// The Request-URI, parsed.
    pub fn uri(&self) -> Result<SipUri, TypedError> {
        SipUri::parse(&self.uri)
    }

    /// Max-Forwards, if present and valid.
    pub fn max_forwards(&self) -> Result<Option<u32>, TypedError> {
        match self.headers.get_str(&HeaderName::MaxForwards) {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| TypedError::Invalid("Max-Forwards")),
        }
    }
}

impl Response {
    /// A response with no headers and no body.
    pub fn new(status: u16, reason: impl Into<Bytes>) -> Self {
        Response { status, reason: reason.into(), headers: Headers::new(), body: Bytes::new() }
    }

    /// A response to `request`: copies Via (all, in order), From, To, Call-ID and CSeq as
    /// RFC 3261 §8.2.6.2 requires. The caller adds a To tag where the RFC asks for one.
    pub fn to_request(request: &Request, status: u16, reason: &str) -> Self {
        let mut response = Response::new(status, Bytes::copy_from_slice(reason.as_bytes()));
        for header in request.headers.iter() {
            if matches!(
                header.name,
                HeaderName::Via | HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq
            ) {
                response.headers.push(header.name.clone(), header.value.clone());
            }
        }
        response
    }

    /// Sets the To tag (RFC 3261 §8.2.6.2: a UAS adds one to every response but 100),
    /// replacing any tag already there.
    pub fn set_to_tag(&mut self, tag: &str) -> Result<(), TypedError> {
        let to = self.to_header()?.with_tag(tag);
        self.headers.set(HeaderName::To, to.to_string());
        Ok(())
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_vias(first_field: &str) -> Request {
        let mut request = Request::new(Method::Options, "sip:a@example.com");
        request.headers.push(HeaderName::From, "<sip:b@example.com>;tag=1");
        request.headers.push(HeaderName::Via, first_field.to_string());
        request.headers.push(HeaderName::Via, "SIP/2.0/UDP third.example.com");
        request
    }

    #[test]
    fn set_top_via_keeps_the_other_values() {
        let mut request = request_with_vias("SIP/2.0/UDP first.example.com;rport, SIP/2.0/TCP second.example.com");
        let mut top = request.top_via().expect("valid");
        top.set_received("192.0.2.7");
        top.set_rport(5099);
        request.set_top_via(&top).expect("has a Via");
        let hosts: Vec<String> = request.vias().expect("valid").into_iter().map(|via| via.host).collect();
        assert_eq!(hosts, ["first.example.com", "second.example.com", "third.example.com"]);
        let top = request.top_via().expect("valid");
        assert_eq!((top.received(), top.rport()), (Some("192.0.2.7"), Some(Some(5099))));
        assert_eq!(request.headers.get(&HeaderName::From).expect("kept").as_ref(), b"<sip:b@example.com>;tag=1");
    }

    #[test]
    fn set_to_tag_adds_a_tag() {
        let mut request = request_with_vias("SIP/2.0/UDP first.example.com");
        request.headers.push(HeaderName::To, "Bob <sip:bob@example.com>");
        let mut response = Response::to_request(&request, 200, "OK");
        response.set_to_tag("as83kd").expect("To present");
        assert_eq!(response.to_header().expect("valid").tag(), Some("as83kd"));
        assert_eq!(response.headers.get_str(&HeaderName::To), Some("\"Bob\" <sip:bob@example.com>;tag=as83kd"));
        assert_eq!(Response::new(200, "OK").set_to_tag("x"), Err(TypedError::Missing("To")));
    }
}
