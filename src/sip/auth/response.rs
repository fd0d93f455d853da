//! The digest `response` value (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1), computed from a stored
//! HA1 so that plain passwords are never needed.

use super::algorithm::DigestAlgorithm;
use super::credentials::DigestCredentials;

/// The `qop=auth` inputs of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QopAuth<'a> {
    /// `nc` exactly as sent (8 hex digits).
    pub nonce_count: &'a str,
    /// `cnonce` as sent.
    pub cnonce: &'a str,
}

/// `response` for `ha1_hex` (HA1 = H(username:realm:password)), the request `method`, the
/// digest-uri and the server nonce. With qop=auth:
/// `H(HA1:nonce:nc:cnonce:auth:HA2)`; without qop (RFC 2069 compatibility):
/// `H(HA1:nonce:HA2)`; in both, `HA2 = H(method:uri)`.
pub fn compute_response(
    algorithm: DigestAlgorithm,
    ha1_hex: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<QopAuth<'_>>,
) -> String {
    let ha2 = algorithm.hash_hex(format!("{method}:{uri}").as_bytes());
    let input = match qop {
        Some(QopAuth { nonce_count, cnonce }) => format!("{ha1_hex}:{nonce}:{nonce_count}:{cnonce}:auth:{ha2}"),
        None => format!("{ha1_hex}:{nonce}:{ha2}"),
    };
    algorithm.hash_hex(input.as_bytes())
}

/// The response these credentials should carry for `ha1_hex` and `method`.
pub fn expected_response(credentials: &DigestCredentials, ha1_hex: &str, method: &str) -> String {
    let qop = match (&credentials.nonce_count, &credentials.cnonce) {
        (Some(nonce_count), Some(cnonce)) if credentials.qop_auth => {
            Some(QopAuth { nonce_count: &nonce_count.text, cnonce })
        }
        _ => None,
    };
    compute_response(
        credentials.algorithm,
        &ha1_hex.to_ascii_lowercase(),
        method,
        &credentials.uri,
        &credentials.nonce,
        qop,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5_example() {
        let ha1 = DigestAlgorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        let response = compute_response(
            DigestAlgorithm::Md5,
            &ha1,
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(QopAuth { nonce_count: "00000001", cnonce: "0a4f113b" }),
        );
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_section_3_9_1_example_sha256_and_md5() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let qop = Some(QopAuth { nonce_count: "00000001", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ" });
        let respond = |algorithm: DigestAlgorithm| {
            let ha1 = algorithm.ha1("Mufasa", "http-auth@example.org", "Circle of Life");
            compute_response(algorithm, &ha1, "GET", "/dir/index.html", nonce, qop)
        };
        assert_eq!(
            respond(DigestAlgorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(respond(DigestAlgorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn without_qop_the_response_differs_and_depends_on_every_input() {
        let ha1 = DigestAlgorithm::Md5.ha1("alice", "veertien", "secret");
        let base = compute_response(DigestAlgorithm::Md5, &ha1, "REGISTER", "sip:example.org", "n1", None);
        assert_ne!(base, compute_response(DigestAlgorithm::Md5, &ha1, "INVITE", "sip:example.org", "n1", None));
        assert_ne!(base, compute_response(DigestAlgorithm::Md5, &ha1, "REGISTER", "sip:example.net", "n1", None));
        assert_ne!(base, compute_response(DigestAlgorithm::Md5, &ha1, "REGISTER", "sip:example.org", "n2", None));
        let with_qop = compute_response(
            DigestAlgorithm::Md5,
            &ha1,
            "REGISTER",
            "sip:example.org",
            "n1",
            Some(QopAuth { nonce_count: "00000001", cnonce: "c" }),
        );
        assert_ne!(base, with_qop);
    }
}
