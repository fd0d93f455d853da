//! Erlang C: the textbook M/M/c queue the replay's measured service level is compared
//! with. Computed through the Erlang B recursion, which never forms `A^c` or `c!` and so
//! stays finite for hundreds of agents.

use std::time::Duration;

/// Traffic offered to a queue: `agents` servers and `offered_erlang` = arrival rate ×
/// average handling time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    /// Number of agents answering (c).
    pub agents: u32,
    /// Offered load in Erlang (A).
    pub offered_erlang: f64,
    /// Average handling time (talk + wrap-up) per call.
    pub average_handling: Duration,
}

impl ErlangC {
    /// A queue with `agents` agents, `offered_erlang` load and `average_handling` per call.
    pub fn new(agents: u32, offered_erlang: f64, average_handling: Duration) -> Self {
        ErlangC { agents, offered_erlang, average_handling }
    }

    /// Offered load in Erlang of `calls_per_hour` calls each taking `average_handling`.
    pub fn offered_load(calls_per_hour: f64, average_handling: Duration) -> f64 {
        calls_per_hour * average_handling.as_secs_f64() / 3600.0
    }

    /// The fewest agents that reach `service_level` (a share, e.g. 0.8) within `target`
    /// for `offered_erlang` load; `None` if even `max_agents` agents fall short.
    pub fn agents_needed(
        offered_erlang: f64,
        average_handling: Duration,
        target: Duration,
        service_level: f64,
        max_agents: u32,
    ) -> Option<u32> {
        (1..=max_agents).find(|agents| {
            ErlangC::new(*agents, offered_erlang, average_handling).service_level(target)
                >= service_level
        })
    }

    /// Erlang B blocking probability for `agents` servers, by the stable recursion
    /// `B(0) = 1, B(k) = A·B(k-1) / (k + A·B(k-1))`.
    pub fn erlang_b(&self) -> f64 {
        let load = self.offered_erlang.max(0.0);
        (1..=self.agents).fold(1.0, |blocking, k| {
            let numerator = load * blocking;
            numerator / (f64::from(k) + numerator)
        })
    }

    /// Probability that a call has to wait, `P_w(c, A)`. The queue is unstable when
    /// `A >= c` (the wait grows without bound), so every call waits: 1.
    pub fn probability_of_waiting(&self) -> f64 {
        let agents = f64::from(self.agents);
        let load = self.offered_erlang.max(0.0);
        if load >= agents {
            return 1.0;
        }
        let blocking = self.erlang_b();
        agents * blocking / (agents - load * (1.0 - blocking))
    }

    /// Service level: the share of calls answered within `target`,
    /// `SL(t) = 1 - P_w · exp(-(c - A) · t / AHT)`; 0 for an unstable queue.
    pub fn service_level(&self, target: Duration) -> f64 {
        let agents = f64::from(self.agents);
        let load = self.offered_erlang.max(0.0);
        if load >= agents {
            return 0.0;
        }
        let handling_s = self.average_handling.as_secs_f64();
        if handling_s <= 0.0 {
            return 1.0;
        }
        let decay = (-(agents - load) * target.as_secs_f64() / handling_s).exp();
        1.0 - self.probability_of_waiting() * decay
    }

    /// Average speed of answer over all calls, `P_w · AHT / (c - A)`; `None` when the
    /// queue is unstable and the mean wait is unbounded.
    pub fn average_speed_of_answer(&self) -> Option<Duration> {
        let agents = f64::from(self.agents);
        let load = self.offered_erlang.max(0.0);
        if load >= agents {
            return None;
        }
        let seconds =
            self.probability_of_waiting() * self.average_handling.as_secs_f64() / (agents - load);
        Duration::try_from_secs_f64(seconds).ok()
    }
}

/// How many replayed calls count as one independent observation. Calls in one busy
/// period share fate (one slow agent delays everyone behind), so the `n` calls of a
/// replay are far from independent. A busy period in a contact centre at 80-90 %
/// occupancy spans a few to a few dozen calls; dividing by 10 is a deliberately
/// conservative middle that keeps the check from flapping while still catching an ACD
/// that is off by more than a few points.
pub const CALLS_PER_INDEPENDENT_OBSERVATION: u64 = 10;

/// How many standard errors a replayed proportion may stray from the formula. Four keeps
/// the false-alarm rate of one comparison below 1 in 10,000.
pub const STANDARD_ERRORS_ALLOWED: f64 = 4.0;

/// Allowance for what Erlang C does not model and the replay does: ring time, wrap-up
/// spread, abandonment, non-exponential talk times. Two percentage points.
pub const MODEL_TERM: f64 = 0.02;

/// Binomial standard error of a proportion `p` measured on `n` independent samples,
/// `sqrt(p(1-p)/n)`; 1 (no information) when `n` is 0.
pub fn binomial_standard_error(p: f64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let p = p.clamp(0.0, 1.0);
    (p * (1.0 - p) / n as f64).sqrt()
}

