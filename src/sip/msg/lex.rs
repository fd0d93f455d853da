//! Small lexical helpers shared by the parser and the typed views (RFC 3261 §25.1).

use super::typed::{Param, TypedError};

/// `token` characters of RFC 3261 §25.1.
pub(crate) fn is_token_byte(byte: u8) -> bool {
    TOKEN_BYTES.contains(byte)
}

/// A set of bytes as a 256-entry table: the character-class tests run on every byte of
/// every header value, where a lookup is cheaper than scanning a list of marks.
pub(crate) struct ByteSet([bool; 256]);

impl ByteSet {
    /// ASCII letters and digits plus `marks`.
    pub(crate) const fn alphanumeric_and(marks: &[u8]) -> ByteSet {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = (byte as u8).is_ascii_alphanumeric();
            byte += 1;
        }
        let mut index = 0;
        while index < marks.len() {
            table[marks[index] as usize] = true;
            index += 1;
        }
        ByteSet(table)
    }

    /// True when `byte` is in the set.
    pub(crate) fn contains(&self, byte: u8) -> bool {
        self.0[usize::from(byte)]
    }
}

const TOKEN_BYTES: ByteSet = ByteSet::alphanumeric_and(b"-.!%*_+`'~");
const PARAM_VALUE_BYTES: ByteSet = ByteSet::alphanumeric_and(b"-.!%*_+`'~:[]/&$@?=");

/// True when `text` is a non-empty `token`.
pub(crate) fn is_token(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(|b| is_token_byte(*b))
}

/// Linear white space as it can remain after unfolding (SP, HT, and stray CR/LF).
pub(crate) fn is_lws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// `text` without leading and trailing white space.
///
/// Works on bytes rather than `char`s (this runs for every header value and parameter):
/// the trimmed bytes are ASCII, so the cut points are always on character boundaries.
pub(crate) fn trim(text: &str) -> &str {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| !is_lws(*b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_lws(*b)).map_or(start, |last| last + 1);
    text.get(start..end).unwrap_or_default()
}

/// `text` split around the first `separator` byte, which must be ASCII (so both halves
/// are valid UTF-8); the separator itself is in neither half. A plain byte scan: the
/// texts are short header parts, where `str::split_once(char)`'s searcher costs more.
pub(crate) fn split_once_byte(text: &str, separator: u8) -> Option<(&str, &str)> {
    let index = text.as_bytes().iter().position(|b| *b == separator)?;
    Some((text.get(..index)?, text.get(index + 1..)?))
}

/// The offset of the first `separator` byte (ASCII) in `text`.
pub(crate) fn find_byte(text: &str, separator: u8) -> Option<usize> {
    text.as_bytes().iter().position(|b| *b == separator)
}

/// `raw` as UTF-8 text, trimmed; `what` names the header in the error.
pub(crate) fn text<'a>(raw: &'a [u8], what: &'static str) -> Result<&'a str, TypedError> {
    std::str::from_utf8(raw).map(trim).map_err(|_| TypedError::Invalid(what))
}

/// Splits at `separator` outside quoted strings and `<...>`; an unbalanced quote or angle
/// bracket is an error (RFC 4475 §3.1.2.6 `quotbal`).
pub(crate) fn split_outside_quotes<'a>(
    text: &'a str,
    separator: u8,
    what: &'static str,
) -> Result<Vec<&'a str>, TypedError> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if in_quotes {
            match byte {
                b'\\' => index += 1,
                b'"' => in_quotes = false,
                _ => {}
            }
        } else if in_angle {
            if byte == b'>' {
                in_angle = false;
            }
        } else if byte == b'"' {
            in_quotes = true;
        } else if byte == b'<' {
            in_angle = true;
        } else if byte == separator {
            parts.push(text.get(start..index).ok_or(TypedError::Invalid(what))?);
            start = index + 1;
        }
        index += 1;
    }
    if in_quotes || in_angle {
        return Err(TypedError::Invalid(what));
    }
    parts.push(text.get(start..).ok_or(TypedError::Invalid(what))?);
    Ok(parts)
}

/// The first part of `text` split at `separator` outside quoted strings and `<...>`, with
/// the same balance check over the whole text as [`split_outside_quotes`] (so the same
/// inputs are refused) but without collecting the other parts.
pub(crate) fn first_outside_quotes<'a>(text: &'a str, separator: u8, what: &'static str) -> Result<&'a str, TypedError> {
    let mut first = None;
    for_each_outside_quotes(text, separator, what, |part| {
        if first.is_none() {
            first = Some(part);
        }
        Ok(())
    })?;
    first.ok_or(TypedError::Invalid(what))
}

