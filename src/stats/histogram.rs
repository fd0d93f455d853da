//! The wait-time distribution of answered calls: Prometheus-style buckets (with an edge
//! at the service-level target, so "answered within target" is read straight off one
//! bucket) and an exact-to-100 ms distribution for averages and percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

/// Bucket upper edges in seconds; the queue's target is added when it is not one of them.
pub const DEFAULT_WAIT_EDGES_S: [u64; 10] = [5, 10, 15, 20, 25, 30, 45, 60, 120, 300];

/// Resolution of the percentile distribution: waits are kept in 100 ms steps, so memory is
/// bounded by the longest wait, never by the number of calls.
const PERCENTILE_STEP_MS: u64 = 100;

/// The bucket edges for a queue with service-level `target`: the defaults plus the target
/// in whole seconds (rounded up so that a wait ≤ target always lands at or below it).
pub fn wait_edges_s(target: Duration) -> Vec<u64> {
    let target_s = target.as_secs() + u64::from(target.subsec_nanos() > 0);
    let mut edges: Vec<u64> = DEFAULT_WAIT_EDGES_S.to_vec();
    if !edges.contains(&target_s) {
        edges.push(target_s);
        edges.sort_unstable();
    }
    edges
}

/// A histogram of waits.
#[derive(Debug, Clone)]
pub struct WaitHistogram {
    edges_s: Vec<u64>,
    /// Calls per bucket (not cumulative); the last entry is the `+Inf` bucket.
    bucket_counts: Vec<u64>,
    sum: Duration,
    count: u64,
    /// Wait in 100 ms steps (rounded up) → calls.
    steps: BTreeMap<u64, u64>,
}

/// A read-only copy of a [`WaitHistogram`] for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitDistribution {
    /// Upper bucket edges in seconds (a wait equal to an edge falls in that bucket).
    pub edges_s: Vec<u64>,
    /// Cumulative counts per edge, Prometheus `le` style; `count` is the `+Inf` bucket.
    pub cumulative_counts: Vec<u64>,
    /// Observations.
    pub count: u64,
    /// Sum of all waits.
    pub sum: Duration,
    /// Mean wait; `None` without observations.
    pub average: Option<Duration>,
    /// 90th percentile (nearest rank, rounded up to 100 ms); `None` without observations.
    pub p90: Option<Duration>,
}

impl WaitHistogram {
    /// An empty histogram over `edges_s` (ascending).
    pub fn new(edges_s: Vec<u64>) -> Self {
        let buckets = edges_s.len() + 1;
        WaitHistogram { edges_s, bucket_counts: vec![0; buckets], sum: Duration::ZERO, count: 0, steps: BTreeMap::new() }
    }

    /// Records one wait.
    pub fn observe(&mut self, wait: Duration) {
        let bucket = self
            .edges_s
            .iter()
            .position(|edge| wait <= Duration::from_secs(*edge))
            .unwrap_or(self.edges_s.len());
        self.bucket_counts[bucket] += 1;
        self.sum += wait;
        self.count += 1;
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        *self.steps.entry(wait_ms.div_ceil(PERCENTILE_STEP_MS)).or_insert(0) += 1;
    }

    /// The `quantile` (0..=1) by nearest rank, at 100 ms resolution.
    fn quantile(&self, quantile: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((quantile * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (step, calls) in &self.steps {
            seen += calls;
            if seen >= rank {
                return Some(Duration::from_millis(step * PERCENTILE_STEP_MS));
            }
        }
        None
    }

    /// The distribution as it stands.
    pub fn distribution(&self) -> WaitDistribution {
        let mut running = 0;
        let cumulative_counts = self.bucket_counts[..self.edges_s.len()]
            .iter()
            .map(|calls| {
                running += calls;
                running
            })
            .collect();
        let average = (self.count > 0).then(|| self.sum / u32::try_from(self.count).unwrap_or(u32::MAX));
        WaitDistribution {
            edges_s: self.edges_s.clone(),
            cumulative_counts,
            count: self.count,
            sum: self.sum,
            average,
            p90: self.quantile(0.9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_of_exactly_the_target_lands_in_the_target_bucket() {
        let mut histogram = WaitHistogram::new(wait_edges_s(Duration::from_secs(25)));
        histogram.observe(Duration::from_secs(25));
        histogram.observe(Duration::from_millis(25_001));
        let distribution = histogram.distribution();
        let at_25 = distribution.edges_s.iter().position(|edge| *edge == 25).expect("25 is an edge");
        assert_eq!(distribution.cumulative_counts[at_25], 1);
        assert_eq!(distribution.cumulative_counts[at_25 + 1], 2);
        assert_eq!(distribution.count, 2);
    }

    #[test]
    fn an_unusual_target_becomes_an_edge() {
        assert_eq!(wait_edges_s(Duration::from_secs(40)), vec![5, 10, 15, 20, 25, 30, 40, 45, 60, 120, 300]);
        assert_eq!(wait_edges_s(Duration::from_secs(25)).len(), 10);
    }

    #[test]
    fn average_and_p90_by_nearest_rank() {
        let mut histogram = WaitHistogram::new(wait_edges_s(Duration::from_secs(25)));
        for seconds in 1..=10 {
            histogram.observe(Duration::from_secs(seconds));
        }
        let distribution = histogram.distribution();
        assert_eq!(distribution.average, Some(Duration::from_millis(5_500)));
        assert_eq!(distribution.p90, Some(Duration::from_secs(9)));
        assert_eq!(WaitHistogram::new(vec![5]).distribution().p90, None);
    }
}
