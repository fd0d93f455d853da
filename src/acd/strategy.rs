//! Agent selection: which free agents ring for one caller. Pure over a candidate list so
//! each strategy is testable on its own.

use std::cmp::Reverse;

use crate::core::rng::SeededRng;
use crate::core::time::Instant;
use crate::dialplan::{AgentId, Strategy};

/// A free agent that may be offered the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The agent.
    pub agent: AgentId,
    /// Idle since (earlier = idle longer).
    pub idle_since: Instant,
    /// Calls answered so far.
    pub calls_answered: u64,
    /// Skill level for the queue (0 when the agent has none listed).
    pub skill: u32,
    /// Position in the queue's agent list (dial-plan order), for round-robin.
    pub order: usize,
}

/// The agents to ring, given the candidates (non-empty for a non-empty list) and, for
/// round-robin, the list position of the agent offered last.
///
/// - longest-idle: earliest `idle_since`;
/// - fewest-calls: fewest answered, then longest idle;
/// - skills: highest skill, then longest idle;
/// - round-robin: the next position after the last one offered, wrapping around;
/// - ring-all: every candidate.
///
/// Remaining ties are broken by `rng`, so no agent is favoured by list order.
pub fn choose(
    strategy: Strategy,
    candidates: &[Candidate],
    last_offered_order: Option<usize>,
    rng: &mut SeededRng,
) -> Vec<AgentId> {
    if candidates.is_empty() {
        return Vec::new();
    }
    match strategy {
        Strategy::RingAll => {
            let mut all = candidates.to_vec();
            all.sort_by_key(|c| c.order);
            all.into_iter().map(|c| c.agent).collect()
        }
        Strategy::RoundRobin => {
            let after = |c: &&Candidate| last_offered_order.is_none_or(|last| c.order > last);
            let next = candidates
                .iter()
                .filter(after)
                .min_by_key(|c| c.order)
                .or_else(|| candidates.iter().min_by_key(|c| c.order));
            next.map(|c| vec![c.agent.clone()]).unwrap_or_default()
        }
        Strategy::LongestIdle => best_by(candidates, rng, |c| c.idle_since),
        Strategy::FewestCalls => best_by(candidates, rng, |c| (c.calls_answered, c.idle_since)),
        Strategy::Skills => best_by(candidates, rng, |c| (Reverse(c.skill), c.idle_since)),
    }
}

/// The candidate with the lowest `key`, ties broken by `rng`.
fn best_by<K: Ord>(
    candidates: &[Candidate],
    rng: &mut SeededRng,
    key: impl Fn(&Candidate) -> K,
) -> Vec<AgentId> {
    let Some(best) = candidates.iter().map(&key).min() else {
        return Vec::new();
    };
    let tied: Vec<&Candidate> = candidates.iter().filter(|c| key(c) == best).collect();
    let pick = if tied.len() > 1 {
        usize::try_from(rng.below(tied.len() as u64)).unwrap_or(0)
    } else {
        0
    };
    tied.get(pick)
        .map(|c| vec![c.agent.clone()])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, idle_s: u64, calls: u64, skill: u32, order: usize) -> Candidate {
        Candidate {
            agent: AgentId::new(name),
            idle_since: Instant::from_micros(idle_s * 1_000_000),
            calls_answered: calls,
            skill,
            order,
        }
    }

    fn pool() -> Vec<Candidate> {
        vec![
            candidate("ada", 30, 5, 3, 0),
            candidate("bas", 10, 7, 9, 1),
            candidate("cor", 20, 2, 9, 2),
        ]
    }

    fn pick(strategy: Strategy, last: Option<usize>) -> Vec<String> {
        let mut rng = SeededRng::fork(1, "test");
        choose(strategy, &pool(), last, &mut rng)
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect()
    }

    #[test]
    fn each_strategy_picks_its_agent() {
        assert_eq!(pick(Strategy::LongestIdle, None), ["bas"]);
        assert_eq!(pick(Strategy::FewestCalls, None), ["cor"]);
        assert_eq!(pick(Strategy::Skills, None), ["bas"]);
        assert_eq!(pick(Strategy::RoundRobin, None), ["ada"]);
        assert_eq!(pick(Strategy::RoundRobin, Some(0)), ["bas"]);
        assert_eq!(pick(Strategy::RoundRobin, Some(2)), ["ada"]);
        assert_eq!(pick(Strategy::RingAll, None), ["ada", "bas", "cor"]);
    }

    #[test]
    fn ties_are_broken_by_the_seed_not_list_order() {
        let tied = vec![candidate("ada", 10, 0, 1, 0), candidate("bas", 10, 0, 1, 1)];
        let picks: std::collections::HashSet<String> = (0..32)
            .map(|seed| {
                let mut rng = SeededRng::fork(seed, "test");
                choose(Strategy::LongestIdle, &tied, None, &mut rng)[0]
                    .as_str()
                    .to_owned()
            })
            .collect();
        assert_eq!(picks.len(), 2);
    }
}
