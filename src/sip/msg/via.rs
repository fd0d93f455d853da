//! The Via header (RFC 3261 §20.42, grammar §25.1):
//! `SIP / 2.0 / transport LWS sent-by *( SEMI via-params )`, white space allowed around `/`.

use super::lex;
use super::typed::{find_param, set_param, Transport, TypedError, Via};
use std::fmt;

const WHAT: &str = "Via";

impl Via {
    /// The first value of a (possibly comma-separated) Via field.
    pub fn parse_first(raw: &[u8]) -> Result<Via, TypedError> {
        let text = lex::text(raw, WHAT)?;
        parse_one(lex::first_outside_quotes(text, b',', WHAT)?)
    }

    /// All values of one Via field.
    pub fn parse_list(raw: &[u8]) -> Result<Vec<Via>, TypedError> {
        let text = lex::text(raw, WHAT)?;
        lex::split_outside_quotes(text, b',', WHAT)?.into_iter().map(parse_one).collect()
    }

    /// Checks every value of one Via field, as [`Via::parse_list`] would, without keeping them.
    pub(crate) fn check_list(raw: &[u8]) -> Result<(), TypedError> {
        let text = lex::text(raw, WHAT)?;
        lex::for_each_outside_quotes(text, b',', WHAT, check_one)
    }

    /// The first value of a Via field as a view of `raw`: accepts exactly what
    /// [`Via::parse_first`] accepts (same errors) and copies nothing, for the readers that
    /// only look (transaction keys, response routing), which run for every message.
    pub fn view_first(raw: &[u8]) -> Result<ViaView<'_>, TypedError> {
        let text = lex::text(raw, WHAT)?;
        let parts = split_parts(lex::first_outside_quotes(text, b',', WHAT)?)?;
        lex::for_each_param(parts.params_text, WHAT, |_, _| {})?;
        Ok(ViaView { parts })
    }

    /// A parameter: `None` if absent, `Some(None)` if present without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The port of sent-by, or the transport's default (5060, or 5061 over TLS; RFC 3261 §18.2.2).
    pub fn sent_by_port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.transport.is_secure() { 5061 } else { 5060 })
    }

    /// `rport` (RFC 3581): `None` absent, `Some(None)` requested (no value, or a value that
    /// is not a port), `Some(Some(port))` filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|value| value.and_then(|text| text.parse().ok()))
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&str> {
        self.param("received").flatten()
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.param("maddr").flatten()
    }

    /// The `ttl` parameter, if it is a number.
    pub fn ttl(&self) -> Option<u8> {
        self.param("ttl").flatten().and_then(|text| text.parse().ok())
    }

    /// Sets `received=address` (RFC 3261 §18.2.1: the server adds it when sent-by differs
    /// from the packet's source address).
    pub fn set_received(&mut self, address: &str) {
        set_param(&mut self.params, "received", Some(address));
    }

    /// Fills in `rport=port` (RFC 3581 §4).
    pub fn set_rport(&mut self, port: u16) {
        set_param(&mut self.params, "rport", Some(&port.to_string()));
    }

    /// Sets or replaces any parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        set_param(&mut self.params, name, value);
    }
}

/// One Via value.
fn parse_one(text: &str) -> Result<Via, TypedError> {
    let parts = split_parts(text)?;
    let params = lex::parse_params(parts.params_text, WHAT)?;
    Ok(Via { transport: Transport::from_token(parts.transport), host: parts.host.to_string(), port: parts.port, params })
}

/// Accepts exactly what [`parse_one`] accepts, building nothing (the parser's syntax
/// check of every received message).
fn check_one(text: &str) -> Result<(), TypedError> {
    let parts = split_parts(text)?;
    lex::for_each_param(parts.params_text, WHAT, |_, _| {})
}

/// A checked Via value read in place (see [`Via::view_first`]); the accessors answer as
/// the same-named ones of [`Via`] do.
#[derive(Clone, Copy, Debug)]
pub struct ViaView<'a> {
    parts: ViaParts<'a>,
}

impl<'a> ViaView<'a> {
    /// The sent-by host as written.
    pub fn host(&self) -> &'a str {
        self.parts.host
    }

    /// A parameter: `None` if absent, `Some(None)` if present without value (the first of
    /// that name, case-insensitive, as [`Via::param`]).
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        let mut found = None;
        // The parameters were checked when the view was made, so this cannot fail.
        let _ = lex::for_each_param(self.parts.params_text, WHAT, |param, value| {
            if found.is_none() && param.eq_ignore_ascii_case(name) {
                found = Some(value);
            }
        });
        found
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.param("branch").flatten()
    }

    /// See [`Via::sent_by_port_or_default`].
    pub fn sent_by_port_or_default(&self) -> u16 {
        let secure = self.parts.transport.eq_ignore_ascii_case("TLS") || self.parts.transport.eq_ignore_ascii_case("WSS");
        self.parts.port.unwrap_or(if secure { 5061 } else { 5060 })
    }

    /// See [`Via::rport`].
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|value| value.and_then(|text| text.parse().ok()))
    }

    /// See [`Via::received`].
    pub fn received(&self) -> Option<&'a str> {
        self.param("received").flatten()
    }

    /// See [`Via::maddr`].
    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr").flatten()
    }
}

/// The checked parts of one Via value as slices; the parameters are still text.
#[derive(Clone, Copy, Debug)]
struct ViaParts<'a> {
    transport: &'a str,
    host: &'a str,
    port: Option<u16>,
    params_text: &'a str,
}

