//! The only real clock: maps tokio's monotonic clock and the system wall clock onto the
//! engine's own time types, sampled once per input.

use crate::core::time::{Instant, Now, WallTime};
use std::time::SystemTime;

/// The driver's clock; its epoch is when it was made.
#[derive(Debug, Clone, Copy)]
pub struct LiveClock {
    epoch: tokio::time::Instant,
}

impl LiveClock {
    /// A clock starting now.
    pub fn start() -> Self {
        LiveClock { epoch: tokio::time::Instant::now() }
    }

    /// Both clocks, now.
    pub fn now(&self) -> Now {
        let mono = Instant::from_micros(self.epoch.elapsed().as_micros() as u64);
        let wall_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now::new(mono, WallTime(wall_ms))
    }

    /// The tokio instant for an engine deadline.
    pub fn to_tokio(&self, at: Instant) -> tokio::time::Instant {
        self.epoch + std::time::Duration::from_micros(at.as_micros())
    }
}
