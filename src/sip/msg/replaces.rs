//! The `Replaces` value (RFC 3891 §6.1): `callid;to-tag=T;from-tag=F[;early-only]`, in a
//! `Replaces` header or escaped in a `Refer-To` URI (`?Replaces=...`, RFC 3891 §7).

use super::lex;
use super::typed::{SipUri, TypedError};

const WHAT: &str = "Replaces";

/// The dialog a `Replaces` names, with its tags as the recipient sees them: `to_tag` is
/// the recipient's local tag, `from_tag` its remote tag (RFC 3891 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    /// Only an early dialog may be replaced (RFC 3891 §3: a confirmed one gets 486).
    pub early_only: bool,
}

impl Replaces {
    /// Parses an (unescaped) `Replaces` value; both tags are required (RFC 3891 §6.1).
    pub fn parse(text: &str) -> Result<Replaces, TypedError> {
        let mut parts = text.trim().split(';');
        let call_id = parts.next().map(str::trim).filter(|id| !id.is_empty()).ok_or(TypedError::Invalid(WHAT))?;
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for part in parts {
            let (name, value) = part.split_once('=').map_or((part.trim(), None), |(n, v)| (n.trim(), Some(v.trim())));
            match (name.to_ascii_lowercase().as_str(), value) {
                ("to-tag", Some(value)) => to_tag = Some(value.to_string()),
                ("from-tag", Some(value)) => from_tag = Some(value.to_string()),
                ("early-only", None) => early_only = true,
                _ => {}
            }
        }
        Ok(Replaces {
            call_id: call_id.to_string(),
            to_tag: to_tag.ok_or(TypedError::Invalid(WHAT))?,
            from_tag: from_tag.ok_or(TypedError::Invalid(WHAT))?,
            early_only,
        })
    }

    /// The `Replaces` a URI carries as a header (`sip:x@h?Replaces=...`), unescaped;
    /// `None` when it carries none.
    pub fn from_uri(uri: &SipUri) -> Option<Result<Replaces, TypedError>> {
        let header = uri.headers.iter().find(|header| header.name.eq_ignore_ascii_case("replaces"))?;
        let escaped = header.value.as_deref().unwrap_or("");
        let text = lex::unescape(escaped).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        Some(text.ok_or(TypedError::Invalid(WHAT)).and_then(|text| Replaces::parse(&text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_3891_example_parses() {
        let replaces = Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472").expect("valid");
        assert_eq!(replaces.call_id, "425928@bobster.example.org");
        assert_eq!((replaces.to_tag.as_str(), replaces.from_tag.as_str(), replaces.early_only), ("7743", "6472", false));
        assert!(Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only").expect("valid").early_only);
    }

    #[test]
    fn a_missing_tag_or_call_id_is_invalid() {
        assert!(Replaces::parse("abc;to-tag=1").is_err());
        assert!(Replaces::parse(";to-tag=1;from-tag=2").is_err());
    }

    #[test]
    fn an_escaped_replaces_in_a_refer_to_uri_is_unescaped() {
        let uri = SipUri::parse(b"sip:balie@192.0.2.1?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2").expect("uri");
        let replaces = Replaces::from_uri(&uri).expect("present").expect("valid");
        assert_eq!((replaces.call_id.as_str(), replaces.to_tag.as_str(), replaces.from_tag.as_str()), ("abc@h", "1", "2"));
        assert!(Replaces::from_uri(&SipUri::parse(b"sip:balie@192.0.2.1").expect("uri")).is_none());
    }
}
