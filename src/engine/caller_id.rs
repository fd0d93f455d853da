//! The caller's number as the trunk gives it: the P-Asserted-Identity (RFC 3325 §9.1,
//! set by a trusted network), else the From. Used only to hash it into the call record
//! (and, later, to call back); never logged in clear.

use crate::sip::msg::{HeaderName, NameAddr, Request};

const P_ASSERTED_IDENTITY: &[u8] = b"P-Asserted-Identity";

/// The caller's number: the user part of the P-Asserted-Identity, else of the From,
/// when it looks like a phone number (digits, optionally a leading `+`, with the usual
/// separators). `None` for a withheld (`anonymous`) or unusable identity.
pub fn caller_number(request: &Request) -> Option<String> {
    let asserted = request
        .headers
        .get(&HeaderName::from_bytes(P_ASSERTED_IDENTITY))
        .and_then(|raw| NameAddr::parse_list(raw).ok())
        .and_then(|list| list.into_iter().find(|identity| identity.uri.is_sip() || identity.uri.scheme == "tel"));
    let identity = asserted.or_else(|| request.from_header().ok())?;
    let user = if identity.uri.scheme == "tel" {
        // A tel URI has no user part: the number is what follows the scheme.
        identity.uri.host.clone()
    } else {
        identity.uri.user_unescaped()?
    };
    let number = user.split(';').next().unwrap_or("");
    is_phone_number(number).then(|| number.to_string())
}

fn is_phone_number(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text.char_indices().all(|(index, c)| c.is_ascii_digit() || matches!(c, '-' | '.' | ' ' | '(' | ')') || (index == 0 && c == '+'));
    allowed && (3..=20).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::msg::{self, Message};
    use bytes::Bytes;

    fn invite(extra: &str, from_user: &str) -> Request {
        let text = format!(
            "INVITE sip:14036@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:{from_user}@127.0.0.1>;tag=1\r\nTo: <sip:14036@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match msg::parse(Bytes::from(text)).expect("parses") {
            Message::Request(request) => request,
            Message::Response(_) => panic!("a request"),
        }
    }

    #[test]
    fn the_asserted_identity_wins_over_from() {
        let request = invite("P-Asserted-Identity: <sip:+31612345678@trunk.example;user=phone>\r\n", "0201234567");
        assert_eq!(caller_number(&request).as_deref(), Some("+31612345678"));
        let tel = invite("P-Asserted-Identity: <tel:+31201234567>\r\n", "anonymous");
        assert_eq!(caller_number(&tel).as_deref(), Some("+31201234567"));
    }

    #[test]
    fn from_is_used_without_an_asserted_identity_and_anonymous_is_withheld() {
        assert_eq!(caller_number(&invite("", "0201234567")).as_deref(), Some("0201234567"));
        assert_eq!(caller_number(&invite("", "anonymous")), None);
        assert_eq!(caller_number(&invite("", "agent-7")), None);
    }
}
