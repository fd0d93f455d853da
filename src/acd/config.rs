//! The ACD's own configuration: deployment bounds and per-queue settings in durations,
//! built from the dial-plan queue (the dial plan holds seconds as written by operators).

use std::time::Duration;

use crate::dialplan::{Overflow, Queue, Strategy};

/// Deployment-wide ACD settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcdConfig {
    /// Most callers waiting in all queues together; beyond it arrivals are refused with
    /// [`super::QueueRefusal::DeploymentFull`] (memory and media ports stay bounded).
    pub max_waiting_calls: usize,
    /// Handle time assumed before a queue has finished calls (seeds the average).
    pub default_handle_time_s: u32,
    /// Abandons after a wait up to this are "short" and left out of the service level.
    pub short_abandon_s: u32,
    /// Prompt used when overflow between queues would revisit a queue (a loop in the plan).
    pub overflow_loop_prompt: String,
    /// Seed of the tie-break stream.
    pub seed: u64,
}

impl Default for AcdConfig {
    fn default() -> Self {
        AcdConfig {
            max_waiting_calls: 2_000,
            default_handle_time_s: 180,
            short_abandon_s: 5,
            overflow_loop_prompt: "queue-full".to_owned(),
            seed: 0,
        }
    }
}

/// One queue's settings as the ACD uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Answer-within target of the service level.
    pub service_level_target: Duration,
    /// Longest wait in this queue before overflow (counted from entering this queue).
    pub max_wait: Duration,
    /// Most callers waiting; an arrival beyond it overflows at once.
    pub max_length: usize,
    /// Where overflowing callers go.
    pub overflow: Overflow,
    /// Interval of position announcements; `None` = never.
    pub announce_interval: Option<Duration>,
    /// How agents are chosen.
    pub strategy: Strategy,
    /// How long one offer rings.
    pub ring_timeout: Duration,
    /// After-call work time.
    pub wrap_up: Duration,
    /// Unanswered offers in a row before the agent is paused.
    pub max_missed_offers: u32,
}

impl QueueSettings {
    /// The settings of a dial-plan queue.
    pub fn from_dialplan(queue: &Queue) -> Self {
        QueueSettings {
            service_level_target: secs(queue.service_level_target_s),
            max_wait: secs(queue.max_wait_s),
            max_length: usize::try_from(queue.max_length).unwrap_or(usize::MAX),
            overflow: queue.overflow.clone(),
            announce_interval: (queue.announce_interval_s > 0)
                .then(|| secs(queue.announce_interval_s)),
            strategy: queue.strategy,
            ring_timeout: secs(queue.ring_timeout_s),
            wrap_up: secs(queue.wrap_up_s),
            max_missed_offers: queue.max_missed_offers.max(1),
        }
    }
}

fn secs(seconds: u32) -> Duration {
    Duration::from_secs(u64::from(seconds))
}
