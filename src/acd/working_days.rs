//! Deadlines in working days of a tenant's calendar, for callback requests: "next working
//! day 17:00" (Rotterdam's norm), "within N working days", or "within N hours". Working
//! days skip weekends, the Dutch national holidays ([`super::calendar::is_public_holiday`]),
//! 5 May every year where the tenant says so (many municipalities close on Liberation
//! Day every year, not only in lustrum years), and the tenant's own closing days.
//!
//! Deadlines are wall-clock instants (UTC), computed from local dates and times in
//! Europe/Amsterdam, so they survive restarts and the change to and from summer time.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

use super::calendar::{is_public_holiday, local_time};
use crate::core::time::WallTime;
use crate::dialplan::TimeZone;

/// Working days looked ahead at most: past this many calendar days without a working day
/// (a misconfigured list of closing days) there is no deadline.
const MAX_DAYS_AHEAD: u32 = 366;

/// How a callback's deadline follows from the moment it was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineRule {
    /// The first working day after the day of the request, at this local time.
    NextWorkingDayAt(NaiveTime),
    /// The Nth working day after the day of the request, at the request's local time.
    WithinWorkingDays(u32),
    /// This many hours after the request, whatever the calendar.
    WithinHours(u32),
}

/// Which days a tenant works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    pub timezone: TimeZone,
    /// Local closing days besides the national holidays.
    pub closed_days: Vec<NaiveDate>,
    /// Closed on 5 May every year (not only in lustrum years).
    pub liberation_day_every_year: bool,
}

impl WorkingCalendar {
    /// True when `date` is a working day: Monday to Friday, no national holiday, not 5 May
    /// when the tenant closes then every year, and not one of its closing days.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let liberation_day = self.liberation_day_every_year && date.month() == 5 && date.day() == 5;
        !weekend && is_public_holiday(date).is_none() && !liberation_day && !self.closed_days.contains(&date)
    }

    /// The deadline of a request made at `requested_at` under `rule`; `None` when no
    /// working day comes within a year or the instant is out of the calendar's range.
    pub fn deadline(&self, rule: DeadlineRule, requested_at: WallTime) -> Option<WallTime> {
        let local = local_time(self.timezone, requested_at)?;
        match rule {
            DeadlineRule::WithinHours(hours) => Some(WallTime(requested_at.unix_ms() + i64::from(hours) * 3_600_000)),
            DeadlineRule::NextWorkingDayAt(at) => {
                let day = self.working_day_after(local.date(), 1)?;
                utc_of_local(self.timezone, day.and_time(at))
            }
            DeadlineRule::WithinWorkingDays(days) => {
                let day = self.working_day_after(local.date(), days.max(1))?;
                utc_of_local(self.timezone, day.and_time(local.time()))
            }
        }
    }

    /// The `nth` working day after `date` (1 = the next one).
    fn working_day_after(&self, date: NaiveDate, nth: u32) -> Option<NaiveDate> {
        let mut found = 0;
        let mut day = date;
        for _ in 0..MAX_DAYS_AHEAD {
            day = day.succ_opt()?;
            if self.is_working_day(day) {
                found += 1;
                if found == nth {
                    return Some(day);
                }
            }
        }
        None
    }
}

