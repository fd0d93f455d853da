//! Opening hours: weekly time ranges in a named time zone, plus the local closing days
//! of a tenant. The calendar (`acd::calendar`) decides from these whether it is open.

use chrono::{NaiveDate, Weekday};

use super::error::ErrorList;
use super::fields::Section;

/// Seconds in a day; a range may end at 24:00.
pub const SECONDS_PER_DAY: u32 = 86_400;

/// Weekly opening hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// Zone in which the ranges are local times.
    pub timezone: TimeZone,
    /// Ranges per weekday, Monday first; an empty list means closed all day. Sorted and
    /// not overlapping.
    pub weekly: [Vec<TimeRange>; 7],
    /// Whether Dutch public holidays close this schedule (default true).
    pub close_on_public_holidays: bool,
}

impl Hours {
    /// The ranges of `weekday`, sorted by start.
    pub fn ranges(&self, weekday: Weekday) -> &[TimeRange] {
        &self.weekly[weekday.num_days_from_monday() as usize]
    }
}

/// A half-open local time range `[start_s, end_s)` in seconds after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeRange {
    /// First second inside the range.
    pub start_s: u32,
    /// First second after the range (at most 86400, i.e. 24:00).
    pub end_s: u32,
}

impl TimeRange {
    /// True when `second_of_day` falls inside the range.
    pub fn contains(&self, second_of_day: u32) -> bool {
        (self.start_s..self.end_s).contains(&second_of_day)
    }
}

/// Supported time zones. Only the one Dutch municipalities use, with the EU summer-time
/// rule implemented in `acd::calendar` (no time-zone database needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// CET (UTC+1), and CEST (UTC+2) from the last Sunday of March 01:00 UTC to the last
    /// Sunday of October 01:00 UTC.
    EuropeAmsterdam,
}

/// Keys of the weekdays in an hours table, Monday first.
const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Reads an hours table. `closed_days` is accepted only where `with_closed_days` is set
/// (the tenant's `[hours]`; a group's hours follow the tenant's closing days).
pub(crate) fn parse_hours(
    section: &mut Section<'_>,
    with_closed_days: bool,
    errors: &mut ErrorList,
) -> (Hours, Vec<NaiveDate>) {
    let timezone = match section.optional_string("timezone", errors) {
        None | Some("Europe/Amsterdam") => TimeZone::EuropeAmsterdam,
        Some(other) => {
            errors.push(
                &section.key_path("timezone"),
                format!("{other:?} is not supported (only \"Europe/Amsterdam\")"),
            );
            TimeZone::EuropeAmsterdam
        }
    };
    let mut weekly: [Vec<TimeRange>; 7] = Default::default();
    for (day, key) in WEEKDAY_KEYS.iter().enumerate() {
        let mut ranges = Vec::new();
        for (path, text) in section.strings(key, errors) {
            match parse_range(text) {
                Ok(range) => ranges.push((path, range)),
                Err(problem) => errors.push(&path, format!("{text:?}: {problem}")),
            }
        }
        ranges.sort_by_key(|(_, range)| *range);
        for pair in ranges.windows(2) {
            let (_, earlier) = &pair[0];
            let (path, later) = &pair[1];
            if later.start_s < earlier.end_s {
                errors.push(
                    path,
                    format!("overlaps the range {}", format_range(earlier)),
                );
            }
        }
        weekly[day] = ranges.into_iter().map(|(_, range)| range).collect();
    }
    let close_on_public_holidays = section.boolean("close_on_public_holidays", true, errors);
    let mut closed_days = Vec::new();
    if with_closed_days {
        for (path, text) in section.strings("closed_days", errors) {
            match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) => closed_days.push(date),
                Err(_) => errors.push(&path, format!("{text:?} is not a date like \"2026-12-24\"")),
            }
        }
        closed_days.sort();
        closed_days.dedup();
    }
    (
        Hours {
            timezone,
            weekly,
            close_on_public_holidays,
        },
        closed_days,
    )
}

/// Parses `"HH:MM-HH:MM"`; the end may be `24:00` and must be after the start.
fn parse_range(text: &str) -> Result<TimeRange, &'static str> {
    let (start, end) = text
        .split_once('-')
        .ok_or("must look like \"08:00-18:00\"")?;
    let start_s =
        parse_clock(start.trim()).ok_or("start must be a time HH:MM from 00:00 to 23:59")?;
    let end_s = parse_clock(end.trim()).ok_or("end must be a time HH:MM from 00:00 to 24:00")?;
    if end_s <= start_s {
        return Err("end must be after start");
    }
    Ok(TimeRange { start_s, end_s })
}

/// Parses `HH:MM` into seconds after midnight; `24:00` is allowed as an end.
fn parse_clock(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u32 = hours.parse().ok()?;
    let minutes: u32 = minutes.parse().ok()?;
    let seconds = hours * 3600 + minutes * 60;
    (minutes < 60 && seconds <= SECONDS_PER_DAY).then_some(seconds)
}

fn format_range(range: &TimeRange) -> String {
    let clock = |s: u32| format!("{:02}:{:02}", s / 3600, s % 3600 / 60);
    format!("{}-{}", clock(range.start_s), clock(range.end_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject_nonsense() {
        assert_eq!(
            parse_range("08:00-18:00"),
            Ok(TimeRange {
                start_s: 8 * 3600,
                end_s: 18 * 3600
            })
        );
        assert_eq!(
            parse_range("00:00-24:00"),
            Ok(TimeRange {
                start_s: 0,
                end_s: SECONDS_PER_DAY
            })
        );
        assert!(parse_range("18:00-08:00").is_err());
        assert!(parse_range("8:00-18:00").is_err());
        assert!(parse_range("08:60-18:00").is_err());
        assert!(parse_range("24:00-24:00").is_err());
        assert!(parse_range("24:30-24:00").is_err());
        assert!(parse_range("08:00").is_err());
    }

    #[test]
    fn half_open_range_contains_start_not_end() {
        let range = TimeRange {
            start_s: 100,
            end_s: 200,
        };
        assert!(range.contains(100));
        assert!(range.contains(199));
        assert!(!range.contains(200));
        assert!(!range.contains(99));
    }
}
