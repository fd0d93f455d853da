//! The calendar: Dutch public holidays and opening hours in Europe/Amsterdam local time.
//! Pure functions of a date or a [`WallTime`]; no clock and no time-zone database (the EU
//! summer-time rule is implemented here).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};

use crate::core::time::WallTime;
use crate::dialplan::{Hours, TimeZone};

/// A Dutch national holiday on which contact centres close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holiday {
    /// Nieuwjaarsdag, 1 January.
    NewYearsDay,
    /// Goede Vrijdag, two days before Easter.
    GoodFriday,
    /// Eerste Paasdag.
    EasterSunday,
    /// Tweede Paasdag.
    EasterMonday,
    /// Koningsdag: 27 April, or 26 April when the 27th is a Sunday (from 2014 on).
    KingsDay,
    /// Bevrijdingsdag, 5 May, counted only in lustrum years (see [`is_public_holiday`]).
    LiberationDay,
    /// Hemelvaartsdag, 39 days after Easter.
    AscensionDay,
    /// Eerste Pinksterdag, 49 days after Easter.
    WhitSunday,
    /// Tweede Pinksterdag, 50 days after Easter.
    WhitMonday,
    /// Eerste Kerstdag, 25 December.
    ChristmasDay,
    /// Tweede Kerstdag, 26 December.
    BoxingDay,
}

/// The first year of Koningsdag; before 2014 the national day was Koninginnedag on 30 April,
/// which this calendar does not model (it serves live and future dates).
const FIRST_KINGS_DAY_YEAR: i32 = 2014;

/// The holiday on `date`, if any.
///
/// Liberation Day (5 May) is a national day off only every fifth year (2025, 2030, ...):
/// that is the rule for central government and most municipal collective agreements, so
/// it is what we implement. A municipality that closes on 5 May every year lists it in
/// `[hours] closed_days`.
pub fn is_public_holiday(date: NaiveDate) -> Option<Holiday> {
    let year = date.year();
    let (month, day) = (date.month(), date.day());
    let fixed = match (month, day) {
        (1, 1) => Some(Holiday::NewYearsDay),
        (12, 25) => Some(Holiday::ChristmasDay),
        (12, 26) => Some(Holiday::BoxingDay),
        (5, 5) if year % 5 == 0 => Some(Holiday::LiberationDay),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if year >= FIRST_KINGS_DAY_YEAR && date == kings_day(year)? {
        return Some(Holiday::KingsDay);
    }
    let easter = easter_sunday(year)?;
    match (date - easter).num_days() {
        -2 => Some(Holiday::GoodFriday),
        0 => Some(Holiday::EasterSunday),
        1 => Some(Holiday::EasterMonday),
        39 => Some(Holiday::AscensionDay),
        49 => Some(Holiday::WhitSunday),
        50 => Some(Holiday::WhitMonday),
        _ => None,
    }
}

/// Koningsdag of `year`: 27 April, moved to the 26th when the 27th is a Sunday.
fn kings_day(year: i32) -> Option<NaiveDate> {
    let april_27 = NaiveDate::from_ymd_opt(year, 4, 27)?;
    if april_27.weekday() == Weekday::Sun {
        april_27.pred_opt()
    } else {
        Some(april_27)
    }
}

/// Easter Sunday of `year` in the Gregorian calendar, by the anonymous
/// (Meeus/Jones/Butcher) algorithm.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// Local wall-clock time in `timezone` at the UTC instant `utc`; `None` only for instants
/// beyond the calendar's range (hundreds of thousands of years away).
pub fn local_time(timezone: TimeZone, utc: WallTime) -> Option<NaiveDateTime> {
    let utc = DateTime::from_timestamp_millis(utc.unix_ms())?.naive_utc();
    let offset_s = match timezone {
        TimeZone::EuropeAmsterdam => amsterdam_utc_offset_s(utc)?,
    };
    utc.checked_add_signed(Duration::seconds(offset_s))
}

/// Europe/Amsterdam's offset from UTC at the UTC time `utc`: +2 h (CEST) from the last
/// Sunday of March 01:00 UTC until the last Sunday of October 01:00 UTC, +1 h (CET)
/// otherwise (EU Directive 2000/84/EC).
fn amsterdam_utc_offset_s(utc: NaiveDateTime) -> Option<i64> {
    const CET_OFFSET_S: i64 = 3600;
    const CEST_OFFSET_S: i64 = 7200;
    let year = utc.year();
    let summer_start = last_sunday(year, 3)?.and_hms_opt(1, 0, 0)?;
    let summer_end = last_sunday(year, 10)?.and_hms_opt(1, 0, 0)?;
    Some(if (summer_start..summer_end).contains(&utc) {
        CEST_OFFSET_S
    } else {
        CET_OFFSET_S
    })
}

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last_day = first_of_next.pred_opt()?;
    last_day.checked_sub_signed(Duration::days(i64::from(
        last_day.weekday().num_days_from_sunday(),
    )))
}

