//! Where an answered call goes: closed message outside opening hours, the entry menu, a
//! queue; and what the ACD asks for in return (ring agents, announce, overflow).

use super::leg::LegState;
use super::call::{EndReason, Phase};
use super::media_events::HOLD_MUSIC_PROMPT;
use super::timers::TimerKind;
use super::{Engine, Notification, Output};
use crate::acd::{calendar, AcdAction, Outcome, OverflowDestination, QueueRefusal, WaitEstimate};
use crate::core::ids::CallId;
use crate::dialplan::{Destination, Entry, QueueId};
use std::time::Duration;

/// Played to welcome every caller during opening hours (before the menu prompt).
pub const WELCOME_PROMPT: &str = "welcome";
/// The longest we let a closing or overflow prompt play before hanging up anyway.
const LEAVING_PROMPT_LIMIT: Duration = Duration::from_secs(60);
/// Time allowed for the menu prompt itself before the menu's own timeout starts (the
/// timeout restarts when the media plane reports the prompt finished).
const MENU_PROMPT_ALLOWANCE: Duration = Duration::from_secs(30);

impl Engine {
    /// The caller's ACK arrived: decide where the call goes.
    pub(super) fn route_established(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        let Some(media) = self.caller_media(id) else { return };
        let Some(tenant) = self.plan.tenant(&call.tenant_id) else { return };
        if !calendar::is_open(&tenant.hours, &tenant.closed_days, self.now.wall) {
            let prompt = tenant.closed_prompt.clone();
            tracing::info!(call = %id, reference = %self.reference_label(id), "outside opening hours");
            self.leave_with_prompt(id, &prompt, EndReason::Closed);
            return;
        }
        match tenant.entry() {
            Some(Entry::Menu(menu)) => {
                let prompt = menu.prompt.clone();
                let deadline = self.now.mono + MENU_PROMPT_ALLOWANCE + Duration::from_secs(u64::from(menu.timeout_s));
                if let Some(call) = self.calls.get_mut(&id) {
                    call.phase = Phase::Menu;
                }
                self.play_prompts(media, vec![WELCOME_PROMPT.to_string(), prompt], false, true);
                self.timers.schedule_mono(deadline, TimerKind::MenuTimeout(id));
            }
            Some(Entry::Queue(queue)) => {
                let queue = queue.clone();
                self.play_prompts(media, vec![WELCOME_PROMPT.to_string()], false, false);
                self.enqueue(id, &queue);
            }
            None => self.hang_up(id, EndReason::Closed),
        }
    }

