//! ACD scenarios in virtual time: the engine's side is played by [`Sim`], which drives the
//! ACD's timers exactly as a driver would and checks the engine-visible invariants (no agent
//! engaged in two calls, at most one disposition per call, no deadline in the past) after
//! every step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use veertien::acd::{
    Acd, AcdAction, AcdConfig, AgentState, Disposition, OfferFailure, Outcome, OverflowDestination,
    PauseReason, QueueRefusal, WaitEstimate,
};
use veertien::core::ids::CallId;
use veertien::core::rng::SeededRng;
use veertien::core::time::Instant;
use veertien::dialplan::{parse_tenant, AgentId, QueueId, TenantId};

const HA1: &str = "00000000000000000000000000000000";

/// Milliseconds to an instant.
fn ms(millis: u64) -> Instant {
    Instant::from_micros(millis * 1_000)
}

fn secs(seconds: u64) -> Instant {
    ms(seconds * 1_000)
}

/// A tenant `almere` with queue `bz` (settings `queue_toml`), a second queue `alg`, and
/// agents given as `(id, extra toml)` serving `bz`.
fn tenant_toml(queue_toml: &str, agents: &[(&str, &str)]) -> String {
    let mut text = format!(
        "[tenant]\nid = \"almere\"\nname = \"Gemeente Almere\"\nrealm = \"almere.test\"\n\
         numbers = [\"14036\"]\n[hours]\nmon = [\"09:00-17:00\"]\n\
         [[queue]]\nid = \"bz\"\nname = \"Burgerzaken\"\n{queue_toml}\n\
         [[queue]]\nid = \"alg\"\nname = \"Algemeen\"\nannounce_interval_s = 0\n\
         [menu]\nprompt = \"welkom\"\ndefault = \"queue:bz\"\n[menu.options]\n\"1\" = \"queue:alg\"\n"
    );
    for (id, extra) in agents {
        text.push_str(&format!(
            "[[agent]]\nid = \"{id}\"\nname = \"{id}\"\nha1_md5 = \"{HA1}\"\n{extra}\n"
        ));
    }
    text
}

/// The engine's view of the ACD plus the invariants it relies on.
struct Sim {
    acd: Acd,
    now: Instant,
    tenant: TenantId,
    /// Every action seen, with the instant it was taken.
    log: Vec<(Instant, AcdAction)>,
    /// Agent → the call it is ringing for or talking on, as the engine sees it.
    engaged: BTreeMap<AgentId, CallId>,
    disposed: BTreeSet<CallId>,
}

impl Sim {
    fn new(queue_toml: &str, agents: &[(&str, &str)]) -> Sim {
        Sim::with_config(AcdConfig::default(), queue_toml, agents)
    }

    fn with_config(config: AcdConfig, queue_toml: &str, agents: &[(&str, &str)]) -> Sim {
        let text = tenant_toml(queue_toml, agents);
        let tenant = parse_tenant("almere.toml", &text).expect("test tenant is valid");
        Sim {
            acd: Acd::new(config, &[tenant]),
            now: Instant::ZERO,
            tenant: TenantId::new("almere"),
            log: Vec::new(),
            engaged: BTreeMap::new(),
            disposed: BTreeSet::new(),
        }
    }

    /// Runs every timer up to `at` at its exact instant, then sets the clock to `at`.
    fn advance_to(&mut self, at: Instant) {
        while let Some(deadline) = self.acd.poll_timeout() {
            if deadline > at {
                break;
            }
            assert!(
                deadline >= self.now,
                "deadline {deadline:?} before now {:?}",
                self.now
            );
            self.now = deadline;
            self.acd.handle_timeout(deadline);
            self.drain();
        }
        self.now = at;
    }

    /// Takes every pending action, checking the invariants.
    fn drain(&mut self) {
        while let Some(action) = self.acd.poll_action() {
            match &action {
                AcdAction::OfferToAgents { call, agents, .. } => {
                    for agent in agents {
                        if let Some(other) = self.engaged.insert(agent.clone(), *call) {
                            panic!("{agent} offered {call} while engaged in {other}");
                        }
                    }
                }
                AcdAction::CancelOffer { call, agent } => {
                    assert_eq!(
                        self.engaged.remove(agent),
                        Some(*call),
                        "cancel of a non-ringing offer"
                    );
                }
                AcdAction::Disposition(Disposition { call, .. }) => {
                    assert!(self.disposed.insert(*call), "{call} disposed twice");
                }
                AcdAction::Announce { .. } | AcdAction::Overflow { .. } => {}
            }
            self.log.push((self.now, action));
        }
        if let Some(deadline) = self.acd.poll_timeout() {
            assert!(
                deadline >= self.now,
                "deadline {deadline:?} before now {:?}",
                self.now
            );
        }
    }

