//! Syntax checks of the header fields whose grammar we know, run by the parser so that a
//! malformed message is refused at the boundary (RFC 4475 §3.1.2).

use super::header_name::HeaderName;
use super::headers::Headers;
use super::typed::{CSeq, NameAddr, Via};

/// Checks Via, From, To, CSeq, Call-ID, Contact, Route, Record-Route and Date. Other
/// headers (unknown ones included) are opaque here; Max-Forwards and duplicates are
/// judged by validation, which can name them in its answer.
pub(crate) fn check_header_syntax(headers: &Headers) -> Result<(), String> {
    for header in headers.iter() {
        let value = header.value.as_ref();
        let valid = match header.name {
            HeaderName::Via => Via::check_list(value).is_ok(),
            HeaderName::From | HeaderName::To => NameAddr::check(value).is_ok(),
            HeaderName::CSeq => CSeq::parse(value).is_ok(),
            HeaderName::CallId => is_valid_call_id(value),
            HeaderName::Contact => value == b"*" || NameAddr::check_list(value).is_ok(),
            HeaderName::Route | HeaderName::RecordRoute => NameAddr::check_list(value).is_ok(),
            HeaderName::Date => is_rfc1123_gmt_date(value),
            _ => true,
        };
        if !valid {
            return Err(format!("invalid {} header", header.name.as_str().to_ascii_lowercase()));
        }
    }
    Ok(())
}

/// `callid = word [ "@" word ]`: non-empty, no white space or control characters.
fn is_valid_call_id(value: &[u8]) -> bool {
    !value.is_empty() && value.iter().all(|b| b.is_ascii_graphic())
}

/// `rfc1123-date = wkday "," SP date1 SP time SP "GMT"` (RFC 3261 §20.17 and §25.1; only
/// GMT is allowed, RFC 4475 §3.1.2.12).
fn is_rfc1123_gmt_date(value: &[u8]) -> bool {
    const WEEKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    // "Fri, 01 Jan 2010 16:00:00 GMT" is exactly 29 bytes.
    if value.len() != 29 {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| value.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    value.get(0..3).is_some_and(|day| WEEKDAYS.contains(&day))
        && value.get(3..5) == Some(b", ")
        && digits(5..7)
        && value.get(7) == Some(&b' ')
        && value.get(8..11).is_some_and(|month| MONTHS.contains(&month))
        && value.get(11) == Some(&b' ')
        && digits(12..16)
        && value.get(16) == Some(&b' ')
        && digits(17..19)
        && value.get(19) == Some(&b':')
        && digits(20..22)
        && value.get(22) == Some(&b':')
        && digits(23..25)
        && value.get(25..29) == Some(b" GMT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_gmt() {
        assert!(is_rfc1123_gmt_date(b"Sat, 13 Nov 2010 23:29:00 GMT"));
        assert!(!is_rfc1123_gmt_date(b"Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(!is_rfc1123_gmt_date(b"Fri, 1 Jan 2010 16:00:00 GMT"));
        assert!(!is_rfc1123_gmt_date(b"Xyz, 01 Jan 2010 16:00:00 GMT"));
    }

    #[test]
    fn flags_the_bad_header_by_name() {
        let mut headers = Headers::new();
        headers.push(HeaderName::Contact, "*");
        headers.push(HeaderName::from_bytes(b"X-Anything"), ";;,,;");
        assert_eq!(check_header_syntax(&headers), Ok(()));
        headers.push(HeaderName::Contact, "<sip:a@example.com>;;;");
        assert_eq!(check_header_syntax(&headers), Err("invalid contact header".to_string()));
    }
}
