//! A load profile: the published (or assumed) figures of one municipality's contact
//! centre from which traces are generated. Written in TOML by a load tester; the format
//! is documented in `loadtest/profiles.md`. Parsed from a string so this module does no
//! I/O.

use chrono::{NaiveDate, Weekday};
use serde::Deserialize;

/// Seconds in an hour; the arrival curve has one share per opening hour.
const SECONDS_PER_HOUR: u32 = 3600;

/// Why a profile was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not valid TOML, or a key is unknown, missing or of the wrong type.
    #[error("profile syntax: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A value is out of range or inconsistent with another.
    #[error("profile: {field}: {reason}")]
    Invalid {
        /// The offending key.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError::Invalid { field: field.into(), reason: reason.into() }
}

/// How the calls that reach an agent of a department end. Weights, not shares: they
/// may be the observed counts of a study and are normalised when drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeWeights {
    /// Answered by the contact centre itself.
    pub handled: f64,
    /// Transferred blind to the backoffice.
    pub cold: f64,
    /// Transferred after consulting the backoffice.
    pub warm: f64,
}

/// One department: a kind of question callers have.
#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    /// Short id written into traces.
    pub id: String,
    /// Human name, as in the source.
    pub name: String,
    /// Relative weight of the department among all calls (e.g. observed calls).
    pub weight: f64,
    /// How its calls end.
    pub outcomes: OutcomeWeights,
    /// Menu key its callers press; `None` lets the menu time out to its default.
    pub menu_digit: Option<char>,
    /// Mean conversation time with the agent.
    pub talk_mean_s: f64,
    /// Backoffice group id its transfers go to.
    pub transfer_group: String,
}

