//! Trace generation from a [`Profile`]: arrivals on working days inside opening hours as
//! a non-homogeneous Poisson process following the profile's hourly curve (by thinning),
//! and per call a department, menu key, patience, talk time and agent action.
//!
//! Every working day draws from its own streams (`sim.arrivals.<date>` and
//! `sim.calls.<date>` under the seed), so a day's calls are the same whatever range it is
//! generated in; only offsets and caller numbers depend on the range start.

use std::collections::VecDeque;

use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, NaiveDateTime, NaiveTime};

use super::profile::Profile;
use super::sample;
use super::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, Transfer, TRACE_VERSION};
use crate::acd::calendar::{is_public_holiday, local_time};
use crate::core::rng::SeededRng;
use crate::core::time::WallTime;
use crate::dialplan::TimeZone;

/// Offsets Europe/Amsterdam can have from UTC, summer time first.
const AMSTERDAM_OFFSETS_S: [i64; 2] = [7200, 3600];

/// An inclusive range of local dates to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    first: NaiveDate,
    last: NaiveDate,
}

impl DateRange {
    /// The dates `first..=last`; `None` when `last` is before `first`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Option<Self> {
        (first <= last).then_some(DateRange { first, last })
    }

    /// The whole calendar month `month` (1-12) of `year`.
    pub fn month(year: i32, month: u32) -> Option<Self> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        DateRange::new(first, next.pred_opt()?)
    }

    /// First date of the range.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// Last date of the range (inclusive).
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Every date of the range in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last;
        self.first.iter_days().take_while(move |date| *date <= last)
    }
}

/// True when the profile's contact centre is open on `date`: a working weekday, not a
/// listed closed day, and no Dutch public holiday (unless the profile ignores them).
pub fn is_working_day(profile: &Profile, date: NaiveDate) -> bool {
    profile.working_days.contains(&date.weekday())
        && !profile.closed_days.contains(&date)
        && !(profile.close_on_public_holidays && is_public_holiday(date).is_some())
}

/// The working days of `range`.
pub fn working_days(profile: &Profile, range: DateRange) -> Vec<NaiveDate> {
    range.dates().filter(|date| is_working_day(profile, *date)).collect()
}

/// The UTC instant of Amsterdam local time `local`; `None` in the spring-forward gap.
/// In the autumn overlap the earlier (summer-time) instant is taken.
pub fn amsterdam_to_utc(local: NaiveDateTime) -> Option<WallTime> {
    AMSTERDAM_OFFSETS_S.iter().find_map(|offset_s| {
        let utc = local.checked_sub_signed(ChronoDuration::seconds(*offset_s))?;
        let wall = WallTime(utc.and_utc().timestamp_millis());
        (local_time(TimeZone::EuropeAmsterdam, wall)? == local).then_some(wall)
    })
}

/// Offset 0 of a trace over `range`: opening time on its first working day (or on its
/// first date if it has none), as a UTC instant and as RFC 3339 with the local offset.
pub fn trace_start(profile: &Profile, range: DateRange) -> Option<(WallTime, String)> {
    let date = working_days(profile, range).first().copied().unwrap_or(range.first);
    let local =
        date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(profile.opening_start_s, 0)?);
    let wall = amsterdam_to_utc(local)?;
    let offset_s = (local - chrono::DateTime::from_timestamp_millis(wall.unix_ms())?.naive_utc())
        .num_seconds();
    let sign = if offset_s < 0 { '-' } else { '+' };
    let offset_abs_min = offset_s.abs() / 60;
    let text = format!(
        "{}{sign}{:02}:{:02}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        offset_abs_min / 60,
        offset_abs_min % 60
    );
    Some((wall, text))
}

/// The calls of a generated trace, lazily, one working day at a time.
#[derive(Debug)]
pub struct GeneratedCalls<'p> {
    profile: &'p Profile,
    department_shares: Vec<f64>,
    seed: u64,
    days: VecDeque<NaiveDate>,
    start_utc_ms: i64,
    pending: VecDeque<TraceCall>,
    next_caller: u64,
}

/// Generates the calls of `profile` over `range` under `seed`, in arrival order.
/// Deterministic: the same profile, seed and range give the same calls.
pub fn generate(profile: &Profile, seed: u64, range: DateRange) -> GeneratedCalls<'_> {
    let start_utc_ms = trace_start(profile, range).map_or(0, |(wall, _)| wall.unix_ms());
    GeneratedCalls {
        profile,
        department_shares: profile.department_shares(),
        seed,
        days: working_days(profile, range).into(),
        start_utc_ms,
        pending: VecDeque::new(),
        next_caller: 1,
    }
}

/// A whole trace: its header (with the call count) and calls. `start_wall` is empty only
/// if the opening time does not exist locally (inside the spring-forward hour).
pub fn generate_trace(
    profile: &Profile,
    seed: u64,
    range: DateRange,
) -> (TraceHeader, Vec<TraceCall>) {
    let calls: Vec<TraceCall> = generate(profile, seed, range).collect();
    let start_wall = trace_start(profile, range).map(|(_, text)| text).unwrap_or_default();
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: profile.tenant.clone(),
        number: profile.number.clone(),
        start_wall,
        seed,
        calls: calls.len() as u64,
        profile: profile.name.clone(),
    };
    (header, calls)
}

