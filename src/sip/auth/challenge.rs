//! `WWW-Authenticate` / `Proxy-Authenticate` challenge values (RFC 3261 §22.1, RFC 7616 §3.3,
//! RFC 8760 §2.4).

use super::algorithm::DigestAlgorithm;
use std::fmt::Write as _;

/// One Digest challenge. We always offer `qop="auth"`: it brings the client nonce and nonce
/// count that make replay detection possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The protection space (RFC 3261 §22.1: typically the domain).
    pub realm: &'a str,
    /// A nonce from the [`NonceIssuer`](super::NonceIssuer).
    pub nonce: &'a str,
    /// Returned unchanged by the client.
    pub opaque: &'a str,
    /// The hash function this challenge asks for.
    pub algorithm: DigestAlgorithm,
    /// True when the previous nonce had expired but the response was right (RFC 7616 §3.3):
    /// the phone retries with the new nonce without asking for the password again.
    pub stale: bool,
}

/// Writes `text` as a quoted-string, escaping `"` and `\` (RFC 3261 §25.1).
fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl Challenge<'_> {
    /// The header value: `Digest realm="…", nonce="…", opaque="…", algorithm=…, qop="auth"[, stale=true]`.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest realm=");
        push_quoted(&mut out, self.realm);
        out.push_str(", nonce=");
        push_quoted(&mut out, self.nonce);
        out.push_str(", opaque=");
        push_quoted(&mut out, self.opaque);
        let _ = write!(out, ", algorithm={}, qop=\"auth\"", self.algorithm.token());
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_escapes() {
        let challenge = Challenge {
            realm: "gemeente \"Almere\"",
            nonce: "abc",
            opaque: "xyz",
            algorithm: DigestAlgorithm::Sha256,
            stale: true,
        };
        assert_eq!(
            challenge.to_header_value(),
            "Digest realm=\"gemeente \\\"Almere\\\"\", nonce=\"abc\", opaque=\"xyz\", algorithm=SHA-256, qop=\"auth\", stale=true"
        );
        let fresh = Challenge { stale: false, algorithm: DigestAlgorithm::Md5, ..challenge };
        assert!(fresh.to_header_value().ends_with("algorithm=MD5, qop=\"auth\""));
    }
}