    fn arrive(&mut self, at: Instant, call: u64, priority: u8) -> Result<(), QueueRefusal> {
        self.arrive_in(at, call, "bz", priority)
    }

    fn arrive_in(
        &mut self,
        at: Instant,
        call: u64,
        queue: &str,
        priority: u8,
    ) -> Result<(), QueueRefusal> {
        self.advance_to(at);
        let result = self.acd.call_arrived(
            self.now,
            CallId(call),
            &self.tenant.clone(),
            &QueueId::new(queue),
            priority,
        );
        self.drain();
        result
    }

    fn login(&mut self, at: Instant, agent: &str) {
        self.advance_to(at);
        let tenant = self.tenant.clone();
        let agent = AgentId::new(agent);
        self.acd
            .agent_registered(self.now, &tenant, &agent, true)
            .expect("known agent");
        self.acd
            .agent_login(self.now, &tenant, &agent)
            .expect("known agent");
        self.drain();
    }

    fn pause(&mut self, at: Instant, agent: &str) {
        self.advance_to(at);
        let tenant = self.tenant.clone();
        self.acd
            .agent_pause(self.now, &tenant, &AgentId::new(agent), PauseReason::Break)
            .expect("logged in");
        self.drain();
    }

    fn ready(&mut self, at: Instant, agent: &str) {
        self.advance_to(at);
        let tenant = self.tenant.clone();
        self.acd
            .agent_ready(self.now, &tenant, &AgentId::new(agent))
            .expect("logged in");
        self.drain();
    }

    fn answer(&mut self, at: Instant, call: u64, agent: &str) {
        self.advance_to(at);
        self.acd
            .offer_answered(self.now, CallId(call), &AgentId::new(agent))
            .expect("ringing offer");
        self.engaged.insert(AgentId::new(agent), CallId(call));
        self.drain();
    }

    fn fail(&mut self, at: Instant, call: u64, agent: &str, failure: OfferFailure) {
        self.advance_to(at);
        self.acd
            .offer_failed(self.now, CallId(call), &AgentId::new(agent), failure)
            .expect("ringing offer");
        self.engaged.remove(&AgentId::new(agent));
        self.drain();
    }

    fn end(&mut self, at: Instant, call: u64) {
        self.advance_to(at);
        self.acd
            .call_ended(self.now, CallId(call))
            .expect("known call");
        self.engaged.retain(|_, c| *c != CallId(call));
        self.drain();
    }

    fn hang_up(&mut self, at: Instant, call: u64) {
        self.advance_to(at);
        self.acd
            .caller_abandoned(self.now, CallId(call))
            .expect("known call");
        self.drain();
    }

    fn state(&self, agent: &str) -> AgentState {
        self.acd
            .agent_state(&self.tenant, &AgentId::new(agent))
            .expect("known agent")
            .clone()
    }

    /// Offers in the log as `(instant, call, agents)`.
    fn offers(&self) -> Vec<(Instant, u64, Vec<String>)> {
        self.log
            .iter()
            .filter_map(|(at, action)| match action {
                AcdAction::OfferToAgents { call, agents, .. } => Some((
                    *at,
                    call.0,
                    agents.iter().map(|a| a.as_str().to_owned()).collect(),
                )),
                _ => None,
            })
            .collect()
    }

    fn cancels(&self) -> Vec<(Instant, u64, String)> {
        self.log
            .iter()
            .filter_map(|(at, action)| match action {
                AcdAction::CancelOffer { call, agent } => {
                    Some((*at, call.0, agent.as_str().to_owned()))
                }
                _ => None,
            })
            .collect()
    }