/// A validated load profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Profile name written into trace headers.
    pub name: String,
    /// Tenant id the traces are for.
    pub tenant: String,
    /// Number callers dial.
    pub number: String,
    /// Calls offered per month.
    pub calls_per_month: f64,
    /// Average working days per month the monthly volume is spread over.
    pub working_days_per_month: f64,
    /// Weekdays the contact centre is open.
    pub working_days: Vec<Weekday>,
    /// Opening time, seconds after local midnight (a whole hour).
    pub opening_start_s: u32,
    /// Closing time, seconds after local midnight (a whole hour).
    pub opening_end_s: u32,
    /// Whether Dutch public holidays are closed.
    pub close_on_public_holidays: bool,
    /// Extra closed dates (e.g. Koninginnedag before 2014, which the calendar lacks).
    pub closed_days: Vec<NaiveDate>,
    /// Share of a day's calls per opening hour, normalised to sum to 1.
    pub hourly_share: Vec<f64>,
    /// Mean caller patience (exponentially distributed).
    pub patience_mean_s: f64,
    /// Coefficient of variation of the lognormal talk time.
    pub talk_cv: f64,
    /// Probability that a backoffice group answers a transfer.
    pub backoffice_answer_probability: f64,
    /// Departments, at least one.
    pub departments: Vec<Department>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    profile: RawHead,
    volume: RawVolume,
    arrivals: RawArrivals,
    patience: RawPatience,
    talk: RawTalk,
    backoffice: RawBackoffice,
    department: Vec<RawDepartment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHead {
    name: String,
    tenant: String,
    number: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    calls_per_month: f64,
    working_days_per_month: f64,
    working_days: Vec<String>,
    opening: String,
    #[serde(default = "default_true")]
    close_on_public_holidays: bool,
    #[serde(default)]
    closed_days: Vec<String>,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArrivals {
    hourly_share: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatience {
    mean_s: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTalk {
    cv: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackoffice {
    attempts: u32,
    reached: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    id: String,
    name: String,
    calls: f64,
    handled: f64,
    cold: f64,
    warm: f64,
    menu_digit: Option<String>,
    talk_mean_s: f64,
    transfer_group: String,
}

impl Profile {
    /// Parses and checks a profile written in TOML.
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let raw: RawProfile = toml::from_str(text)?;
        let volume = &raw.volume;
        positive("volume.calls_per_month", volume.calls_per_month)?;
        positive("volume.working_days_per_month", volume.working_days_per_month)?;
        let working_days = volume
            .working_days
            .iter()
            .map(|day| {
                parse_weekday(day).ok_or_else(|| {
                    invalid("volume.working_days", format!("unknown day {day:?}, use mon..sun"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (opening_start_s, opening_end_s) = parse_opening(&volume.opening)?;
        let closed_days = volume
            .closed_days
            .iter()
            .map(|day| {
                NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
                    invalid("volume.closed_days", format!("{day:?} is not YYYY-MM-DD"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let open_hours = (opening_end_s - opening_start_s) / SECONDS_PER_HOUR;
        let hourly_share = normalised("arrivals.hourly_share", &raw.arrivals.hourly_share)?;
        if hourly_share.len() != open_hours as usize {
            return Err(invalid(
                "arrivals.hourly_share",
                format!("{} shares for {open_hours} opening hours", hourly_share.len()),
            ));
        }
        positive("patience.mean_s", raw.patience.mean_s)?;
        if !(raw.talk.cv.is_finite() && raw.talk.cv >= 0.0) {
            return Err(invalid("talk.cv", "must be 0 or more"));
        }
        let backoffice = &raw.backoffice;
        if backoffice.attempts == 0 || backoffice.reached > backoffice.attempts {
            return Err(invalid("backoffice", "need 0 <= reached <= attempts and attempts > 0"));
        }
        if raw.department.is_empty() {
            return Err(invalid("department", "at least one department"));
        }
        let departments =
            raw.department.into_iter().map(Department::from_raw).collect::<Result<Vec<_>, _>>()?;
        Ok(Profile {
            name: raw.profile.name,
            tenant: raw.profile.tenant,
            number: raw.profile.number,
            calls_per_month: volume.calls_per_month,
            working_days_per_month: volume.working_days_per_month,
            working_days,
            opening_start_s,
            opening_end_s,
            close_on_public_holidays: volume.close_on_public_holidays,
            closed_days,
            hourly_share,
            patience_mean_s: raw.patience.mean_s,
            talk_cv: raw.talk.cv,
            backoffice_answer_probability: f64::from(backoffice.reached)
                / f64::from(backoffice.attempts),
            departments,
        })
    }

    /// Expected calls on one working day.
    pub fn calls_per_working_day(&self) -> f64 {
        self.calls_per_month / self.working_days_per_month
    }

    /// Each department's share of all calls, in profile order, summing to 1.
    pub fn department_shares(&self) -> Vec<f64> {
        let total: f64 = self.departments.iter().map(|d| d.weight).sum();
        self.departments.iter().map(|d| d.weight / total).collect()
    }
}

impl Department {
    fn from_raw(raw: RawDepartment) -> Result<Department, ProfileError> {
        let field = |key: &str| format!("department {:?}: {key}", raw.id);
        if raw.id.is_empty() {
            return Err(invalid("department.id", "must not be empty"));
        }
        positive(&field("calls"), raw.calls)?;
        for (key, value) in [("handled", raw.handled), ("cold", raw.cold), ("warm", raw.warm)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(invalid(field(key), "must be 0 or more"));
            }
        }
        if raw.handled + raw.cold + raw.warm <= 0.0 {
            return Err(invalid(field("handled"), "handled, cold and warm are all 0"));
        }
        positive(&field("talk_mean_s"), raw.talk_mean_s)?;
        let menu_digit = match raw.menu_digit.as_deref() {
            None => None,
            Some(key) => {
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                    _ => {
                        return Err(invalid(
                            field("menu_digit"),
                            format!("{key:?} is not one key 0-9, * or #"),
                        ))
                    }
                }
            }
        };
        Ok(Department {
            id: raw.id,
            name: raw.name,
            weight: raw.calls,
            outcomes: OutcomeWeights { handled: raw.handled, cold: raw.cold, warm: raw.warm },
            menu_digit,
            talk_mean_s: raw.talk_mean_s,
            transfer_group: raw.transfer_group,
        })
    }
}

fn positive(field: &str, value: f64) -> Result<(), ProfileError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(field, "must be a positive number"))
    }
}

fn normalised(field: &str, weights: &[f64]) -> Result<Vec<f64>, ProfileError> {
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(invalid(field, "shares must be 0 or more"));
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err(invalid(field, "shares sum to 0"));
    }
    Ok(weights.iter().map(|w| w / total).collect())
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// `"HH:00-HH:00"` to seconds after midnight; whole hours only, since the arrival curve
/// has one share per hour.
fn parse_opening(text: &str) -> Result<(u32, u32), ProfileError> {
    let bad = || {
        invalid(
            "volume.opening",
            format!("{text:?} is not \"HH:00-HH:00\" with whole hours, start before end"),
        )
    };
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let hour = |part: &str| -> Option<u32> {
        let (hours, minutes) = part.trim().split_once(':')?;
        let hours: u32 = hours.parse().ok()?;
        (minutes == "00" && hours <= 24).then_some(hours * SECONDS_PER_HOUR)
    };
    let (start_s, end_s) = (hour(start).ok_or_else(bad)?, hour(end).ok_or_else(bad)?);
    if start_s >= end_s {
        return Err(bad());
    }
    Ok((start_s, end_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[profile]
name = "test"
tenant = "t"
number = "14000"
[volume]
calls_per_month = 1000
working_days_per_month = 20
working_days = ["mon", "fri"]
opening = "09:00-12:00"
[arrivals]
hourly_share = [1, 2, 1]
[patience]
mean_s = 60
[talk]
cv = 0.5
[backoffice]
attempts = 4
reached = 1
[[department]]
id = "a"
name = "A"
calls = 3
handled = 1
cold = 1
warm = 0
menu_digit = "1"
talk_mean_s = 120
transfer_group = "g"
[[department]]
id = "b"
name = "B"
calls = 1
handled = 1
cold = 0
warm = 0
talk_mean_s = 60
transfer_group = "g"
"#;

    #[test]
    fn minimal_profile_parses_and_normalises() {
        let profile = Profile::from_toml(MINIMAL).expect("valid profile");
        assert_eq!(profile.hourly_share, vec![0.25, 0.5, 0.25]);
        assert_eq!((profile.opening_start_s, profile.opening_end_s), (9 * 3600, 12 * 3600));
        assert_eq!(profile.working_days, vec![Weekday::Mon, Weekday::Fri]);
        assert_eq!(profile.department_shares(), vec![0.75, 0.25]);
        assert_eq!(profile.backoffice_answer_probability, 0.25);
        assert_eq!(profile.calls_per_working_day(), 50.0);
        assert_eq!(profile.departments[0].menu_digit, Some('1'));
        assert_eq!(profile.departments[1].menu_digit, None);
    }

    #[test]
    fn inconsistent_profiles_are_rejected() {
        let cases = [
            ("hourly_share = [1, 2, 1]", "hourly_share = [1, 2]", "2 shares for 3"),
            ("opening = \"09:00-12:00\"", "opening = \"09:30-12:00\"", "whole hours"),
            ("reached = 1", "reached = 5", "reached <= attempts"),
            ("menu_digit = \"1\"", "menu_digit = \"12\"", "one key"),
            ("\"mon\", \"fri\"", "\"mon\", \"fry\"", "unknown day"),
            ("mean_s = 60", "mean_s = 0", "positive"),
        ];
        for (from, to, expected) in cases {
            let text = MINIMAL.replacen(from, to, 1);
            let error = Profile::from_toml(&text).expect_err(to).to_string();
            assert!(error.contains(expected), "{to}: {error}");
        }
        let unknown = MINIMAL.replacen("[talk]", "[talk]\nmean = 3", 1);
        assert!(matches!(Profile::from_toml(&unknown), Err(ProfileError::Syntax(_))));
    }
}
