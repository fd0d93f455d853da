//! A simulated network for replays: each packet is delayed by a base latency plus a
//! random jitter, or lost, with draws from one seeded stream. The same seed and the same
//! sequence of packets give the same deliveries, so a failing replay can be rerun.
//! Jitter may reorder packets, as it does on real UDP paths.

use std::time::Duration;

use crate::traffic::sample::uniform;
use crate::core::rng::SeededRng;
use crate::core::time::Instant;

/// How the simulated path behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkConditions {
    /// Delay every delivered packet has at least.
    pub base_latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet.
    pub jitter: Duration,
    /// Probability in `[0, 1]` that a packet is lost.
    pub loss_probability: f64,
}

/// A deterministic lossy, jittery network path.
#[derive(Debug, Clone)]
pub struct SimNetwork {
    conditions: NetworkConditions,
    rng: SeededRng,
}

impl SimNetwork {
    /// A path with `conditions`, its draws taken from `seed`.
    pub fn new(conditions: NetworkConditions, seed: u64) -> Self {
        SimNetwork { conditions, rng: SeededRng::fork(seed, "sim.network") }
    }

    /// The conditions this path simulates.
    pub fn conditions(&self) -> NetworkConditions {
        self.conditions
    }

    /// When a packet sent at `sent_at` arrives, or `None` when it is lost. Always draws
    /// twice (loss, then jitter) so a change in loss probability does not shift the
    /// jitter of later packets.
    pub fn deliver(&mut self, sent_at: Instant) -> Option<Instant> {
        let loss_draw = uniform(&mut self.rng);
        let jitter_draw = uniform(&mut self.rng);
        if loss_draw < self.conditions.loss_probability {
            return None;
        }
        let jitter = self.conditions.jitter.mul_f64(jitter_draw);
        Some(sent_at + self.conditions.base_latency + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(loss_probability: f64) -> NetworkConditions {
        NetworkConditions {
            base_latency: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            loss_probability,
        }
    }

    #[test]
    fn same_seed_same_deliveries_and_bounds_hold() {
        let mut a = SimNetwork::new(conditions(0.1), 42);
        let mut b = SimNetwork::new(conditions(0.1), 42);
        let mut c = SimNetwork::new(conditions(0.1), 43);
        let sent = Instant::from_micros(1_000_000);
        let run_a: Vec<_> = (0..200).map(|_| a.deliver(sent)).collect();
        let run_b: Vec<_> = (0..200).map(|_| b.deliver(sent)).collect();
        let run_c: Vec<_> = (0..200).map(|_| c.deliver(sent)).collect();
        assert_eq!(run_a, run_b);
        assert_ne!(run_a, run_c);
        for arrival in run_a.iter().flatten() {
            let delay = *arrival - sent;
            assert!(delay >= Duration::from_millis(20) && delay <= Duration::from_millis(30));
        }
    }

    #[test]
    fn loss_rate_follows_probability() {
        let mut never = SimNetwork::new(conditions(0.0), 1);
        let mut always = SimNetwork::new(conditions(1.0), 1);
        let mut some = SimNetwork::new(conditions(0.2), 1);
        let sent = Instant::ZERO;
        assert!((0..1000).all(|_| never.deliver(sent).is_some()));
        assert!((0..1000).all(|_| always.deliver(sent).is_none()));
        let lost = (0..10_000).filter(|_| some.deliver(sent).is_none()).count();
        // Binomial(10000, 0.2): sd 40; 5 sd either side.
        assert!((1800..=2200).contains(&lost), "lost {lost}");
    }
}
