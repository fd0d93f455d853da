//! Parsing `Authorization` / `Proxy-Authorization` values with the Digest scheme
//! (RFC 3261 §25.1 `credentials`, RFC 7616 §3.4). Network input: every failure is an
//! error value, never a panic.

use super::algorithm::DigestAlgorithm;

/// Longest credentials value we parse; real ones are a few hundred bytes.
pub const MAX_CREDENTIALS_BYTES: usize = 4096;

/// The `nc` parameter: exactly 8 hex digits (RFC 7616 §3.4 `nc-value`), kept as sent because
/// the response hash covers the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceCount {
    /// The digits as sent.
    pub text: String,
    /// Their value.
    pub value: u32,
}

/// The parameters of one Digest credentials value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username`, unquoted.
    pub username: String,
    /// `realm`, unquoted.
    pub realm: String,
    /// `nonce`, unquoted.
    pub nonce: String,
    /// `uri` (the digest-uri), unquoted.
    pub uri: String,
    /// `response`, the hex digest the client computed.
    pub response: String,
    /// `algorithm`; MD5 when absent (RFC 2617 §3.2.2).
    pub algorithm: DigestAlgorithm,
    /// `cnonce`, required with `qop`.
    pub cnonce: Option<String>,
    /// `nc`, required with `qop`.
    pub nonce_count: Option<NonceCount>,
    /// True for `qop=auth`; `auth-int` is not supported (we never offer it).
    pub qop_auth: bool,
    /// `opaque`, returned unchanged from the challenge.
    pub opaque: Option<String>,
}

/// Why a credentials value was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The value is longer than [`MAX_CREDENTIALS_BYTES`].
    #[error("credentials too long")]
    TooLong,
    /// The value is not UTF-8.
    #[error("credentials are not utf-8")]
    NotUtf8,
    /// The scheme is not `Digest`.
    #[error("not a digest credentials value")]
    NotDigest,
    /// The auth-param list does not follow the grammar.
    #[error("malformed credentials")]
    Syntax,
    /// A parameter appears twice.
    #[error("duplicate credentials parameter {0}")]
    Duplicate(String),
    /// A mandatory parameter is absent.
    #[error("missing credentials parameter {0}")]
    Missing(&'static str),
    /// An algorithm other than MD5 or SHA-256 (the `-sess` variants included).
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    /// A qop other than `auth`.
    #[error("unsupported qop")]
    UnsupportedQop,
    /// `nc` is not 8 hex digits.
    #[error("invalid nonce count")]
    InvalidNonceCount,
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&byte)
}

/// A cursor over the value, with the small grammar pieces the auth-param list needs.
struct Cursor<'a> {
    text: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) -> bool {
        let start = self.position;
        while self.text.get(self.position).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
            self.position += 1;
        }
        self.position > start
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.position).copied()
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.position;
        while self.peek().is_some_and(is_token_char) {
            self.position += 1;
        }
        if self.position == start {
            return None;
        }
        std::str::from_utf8(&self.text[start..self.position]).ok()
    }

    /// A quoted-string (RFC 3261 §25.1), unescaped; the cursor stands on the opening quote.
    fn quoted_string(&mut self) -> Option<String> {
        self.position += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.position += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    let escaped = *self.text.get(self.position + 1)?;
                    out.push(escaped);
                    self.position += 2;
                }
                byte => {
                    out.push(byte);
                    self.position += 1;
                }
            }
        }
    }
}

/// The parameters as parsed, before checking which are required.
#[derive(Default)]
struct RawParams {
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    uri: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    cnonce: Option<String>,
    nc: Option<String>,
    qop: Option<String>,
    opaque: Option<String>,
}

impl RawParams {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        let slot = match name.to_ascii_lowercase().as_str() {
            "username" => &mut self.username,
            "realm" => &mut self.realm,
            "nonce" => &mut self.nonce,
            "uri" => &mut self.uri,
            "response" => &mut self.response,
            "algorithm" => &mut self.algorithm,
            "cnonce" => &mut self.cnonce,
            "nc" => &mut self.nc,
            "qop" => &mut self.qop,
            "opaque" => &mut self.opaque,
            _ => return None,
        };
        Some(slot)
    }
}

impl DigestCredentials {
    /// Parses one `Digest …` credentials value. Unknown parameters are ignored
    /// (RFC 7616 §3.4: extensions the server does not understand).
    pub fn parse(value: &[u8]) -> Result<DigestCredentials, CredentialsError> {
        if value.len() > MAX_CREDENTIALS_BYTES {
            return Err(CredentialsError::TooLong);
        }
        if std::str::from_utf8(value).is_err() {
            return Err(CredentialsError::NotUtf8);
        }
        let mut cursor = Cursor { text: value, position: 0 };
        cursor.skip_whitespace();
        let scheme = cursor.token().ok_or(CredentialsError::NotDigest)?;
        if !scheme.eq_ignore_ascii_case("Digest") || !cursor.skip_whitespace() {
            return Err(CredentialsError::NotDigest);
        }
        let mut params = RawParams::default();
        loop {
            cursor.skip_whitespace();
            match cursor.peek() {
                None => break,
                Some(b',') => {
                    // Empty list elements are allowed by the #rule (RFC 7230 §7).
                    cursor.position += 1;
                    continue;
                }
                Some(_) => {}
            }
            let name = cursor.token().ok_or(CredentialsError::Syntax)?;
            cursor.skip_whitespace();
            if cursor.peek() != Some(b'=') {
                return Err(CredentialsError::Syntax);
            }
            cursor.position += 1;
            cursor.skip_whitespace();
            let parsed = match cursor.peek() {
                Some(b'"') => cursor.quoted_string().ok_or(CredentialsError::Syntax)?,
                _ => cursor.token().ok_or(CredentialsError::Syntax)?.to_owned(),
            };
            cursor.skip_whitespace();
            match cursor.peek() {
                None | Some(b',') => {}
                Some(_) => return Err(CredentialsError::Syntax),
            }
            if let Some(slot) = params.slot(name) {
                if slot.is_some() {
                    return Err(CredentialsError::Duplicate(name.to_ascii_lowercase()));
                }
                *slot = Some(parsed);
            }
        }
        DigestCredentials::from_params(params)
    }

