//! Dutch phone numbers as dialled and as written in dial plans: normalisation to the
//! national form, and the shapes a tenant may claim.

/// Brings a dialled number (Request-URI user part) or a configured number to national
/// form: drops spaces, dashes, dots and parentheses, and turns the international prefixes
/// `+31` and `0031` into the trunk prefix `0`. Returns `None` unless the result is digits.
///
/// `14036`, `0365399911`, `036-5399911` and `+31365399911` normalise to `14036`,
/// `0365399911`, `0365399911` and `0365399911`.
pub fn normalise(dialled: &str) -> Option<String> {
    let compact: String = dialled
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+31") {
        format!("0{rest}")
    } else if let Some(rest) = compact.strip_prefix("0031") {
        format!("0{rest}")
    } else {
        compact
    };
    let all_digits = !national.is_empty() && national.chars().all(|c| c.is_ascii_digit());
    all_digits.then_some(national)
}

/// Checks that a normalised number is one a tenant can claim: a 14-number (`14` plus a
/// 2–4 digit area code without its leading 0), a 10-digit national number starting with
/// `0`, or a non-geographic 0800/0900/0906/0909 number (8 or 11 digits).
pub fn check_claimable(normalised: &str) -> Result<(), &'static str> {
    let len = normalised.len();
    if !normalised.chars().all(|c| c.is_ascii_digit()) {
        return Err("must contain only digits after removing spaces and dashes");
    }
    let is_14_number = normalised.starts_with("14") && (4..=6).contains(&len);
    let is_non_geographic = ["0800", "0900", "0906", "0909"]
        .iter()
        .any(|p| normalised.starts_with(p))
        && (len == 8 || len == 11);
    let is_national = normalised.starts_with('0') && !normalised.starts_with("00") && len == 10;
    if is_14_number || is_non_geographic || is_national {
        Ok(())
    } else {
        Err("must be a 14-number (14 + 2-4 digit area code), a 10-digit number starting with 0, or 0800/090x")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_forms_callers_use() {
        assert_eq!(normalise("14036").as_deref(), Some("14036"));
        assert_eq!(normalise("036-5399911").as_deref(), Some("0365399911"));
        assert_eq!(normalise("+31365399911").as_deref(), Some("0365399911"));
        assert_eq!(normalise("0031 36 539 9911").as_deref(), Some("0365399911"));
        assert_eq!(normalise("(036) 539.99.11").as_deref(), Some("0365399911"));
        assert_eq!(normalise("anonymous"), None);
        assert_eq!(normalise(""), None);
        assert_eq!(normalise("+"), None);
    }

    #[test]
    fn claimable_shapes() {
        assert!(check_claimable("14036").is_ok());
        assert!(check_claimable("140").is_err());
        assert!(check_claimable("1403612").is_err());
        assert!(check_claimable("0365399911").is_ok());
        assert!(check_claimable("036539991").is_err());
        assert!(check_claimable("08001234").is_ok());
        assert!(check_claimable("0044123456").is_err());
        assert!(check_claimable("112").is_err());
    }
}