/// True when `hours` are open at the UTC instant `utc`: local time (in the hours' zone)
/// falls in a range of that weekday, the local date is not in `closed_days`, and it is no
/// public holiday (unless the hours ignore holidays).
pub fn is_open(hours: &Hours, closed_days: &[NaiveDate], utc: WallTime) -> bool {
    let Some(local) = local_time(hours.timezone, utc) else {
        return false;
    };
    let date = local.date();
    if closed_days.contains(&date) {
        return false;
    }
    if hours.close_on_public_holidays && is_public_holiday(date).is_some() {
        return false;
    }
    let second_of_day = local.num_seconds_from_midnight();
    hours
        .ranges(date.weekday())
        .iter()
        .any(|range| range.contains(second_of_day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::TimeRange;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    /// The WallTime of a UTC date and time.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> WallTime {
        let t = date(y, mo, d)
            .and_hms_opt(h, mi, s)
            .expect("valid test time");
        WallTime(t.and_utc().timestamp_millis())
    }

    fn office_hours() -> Hours {
        let day = vec![TimeRange {
            start_s: 8 * 3600,
            end_s: 18 * 3600,
        }];
        Hours {
            timezone: TimeZone::EuropeAmsterdam,
            weekly: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                Vec::new(),
                Vec::new(),
            ],
            close_on_public_holidays: true,
        }
    }

    #[test]
    fn easter_for_known_years() {
        assert_eq!(easter_sunday(2024), Some(date(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Some(date(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(date(2027, 3, 28)));
        assert_eq!(easter_sunday(2038), Some(date(2038, 4, 25)));
        assert_eq!(easter_sunday(2285), Some(date(2285, 3, 22)));
    }

    #[test]
    fn moveable_feasts_follow_easter() {
        assert_eq!(
            is_public_holiday(date(2026, 4, 3)),
            Some(Holiday::GoodFriday)
        );
        assert_eq!(
            is_public_holiday(date(2026, 4, 6)),
            Some(Holiday::EasterMonday)
        );
        assert_eq!(
            is_public_holiday(date(2026, 5, 14)),
            Some(Holiday::AscensionDay)
        );
        assert_eq!(
            is_public_holiday(date(2026, 5, 24)),
            Some(Holiday::WhitSunday)
        );
        assert_eq!(
            is_public_holiday(date(2026, 5, 25)),
            Some(Holiday::WhitMonday)
        );
        assert_eq!(
            is_public_holiday(date(2025, 5, 29)),
            Some(Holiday::AscensionDay)
        );
        assert_eq!(
            is_public_holiday(date(2025, 6, 9)),
            Some(Holiday::WhitMonday)
        );
        assert_eq!(is_public_holiday(date(2026, 5, 13)), None);
    }

    #[test]
    fn kings_day_moves_off_sunday() {
        assert_eq!(date(2025, 4, 27).weekday(), Weekday::Sun);
        assert_eq!(
            is_public_holiday(date(2025, 4, 26)),
            Some(Holiday::KingsDay)
        );
        assert_eq!(is_public_holiday(date(2025, 4, 27)), None);
        assert_eq!(
            is_public_holiday(date(2026, 4, 27)),
            Some(Holiday::KingsDay)
        );
        assert_eq!(is_public_holiday(date(2026, 4, 26)), None);
    }

    #[test]
    fn fixed_days_and_liberation_day_in_lustrum_years_only() {
        assert_eq!(
            is_public_holiday(date(2027, 1, 1)),
            Some(Holiday::NewYearsDay)
        );
        assert_eq!(
            is_public_holiday(date(2026, 12, 25)),
            Some(Holiday::ChristmasDay)
        );
        assert_eq!(
            is_public_holiday(date(2026, 12, 26)),
            Some(Holiday::BoxingDay)
        );
        assert_eq!(
            is_public_holiday(date(2025, 5, 5)),
            Some(Holiday::LiberationDay)
        );
        assert_eq!(
            is_public_holiday(date(2030, 5, 5)),
            Some(Holiday::LiberationDay)
        );
        assert_eq!(is_public_holiday(date(2026, 5, 5)), None);
        assert_eq!(is_public_holiday(date(2026, 12, 24)), None);
    }

    #[test]
    fn summer_time_starts_last_sunday_of_march_at_one_utc() {
        assert_eq!(last_sunday(2026, 3), Some(date(2026, 3, 29)));
        let before = local_time(TimeZone::EuropeAmsterdam, utc(2026, 3, 29, 0, 59, 59));
        let after = local_time(TimeZone::EuropeAmsterdam, utc(2026, 3, 29, 1, 0, 0));
        assert_eq!(before, date(2026, 3, 29).and_hms_opt(1, 59, 59));
        assert_eq!(after, date(2026, 3, 29).and_hms_opt(3, 0, 0));
    }

    #[test]
    fn summer_time_ends_last_sunday_of_october_at_one_utc() {
        assert_eq!(last_sunday(2026, 10), Some(date(2026, 10, 25)));
        let before = local_time(TimeZone::EuropeAmsterdam, utc(2026, 10, 25, 0, 59, 59));
        let after = local_time(TimeZone::EuropeAmsterdam, utc(2026, 10, 25, 1, 0, 0));
        assert_eq!(before, date(2026, 10, 25).and_hms_opt(2, 59, 59));
        assert_eq!(after, date(2026, 10, 25).and_hms_opt(2, 0, 0));
        assert_eq!(last_sunday(2027, 12), Some(date(2027, 12, 26)));
    }

    #[test]
    fn opening_hour_edges_in_winter() {
        let hours = office_hours();
        assert_eq!(date(2026, 11, 23).weekday(), Weekday::Mon);
        // CET: local = UTC + 1 h.
        assert!(!is_open(&hours, &[], utc(2026, 11, 23, 6, 59, 59)));
        assert!(is_open(&hours, &[], utc(2026, 11, 23, 7, 0, 0)));
        assert!(is_open(&hours, &[], utc(2026, 11, 23, 16, 59, 59)));
        assert!(!is_open(&hours, &[], utc(2026, 11, 23, 17, 0, 0)));
    }

    #[test]
    fn opening_hour_edges_in_summer() {
        let hours = office_hours();
        assert_eq!(date(2026, 6, 15).weekday(), Weekday::Mon);
        // CEST: local = UTC + 2 h.
        assert!(!is_open(&hours, &[], utc(2026, 6, 15, 5, 59, 59)));
        assert!(is_open(&hours, &[], utc(2026, 6, 15, 6, 0, 0)));
        assert!(is_open(&hours, &[], utc(2026, 6, 15, 15, 59, 59)));
        assert!(!is_open(&hours, &[], utc(2026, 6, 15, 16, 0, 0)));
    }

    #[test]
    fn closed_on_weekends_holidays_and_closed_days() {
        let mut hours = office_hours();
        assert!(
            !is_open(&hours, &[], utc(2026, 11, 21, 10, 0, 0)),
            "Saturday"
        );
        assert!(
            !is_open(&hours, &[], utc(2026, 4, 27, 10, 0, 0)),
            "King's Day, a Monday"
        );
        assert!(
            !is_open(&hours, &[date(2026, 12, 24)], utc(2026, 12, 24, 10, 0, 0)),
            "local closing day"
        );
        assert!(is_open(&hours, &[], utc(2026, 12, 24, 10, 0, 0)));
        hours.close_on_public_holidays = false;
        assert!(is_open(&hours, &[], utc(2026, 4, 27, 10, 0, 0)));
    }

    #[test]
    fn local_date_decides_near_midnight() {
        // 23:30 UTC on Sunday is 00:30 Monday in Amsterdam.
        let mut hours = office_hours();
        hours.weekly[0] = vec![TimeRange {
            start_s: 0,
            end_s: 3600,
        }];
        assert!(is_open(&hours, &[], utc(2026, 11, 22, 23, 30, 0)));
        assert!(!is_open(&hours, &[], utc(2026, 11, 23, 0, 30, 0)));
    }
}
