//! The record a call will leave, filled in as the call goes: arrival, menu choice, queue,
//! answer, hold, every leg rung, and how it left the ACD. Finished into a
//! [`CallRecord`] when the call ends. Wall-clock times, because a record is read by
//! people and matched against other systems' logs.

use super::call::{CallContext, TransferMode};
use super::record::{CallRecord, LegRecord, TransferRecord};
use super::OfferOutcome;
use crate::core::ids::LegId;
use crate::core::time::{Instant, Now};
use std::time::Duration;

/// A call's record under construction.
#[derive(Debug, Clone)]
pub struct CallHistory {
    dialled: String,
    caller_hash: Option<String>,
    arrived_at_ms: i64,
    established_at_ms: Option<i64>,
    menu_choice: Option<char>,
    queue: Option<String>,
    queued_at: Option<(Instant, i64)>,
    answered: Option<Answered>,
    disposition: Option<(String, Duration)>,
    hold: HoldClock,
    legs: Vec<(LegId, LegRecord)>,
    transfers: Vec<TransferRecord>,
}

#[derive(Debug, Clone)]
struct Answered {
    at: Instant,
    at_ms: i64,
    agent: String,
    wrap_up: Duration,
}

/// Time on hold: a running start and the total of earlier holds.
#[derive(Debug, Clone, Default)]
struct HoldClock {
    since: Option<Instant>,
    total: Duration,
}

impl CallHistory {
    /// A call that arrived at `now`, dialling `dialled`, from a caller whose number hashes
    /// to `caller_hash` (none when withheld).
    pub fn new(now: Now, dialled: String, caller_hash: Option<String>) -> Self {
        CallHistory {
            dialled,
            caller_hash,
            arrived_at_ms: now.wall.unix_ms(),
            established_at_ms: None,
            menu_choice: None,
            queue: None,
            queued_at: None,
            answered: None,
            disposition: None,
            hold: HoldClock::default(),
            legs: Vec::new(),
            transfers: Vec::new(),
        }
    }

    /// The caller's ACK arrived.
    pub fn established(&mut self, now: Now) {
        self.established_at_ms.get_or_insert(now.wall.unix_ms());
    }

    /// The caller chose `digit` in the entry menu.
    pub fn menu_choice(&mut self, digit: char) {
        self.menu_choice = Some(digit);
    }

    /// The call entered (or overflowed to) `queue`; the first entry starts the wait.
    pub fn queued(&mut self, now: Now, queue: &str) {
        self.queue = Some(queue.to_string());
        self.queued_at.get_or_insert((now.mono, now.wall.unix_ms()));
    }

    /// The ACD's disposition: how the call left the queues, after `wait`.
    pub fn disposition(&mut self, outcome: &str, wait: Duration) {
        self.disposition.get_or_insert((outcome.to_string(), wait));
    }

    /// The time waited so far in the queues (for dispositions that carry none).
    pub fn wait_so_far(&self, now: Now) -> Duration {
        self.queued_at.map_or(Duration::ZERO, |(at, _)| now.mono - at)
    }

    /// `agent` answered; the ACD gives them `wrap_up` of after-call work when it ends.
    pub fn answered(&mut self, now: Now, agent: &str, wrap_up: Duration) {
        self.answered.get_or_insert(Answered { at: now.mono, at_ms: now.wall.unix_ms(), agent: agent.to_string(), wrap_up });
    }

    /// A party put the other on hold (`on_hold`) or took them off it.
    pub fn hold(&mut self, now: Now, on_hold: bool) {
        match (on_hold, self.hold.since) {
            (true, None) => self.hold.since = Some(now.mono),
            (false, Some(since)) => {
                self.hold.total += now.mono - since;
                self.hold.since = None;
            }
            _ => {}
        }
    }

    /// Ringing `target` on `leg` (a `party`) ended with `outcome` after `ring`; the phone's
    /// final status, when it gave one.
    #[allow(clippy::too_many_arguments)]
    pub fn leg_ended_ringing(&mut self, now: Now, leg: LegId, party: &str, target: &str, ring: Duration, outcome: OfferOutcome, final_status: Option<u16>) {
        let ring_ms = duration_ms(ring);
        let record = LegRecord {
            party: party.to_string(),
            target: target.to_string(),
            rung_at_ms: now.wall.unix_ms() - i64::try_from(ring_ms).unwrap_or(0),
            ring_ms,
            final_status,
            outcome: outcome.as_str().to_string(),
            ended_at_ms: now.wall.unix_ms(),
        };
        self.legs.push((leg, record));
    }

    /// A connected leg ended at `now` (its record was written when it was answered).
    pub fn leg_hung_up(&mut self, now: Now, leg: LegId) {
        if let Some((_, record)) = self.legs.iter_mut().find(|(id, _)| *id == leg) {
            record.ended_at_ms = now.wall.unix_ms();
        }
    }

    /// A transfer (or a menu's route to a group) to `target` started.
    pub fn transfer_requested(&mut self, now: Now, mode: TransferMode, target: &str) {
        self.transfers.push(TransferRecord {
            mode: mode.as_str().to_string(),
            target: target.to_string(),
            requested_at_ms: now.wall.unix_ms(),
            outcome: "pending".to_string(),
            answered_by: None,
            ended_at_ms: None,
        });
    }

