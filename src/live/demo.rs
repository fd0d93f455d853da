//! `veertien demo`: a newcomer's first command. Runs the normal live daemon (SIP, HTTP
//! API, `/metrics`) on the shipped configuration, with simulated agents and callers of the
//! load generator calling it over loopback for a bounded time, and prints one summary line
//! per second and a final report.
//!
//! The demo must work at any hour, so the dial plan's opening hours are overridden in
//! memory (every day 00:00-24:00, no holiday or extra closing): no always-open copy of a
//! dial plan is shipped that could drift from the real one.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;

use super::loadgen::{run_loadgen, AgentLogin, LoadgenError, LoadgenOptions, LoadgenProgress, LoadgenReport};
use super::{Listeners, LiveError};
use crate::config::Settings;
use crate::core::rng::SeededRng;
use crate::dialplan::{DialPlan, DialplanError, TimeRange, SECONDS_PER_DAY};
use crate::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};

/// The tenant the demo calls when the dial plans have it.
const PREFERRED_TENANT: &str = "almere";
/// Seed of the demo's callers: every demo run places the same calls.
const DEMO_SEED: u64 = 14;
/// Callers arrive during this share of the demo, so most calls end before it does.
const ARRIVAL_SHARE: f64 = 0.5;
/// Time between two arrivals, drawn uniformly in this range (milliseconds).
const ARRIVAL_GAP_MS: (u64, u64) = (1500, 5000);
/// Callers' patience range (milliseconds).
const PATIENCE_MS: (u64, u64) = (25_000, 120_000);
/// Conversation time range (milliseconds), capped at an eighth of the demo.
const TALK_MS: (u64, u64) = (2_000, 20_000);
/// The agents' phones ring this long before they answer.
const AGENT_RING: Duration = Duration::from_secs(1);
/// Drain bound of the demo daemon: the demo's own calls are over or abandoned by then.
const DEMO_DRAIN: Duration = Duration::from_secs(2);
/// After the drain, how long the daemon task may take to stop before it is aborted: the
/// daemon's BYEs to callers whose sockets are already closed would otherwise run to their
/// transaction timeout (64·T1).
const DEMO_STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The dial plans have no tenant with agents.
    #[error("no tenant with agents and a number in the dial plans")]
    NoTenant,
    /// The always-open dial plan was rejected (it cannot be, as the real one loaded).
    #[error("always-open dial plan: {0:?}")]
    Dialplan(Vec<DialplanError>),
    /// The daemon could not start or stopped abnormally.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// The simulated phones could not run.
    #[error(transparent)]
    Loadgen(#[from] LoadgenError),
    /// The daemon task ended abnormally.
    #[error("the daemon task failed: {0}")]
    DaemonTask(String),
}

/// `plan` with every tenant open around the clock on every day.
pub fn always_open(plan: &DialPlan) -> Result<DialPlan, DemoError> {
    let tenants = plan
        .tenants()
        .iter()
        .map(|tenant| {
            let mut tenant = tenant.clone();
            tenant.hours.weekly = std::array::from_fn(|_| vec![TimeRange { start_s: 0, end_s: SECONDS_PER_DAY }]);
            tenant.hours.close_on_public_holidays = false;
            tenant.closed_days.clear();
            (format!("{}.toml", tenant.id.as_str()), tenant)
        })
        .collect();
    DialPlan::new(tenants).map_err(DemoError::Dialplan)
}

/// Synthetic calls for `tenant`'s first number, arriving during the first part of
/// `duration`: deterministic (fixed seed), no menu key (the menu's default applies).
pub fn demo_calls(plan: &DialPlan, duration: Duration) -> Result<(TraceHeader, Vec<TraceCall>), DemoError> {
    let tenant = plan
        .tenants()
        .iter()
        .find(|t| t.id.as_str() == PREFERRED_TENANT && !t.agents.is_empty())
        .or_else(|| plan.tenants().iter().find(|t| !t.agents.is_empty() && !t.numbers.is_empty()))
        .ok_or(DemoError::NoTenant)?;
    let number = tenant.numbers.first().ok_or(DemoError::NoTenant)?.clone();
    let mut rng = SeededRng::fork(DEMO_SEED, "demo-calls");
    let mut draw = |(low, high): (u64, u64)| low + rng.below(high - low + 1);
    let arrivals_end_ms = (duration.as_millis() as f64 * ARRIVAL_SHARE) as u64;
    let talk_cap_ms = (duration.as_millis() as u64 / 8).max(TALK_MS.0);
    let mut calls = Vec::new();
    let mut at_ms = draw(ARRIVAL_GAP_MS) / 2;
    while at_ms < arrivals_end_ms {
        calls.push(TraceCall {
            arrival_offset_ms: at_ms,
            dialled: number.clone(),
            caller: sim_caller(calls.len() as u64 + 1),
            department: "demo".into(),
            menu_digit: None,
            patience_ms: draw(PATIENCE_MS),
            talk_ms: draw(TALK_MS).min(talk_cap_ms),
            agent_action: AgentAction::Handle,
        });
        at_ms += draw(ARRIVAL_GAP_MS);
    }
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: tenant.id.as_str().to_string(),
        number,
        start_wall: "1970-01-01T00:00:00+00:00".into(),
        seed: DEMO_SEED,
        calls: calls.len() as u64,
        profile: "demo".into(),
    };
    Ok((header, calls))
}