/// The UTC instant of a local time in `timezone`. A local time that does not exist (the
/// hour skipped when summer time starts) is taken an hour later; one that exists twice
/// (when it ends) is the first.
fn utc_of_local(timezone: TimeZone, local: NaiveDateTime) -> Option<WallTime> {
    let as_utc_ms = local.and_utc().timestamp_millis();
    // Europe/Amsterdam is UTC+2 in summer and UTC+1 in winter: the candidate whose own
    // local time is `local` is the answer.
    let candidates = [7_200_000, 3_600_000].map(|offset_ms| WallTime(as_utc_ms - offset_ms));
    candidates
        .into_iter()
        .find(|candidate| local_time(timezone, *candidate) == Some(local))
        .or_else(|| Some(WallTime(as_utc_ms - 3_600_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar() -> WorkingCalendar {
        WorkingCalendar { timezone: TimeZone::EuropeAmsterdam, closed_days: Vec::new(), liberation_day_every_year: false }
    }

    /// The UTC instant of local Amsterdam time (summer or winter as the date says).
    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> WallTime {
        let at = NaiveDate::from_ymd_opt(y, mo, d).and_then(|date| date.and_hms_opt(h, mi, 0)).expect("valid");
        utc_of_local(TimeZone::EuropeAmsterdam, at).expect("in range")
    }

    fn five_pm() -> NaiveTime {
        NaiveTime::from_hms_opt(17, 0, 0).expect("valid")
    }

    #[test]
    fn a_friday_request_is_due_monday_at_five() {
        let due = calendar().deadline(DeadlineRule::NextWorkingDayAt(five_pm()), local(2026, 11, 27, 10, 0));
        assert_eq!(due, Some(local(2026, 11, 30, 17, 0)));
    }

    #[test]
    fn easter_is_skipped() {
        // Thursday 2 April 2026; Good Friday 3 April and Easter Monday 6 April are holidays.
        let due = calendar().deadline(DeadlineRule::NextWorkingDayAt(five_pm()), local(2026, 4, 2, 16, 30));
        assert_eq!(due, Some(local(2026, 4, 7, 17, 0)));
        assert_eq!(due.map(|d| d.unix_ms()), Some(1_775_574_000_000), "17:00 CEST is 15:00 UTC");
    }

    #[test]
    fn the_fifth_of_may_and_closing_days_are_skipped_where_the_tenant_says_so() {
        // Monday 4 May 2026; 5 May 2026 is no national holiday (not a lustrum year).
        let monday = local(2026, 5, 4, 12, 0);
        let rule = DeadlineRule::NextWorkingDayAt(five_pm());
        assert_eq!(calendar().deadline(rule, monday), Some(local(2026, 5, 5, 17, 0)));
        let yearly = WorkingCalendar { liberation_day_every_year: true, ..calendar() };
        assert_eq!(yearly.deadline(rule, monday), Some(local(2026, 5, 6, 17, 0)));
        let closed = WorkingCalendar { closed_days: vec![NaiveDate::from_ymd_opt(2026, 5, 6).expect("valid")], ..yearly };
        assert_eq!(closed.deadline(rule, monday), Some(local(2026, 5, 7, 17, 0)));
    }

    #[test]
    fn the_change_to_winter_time_keeps_five_oclock_local() {
        // Friday 23 October 2026 (CEST); summer time ends Sunday 25 October.
        let due = calendar().deadline(DeadlineRule::NextWorkingDayAt(five_pm()), local(2026, 10, 23, 9, 0));
        assert_eq!(due.map(|d| d.unix_ms()), Some(1_793_030_400_000), "Monday 26 October 17:00 CET is 16:00 UTC");
    }

    #[test]
    fn within_working_days_keeps_the_time_of_day_and_hours_ignore_the_calendar() {
        let friday = local(2026, 12, 4, 10, 15);
        assert_eq!(calendar().deadline(DeadlineRule::WithinWorkingDays(2), friday), Some(local(2026, 12, 8, 10, 15)));
        // Christmas: Thursday 24 December 2026 + 2 working days skips 25 and 26 December.
        let christmas_eve = local(2026, 12, 24, 11, 0);
        assert_eq!(calendar().deadline(DeadlineRule::WithinWorkingDays(2), christmas_eve), Some(local(2026, 12, 29, 11, 0)));
        assert_eq!(calendar().deadline(DeadlineRule::WithinHours(24), friday).map(|d| d.unix_ms() - friday.unix_ms()), Some(86_400_000));
    }

    #[test]
    fn a_calendar_without_working_days_gives_no_deadline() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid");
        let closed_days = (0..400).filter_map(|offset| start.checked_add_days(chrono::Days::new(offset))).collect();
        let never = WorkingCalendar { closed_days, ..calendar() };
        assert_eq!(never.deadline(DeadlineRule::NextWorkingDayAt(five_pm()), local(2026, 1, 1, 9, 0)), None);
    }
}
