//! SIP and SIPS URIs (RFC 3261 §19.1, grammar §25.1). Other schemes are kept opaque so
//! the caller can answer 416 (RFC 4475 §3.3.2).

use super::lex::{self, ByteSet};
use super::typed::{find_param, Param, SipUri, TypedError};
use std::fmt;

const WHAT: &str = "URI";

/// `user-unreserved` and `unreserved` marks allowed in the user part besides alphanumerics.
const USER_MARKS: ByteSet = ByteSet::alphanumeric_and(b"-_.!~*'()%&=+$,;?/");
/// Marks allowed in the password.
const PASSWORD_MARKS: ByteSet = ByteSet::alphanumeric_and(b"-_.!~*'()%&=+$,");
/// Marks allowed in URI header names and values (`hnv-unreserved`, `unreserved`, escapes).
const HEADER_MARKS: ByteSet = ByteSet::alphanumeric_and(b"-_.!~*'()%[]/?:+$");

impl SipUri {
    /// A URI (sip, sips; other schemes are kept with `host` holding the opaque part).
    pub fn parse(raw: &[u8]) -> Result<SipUri, TypedError> {
        let text = std::str::from_utf8(raw).map_err(|_| TypedError::Invalid(WHAT))?;
        SipUri::parse_text(text)
    }

    /// [`SipUri::parse`] of text that is already UTF-8 (a part of a header value).
    pub(crate) fn parse_text(text: &str) -> Result<SipUri, TypedError> {
        let (scheme, rest) = scheme_and_rest(text)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "sip" || scheme == "sips" {
            parse_sip(scheme, rest)
        } else {
            Ok(SipUri {
                scheme,
                user: None,
                password: None,
                host: rest.to_string(),
                port: None,
                params: Vec::new(),
                headers: Vec::new(),
            })
        }
    }

    /// Accepts exactly what [`SipUri::parse_text`] accepts, without building the URI: the
    /// parser checks the URIs of every received message and keeps none of them.
    pub(crate) fn check_text(text: &str) -> Result<(), TypedError> {
        SipUri::check_for_headers(text).map(drop)
    }

    /// [`SipUri::check_text`] that also tells whether the URI carries headers (`?h=v`),
    /// as a parsed URI's non-empty `headers` would.
    pub(crate) fn check_for_headers(text: &str) -> Result<bool, TypedError> {
        let (scheme, rest) = scheme_and_rest(text)?;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let parts = sip_parts(rest)?;
            if let Some(headers_text) = parts.headers_text {
                // Never empty when it parses: `split('&')` yields at least one pair.
                return Ok(!parse_uri_headers(headers_text)?.is_empty());
            }
        }
        Ok(false)
    }

    /// The scheme as written (compare it case-insensitively) of a URI that
    /// [`SipUri::parse`] accepts; the same errors, without building the URI.
    pub(crate) fn checked_scheme(raw: &[u8]) -> Result<&str, TypedError> {
        let text = std::str::from_utf8(raw).map_err(|_| TypedError::Invalid(WHAT))?;
        SipUri::check_text(text)?;
        scheme_and_rest(text).map(|(scheme, _)| scheme)
    }

    /// True for `sip:` and `sips:` URIs (the only ones whose parts are parsed).
    pub fn is_sip(&self) -> bool {
        self.scheme == "sip" || self.scheme == "sips"
    }

    /// The user part as received (escapes intact), or `""` when there is none.
    pub fn user_str(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    /// The user part with `%XX` escapes decoded (RFC 3261 §19.1.4 compares decoded users);
    /// bytes that are not UTF-8 are replaced.
    pub fn user_unescaped(&self) -> Option<String> {
        let user = self.user.as_deref()?;
        let bytes = lex::unescape(user)?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A URI parameter: `None` if absent, `Some(None)` if present without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The port, or the scheme's default (5060 for sip, 5061 for sips; RFC 3261 §19.1.2).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.scheme == "sips" { 5061 } else { 5060 })
    }
}

fn all_allowed(text: &str, allowed: &ByteSet) -> bool {
    text.bytes().all(|b| allowed.contains(b)) && lex::has_valid_escapes(text)
}

/// The scheme (as written) and the rest of a URI, after the checks every URI must pass.
fn scheme_and_rest(text: &str) -> Result<(&str, &str), TypedError> {
    // A URI never contains white space, controls, quotes or angle brackets (RFC 3986 §2);
    // their presence means a framing mistake such as `< sip:a@b >` (RFC 4475 §3.1.2.14).
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"')) {
        return Err(TypedError::Invalid(WHAT));
    }
    let (scheme, rest) = lex::split_once_byte(text, b':').ok_or(TypedError::Invalid(WHAT))?;
    let scheme_valid = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_valid || rest.is_empty() {
        return Err(TypedError::Invalid(WHAT));
    }
    Ok((scheme, rest))
}

/// The checked parts of a SIP URI after `sip:` / `sips:`, as slices of the text. URI
/// headers are left as text (they are rare; [`parse_uri_headers`] checks them).
struct SipParts<'a> {
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
    params_text: &'a str,
    headers_text: Option<&'a str>,
}