    /// The last transfer ended with `outcome` (`answered`, a bounce reason, `cancelled`),
    /// taken by `answered_by` when answered.
    pub fn transfer_ended(&mut self, now: Now, outcome: &str, answered_by: Option<&str>) {
        if let Some(transfer) = self.transfers.last_mut() {
            transfer.outcome = outcome.to_string();
            transfer.answered_by = answered_by.map(str::to_string);
            transfer.ended_at_ms = Some(now.wall.unix_ms());
        }
    }

    /// The finished record of a call that ended at `now` for `end_reason`.
    pub fn finish(mut self, now: Now, reference: String, tenant: String, end_reason: &str, context: &CallContext) -> CallRecord {
        self.hold(now, false);
        let (disposition, wait) = match self.disposition.take() {
            Some((outcome, wait)) => (outcome, wait),
            None if end_reason == "closed" => ("closed".to_string(), Duration::ZERO),
            None => ("not_queued".to_string(), self.wait_so_far(now)),
        };
        let answered = self.answered.take();
        let handling = handling(answered.is_some(), &self.transfers).to_string();
        CallRecord {
            reference,
            tenant,
            dialled: self.dialled,
            caller_hash: self.caller_hash,
            arrived_at_ms: self.arrived_at_ms,
            established_at_ms: self.established_at_ms,
            menu_choice: self.menu_choice.map(String::from),
            queue: self.queue,
            queued_at_ms: self.queued_at.map(|(_, wall)| wall),
            answered_at_ms: answered.as_ref().map(|a| a.at_ms),
            talk_ms: answered.as_ref().map_or(0, |a| duration_ms(now.mono - a.at)),
            wrap_up_ms: answered.as_ref().map_or(0, |a| duration_ms(a.wrap_up)),
            agent: answered.map(|a| a.agent),
            ended_at_ms: now.wall.unix_ms(),
            wait_ms: duration_ms(wait),
            hold_ms: duration_ms(self.hold.total),
            disposition,
            end_reason: end_reason.to_string(),
            subject: context.subject.clone(),
            notes: context.notes.clone(),
            previous_references: context.previous_references.clone(),
            legs: self.legs.into_iter().map(|(_, record)| record).collect(),
            handling,
            transfers: self.transfers,
        }
    }
}

/// How the contact centre handled the call, for the 80 % norm: `handled` by the agent who
/// answered, `transferred_cold` or `transferred_warm` (the last transfer that was
/// answered), `bounced` (a transfer came back and none was answered after), or
/// `not_handled` (no agent answered).
pub fn handling(answered: bool, transfers: &[TransferRecord]) -> &'static str {
    let last_answered = transfers.iter().rev().find(|t| t.outcome == "answered");
    // A transfer still ringing when the caller hung up is neither answered nor bounced.
    let bounced = transfers.iter().any(|t| !matches!(t.outcome.as_str(), "answered" | "cancelled" | "pending"));
    match (last_answered, bounced) {
        (Some(transfer), _) if transfer.mode == "warm" => "transferred_warm",
        (Some(_), _) => "transferred_cold",
        (None, true) => "bounced",
        (None, false) if answered => "handled",
        (None, false) => "not_handled",
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::WallTime;

    fn at(seconds: u64) -> Now {
        Now::new(Instant::from_micros(seconds * 1_000_000), WallTime(1_764_000_000_000 + seconds as i64 * 1000))
    }

    #[test]
    fn an_answered_call_with_a_hold_and_a_missed_offer() {
        let mut history = CallHistory::new(at(0), "14036".into(), Some("ab".into()));
        history.established(at(1));
        history.menu_choice('2');
        history.queued(at(5), "vergunningen");
        history.leg_ended_ringing(at(20), LegId(1), "agent", "anna", Duration::from_secs(15), OfferOutcome::NoAnswer, None);
        history.disposition("answered", Duration::from_secs(22));
        history.answered(at(27), "bram", Duration::from_secs(30));
        history.leg_ended_ringing(at(27), LegId(2), "agent", "bram", Duration::from_secs(7), OfferOutcome::Answered, Some(200));
        history.hold(at(60), true);
        history.hold(at(90), false);
        history.hold(at(100), true);
        history.leg_hung_up(at(127), LegId(2));
        let record = history.finish(at(127), "12345678".into(), "almere".into(), "agent_hung_up", &CallContext::default());
        assert_eq!((record.wait_ms, record.talk_ms, record.hold_ms, record.wrap_up_ms), (22_000, 100_000, 57_000, 30_000));
        assert_eq!(record.disposition, "answered");
        assert_eq!(record.menu_choice.as_deref(), Some("2"));
        assert_eq!(record.agent.as_deref(), Some("bram"));
        assert_eq!(record.legs.len(), 2);
        assert_eq!(record.legs[0].rung_at_ms, at(5).wall.unix_ms());
        assert_eq!(record.legs[1].ended_at_ms, at(127).wall.unix_ms());
        assert_eq!(record.queued_at_ms, Some(at(5).wall.unix_ms()));
    }

    #[test]
    fn a_call_outside_opening_hours_is_closed_and_one_that_never_queued_is_not_queued() {
        let closed = CallHistory::new(at(0), "14036".into(), None).finish(at(10), "1".into(), "almere".into(), "closed", &CallContext::default());
        assert_eq!((closed.disposition.as_str(), closed.wait_ms), ("closed", 0));
        let menu = CallHistory::new(at(0), "14036".into(), None).finish(at(10), "1".into(), "almere".into(), "caller_hung_up", &CallContext::default());
        assert_eq!(menu.disposition, "not_queued");
    }
}