    fn from_params(params: RawParams) -> Result<DigestCredentials, CredentialsError> {
        let algorithm = match params.algorithm {
            None => DigestAlgorithm::Md5,
            Some(token) => DigestAlgorithm::from_token(&token).ok_or(CredentialsError::UnsupportedAlgorithm)?,
        };
        let qop_auth = match params.qop {
            None => false,
            Some(qop) if qop.eq_ignore_ascii_case("auth") => true,
            Some(_) => return Err(CredentialsError::UnsupportedQop),
        };
        let nonce_count = match params.nc {
            None => None,
            Some(text) => {
                if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(CredentialsError::InvalidNonceCount);
                }
                let value = u32::from_str_radix(&text, 16).map_err(|_| CredentialsError::InvalidNonceCount)?;
                Some(NonceCount { text, value })
            }
        };
        // RFC 7616 §3.4: with qop, cnonce and nc MUST be sent.
        if qop_auth && params.cnonce.is_none() {
            return Err(CredentialsError::Missing("cnonce"));
        }
        if qop_auth && nonce_count.is_none() {
            return Err(CredentialsError::Missing("nc"));
        }
        Ok(DigestCredentials {
            username: params.username.ok_or(CredentialsError::Missing("username"))?,
            realm: params.realm.ok_or(CredentialsError::Missing("realm"))?,
            nonce: params.nonce.ok_or(CredentialsError::Missing("nonce"))?,
            uri: params.uri.ok_or(CredentialsError::Missing("uri"))?,
            response: params.response.ok_or(CredentialsError::Missing("response"))?,
            algorithm,
            cnonce: params.cnonce,
            nonce_count,
            qop_auth,
            opaque: params.opaque,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC2617_EXAMPLE: &str = "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n qop=auth,\r\n \
        nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n response=\"6629fae49393a05397450978507c4ef1\",\r\n \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn parses_the_rfc2617_example() {
        let credentials = DigestCredentials::parse(RFC2617_EXAMPLE.as_bytes()).expect("valid example");
        assert_eq!(credentials.username, "Mufasa");
        assert_eq!(credentials.realm, "testrealm@host.com");
        assert_eq!(credentials.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(credentials.uri, "/dir/index.html");
        assert_eq!(credentials.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(credentials.algorithm, DigestAlgorithm::Md5);
        assert!(credentials.qop_auth);
        assert_eq!(credentials.nonce_count, Some(NonceCount { text: "00000001".into(), value: 1 }));
        assert_eq!(credentials.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(credentials.opaque.as_deref(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
    }

    #[test]
    fn unescapes_quoted_strings_and_ignores_unknown_params() {
        let value = br#"digest username="a\"b\\c", realm="r", nonce="n", uri="sip:x", response="00", algorithm=sha-256, userhash=false, qop="auth", nc=0000000a, cnonce="c""#;
        let credentials = DigestCredentials::parse(value).expect("valid");
        assert_eq!(credentials.username, "a\"b\\c");
        assert_eq!(credentials.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(credentials.nonce_count.map(|nc| nc.value), Some(10));
    }

    #[test]
    fn rejects_bad_values_without_panicking() {
        let cases: &[(&[u8], CredentialsError)] = &[
            (b"Basic QWxhZGRpbjpvcGVu", CredentialsError::NotDigest),
            (b"Digest", CredentialsError::NotDigest),
            (b"Digestusername=\"a\"", CredentialsError::NotDigest),
            (b"Digest username=\"a", CredentialsError::Syntax),
            (b"Digest username=\"a\\", CredentialsError::Syntax),
            (b"Digest username", CredentialsError::Syntax),
            (b"Digest username=\"a\" realm=\"r\"", CredentialsError::Syntax),
            (b"Digest =x", CredentialsError::Syntax),
            (b"Digest username=\"a\", username=\"b\"", CredentialsError::Duplicate("username".into())),
            (b"Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\"", CredentialsError::Missing("username")),
            (
                b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", algorithm=MD5-sess",
                CredentialsError::UnsupportedAlgorithm,
            ),
            (
                b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", qop=auth-int",
                CredentialsError::UnsupportedQop,
            ),
            (
                b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", qop=auth, cnonce=\"c\"",
                CredentialsError::Missing("nc"),
            ),
            (
                b"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", qop=auth, nc=1, cnonce=\"c\"",
                CredentialsError::InvalidNonceCount,
            ),
            (b"Digest username=\"\xff\"", CredentialsError::NotUtf8),
        ];
        for (value, expected) in cases {
            assert_eq!(
                DigestCredentials::parse(value).as_ref().err(),
                Some(expected),
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        let long = format!("Digest username=\"{}\"", "a".repeat(MAX_CREDENTIALS_BYTES));
        assert_eq!(DigestCredentials::parse(long.as_bytes()), Err(CredentialsError::TooLong));
    }

    #[test]
    fn every_prefix_of_a_valid_value_is_handled() {
        let bytes = RFC2617_EXAMPLE.as_bytes();
        for end in 0..bytes.len() {
            let _ = DigestCredentials::parse(&bytes[..end]);
        }
    }
}