    fn dispositions(&self) -> Vec<Disposition> {
        self.log
            .iter()
            .filter_map(|(_, action)| match action {
                AcdAction::Disposition(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn stats(&self) -> veertien::acd::QueueStats {
        self.acd
            .queue_stats(self.now, &self.tenant, &QueueId::new("bz"))
            .expect("queue exists")
    }
}

const SERVES_BZ: &str = "queues = [\"bz\"]";

/// Answers whatever `agent` is offered next, ends it at once; returns the call.
fn take_next(sim: &mut Sim, at: Instant, agent: &str) -> u64 {
    let AgentState::Offered { call } = sim.state(agent) else {
        panic!("{agent} not offered anything: {:?}", sim.state(agent));
    };
    sim.answer(at, call.0, agent);
    sim.end(at, call.0);
    call.0
}

#[test]
fn fifo_within_a_priority_and_higher_priority_first() {
    let mut sim = Sim::new(
        "wrap_up_s = 0\nannounce_interval_s = 0",
        &[("ada", SERVES_BZ)],
    );
    sim.login(secs(0), "ada");
    sim.pause(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.arrive(secs(2), 2, 0).unwrap();
    sim.arrive(secs(3), 3, 0).unwrap();
    sim.arrive(secs(4), 4, 5).unwrap();
    let positions: Vec<_> = (1..=4).map(|c| sim.acd.position(CallId(c))).collect();
    assert_eq!(positions, [Some(2), Some(3), Some(4), Some(1)]);
    sim.ready(secs(10), "ada");
    let served: Vec<u64> = (0..4)
        .map(|i| take_next(&mut sim, secs(20 + i), "ada"))
        .collect();
    assert_eq!(served, [4, 1, 2, 3]);
}

#[test]
fn service_level_boundary_is_inclusive() {
    let agents = [("ada", SERVES_BZ), ("bas", SERVES_BZ), ("cor", SERVES_BZ)];
    let mut sim = Sim::new("ring_timeout_s = 60\nannounce_interval_s = 0", &agents);
    for (i, agent) in ["ada", "bas", "cor"].iter().enumerate() {
        sim.login(secs(i as u64), agent);
    }
    for call in 1..=3 {
        sim.arrive(secs(10), call, 0).unwrap();
    }
    let offered: BTreeMap<u64, String> = sim
        .offers()
        .into_iter()
        .map(|(_, c, a)| (c, a[0].clone()))
        .collect();
    sim.answer(ms(34_900), 1, &offered[&1]);
    sim.answer(ms(35_000), 2, &offered[&2]);
    sim.answer(ms(35_100), 3, &offered[&3]);
    let waits: Vec<Duration> = sim
        .dispositions()
        .iter()
        .map(|d| match &d.outcome {
            Outcome::Answered { wait, .. } => *wait,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        waits,
        [
            Duration::from_millis(24_900),
            Duration::from_millis(25_000),
            Duration::from_millis(25_100)
        ]
    );
    let counts = sim.stats().service_level;
    assert_eq!((counts.answered, counts.answered_within_target), (3, 2));
}

#[test]
fn short_and_long_abandons_are_counted_apart() {
    let mut sim = Sim::new("announce_interval_s = 0", &[("ada", SERVES_BZ)]);
    sim.arrive(secs(0), 1, 0).unwrap();
    sim.arrive(secs(0), 2, 0).unwrap();
    sim.arrive(secs(0), 3, 0).unwrap();
    sim.hang_up(ms(5_000), 1);
    sim.hang_up(ms(5_001), 2);
    sim.login(secs(6), "ada");
    sim.answer(secs(7), 3, "ada");
    sim.arrive(secs(8), 4, 0).unwrap();
    sim.hang_up(secs(40), 4);
    let counts = sim.stats().service_level;
    assert_eq!((counts.abandoned, counts.abandoned_short), (3, 1));
    assert_eq!(counts.service_level(), Some(1.0 / 3.0));
    let abandons: Vec<Duration> = sim
        .dispositions()
        .iter()
        .filter_map(|d| match d.outcome {
            Outcome::Abandoned { wait } => Some(wait),
            _ => None,
        })
        .collect();
    assert_eq!(
        abandons,
        [
            Duration::from_millis(5_000),
            Duration::from_millis(5_001),
            Duration::from_secs(32)
        ]
    );
}

#[test]
fn ring_timeout_moves_to_the_next_agent_and_the_caller_keeps_its_place() {
    let agents = [("ada", SERVES_BZ), ("bas", SERVES_BZ)];
    let mut sim = Sim::new("ring_timeout_s = 15\nannounce_interval_s = 0", &agents);
    sim.login(secs(0), "ada");
    sim.login(secs(1), "bas");
    sim.arrive(secs(10), 1, 0).unwrap();
    sim.arrive(secs(11), 2, 0).unwrap();
    sim.advance_to(ms(25_500));
    assert_eq!(sim.cancels(), [(secs(25), 1, "ada".to_owned())]);
    assert_eq!(sim.state("ada"), AgentState::Available { since: secs(0) });
    assert_eq!(sim.acd.position(CallId(1)), Some(1));
    assert_eq!(sim.acd.position(CallId(2)), Some(2));
    sim.advance_to(secs(30));
    let owned = |v: &str| vec![v.to_owned()];
    assert_eq!(
        sim.offers(),
        [
            (secs(10), 1, owned("ada")),
            (secs(11), 2, owned("bas")),
            (secs(26), 1, owned("bas")),
            (secs(26), 2, owned("ada")),
        ]
    );
    assert_eq!(sim.cancels()[1], (secs(26), 2, "bas".to_owned()));
}

#[test]
fn missed_offers_auto_pause_the_agent_until_ready() {
    let mut sim = Sim::new(
        "ring_timeout_s = 5\nmax_missed_offers = 2\nannounce_interval_s = 0",
        &[("ada", SERVES_BZ)],
    );
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.advance_to(secs(60));
    // Rung at 1, timed out at 6, cooldown to 11, rung again, timed out at 16: paused.
    let offer_times: Vec<Instant> = sim.offers().iter().map(|(at, _, _)| *at).collect();
    assert_eq!(offer_times, [secs(1), secs(11)]);
    assert_eq!(
        sim.state("ada"),
        AgentState::Paused {
            reason: PauseReason::NoAnswer
        }
    );
    sim.ready(secs(61), "ada");
    assert_eq!(sim.state("ada"), AgentState::Offered { call: CallId(1) });
}

#[test]
fn rejected_and_busy_do_not_count_as_misses_but_skip_the_agent_once() {
    let mut sim = Sim::new(
        "ring_timeout_s = 10\nmax_missed_offers = 1\nannounce_interval_s = 0",
        &[("ada", SERVES_BZ), ("bas", SERVES_BZ)],
    );
    sim.login(secs(0), "ada");
    sim.login(secs(1), "bas");
    sim.arrive(secs(2), 1, 0).unwrap();
    sim.fail(secs(3), 1, "ada", OfferFailure::Rejected);
    sim.fail(secs(4), 1, "bas", OfferFailure::Busy);
    assert_eq!(sim.state("ada"), AgentState::Available { since: secs(0) });
    assert_eq!(sim.state("bas"), AgentState::Available { since: secs(1) });
    sim.advance_to(secs(20));
    let offers: Vec<(Instant, String)> = sim
        .offers()
        .into_iter()
        .map(|(at, _, a)| (at, a[0].clone()))
        .collect();
    assert_eq!(
        offers,
        [
            (secs(2), "ada".to_owned()),
            (secs(3), "bas".to_owned()),
            (secs(13), "ada".to_owned())
        ]
    );
}

#[test]
fn announcements_come_at_their_interval_with_position_and_estimate() {
    let mut sim = Sim::new(
        "announce_interval_s = 30\nmax_wait_s = 300\nwrap_up_s = 0",
        &[("ada", SERVES_BZ)],
    );
    sim.arrive(secs(5), 1, 0).unwrap();
    sim.arrive(secs(10), 2, 0).unwrap();
    sim.advance_to(secs(50));
    sim.login(secs(50), "ada");
    sim.answer(secs(51), 1, "ada");
    sim.advance_to(secs(100));
    let announcements: Vec<(Instant, u64, usize, WaitEstimate)> = sim
        .log
        .iter()
        .filter_map(|(at, action)| match action {
            AcdAction::Announce {
                call,
                position,
                expected_wait,
            } => Some((*at, call.0, *position, *expected_wait)),
            _ => None,
        })
        .collect();
    // Nobody staffed until 50: "more than 5 minutes" (the max wait). Afterwards one staffed
    // agent and the default 180 s handle time: position 1 → about 3 minutes.
    assert_eq!(
        announcements,
        [
            (secs(35), 1, 1, WaitEstimate::MoreThanMinutes(5)),
            (secs(40), 2, 2, WaitEstimate::MoreThanMinutes(5)),
            (secs(70), 2, 1, WaitEstimate::AboutMinutes(3)),
            (secs(100), 2, 1, WaitEstimate::AboutMinutes(3)),
        ]
    );
}

/// The agent the first call is offered to, given agents `(id, login second, extra toml)`.
fn first_pick(strategy: &str, agents: &[(&str, u64, &str)]) -> Vec<String> {
    let specs: Vec<(&str, &str)> = agents.iter().map(|(id, _, extra)| (*id, *extra)).collect();
    let mut sim = Sim::new(
        &format!("strategy = \"{strategy}\"\nannounce_interval_s = 0"),
        &specs,
    );
    for (id, login_s, _) in agents {
        sim.login(secs(*login_s), id);
    }
    sim.arrive(secs(100), 1, 0).unwrap();
    sim.offers().remove(0).2
}

#[test]
fn each_strategy_offers_the_expected_agent() {
    let plain = [
        ("ada", 2, SERVES_BZ),
        ("bas", 1, SERVES_BZ),
        ("cor", 3, SERVES_BZ),
    ];
    assert_eq!(first_pick("longest-idle", &plain), ["bas"]);
    assert_eq!(first_pick("ring-all", &plain), ["ada", "bas", "cor"]);
    assert_eq!(first_pick("round-robin", &plain), ["ada"]);
    let skilled = [
        ("ada", 1, "queues = [\"bz\"]\nskills = { bz = 3 }"),
        ("bas", 3, "queues = [\"bz\"]\nskills = { bz = 8 }"),
        ("cor", 2, "queues = [\"bz\"]\nskills = { bz = 8 }"),
    ];
    assert_eq!(first_pick("skills", &skilled), ["cor"]);
}

#[test]
fn round_robin_and_fewest_calls_follow_history() {
    let agents = [("ada", SERVES_BZ), ("bas", SERVES_BZ), ("cor", SERVES_BZ)];
    let mut sim = Sim::new(
        "strategy = \"round-robin\"\nwrap_up_s = 0\nannounce_interval_s = 0",
        &agents,
    );
    for agent in ["cor", "bas", "ada"] {
        sim.login(secs(0), agent);
    }
    let mut picks = Vec::new();
    for call in 1..=4 {
        sim.arrive(secs(call), call, 0).unwrap();
        let (_, _, agents) = sim.offers().pop().expect("offered");
        picks.push(agents[0].clone());
        take_next(&mut sim, secs(call), &agents[0]);
    }
    assert_eq!(picks, ["ada", "bas", "cor", "ada"]);

    let mut sim = Sim::new(
        "strategy = \"fewest-calls\"\nwrap_up_s = 0\nannounce_interval_s = 0",
        &agents,
    );
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    take_next(&mut sim, secs(2), "ada");
    sim.login(secs(3), "bas");
    sim.login(secs(4), "cor");
    sim.arrive(secs(5), 2, 0).unwrap();
    // ada is idle longest (since 2) but has one call; bas has none and is idle since 3.
    assert_eq!(sim.offers().pop().expect("offered").2, ["bas"]);
}

#[test]
fn ring_all_cancels_the_others_when_one_answers() {
    let agents = [("ada", SERVES_BZ), ("bas", SERVES_BZ), ("cor", SERVES_BZ)];
    let mut sim = Sim::new("strategy = \"ring-all\"\nannounce_interval_s = 0", &agents);
    for agent in ["ada", "bas", "cor"] {
        sim.login(secs(0), agent);
    }
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.answer(secs(3), 1, "bas");
    assert_eq!(
        sim.cancels(),
        [
            (secs(3), 1, "ada".to_owned()),
            (secs(3), 1, "cor".to_owned())
        ]
    );
    assert_eq!(sim.state("ada"), AgentState::Available { since: secs(0) });
    assert_eq!(sim.state("bas"), AgentState::OnCall { call: CallId(1) });
    assert_eq!(sim.state("cor"), AgentState::Available { since: secs(0) });
    sim.arrive(secs(4), 2, 0).unwrap();
    assert_eq!(sim.offers().pop().expect("offered").2, ["ada", "cor"]);
}

#[test]
fn caller_hanging_up_cancels_every_ringing_agent() {
    let agents = [("ada", SERVES_BZ), ("bas", SERVES_BZ)];
    let mut sim = Sim::new("strategy = \"ring-all\"\nannounce_interval_s = 0", &agents);
    sim.login(secs(0), "ada");
    sim.login(secs(0), "bas");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.hang_up(secs(2), 1);
    assert_eq!(
        sim.cancels(),
        [
            (secs(2), 1, "ada".to_owned()),
            (secs(2), 1, "bas".to_owned())
        ]
    );
    let late = sim
        .acd
        .offer_answered(secs(2), CallId(1), &AgentId::new("ada"));
    assert!(
        late.is_err(),
        "a late answer is refused so the engine hangs up the agent leg"
    );
    assert_eq!(sim.dispositions().len(), 1);
}

#[test]
fn wrap_up_then_available_at_the_exact_instant() {
    let mut sim = Sim::new(
        "wrap_up_s = 10\nannounce_interval_s = 0",
        &[("ada", SERVES_BZ)],
    );
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.answer(secs(2), 1, "ada");
    sim.arrive(secs(3), 2, 0).unwrap();
    sim.end(secs(62), 1);
    assert_eq!(sim.state("ada"), AgentState::WrapUp { until: secs(72) });
    assert_eq!(sim.acd.poll_timeout(), Some(secs(72)));
    sim.advance_to(secs(80));
    assert_eq!(
        sim.offers().pop(),
        Some((secs(72), 2, vec!["ada".to_owned()]))
    );
    // Handle time 60 s talk + 10 s wrap-up moves the 180 s average a fifth of the way.
    assert_eq!(sim.stats().average_handle_time, Duration::from_secs(158));
}

#[test]
fn pause_during_a_call_takes_effect_after_wrap_up() {
    let mut sim = Sim::new(
        "wrap_up_s = 5\nannounce_interval_s = 0",
        &[("ada", SERVES_BZ)],
    );
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.answer(secs(2), 1, "ada");
    sim.pause(secs(3), "ada");
    assert_eq!(sim.state("ada"), AgentState::OnCall { call: CallId(1) });
    sim.arrive(secs(4), 2, 0).unwrap();
    sim.end(secs(10), 1);
    sim.advance_to(secs(30));
    assert_eq!(
        sim.state("ada"),
        AgentState::Paused {
            reason: PauseReason::Break
        }
    );
    assert_eq!(sim.offers().len(), 1);
}

#[test]
fn unregistered_agent_is_never_offered() {
    let mut sim = Sim::new("announce_interval_s = 0", &[("ada", SERVES_BZ)]);
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.advance_to(secs(2));
    let tenant = sim.tenant.clone();
    sim.acd
        .agent_registered(secs(2), &tenant, &AgentId::new("ada"), false)
        .unwrap();
    sim.drain();
    assert_eq!(sim.cancels(), [(secs(2), 1, "ada".to_owned())]);
    sim.arrive(secs(3), 2, 0).unwrap();
    assert_eq!(sim.offers().len(), 1);
    assert_eq!(sim.stats().agents.unreachable, 1);
}

#[test]
fn max_wait_overflows_into_another_queue_keeping_the_arrival_for_the_service_level() {
    let queue = "max_wait_s = 30\nannounce_interval_s = 0\noverflow = { queue = \"alg\" }";
    let mut sim = Sim::new(queue, &[("ada", "queues = [\"alg\"]")]);
    sim.arrive(secs(0), 1, 0).unwrap();
    sim.advance_to(secs(30));
    let overflow = sim
        .log
        .iter()
        .find(|(_, a)| matches!(a, AcdAction::Overflow { .. }));
    assert_eq!(
        overflow,
        Some(&(
            secs(30),
            AcdAction::Overflow {
                call: CallId(1),
                destination: OverflowDestination::Queue(QueueId::new("alg"))
            }
        ))
    );
    sim.login(secs(31), "ada");
    sim.answer(secs(32), 1, "ada");
    let disposition = sim.dispositions().remove(0);
    assert_eq!(disposition.queue, QueueId::new("alg"));
    assert_eq!(
        disposition.outcome,
        Outcome::Answered {
            agent: AgentId::new("ada"),
            wait: Duration::from_secs(32)
        }
    );
    let alg = sim
        .acd
        .queue_stats(sim.now, &sim.tenant, &QueueId::new("alg"))
        .unwrap();
    assert_eq!(
        (
            alg.offered,
            alg.service_level.answered,
            alg.service_level.answered_within_target
        ),
        (1, 1, 0)
    );
    assert_eq!(sim.stats().overflowed, 1);
}

#[test]
fn full_queue_overflows_at_arrival_and_the_deployment_bound_refuses() {
    let config = AcdConfig {
        max_waiting_calls: 3,
        ..AcdConfig::default()
    };
    let mut sim = Sim::with_config(config, "max_length = 2\nannounce_interval_s = 0", &[]);
    sim.arrive(secs(0), 1, 0).unwrap();
    sim.arrive(secs(0), 2, 0).unwrap();
    let full = sim.arrive(secs(1), 3, 0);
    let destination = OverflowDestination::PromptThenHangup("queue-full".to_owned());
    assert_eq!(
        full,
        Err(QueueRefusal::QueueFull {
            destination: destination.clone()
        })
    );
    assert_eq!(
        sim.dispositions()[0].outcome,
        Outcome::Overflowed {
            destination,
            wait: Duration::ZERO
        }
    );
    sim.arrive_in(secs(2), 4, "alg", 0).unwrap();
    assert_eq!(
        sim.arrive_in(secs(3), 5, "alg", 0),
        Err(QueueRefusal::DeploymentFull)
    );
    assert_eq!(sim.acd.waiting_calls(), 3);
    assert_eq!(
        sim.arrive(secs(4), 1, 0),
        Err(QueueRefusal::DuplicateCall(CallId(1)))
    );
}

/// Checks that the ACD's agent states agree with the engine's view of offers and calls.
fn assert_states_match_engine_view(sim: &Sim, agents: &[&str]) {
    for agent in agents {
        let engaged = sim.engaged.get(&AgentId::new(*agent)).copied();
        let in_call = match sim.state(agent) {
            AgentState::Offered { call } | AgentState::OnCall { call } => Some(call),
            _ => None,
        };
        assert_eq!(engaged, in_call, "{agent}: engine view vs ACD state");
    }
}

/// One random run: arrivals, answers, failures, hang-ups, call ends and agent changes,
/// with the invariants checked by [`Sim`] after every step. Returns the dispositions.
fn random_run(seed: u64) -> Vec<Disposition> {
    const AGENTS: [&str; 4] = ["ada", "bas", "cor", "dirk"];
    const STRATEGIES: [&str; 5] = [
        "longest-idle",
        "round-robin",
        "ring-all",
        "fewest-calls",
        "skills",
    ];
    let mut rng = SeededRng::fork(seed, "acd-invariants");
    let strategy = STRATEGIES[rng.below(5) as usize];
    let overflow = if rng.below(2) == 0 {
        "{ queue = \"alg\" }"
    } else {
        "{ prompt = \"vol\" }"
    };
    let queue = format!(
        "strategy = \"{strategy}\"\nring_timeout_s = 5\nwrap_up_s = 3\nmax_wait_s = 60\n\
         max_length = 4\nannounce_interval_s = 7\nmax_missed_offers = 2\noverflow = {overflow}"
    );
    let agents: Vec<(&str, &str)> = AGENTS
        .iter()
        .map(|a| {
            (
                *a,
                "queues = [\"bz\", \"alg\"]\nskills = { bz = 5, alg = 2 }",
            )
        })
        .collect();
    let config = AcdConfig {
        max_waiting_calls: 6,
        seed,
        ..AcdConfig::default()
    };
    let mut sim = Sim::with_config(config, &queue, &agents);
    let tenant = sim.tenant.clone();
    let mut next_call = 0;
    let mut connected: Vec<CallId> = Vec::new();
    for _ in 0..300 {
        let now = sim.now;
        match rng.below(9) {
            0 | 1 => {
                next_call += 1;
                let queue = if rng.below(4) == 0 { "alg" } else { "bz" };
                let _ = sim.arrive_in(now, next_call, queue, rng.below(3) as u8);
            }
            2 => {
                let at = ms(now.as_micros() / 1_000 + rng.below(8_000));
                sim.advance_to(at);
            }
            3 | 4 => {
                let ringing: Vec<(AgentId, CallId)> = AGENTS
                    .iter()
                    .filter_map(|a| match sim.state(a) {
                        AgentState::Offered { call } => Some((AgentId::new(*a), call)),
                        _ => None,
                    })
                    .collect();
                if let Some((agent, call)) =
                    ringing.get(rng.below(ringing.len().max(1) as u64) as usize)
                {
                    if rng.below(2) == 0 {
                        sim.answer(now, call.0, agent.as_str());
                        connected.push(*call);
                    } else {
                        let failures = [
                            OfferFailure::NoAnswer,
                            OfferFailure::Busy,
                            OfferFailure::Rejected,
                            OfferFailure::Unreachable,
                        ];
                        sim.fail(now, call.0, agent.as_str(), failures[rng.below(4) as usize]);
                    }
                }
            }
            5 => {
                let waiting: Vec<u64> = (1..=next_call)
                    .filter(|c| sim.acd.position(CallId(*c)).is_some())
                    .collect();
                if let Some(call) = waiting.get(rng.below(waiting.len().max(1) as u64) as usize) {
                    sim.hang_up(now, *call);
                }
            }
            6 => {
                if !connected.is_empty() {
                    let call = connected.swap_remove(rng.below(connected.len() as u64) as usize);
                    sim.end(now, call.0);
                }
            }
            _ => {
                let agent = AgentId::new(AGENTS[rng.below(4) as usize]);
                let result = match rng.below(5) {
                    0 => sim.acd.agent_login(now, &tenant, &agent),
                    1 => sim.acd.agent_logout(now, &tenant, &agent),
                    2 => sim
                        .acd
                        .agent_pause(now, &tenant, &agent, PauseReason::Break),
                    3 => sim.acd.agent_ready(now, &tenant, &agent),
                    _ => sim
                        .acd
                        .agent_registered(now, &tenant, &agent, rng.below(3) != 0),
                };
                let _ = result;
                sim.drain();
            }
        }
        assert_states_match_engine_view(&sim, &AGENTS);
    }
    for call in 1..=next_call {
        let waiting = sim.acd.position(CallId(call)).is_some();
        assert!(
            !(waiting && sim.disposed.contains(&CallId(call))),
            "call-{call} waits after its disposition"
        );
    }
    sim.dispositions()
}

#[test]
fn random_runs_keep_the_invariants() {
    let mut seen = BTreeSet::new();
    for seed in 0..150 {
        let outcome = std::panic::catch_unwind(|| random_run(seed));
        let Ok(dispositions) = outcome else {
            panic!("invariant broken with seed {seed}; rerun random_run({seed}) to debug");
        };
        for disposition in dispositions {
            seen.insert(match disposition.outcome {
                Outcome::Answered { .. } => "answered",
                Outcome::Abandoned { .. } => "abandoned",
                Outcome::Overflowed { .. } => "overflowed",
                Outcome::Closed => "closed",
                Outcome::Failed { .. } => "failed",
            });
        }
    }
    // The runs must actually reach the interesting endings, or they prove little.
    assert_eq!(
        seen,
        BTreeSet::from(["abandoned", "answered", "overflowed"])
    );
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "disposed twice")]
fn reusing_a_disposed_call_id_is_caught_in_debug_builds() {
    let mut sim = Sim::new("announce_interval_s = 0", &[]);
    sim.arrive(secs(0), 1, 0).unwrap();
    sim.acd.caller_abandoned(secs(1), CallId(1)).unwrap();
    sim.acd
        .call_arrived(
            secs(2),
            CallId(1),
            &sim.tenant.clone(),
            &QueueId::new("bz"),
            0,
        )
        .unwrap();
    let _ = sim.acd.caller_abandoned(secs(3), CallId(1));
}

#[test]
fn closing_a_queue_disposes_its_callers_and_failures_are_recorded() {
    let mut sim = Sim::new("announce_interval_s = 0", &[("ada", SERVES_BZ)]);
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.arrive(secs(2), 2, 0).unwrap();
    sim.arrive(secs(3), 3, 0).unwrap();
    sim.acd.call_failed(secs(4), CallId(3), "media").unwrap();
    sim.advance_to(secs(5));
    let tenant = sim.tenant.clone();
    sim.acd.queue_closed(secs(5), &tenant, &QueueId::new("bz"));
    sim.drain();
    let outcomes: Vec<(u64, Outcome)> = sim
        .dispositions()
        .into_iter()
        .map(|d| (d.call.0, d.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                3,
                Outcome::Failed {
                    reason: "media".to_owned()
                }
            ),
            (1, Outcome::Closed),
            (2, Outcome::Closed),
        ]
    );
    assert_eq!(sim.cancels(), [(secs(5), 1, "ada".to_owned())]);
    assert_eq!(sim.stats().closed, 2);
}

#[test]
fn a_requeued_call_is_served_first_but_counted_once() {
    let mut sim = Sim::new("ring_timeout_s = 60\nannounce_interval_s = 0", &[("ada", SERVES_BZ)]);
    sim.login(secs(0), "ada");
    sim.arrive(secs(1), 1, 0).unwrap();
    sim.answer(secs(2), 1, "ada");
    sim.end(secs(3), 1);
    // Call 1's transfer bounced: it comes back at the head while call 2 waits.
    sim.pause(secs(20), "ada");
    sim.arrive(secs(21), 2, 0).unwrap();
    sim.advance_to(secs(22));
    sim.acd.call_requeued(sim.now, CallId(1), &sim.tenant.clone(), &QueueId::new("bz"), u8::MAX).unwrap();
    sim.disposed.remove(&CallId(1));
    sim.drain();
    sim.ready(secs(23), "ada");
    assert_eq!(take_next(&mut sim, secs(24), "ada"), 1, "the returned caller is served first");
    let stats = sim.stats();
    assert_eq!(stats.offered, 2, "two callers, whatever their visits");
    assert_eq!(stats.service_level.answered, 1, "the second answer of call 1 is not counted again");
    let flags: Vec<(u64, bool)> = sim.dispositions().iter().map(|d| (d.call.0, d.requeued)).collect();
    assert_eq!(flags, [(1, false), (1, true)]);
}

#[test]
fn an_agent_on_a_transfer_leg_is_not_offered_until_released() {
    let mut sim = Sim::new("ring_timeout_s = 60\nannounce_interval_s = 0", &[("ada", SERVES_BZ)]);
    sim.login(secs(0), "ada");
    let (tenant, ada) = (sim.tenant.clone(), AgentId::new("ada"));
    assert!(sim.acd.can_take_transfer(&tenant, &ada));
    sim.acd.agent_engaged(&tenant, &ada).unwrap();
    assert!(!sim.acd.can_take_transfer(&tenant, &ada), "one transfer leg at a time");
    sim.arrive(secs(1), 1, 0).unwrap();
    assert!(sim.offers().is_empty(), "a phone on a transfer's call gets no queue call");
    sim.advance_to(secs(30));
    sim.acd.agent_released(sim.now, &tenant, &ada).unwrap();
    sim.drain();
    assert_eq!(sim.offers().len(), 1, "released, ada is offered the waiting caller");
    assert!(!sim.acd.can_take_transfer(&tenant, &ada), "ringing for a queue: busy for transfers");
}