/// Calls `each` with every part of `text` split at `separator` outside quoted strings and
/// `<...>`, stopping at the first error. The balance check runs first, over the whole
/// text, exactly as in [`split_outside_quotes`]; this form only avoids the `Vec`, for the
/// parser's syntax checks, which run on every received message.
pub(crate) fn for_each_outside_quotes<'a>(
    text: &'a str,
    separator: u8,
    what: &'static str,
    mut each: impl FnMut(&'a str) -> Result<(), TypedError>,
) -> Result<(), TypedError> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'"' | b'<' | b'\\') || *b == separator) {
        // Nothing to balance and nothing to split: the whole text is the one part.
        return each(text);
    }
    for part in split_outside_quotes(text, separator, what)? {
        each(part)?;
    }
    Ok(())
}

/// A quoted string starting at the first byte of `text` (which must be `"`): returns the
/// length of the quoted string including both quotes (RFC 3261 §25.1 `quoted-string`).
pub(crate) fn quoted_string_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut index = 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return Some(index + 1),
            _ => index += 1,
        }
    }
    None
}

/// Characters allowed in a parameter value that is not quoted: `token`, plus what a
/// `host` (IPv6 references) and URI `paramchar`s add.
fn is_param_value_byte(byte: u8) -> bool {
    PARAM_VALUE_BYTES.contains(byte)
}

/// Parses `;name[=value]` parameters. `text` starts at the first `;` (or is empty). White
/// space around `;` and `=` is allowed (RFC 3261 §25.1 `SEMI`, `EQUAL`). Quoted values keep
/// their quotes so that they serialise back unchanged.
pub(crate) fn parse_params(text: &str, what: &'static str) -> Result<Vec<Param>, TypedError> {
    let mut params = Vec::new();
    for_each_param(text, what, |name, value| {
        params.push(Param { name: name.to_string(), value: value.map(str::to_string) });
    })?;
    Ok(params)
}

/// The grammar of [`parse_params`], handing each `name` and value to `each` as slices of
/// `text`: the parser's syntax checks run it on every message and keep nothing, so they
/// need not allocate.
pub(crate) fn for_each_param<'a>(
    text: &'a str,
    what: &'static str,
    mut each: impl FnMut(&'a str, Option<&'a str>),
) -> Result<(), TypedError> {
    let mut rest = trim(text);
    while !rest.is_empty() {
        rest = rest.strip_prefix(';').ok_or(TypedError::Invalid(what))?;
        rest = trim(rest);
        let name_len = rest.bytes().take_while(|b| is_token_byte(*b)).count();
        let (name, after_name) = rest.split_at(name_len);
        if name.is_empty() {
            return Err(TypedError::Invalid(what));
        }
        let after_name = trim(after_name);
        let (value, after_value) = match after_name.strip_prefix('=') {
            None => (None, after_name),
            Some(after_equal) => {
                let after_equal = trim(after_equal);
                let value_len = if after_equal.starts_with('"') {
                    quoted_string_len(after_equal).ok_or(TypedError::Invalid(what))?
                } else {
                    after_equal.bytes().take_while(|b| is_param_value_byte(*b)).count()
                };
                if value_len == 0 {
                    return Err(TypedError::Invalid(what));
                }
                let (value, after_value) = after_equal.split_at(value_len);
                (Some(value), trim(after_value))
            }
        };
        each(name, value);
        rest = after_value;
    }
    Ok(())
}

/// A host: an IPv6 reference `[...]`, an IPv4 address or a host name (RFC 3261 §25.1
/// `host`). Underscores are tolerated in names because deployed DNS uses them.
pub(crate) fn is_valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.strip_suffix(']') {
            Some(address) => {
                !address.is_empty()
                    && address.contains(':')
                    && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            }
            None => false,
        };
    }
    !host.is_empty()
        && !host.starts_with('.')
        && !host.starts_with('-')
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

/// Splits `host[:port]` where host may be an IPv6 reference. The port must fit 16 bits.
/// The host is a slice of `text`.
pub(crate) fn split_host_port_str<'a>(text: &'a str, what: &'static str) -> Result<(&'a str, Option<u16>), TypedError> {
    let (host, port_text) = if text.starts_with('[') {
        let close = find_byte(text, b']').ok_or(TypedError::Invalid(what))?;
        let (host, rest) = text.split_at(close + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':').ok_or(TypedError::Invalid(what))?)),
        }
    } else {
        match split_once_byte(text, b':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if !is_valid_host(host) {
        return Err(TypedError::Invalid(what));
    }
    let port = match port_text {
        None => None,
        Some(digits) => Some(parse_decimal_u16(digits).ok_or(TypedError::Invalid(what))?),
    };
    Ok((host, port))
}