    /// A digit from the caller: in the menu it picks a destination.
    pub(super) fn on_digit(&mut self, id: CallId, digit: char) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.phase != Phase::Menu {
            return;
        }
        let destination = self
            .plan
            .tenant(&call.tenant_id)
            .and_then(|tenant| tenant.menu.as_ref())
            .and_then(|menu| menu.options.get(&digit).cloned());
        match destination {
            Some(destination) => {
                if let Some(call) = self.calls.get_mut(&id) {
                    call.history.menu_choice(digit);
                }
                self.go_to(id, destination)
            }
            None => tracing::debug!(call = %id, reference = %self.reference_label(id), %digit, "digit not in the menu; still waiting"),
        }
    }

    /// The menu prompt finished: the menu's timeout starts now.
    pub(super) fn on_menu_prompt_finished(&mut self, id: CallId) {
        let timeout_s = self
            .calls
            .get(&id)
            .and_then(|call| self.plan.tenant(&call.tenant_id))
            .and_then(|tenant| tenant.menu.as_ref())
            .map_or(5, |menu| menu.timeout_s);
        self.timers.schedule_mono(self.now.mono + Duration::from_secs(u64::from(timeout_s)), TimerKind::MenuTimeout(id));
    }

    /// No (valid) digit in time: the menu's default destination.
    pub(super) fn on_menu_timeout(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.phase != Phase::Menu {
            return;
        }
        let default = self.plan.tenant(&call.tenant_id).and_then(|t| t.menu.as_ref()).map(|menu| menu.default.clone());
        if let Some(destination) = default {
            self.go_to(id, destination);
        }
    }

    fn go_to(&mut self, id: CallId, destination: Destination) {
        let Some(media) = self.caller_media(id) else { return };
        let queue = match destination {
            Destination::Queue(queue) => queue,
            Destination::Group(group) => {
                self.route_to_group(id, group);
                return;
            }
        };
        self.play_prompts(media, vec![HOLD_MUSIC_PROMPT.to_string()], true, false);
        self.enqueue(id, &queue);
    }

    /// Puts the call in `queue`; a refusal sends it to the overflow destination.
    fn enqueue(&mut self, id: CallId, queue: &QueueId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let tenant = call.tenant_id.clone();
        call.phase = Phase::Queued;
        call.queue = Some(queue.clone());
        call.history.queued(self.now, queue.as_str());
        tracing::info!(call = %id, reference = %self.reference_label(id), %queue, "queued");
        match self.acd.call_arrived(self.now.mono, id, &tenant, queue, 0) {
            Ok(()) => {}
            Err(QueueRefusal::QueueFull { destination }) => self.overflow(id, destination),
            Err(refusal) => {
                tracing::warn!(call = %id, reference = %self.reference_label(id), %refusal, "call not queued");
                self.hang_up(id, EndReason::Overflowed);
            }
        }
    }

    /// Plays a last prompt, then hangs up (closed, queue full, overflow).
    fn leave_with_prompt(&mut self, id: CallId, prompt: &str, reason: EndReason) {
        let Some(media) = self.caller_media(id) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.phase = Phase::Leaving(reason);
        self.play_prompts(media, vec![prompt.to_string()], false, false);
        self.timers.schedule_mono(self.now.mono + LEAVING_PROMPT_LIMIT, TimerKind::LeaveTimeout(id));
    }

    /// The last prompt finished or its time ran out.
    pub(super) fn on_leave_timeout(&mut self, id: CallId) {
        if let Some(Phase::Leaving(reason)) = self.calls.get(&id).map(|call| call.phase.clone()) {
            self.hang_up(id, reason);
        }
    }

    /// The queue a call goes to when its route names none: the menu's default if that is
    /// a queue, else the tenant's first queue.
    pub(super) fn default_queue(&self, id: CallId) -> Option<QueueId> {
        let tenant = self.calls.get(&id).and_then(|call| self.plan.tenant(&call.tenant_id))?;
        let menu_default = tenant.menu.as_ref().and_then(|menu| match &menu.default {
            Destination::Queue(queue) => Some(queue.clone()),
            Destination::Group(_) => None,
        });
        menu_default.or_else(|| tenant.queues.first().map(|queue| queue.id.clone()))
    }

    pub(super) fn overflow(&mut self, id: CallId, destination: OverflowDestination) {
        match destination {
            OverflowDestination::Queue(queue) => {
                tracing::info!(call = %id, reference = %self.reference_label(id), %queue, "overflowed to another queue");
                if let Some(call) = self.calls.get_mut(&id) {
                    call.history.queued(self.now, queue.as_str());
                    call.queue = Some(queue);
                }
            }
            OverflowDestination::PromptThenHangup(prompt) => self.leave_with_prompt(id, &prompt, EndReason::Overflowed),
            // The callback issue fills this in; until then the caller is told the lines
            // are busy.
            OverflowDestination::Callback => self.hang_up(id, EndReason::Overflowed),
        }
    }

    /// Carries out everything the ACD asked for.
    pub(super) fn drain_acd_actions(&mut self) -> bool {
        let mut any = false;
        while let Some(action) = self.acd.poll_action() {
            any = true;
            match action {
                AcdAction::OfferToAgents { call, agents, .. } => {
                    for agent in agents {
                        self.offer_to_agent(call, agent);
                    }
                }
                AcdAction::CancelOffer { call, agent } => {
                    self.deferred_offers.retain(|(_, deferred_agent), deferred_call| {
                        !(*deferred_agent == agent && *deferred_call == call)
                    });
                    // Only the ringing leg: an earlier offer of the same call to the same
                    // agent may still be waiting for the 487 to its CANCEL.
                    let ringing = self.calls.get(&call).and_then(|c| {
                        c.legs.iter().copied().find(|&leg| {
                            self.legs.get(leg).is_some_and(|leg| leg.agent() == Some(&agent) && leg.state == LegState::Ringing)
                        })
                    });
                    if let Some(leg) = ringing {
                        self.cancel_leg(leg);
                    }
                }
                AcdAction::Announce { call, position, expected_wait } => self.announce(call, position, expected_wait),
                AcdAction::Overflow { call, destination } => self.overflow(call, destination),
                AcdAction::Disposition(disposition) => {
                    let call = disposition.call;
                    tracing::info!(call = %call, reference = %self.reference_label(call), queue = %disposition.queue, outcome = %outcome_name(&disposition.outcome), "disposition");
                    let leaves = matches!(disposition.outcome, Outcome::Closed | Outcome::Failed { .. });
                    let now = self.now;
                    if let Some(call) = self.calls.get_mut(&call) {
                        let wait = match &disposition.outcome {
                            Outcome::Answered { wait, .. } | Outcome::Abandoned { wait } | Outcome::Overflowed { wait, .. } => *wait,
                            Outcome::Closed | Outcome::Failed { .. } => call.history.wait_so_far(now),
                        };
                        call.history.disposition(outcome_name(&disposition.outcome), wait);
                    }
                    self.outputs.push_back(Output::Notify(Notification::Disposition(disposition)));
                    if leaves && self.calls.get(&call).is_some_and(|c| c.phase == Phase::Queued) {
                        self.hang_up(call, EndReason::Closed);
                    }
                }
            }
        }
        any
    }

    /// "U bent nummer N in de wachtrij. De verwachte wachttijd is …", then hold music.
    fn announce(&mut self, id: CallId, position: usize, expected_wait: WaitEstimate) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.phase != Phase::Queued {
            return;
        }
        let Some(media) = self.caller_media(id) else { return };
        let mut prompts = vec!["position_prefix".to_string()];
        prompts.extend(number_prompts(position as u32));
        prompts.push("position_suffix".into());
        prompts.push("wait_prefix".into());
        match expected_wait {
            WaitEstimate::LessThanMinute => prompts.push("wait_less_than_minute".into()),
            WaitEstimate::AboutMinutes(minutes) => {
                prompts.push("wait_about".into());
                prompts.extend(number_prompts(minutes));
                prompts.push("wait_minutes".into());
            }
            WaitEstimate::MoreThanMinutes(minutes) => {
                prompts.push("wait_more_than".into());
                prompts.extend(number_prompts(minutes));
                prompts.push("wait_minutes".into());
            }
        }
        self.play_prompts(media, prompts, false, false);
    }
}

