//! `name-addr` / `addr-spec` values with header parameters (RFC 3261 §20.10, §20.20,
//! §20.39, grammar §25.1): From, To, Contact, Route, Record-Route.

use super::lex;
use super::typed::{find_param, set_param, NameAddr, SipUri, TypedError};
use std::fmt;

const WHAT: &str = "name-addr";

impl NameAddr {
    /// One value.
    pub fn parse(raw: &[u8]) -> Result<NameAddr, TypedError> {
        parse_one(lex::text(raw, WHAT)?)
    }

    /// A comma-separated list (commas inside quotes or angle brackets do not split).
    pub fn parse_list(raw: &[u8]) -> Result<Vec<NameAddr>, TypedError> {
        let text = lex::text(raw, WHAT)?;
        lex::split_outside_quotes(text, b',', WHAT)?.into_iter().map(parse_one).collect()
    }

    /// Accepts exactly what [`NameAddr::parse`] accepts, without building the value.
    pub(crate) fn check(raw: &[u8]) -> Result<(), TypedError> {
        check_one(lex::text(raw, WHAT)?)
    }

    /// The `tag` parameter of one value read in place: accepts exactly what
    /// [`NameAddr::parse`] accepts (same errors) and answers as its [`NameAddr::tag`], for
    /// the dialog lookups that read only the tags of every message.
    pub fn tag_of(raw: &[u8]) -> Result<Option<&str>, TypedError> {
        let parts = split_parts(lex::text(raw, WHAT)?)?;
        SipUri::check_text(parts.uri_text)?;
        let mut tag = None;
        lex::for_each_param(parts.params_text, WHAT, |name, value| {
            if tag.is_none() && name.eq_ignore_ascii_case("tag") {
                tag = Some(value);
            }
        })?;
        Ok(tag.flatten())
    }

    /// Checks every value of a comma-separated list, as [`NameAddr::parse_list`] would,
    /// without keeping them (the parser's syntax check runs on every message).
    pub(crate) fn check_list(raw: &[u8]) -> Result<(), TypedError> {
        let text = lex::text(raw, WHAT)?;
        lex::for_each_outside_quotes(text, b',', WHAT, check_one)
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    /// A header parameter: `None` if absent, `Some(None)` if present without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// This value with `tag=tag` set (replacing any tag), as a UAS adds to To (RFC 3261 §8.2.6.2).
    pub fn with_tag(mut self, tag: &str) -> NameAddr {
        set_param(&mut self.params, "tag", Some(tag));
        self
    }

    /// A value for `uri` with no display name and no parameters.
    pub fn from_uri(uri: SipUri) -> NameAddr {
        NameAddr { display_name: None, uri, params: Vec::new() }
    }
}

/// The display name as written: quoted (with quotes and escapes) or a run of tokens.
enum DisplayText<'a> {
    None,
    Quoted(&'a str),
    Tokens(&'a str),
}

/// The structurally checked parts of one value, as slices; the URI and the parameters are
/// still text, checked or parsed by the caller.
struct NameAddrParts<'a> {
    display: DisplayText<'a>,
    uri_text: &'a str,
    params_text: &'a str,
}

fn parse_one(text: &str) -> Result<NameAddr, TypedError> {
    let parts = split_parts(text)?;
    let display_name = match parts.display {
        DisplayText::None => None,
        DisplayText::Quoted(quoted) => Some(unquote(quoted)),
        DisplayText::Tokens(tokens) => Some(collapse_spaces(tokens)),
    };
    let uri = SipUri::parse_text(parts.uri_text)?;
    let params = lex::parse_params(parts.params_text, WHAT)?;
    Ok(NameAddr { display_name, uri, params })
}

/// Accepts exactly what [`parse_one`] accepts, building nothing (the parser's syntax
/// check of every received message).
fn check_one(text: &str) -> Result<(), TypedError> {
    let parts = split_parts(text)?;
    SipUri::check_text(parts.uri_text)?;
    lex::for_each_param(parts.params_text, WHAT, |_, _| {})
}

fn split_parts(text: &str) -> Result<NameAddrParts<'_>, TypedError> {
    let text = lex::trim(text);
    if text.starts_with('"') {
        let quoted_len = lex::quoted_string_len(text).ok_or(TypedError::Invalid(WHAT))?;
        let (quoted, rest) = text.split_at(quoted_len);
        let rest = lex::trim(rest);
        if !rest.starts_with('<') {
            return Err(TypedError::Invalid(WHAT));
        }
        return split_angle_part(DisplayText::Quoted(quoted), rest);
    }
    match lex::find_byte(text, b'<') {
        Some(open) => {
            let (display, rest) = text.split_at(open);
            let display = lex::trim(display);
            // An unquoted display name is a sequence of tokens (RFC 3261 §25.1); a comma
            // or other separator there is malformed (RFC 4475 §3.1.2.15 `baddn`).
            let tokens_valid = display
                .split([' ', '\t'])
                .filter(|word| !word.is_empty())
                .all(|word| lex::is_token(word.as_bytes()));
            if !tokens_valid {
                return Err(TypedError::Invalid(WHAT));
            }
            let display = if display.is_empty() { DisplayText::None } else { DisplayText::Tokens(display) };
            split_angle_part(display, rest)
        }
        None => {
            // addr-spec form: the URI cannot contain `;`, `?` or `,` here, so parameters
            // after the first `;` belong to the header (RFC 3261 §20.10).
            let (uri_text, params_text) = match lex::find_byte(text, b';') {
                Some(semicolon) => text.split_at(semicolon),
                None => (text, ""),
            };
            if lex::find_byte(uri_text, b'?').is_some() {
                return Err(TypedError::Invalid(WHAT));
            }
            Ok(NameAddrParts { display: DisplayText::None, uri_text: lex::trim(uri_text), params_text })
        }
    }
}