fn sip_parts(rest: &str) -> Result<SipParts<'_>, TypedError> {
    // '@' may not appear unescaped anywhere but between userinfo and host.
    let (userinfo, hostport_and_more) = match lex::split_once_byte(rest, b'@') {
        Some((userinfo, after)) => (Some(userinfo), after),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(userinfo) => {
            let (user, password) = match lex::split_once_byte(userinfo, b':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            if user.is_empty() || !all_allowed(user, &USER_MARKS) {
                return Err(TypedError::Invalid(WHAT));
            }
            if let Some(password) = password {
                if !all_allowed(password, &PASSWORD_MARKS) {
                    return Err(TypedError::Invalid(WHAT));
                }
            }
            (Some(user), password)
        }
    };
    let (before_headers, headers_text) = match lex::split_once_byte(hostport_and_more, b'?') {
        Some((before, headers)) => (before, Some(headers)),
        None => (hostport_and_more, None),
    };
    let (hostport, params_text) = match lex::find_byte(before_headers, b';') {
        Some(semicolon) => before_headers.split_at(semicolon),
        None => (before_headers, ""),
    };
    let (host, port) = lex::split_host_port_str(hostport, WHAT)?;
    let mut names_escaped_validly = true;
    lex::for_each_param(params_text, WHAT, |name, _| names_escaped_validly &= lex::has_valid_escapes(name))?;
    if !names_escaped_validly {
        return Err(TypedError::Invalid(WHAT));
    }
    Ok(SipParts { user, password, host, port, params_text, headers_text })
}

/// The part after `sip:` / `sips:`.
fn parse_sip(scheme: String, rest: &str) -> Result<SipUri, TypedError> {
    let parts = sip_parts(rest)?;
    let params = lex::parse_params(parts.params_text, WHAT)?;
    let headers = match parts.headers_text {
        None => Vec::new(),
        Some(text) => parse_uri_headers(text)?,
    };
    Ok(SipUri {
        scheme,
        user: parts.user.map(str::to_string),
        password: parts.password.map(str::to_string),
        host: parts.host.to_string(),
        port: parts.port,
        params,
        headers,
    })
}

/// `hname=hvalue *( & hname=hvalue )`; the value may be empty.
fn parse_uri_headers(text: &str) -> Result<Vec<Param>, TypedError> {
    text.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').ok_or(TypedError::Invalid(WHAT))?;
            if name.is_empty() || !all_allowed(name, &HEADER_MARKS) || !all_allowed(value, &HEADER_MARKS) {
                return Err(TypedError::Invalid(WHAT));
            }
            Ok(Param::new(name, value))
        })
        .collect()
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if !self.is_sip() {
            return f.write_str(&self.host);
        }
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(password) = &self.password {
                write!(f, ":{password}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for param in &self.params {
            write!(f, "{param}")?;
        }
        for (index, header) in self.headers.iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            write!(f, "{separator}{}={}", header.name, header.value.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> SipUri {
        let uri = SipUri::parse(text.as_bytes()).expect(text);
        assert_eq!(uri.to_string(), text);
        uri
    }

    #[test]
    fn parses_full_sip_uri() {
        let uri = round_trip("sips:alice:secret@[2001:db8::1]:5071;transport=tcp;lr?subject=hi&priority=urgent");
        assert_eq!(uri.scheme, "sips");
        assert_eq!(uri.user_str(), "alice");
        assert_eq!(uri.password.as_deref(), Some("secret"));
        assert_eq!(uri.host, "[2001:db8::1]");
        assert_eq!(uri.port, Some(5071));
        assert_eq!(uri.param("transport"), Some(Some("tcp")));
        assert_eq!(uri.param("lr"), Some(None));
        assert_eq!(uri.headers.len(), 2);
        assert_eq!(uri.port_or_default(), 5071);
    }

    #[test]
    fn keeps_escapes_and_decodes_on_request() {
        let uri = round_trip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(uri.user_str(), "sips%3Auser%40example.com");
        assert_eq!(uri.user_unescaped().as_deref(), Some("sips:user@example.com"));
        let semi = round_trip("sip:user;par=u%40example.net@example.com");
        assert_eq!(semi.user_str(), "user;par=u%40example.net");
        assert_eq!(semi.host, "example.com");
        let null = round_trip("sip:null-%00-null@example.com");
        assert_eq!(null.user_unescaped().as_deref(), Some("null-\0-null"));
    }

    #[test]
    fn scheme_is_case_insensitive_and_other_schemes_are_opaque() {
        let upper = SipUri::parse(b"SIP:bob@Example.COM").expect("valid");
        assert_eq!(upper.scheme, "sip");
        assert_eq!(upper.port_or_default(), 5060);
        let tel = round_trip("tel:+31-14036");
        assert_eq!(tel.scheme, "tel");
        assert_eq!(tel.host, "+31-14036");
        assert!(!tel.is_sip());
        assert_eq!(round_trip("http://example.com/x").scheme, "http");
    }

    #[test]
    fn rejects_malformed_uris() {
        for bad in [
            "",
            "sip:",
            "nocolon",
            "sip:@example.com",
            "sip:user@",
            "sip:user@exa mple.com",
            "<sip:user@example.com>",
            "sip:user@example.com:99999",
            "sip:us%zzer@example.com",
            "sip:user@example.com?noequals",
            "1sip:user@example.com",
        ] {
            assert!(SipUri::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