/// The prompt files that say `n` in Dutch (0–99; larger numbers are said as 99, which no
/// queue position or minute count of ours reaches): units and teens have their own file,
/// 21–99 are "drie-en-twintig" = `num_3` `num_and` `num_20`.
pub fn number_prompts(n: u32) -> Vec<String> {
    let n = n.min(99);
    match n {
        0..=20 => vec![format!("num_{n}")],
        _ if n % 10 == 0 => vec![format!("num_{n}")],
        _ => vec![format!("num_{}", n % 10), "num_and".into(), format!("num_{}", n - n % 10)],
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Answered { .. } => "answered",
        Outcome::Abandoned { .. } => "abandoned",
        Outcome::Overflowed { .. } => "overflowed",
        Outcome::Closed => "closed",
        Outcome::Failed { .. } => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::number_prompts;

    #[test]
    fn dutch_numbers_compose_units_before_tens() {
        assert_eq!(number_prompts(3), vec!["num_3"]);
        assert_eq!(number_prompts(17), vec!["num_17"]);
        assert_eq!(number_prompts(40), vec!["num_40"]);
        assert_eq!(number_prompts(23), vec!["num_3", "num_and", "num_20"]);
        assert_eq!(number_prompts(250), vec!["num_9", "num_and", "num_90"]);
    }
}
