//! The digest hash functions we accept (RFC 8760 §2: SHA-256 and MD5) and hex encoding.

use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A digest algorithm. The `-sess` variants are not offered in our challenges and are
/// therefore rejected in credentials (a response must use an algorithm we challenged with,
/// RFC 7616 §3.4); supporting them would only add a second HA1 derivation to test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// RFC 2617 MD5: kept so that older phones can still register (RFC 8760 §2.4).
    Md5,
    /// RFC 7616 / RFC 8760 SHA-256, preferred.
    Sha256,
}

impl DigestAlgorithm {
    /// Every algorithm in the order challenges list them: strongest first (RFC 8760 §2.4).
    pub const PREFERENCE_ORDER: [DigestAlgorithm; 2] = [DigestAlgorithm::Sha256, DigestAlgorithm::Md5];

    /// The token used in the `algorithm=` parameter.
    pub fn token(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm for a token (case-insensitive); `None` for anything else, `-sess` included.
    pub fn from_token(token: &str) -> Option<DigestAlgorithm> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(DigestAlgorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Some(DigestAlgorithm::Sha256)
        } else {
            None
        }
    }

    /// Length of a hash in lowercase hex.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha256 => 64,
        }
    }

    /// `H(data)` as lowercase hex (RFC 7616 §3.4.1 `H` with hex encoding).
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            DigestAlgorithm::Md5 => to_hex(&Md5::digest(data)),
            DigestAlgorithm::Sha256 => to_hex(&Sha256::digest(data)),
        }
    }

    /// `HA1 = H(username:realm:password)`: what an account stores instead of the password.
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Equality that takes the same time wherever the first difference is, so response
/// comparison leaks nothing about how close a guess was.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_sess_is_rejected() {
        for algorithm in DigestAlgorithm::PREFERENCE_ORDER {
            assert_eq!(DigestAlgorithm::from_token(algorithm.token()), Some(algorithm));
            assert_eq!(algorithm.hash_hex(b"x").len(), algorithm.hex_len());
        }
        assert_eq!(DigestAlgorithm::from_token("sha-256"), Some(DigestAlgorithm::Sha256));
        assert_eq!(DigestAlgorithm::from_token("MD5-sess"), None);
        assert_eq!(DigestAlgorithm::from_token("SHA-256-sess"), None);
        assert_eq!(DigestAlgorithm::PREFERENCE_ORDER[0], DigestAlgorithm::Sha256);
    }

    #[test]
    fn known_hashes() {
        assert_eq!(DigestAlgorithm::Md5.hash_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            DigestAlgorithm::Sha256.hash_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