fn split_parts(text: &str) -> Result<ViaParts<'_>, TypedError> {
    let text = lex::trim(text);
    let (protocol_name, rest) = lex::split_once_byte(text, b'/').ok_or(TypedError::Invalid(WHAT))?;
    let (version, rest) = lex::split_once_byte(rest, b'/').ok_or(TypedError::Invalid(WHAT))?;
    // `protocol-name` and `protocol-version` are tokens (RFC 3261 §25.1); a version other
    // than 2.0 is the start line's business (505), and the Via must still be readable to
    // send that answer (RFC 4475 §3.1.2.16).
    if !lex::is_token(lex::trim(protocol_name).as_bytes()) || !lex::is_token(lex::trim(version).as_bytes()) {
        return Err(TypedError::Invalid(WHAT));
    }
    let rest = lex::trim(rest);
    let transport_len = rest.bytes().take_while(|b| lex::is_token_byte(*b)).count();
    let (transport, rest) = rest.split_at(transport_len);
    if transport.is_empty() || !rest.starts_with(|c: char| c.is_ascii() && lex::is_lws(c as u8)) {
        return Err(TypedError::Invalid(WHAT));
    }
    let rest = lex::trim(rest);
    let (sent_by, params_text) = match lex::find_byte(rest, b';') {
        Some(semicolon) => rest.split_at(semicolon),
        None => (rest, ""),
    };
    let (host, port) = lex::split_host_port_str(lex::trim(sent_by), WHAT)?;
    Ok(ViaParts { transport, host, port, params_text })
}

impl fmt::Display for Via {
    /// `SIP/2.0/UDP host:port;params`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for param in &self.params {
            write!(f, "{param}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_via() {
        let via = Via::parse_first(b"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK77;rport").expect("valid");
        assert_eq!(via.transport, Transport::Udp);
        assert_eq!(via.host, "192.0.2.1");
        assert_eq!(via.port, Some(5070));
        assert_eq!(via.branch(), Some("z9hG4bK77"));
        assert_eq!(via.rport(), Some(None));
        assert_eq!(via.received(), None);
    }

    #[test]
    fn parses_whitespace_ipv6_and_params() {
        let via = Via::parse_first(b"SIP  /   2.0  /UDP    [2001:db8::9:1];branch=z9hG4bKx;received=2001:db8::9:255;rport=5061;maddr=239.1.1.1;ttl=16")
            .expect("valid");
        assert_eq!(via.host, "[2001:db8::9:1]");
        assert_eq!(via.port, None);
        assert_eq!(via.sent_by_port_or_default(), 5060);
        assert_eq!(via.received(), Some("2001:db8::9:255"));
        assert_eq!(via.rport(), Some(Some(5061)));
        assert_eq!(via.maddr(), Some("239.1.1.1"));
        assert_eq!(via.ttl(), Some(16));
    }

    #[test]
    fn parses_lists_and_unknown_transports() {
        let vias = Via::parse_list(b"SIP/2.0/TLS a.example.com;branch=z9hG4bK1, SIP/2.0/UNKNOWN b.example.com").expect("valid");
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[0].sent_by_port_or_default(), 5061);
        assert_eq!(vias[1].transport, Transport::Other("UNKNOWN".to_string()));
        let first = Via::parse_first(b"SIP/2.0/TCP a.example.com, garbage").expect("first is valid");
        assert_eq!(first.transport, Transport::Tcp);
        assert!(Via::parse_list(b"SIP/2.0/TCP a.example.com, garbage").is_err());
    }

    #[test]
    fn views_read_as_the_parsed_values_do() {
        for raw in [
            &b"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK77;rport"[..],
            b"SIP  /   2.0  /UDP    [2001:db8::9:1];BRANCH=z9hG4bKx;received=2001:db8::9:255;rport=5061;maddr=239.1.1.1;branch=second",
            b"SIP/2.0/tls a.example.com;branch=z9hG4bK1, SIP/2.0/UNKNOWN b.example.com",
            b"SIP/2.0/WSS h, \"unbalanced",
            b"SIP/2.0/UDP host;=x",
            b"SIP/2.0/UDP",
        ] {
            let parsed = Via::parse_first(raw);
            let view = Via::view_first(raw);
            assert_eq!(parsed.as_ref().err(), view.as_ref().err(), "{}", String::from_utf8_lossy(raw));
            if let (Ok(parsed), Ok(view)) = (parsed, view) {
                assert_eq!(view.host(), parsed.host);
                assert_eq!(view.branch(), parsed.branch());
                assert_eq!(view.sent_by_port_or_default(), parsed.sent_by_port_or_default());
                assert_eq!(view.rport(), parsed.rport());
                assert_eq!(view.received(), parsed.received());
                assert_eq!(view.maddr(), parsed.maddr());
            }
        }
    }

    #[test]
    fn rejects_bad_vias() {
        for bad in [
            &b""[..],
            b"SIP/2.0/UDP",
            b"SIP/2 0/UDP host",
            b"SIP/2.0/UDP host:99999",
            b"SIP/2.0/UDPhost",
            b"SIP/2.0/UDP ho st",
            b"SIP/2.0/UDP host;=x",
            b"SIP/2.0/UDP [::1",
        ] {
            assert!(Via::parse_first(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn display_round_trips_with_added_params() {
        let mut via = Via::parse_first(b"SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa;rport").expect("valid");
        via.set_received("192.0.2.9");
        via.set_rport(40000);
        let text = via.to_string();
        assert_eq!(text, "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa;rport=40000;received=192.0.2.9");
        assert_eq!(Via::parse_first(text.as_bytes()), Ok(via));
    }
}
