//! Redaction of personal data. Phone numbers never reach a log line in clear and never
//! become a metric label; a BSN must never appear anywhere. Logs show only the last two
//! digits, which is enough for an engineer to tell two callers apart in one trace.

use std::fmt;

/// A phone number (or SIP user part) that displays redacted: `Redacted("0365399911")`
/// prints as `********11`.
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let keep = if chars.len() > 4 { 2 } else { 0 };
        for _ in 0..chars.len() - keep {
            f.write_str("*")?;
        }
        for c in &chars[chars.len() - keep..] {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// True when `text` contains a run of 7 or more digits: what a phone number or a BSN
/// looks like. Used by the privacy tests on log lines and metric labels.
pub fn contains_phone_like_digits(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 7 {
                return true;
            }
        } else if c != ' ' && c != '-' {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_two_digits_only() {
        assert_eq!(Redacted("0365399911").to_string(), "********11");
        assert_eq!(Redacted("112").to_string(), "***");
        assert!(!contains_phone_like_digits(&Redacted("0612345678").to_string()));
        assert!(contains_phone_like_digits("from 036-5399911"));
    }
}