/// A decimal number of 1 to 5 digits that fits 16 bits.
fn parse_decimal_u16(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// True when every `%` in `text` starts a valid `%XX` escape: exactly when
/// [`unescape`] succeeds, without building the decoded bytes.
pub(crate) fn has_valid_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let valid = bytes.get(index + 1).and_then(|b| hex_value(*b)).is_some()
                && bytes.get(index + 2).and_then(|b| hex_value(*b)).is_some();
            if !valid {
                return false;
            }
            index += 3;
        } else {
            index += 1;
        }
    }
    true
}

/// Decodes `%XX` escapes (RFC 3261 §19.1.2); invalid escapes are an error.
pub(crate) fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let high = hex_value(*bytes.get(index + 1)?)?;
            let low = hex_value(*bytes.get(index + 2)?)?;
            out.push(high * 16 + low);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Some(out)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_with_spaces_quotes_and_flags() {
        let params = parse_params(" ; lr ; n = \"a;b\" ;x=1", "t").expect("valid");
        assert_eq!(params.len(), 3);
        assert_eq!(params[0], Param { name: "lr".into(), value: None });
        assert_eq!(params[1].value.as_deref(), Some("\"a;b\""));
        assert_eq!(params[2].value.as_deref(), Some("1"));
        assert!(parse_params(";=x", "t").is_err());
        assert!(parse_params(";a=", "t").is_err());
        assert!(parse_params("garbage", "t").is_err());
    }

    #[test]
    fn split_respects_quotes_and_angles() {
        let parts = split_outside_quotes("\"a,b\" <sip:x,y>, c", b',', "t").expect("valid");
        assert_eq!(parts, vec!["\"a,b\" <sip:x,y>", " c"]);
        assert!(split_outside_quotes("\"open", b',', "t").is_err());
        assert!(split_outside_quotes("<open", b',', "t").is_err());
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(split_host_port_str("[::1]:5061", "t"), Ok(("[::1]", Some(5061))));
        assert_eq!(split_host_port_str("a.example.com", "t"), Ok(("a.example.com", None)));
        assert!(split_host_port_str("a:70000", "t").is_err());
        assert!(split_host_port_str("a:", "t").is_err());
        assert!(split_host_port_str("[::1", "t").is_err());
        assert!(split_host_port_str("bad host", "t").is_err());
    }

    #[test]
    fn first_part_and_each_part_agree_with_split() {
        for text in ["a, b", "\"x,y\" <sip:a,b>, c", "single", "\"open, b", "<open", "a,,b", "\"q\\\"\",z"] {
            let split = split_outside_quotes(text, b',', "t");
            assert_eq!(first_outside_quotes(text, b',', "t"), split.clone().map(|parts| parts[0]), "{text}");
            let mut parts = Vec::new();
            let each = for_each_outside_quotes(text, b',', "t", |part| {
                parts.push(part);
                Ok(())
            });
            assert_eq!(each.map(|()| parts), split, "{text}");
        }
        assert_eq!(split_once_byte("a:b:c", b':'), Some(("a", "b:c")));
        assert_eq!(split_once_byte("abc", b':'), None);
        assert_eq!(trim(" \t\u{e9} x \r\n"), "\u{e9} x");
        assert_eq!(trim("  "), "");
    }

    #[test]
    fn byte_tables_match_the_grammar() {
        for byte in 0..=255u8 {
            let token = byte.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&byte);
            assert_eq!(is_token_byte(byte), token, "{byte}");
            assert_eq!(is_param_value_byte(byte), token || b":[]/&$@?=".contains(&byte), "{byte}");
        }
    }

    #[test]
    fn escape_check_matches_unescape() {
        for text in ["%75se%72", "a%00b", "%G0", "%4", "%", "plain", "%zz", "a%4f%", "%%41"] {
            assert_eq!(has_valid_escapes(text), unescape(text).is_some(), "{text}");
        }
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape("%75se%72"), Some(b"user".to_vec()));
        assert_eq!(unescape("a%00b"), Some(b"a\0b".to_vec()));
        assert_eq!(unescape("%G0"), None);
        assert_eq!(unescape("%4"), None);
    }
}