impl Iterator for GeneratedCalls<'_> {
    type Item = TraceCall;

    fn next(&mut self) -> Option<TraceCall> {
        while self.pending.is_empty() {
            let date = self.days.pop_front()?;
            self.generate_day(date);
        }
        self.pending.pop_front()
    }
}

impl GeneratedCalls<'_> {
    fn generate_day(&mut self, date: NaiveDate) {
        let Some(midnight) = date.and_hms_opt(0, 0, 0) else { return };
        let mut arrivals_rng = SeededRng::fork(self.seed, &format!("sim.arrivals.{date}"));
        let mut calls_rng = SeededRng::fork(self.seed, &format!("sim.calls.{date}"));
        for arrival_ms in arrivals_in_day(self.profile, &mut arrivals_rng) {
            let local = midnight
                + ChronoDuration::seconds(i64::from(self.profile.opening_start_s))
                + ChronoDuration::milliseconds(arrival_ms as i64);
            let Some(utc) = amsterdam_to_utc(local) else { continue };
            let Ok(offset_ms) = u64::try_from(utc.unix_ms() - self.start_utc_ms) else { continue };
            let call = draw_call(
                self.profile,
                &self.department_shares,
                &mut calls_rng,
                offset_ms,
                sim_caller(self.next_caller),
            );
            self.next_caller += 1;
            self.pending.push_back(call);
        }
    }
}

/// Arrival times in ms after opening for one day: a homogeneous Poisson process at the
/// peak hour's rate, each point kept with probability (its hour's rate / peak rate).
fn arrivals_in_day(profile: &Profile, rng: &mut SeededRng) -> Vec<u64> {
    const MS_PER_HOUR: f64 = 3_600_000.0;
    let daily_calls = profile.calls_per_working_day();
    let hourly_rates: Vec<f64> =
        profile.hourly_share.iter().map(|share| share * daily_calls).collect();
    let peak_per_hour = hourly_rates.iter().copied().fold(0.0, f64::max);
    if peak_per_hour <= 0.0 {
        return Vec::new();
    }
    let day_ms = f64::from(profile.opening_end_s - profile.opening_start_s) * 1000.0;
    let mean_gap_ms = MS_PER_HOUR / peak_per_hour;
    let mut arrivals = Vec::new();
    let mut time_ms = 0.0;
    loop {
        time_ms += sample::exponential(rng, mean_gap_ms);
        if time_ms >= day_ms {
            return arrivals;
        }
        let hour = ((time_ms / MS_PER_HOUR) as usize).min(hourly_rates.len() - 1);
        if sample::uniform(rng) < hourly_rates[hour] / peak_per_hour {
            arrivals.push(time_ms as u64);
        }
    }
}

/// One call's attributes. Always makes the same draws in the same order, whatever the
/// outcome, so one call's choices never shift the next call's.
fn draw_call(
    profile: &Profile,
    department_shares: &[f64],
    rng: &mut SeededRng,
    arrival_offset_ms: u64,
    caller: String,
) -> TraceCall {
    let department_index = sample::weighted_index(rng, department_shares).unwrap_or(0);
    let department = &profile.departments[department_index];
    let outcomes = &department.outcomes;
    let outcome = sample::weighted_index(rng, &[outcomes.handled, outcomes.cold, outcomes.warm]);
    let backoffice_answers = sample::bernoulli(rng, profile.backoffice_answer_probability);
    let patience_ms = sample::exponential(rng, profile.patience_mean_s * 1000.0);
    let talk_ms = sample::lognormal(rng, department.talk_mean_s * 1000.0, profile.talk_cv);
    let transfer = || Transfer { group: department.transfer_group.clone(), backoffice_answers };
    let agent_action = match outcome {
        Some(1) => AgentAction::ColdTransfer(transfer()),
        Some(2) => AgentAction::WarmTransfer(transfer()),
        _ => AgentAction::Handle,
    };
    TraceCall {
        arrival_offset_ms,
        dialled: profile.number.clone(),
        caller,
        department: department.id.clone(),
        menu_digit: department.menu_digit,
        patience_ms: patience_ms.round() as u64,
        talk_ms: (talk_ms.round() as u64).max(1),
        agent_action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn local_to_utc_follows_summer_time() {
        let winter = date(2010, 1, 11).and_hms_opt(8, 0, 0).expect("time");
        let summer = date(2010, 7, 12).and_hms_opt(8, 0, 0).expect("time");
        // 2010-01-11T07:00:00Z and 2010-07-12T06:00:00Z.
        assert_eq!(amsterdam_to_utc(winter), Some(WallTime(1_263_193_200_000)));
        assert_eq!(amsterdam_to_utc(summer), Some(WallTime(1_278_914_400_000)));
        // 02:30 on 28 March 2010 does not exist in Amsterdam.
        let gap = date(2010, 3, 28).and_hms_opt(2, 30, 0).expect("time");
        assert_eq!(amsterdam_to_utc(gap), None);
    }

    #[test]
    fn month_range_covers_the_month() {
        let february = DateRange::month(2010, 2).expect("valid month");
        assert_eq!(february.first(), date(2010, 2, 1));
        assert_eq!(february.last(), date(2010, 2, 28));
        assert_eq!(february.dates().count(), 28);
        assert_eq!(DateRange::month(2010, 12).expect("december").last(), date(2010, 12, 31));
        assert!(DateRange::new(date(2010, 2, 2), date(2010, 2, 1)).is_none());
        assert!(DateRange::month(2010, 13).is_none());
    }
}