/// `<uri> *(;param)`; `text` starts at `<`. No white space is allowed inside the brackets.
fn split_angle_part<'a>(display: DisplayText<'a>, text: &'a str) -> Result<NameAddrParts<'a>, TypedError> {
    let inner_and_rest = text.strip_prefix('<').ok_or(TypedError::Invalid(WHAT))?;
    let (uri_text, params_text) = lex::split_once_byte(inner_and_rest, b'>').ok_or(TypedError::Invalid(WHAT))?;
    Ok(NameAddrParts { display, uri_text, params_text })
}

/// The content of a quoted string with `\x` escapes resolved.
fn unquote(quoted: &str) -> String {
    let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                out.push(escaped);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn collapse_spaces(text: &str) -> String {
    text.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

impl fmt::Display for NameAddr {
    /// Always the `name-addr` form (`"name" <uri>;params`), which is valid for any URI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            f.write_str("\"")?;
            for c in name.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
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
    fn quoted_display_name_with_escapes() {
        let value = NameAddr::parse(br#" "Gemeente \"Almere\" \\ KCC" <sip:kcc@example.nl>;tag=abc "#).expect("valid");
        assert_eq!(value.display_name.as_deref(), Some(r#"Gemeente "Almere" \ KCC"#));
        assert_eq!(value.uri.host, "example.nl");
        assert_eq!(value.tag(), Some("abc"));
        assert_eq!(NameAddr::parse(value.to_string().as_bytes()), Ok(value));
    }

    #[test]
    fn token_display_name_and_no_space_before_angle() {
        let value = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").expect("valid");
        assert_eq!(value.display_name.as_deref(), Some("caller"));
        let words = NameAddr::parse(b"Mr  J.   User <sip:j@example.com>").expect("valid");
        assert_eq!(words.display_name.as_deref(), Some("Mr J. User"));
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let value = NameAddr::parse(b"sip:user@example.com ;  tag = 9;expires=60").expect("valid");
        assert!(value.uri.params.is_empty());
        assert_eq!(value.tag(), Some("9"));
        assert_eq!(value.param("expires"), Some(Some("60")));
        let bracketed = NameAddr::parse(b"<sip:user@example.com;lr>;tag=9").expect("valid");
        assert_eq!(bracketed.uri.param("lr"), Some(None));
        assert_eq!(bracketed.to_string(), "<sip:user@example.com;lr>;tag=9");
    }

    #[test]
    fn tag_of_reads_as_parse_does() {
        for raw in [
            &b"<sip:a@example.com>;tag=t1"[..],
            b"\"A, B\" <sip:a@example.com;tag=uri>;TAG=t2;tag=t3",
            b"sip:user@example.com ;  tag = 9",
            b"<sip:a@example.com>;tag",
            b"<sip:a@example.com>",
            b"<sip:a@example.com>;tag=1;;",
            b"< sip:a@example.com>;tag=1",
            b"",
        ] {
            let parsed = NameAddr::parse(raw);
            assert_eq!(NameAddr::tag_of(raw), parsed.as_ref().map(NameAddr::tag).map_err(Clone::clone), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn with_tag_adds_or_replaces() {
        let value = NameAddr::parse(b"<sip:a@example.com>").expect("valid");
        let tagged = value.with_tag("t1");
        assert_eq!(tagged.to_string(), "<sip:a@example.com>;tag=t1");
        assert_eq!(tagged.with_tag("t2").tag(), Some("t2"));
    }

    #[test]
    fn lists_split_outside_quotes() {
        let list = NameAddr::parse_list(br#""a, b" <sip:a@x.example>, <sip:b@y.example;lr>"#).expect("valid");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].display_name.as_deref(), Some("a, b"));
        assert!(NameAddr::parse_list(b"*").is_err());
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            &br#""Mr. J. User <sip:j.user@example.com>"#[..],
            b"\"Watson, Thomas\" < sip:t.watson@example.org >",
            b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            b"<sip:user@example.com",
            b"\"name\" sip:user@example.com",
            b"",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
