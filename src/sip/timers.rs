//! The SIP timer base values (RFC 3261 §17.1.1.1, Table 4). Every transaction timer A–M is
//! derived from these three, so an operator can tune a slow network in one place.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Timer D on an unreliable transport: "at least 32 seconds" (RFC 3261 §17.1.1.2, Table 4).
/// It covers the response retransmissions of the server, not our own, so it does not scale with T1.
pub const TIMER_D_UNRELIABLE_MS: u64 = 32_000;

/// How long a server INVITE transaction waits for the TU's first provisional response
/// before sending 100 Trying itself (RFC 3261 §17.2.1: 200 ms).
pub const TRYING_DELAY_MS: u64 = 200;

/// T1 (RTT estimate), T2 (maximum retransmit interval for non-INVITE requests and INVITE
/// responses) and T4 (maximum time a message stays in the network).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SipTimers {
    /// T1 in milliseconds (RFC default 500).
    pub t1_ms: u64,
    /// T2 in milliseconds (RFC default 4000).
    pub t2_ms: u64,
    /// T4 in milliseconds (RFC default 5000).
    pub t4_ms: u64,
}

impl Default for SipTimers {
    fn default() -> Self {
        SipTimers { t1_ms: 500, t2_ms: 4_000, t4_ms: 5_000 }
    }
}

impl SipTimers {
    /// T1: the first retransmission interval (Timers A, E, G start here). At least 1 ms:
    /// a zero interval would retransmit forever without time passing.
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.t1_ms.max(1))
    }

    /// T2: the cap on the doubling of Timers E and G; never below T1 for the same reason.
    pub fn t2(&self) -> Duration {
        Duration::from_millis(self.t2_ms).max(self.t1())
    }

    /// T4: Timers I and K on unreliable transports.
    pub fn t4(&self) -> Duration {
        Duration::from_millis(self.t4_ms)
    }

    /// 64*T1: Timers B, F, H, J (RFC 3261) and L, M (RFC 6026).
    pub fn transaction_timeout(&self) -> Duration {
        self.t1().saturating_mul(64)
    }

    /// Timer D on an unreliable transport.
    pub fn timer_d_unreliable(&self) -> Duration {
        Duration::from_millis(TIMER_D_UNRELIABLE_MS)
    }

    /// The delay before the server INVITE transaction sends 100 Trying itself.
    pub fn trying_delay(&self) -> Duration {
        Duration::from_millis(TRYING_DELAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_rfc_table_4() {
        let timers = SipTimers::default();
        assert_eq!(timers.t1(), Duration::from_millis(500));
        assert_eq!(timers.t2(), Duration::from_secs(4));
        assert_eq!(timers.t4(), Duration::from_secs(5));
        assert_eq!(timers.transaction_timeout(), Duration::from_secs(32));
    }

    #[test]
    fn zero_values_cannot_stall_the_timers() {
        let timers = SipTimers { t1_ms: 0, t2_ms: 0, t4_ms: 0 };
        assert_eq!(timers.t1(), Duration::from_millis(1));
        assert_eq!(timers.t2(), Duration::from_millis(1));
        assert_eq!(timers.transaction_timeout(), Duration::from_millis(64));
    }

    #[test]
    fn timeout_scales_with_t1() {
        let timers = SipTimers { t1_ms: 100, ..SipTimers::default() };
        assert_eq!(timers.transaction_timeout(), Duration::from_millis(6_400));
    }
}