/// The largest allowed difference between a service level (or other proportion)
/// measured over `calls` replayed calls and the formula's `expected` value:
/// [`STANDARD_ERRORS_ALLOWED`] standard errors on an effective sample of
/// `calls / CALLS_PER_INDEPENDENT_OBSERVATION` (at least 1), plus [`MODEL_TERM`].
pub fn replay_tolerance(expected: f64, calls: u64) -> f64 {
    let effective_n = (calls / CALLS_PER_INDEPENDENT_OBSERVATION).max(1);
    STANDARD_ERRORS_ALLOWED * binomial_standard_error(expected, effective_n) + MODEL_TERM
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Erlang C by the textbook direct sum in f64, independent of the recursion; fine
    /// for small `c`.
    fn direct_probability_of_waiting(agents: u32, load: f64) -> f64 {
        let mut term = 1.0; // A^k / k!
        let mut sum = 0.0;
        for k in 0..agents {
            sum += term;
            term = term * load / f64::from(k + 1);
        }
        let queued = term * f64::from(agents) / (f64::from(agents) - load);
        queued / (sum + queued)
    }

    #[test]
    fn textbook_example_matches_direct_sum() {
        let queue = ErlangC::new(10, 8.0, Duration::from_secs(180));
        let recursive = queue.probability_of_waiting();
        let direct = direct_probability_of_waiting(10, 8.0);
        assert!((recursive - direct).abs() < 1e-12, "{recursive} vs {direct}");
        assert!((recursive - 0.409).abs() < 0.001, "P_w = {recursive}");
        let expected_sl = 1.0 - direct * (-(10.0 - 8.0) * 25.0 / 180.0_f64).exp();
        let sl = queue.service_level(Duration::from_secs(25));
        assert!((sl - expected_sl).abs() < 1e-12);
        assert!(sl > 0.69 && sl < 0.70, "SL(25 s) = {sl}");
        let asa = queue.average_speed_of_answer().expect("stable queue").as_secs_f64();
        assert!((asa - direct * 180.0 / 2.0).abs() < 1e-6, "ASA = {asa}");
    }

    #[test]
    fn many_agents_stay_finite_and_agree_with_smaller_cases() {
        for (agents, load) in [(1, 0.5), (3, 2.2), (25, 21.0), (60, 50.0)] {
            let direct = direct_probability_of_waiting(agents, load);
            let recursive =
                ErlangC::new(agents, load, Duration::from_secs(200)).probability_of_waiting();
            assert!((recursive - direct).abs() < 1e-9, "c={agents}: {recursive} vs {direct}");
        }
        // 500 agents: 500! overflows f64, the recursion does not.
        let large = ErlangC::new(500, 480.0, Duration::from_secs(200)).probability_of_waiting();
        assert!(large.is_finite() && large > 0.0 && large < 1.0, "{large}");
    }

    #[test]
    fn single_server_is_utilisation() {
        // M/M/1: P_w = rho.
        let p = ErlangC::new(1, 0.3, Duration::from_secs(60)).probability_of_waiting();
        assert!((p - 0.3).abs() < 1e-12);
    }

    #[test]
    fn staffing_finds_the_smallest_sufficient_team() {
        let handling = Duration::from_secs(180);
        let target = Duration::from_secs(25);
        // 160 calls/h of 180 s = 8 Erlang.
        let load = ErlangC::offered_load(160.0, handling);
        assert!((load - 8.0).abs() < 1e-12);
        let agents = ErlangC::agents_needed(load, handling, target, 0.8, 100).expect("reachable");
        let level = |c| ErlangC::new(c, load, handling).service_level(target);
        assert!(level(agents) >= 0.8 && level(agents - 1) < 0.8, "{agents} agents");
        assert_eq!(ErlangC::agents_needed(load, handling, target, 0.8, 8), None);
    }

    #[test]
    fn overloaded_queue_always_waits() {
        let queue = ErlangC::new(5, 5.0, Duration::from_secs(180));
        assert_eq!(queue.probability_of_waiting(), 1.0);
        assert_eq!(queue.service_level(Duration::from_secs(25)), 0.0);
        assert_eq!(queue.average_speed_of_answer(), None);
    }

    #[test]
    fn tolerance_shrinks_with_more_calls() {
        let few = replay_tolerance(0.8, 100);
        let many = replay_tolerance(0.8, 100_000);
        assert!(few > many && many > MODEL_TERM);
        let expected_many = 4.0 * (0.8 * 0.2 / 10_000.0_f64).sqrt() + MODEL_TERM;
        assert!((many - expected_many).abs() < 1e-12);
        assert_eq!(binomial_standard_error(0.5, 0), 1.0);
    }
}