/// The one-line summary of a second of the demo.
pub fn summary_line(progress: &LoadgenProgress) -> String {
    let level = progress.service_level.map_or_else(|| "-".to_string(), |level| format!("{:.0} %", level * 100.0));
    format!(
        "t={:>3}s  active {:>3}  waiting {:>3}  answered {:>4}  abandoned {:>4}  failed {:>3}  service level {level}",
        progress.elapsed.as_secs(),
        progress.active,
        progress.waiting,
        progress.answered,
        progress.abandoned,
        progress.failed,
    )
}

/// Runs the daemon with `plan` made always open, calls it for `duration` and returns the
/// load generator's report. `ready` is called once with the SIP and HTTP addresses,
/// `summary` once a second with the progress line.
pub async fn run_demo(
    mut settings: Settings,
    plan: DialPlan,
    duration: Duration,
    ready: impl FnOnce(SocketAddr, SocketAddr),
    summary: impl FnMut(String) + Send + 'static,
) -> Result<LoadgenReport, DemoError> {
    let plan = always_open(&plan)?;
    let (header, calls) = demo_calls(&plan, duration)?;
    let agents = AgentLogin::demo_agents(&plan, &header.tenant, None)?;
    settings.shutdown.drain_s = settings.shutdown.drain_s.min(DEMO_DRAIN.as_secs());
    let listeners = Listeners::bind(settings.sip.listen, settings.http.listen).await?;
    let sip = listeners.sip_addr().unwrap_or(settings.sip.listen);
    let http = listeners.http_addr().unwrap_or(settings.http.listen);
    ready(sip, http);
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(super::run(settings, plan, listeners, async move {
        let _ = stopped.await;
    }));
    let mut options = LoadgenOptions::new(header, calls, sip, agents);
    options.max_duration = duration;
    options.agent_ring = AGENT_RING;
    let mut summary = summary;
    options.progress = Some(Box::new(move |progress: &LoadgenProgress| summary(summary_line(progress))));
    let report = run_loadgen(options).await;
    let _ = stop.send(());
    let mut daemon = daemon;
    match tokio::time::timeout(DEMO_DRAIN + DEMO_STOP_TIMEOUT, &mut daemon).await {
        Ok(joined) => joined.map_err(|error| DemoError::DaemonTask(error.to_string()))??,
        Err(_) => daemon.abort(),
    }
    Ok(report?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::parse_tenant;

    fn plan() -> DialPlan {
        let text = "[tenant]\nid = \"t\"\nname = \"T\"\nrealm = \"t.veertien\"\nnumbers = [\"14010\"]\n\n[hours]\nmon = [\"08:00-18:00\"]\n\n[[queue]]\nid = \"q\"\nname = \"Q\"\n\n[[agent]]\nid = \"a\"\nname = \"A\"\nha1_md5 = \"12a24e3f7787ec8a3eb32959e89cd4f9\"\nqueues = [\"q\"]\n";
        let tenant = parse_tenant("t.toml", text).expect("test tenant parses");
        DialPlan::new(vec![("t.toml".into(), tenant)]).expect("one tenant")
    }

    #[test]
    fn always_open_opens_every_day_all_day() {
        let open = always_open(&plan()).expect("still valid");
        let tenant = &open.tenants()[0];
        for ranges in &tenant.hours.weekly {
            assert_eq!(ranges, &vec![TimeRange { start_s: 0, end_s: SECONDS_PER_DAY }]);
        }
        assert!(!tenant.hours.close_on_public_holidays);
        assert!(tenant.closed_days.is_empty());
    }

    #[test]
    fn demo_calls_arrive_within_the_first_part_of_the_demo() {
        let duration = Duration::from_secs(60);
        let (header, calls) = demo_calls(&plan(), duration).expect("a tenant with agents");
        assert_eq!(header.number, "14010");
        assert!(calls.len() > 5, "{} calls", calls.len());
        let end_ms = (60_000.0 * ARRIVAL_SHARE) as u64;
        assert!(calls.iter().all(|c| c.arrival_offset_ms < end_ms && c.talk_ms <= 7_500));
        assert!(calls.windows(2).all(|w| w[0].arrival_offset_ms < w[1].arrival_offset_ms));
    }
}
