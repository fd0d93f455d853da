//! What a load-generator run reports: progress once a second and the final report.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::stats::StatsReport;

/// Progress so far, passed to [`super::LoadgenOptions::progress`] once a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadgenProgress {
    /// Real time since the first call could start.
    pub elapsed: Duration,
    /// Calls placed so far.
    pub placed: u64,
    /// Calls in progress.
    pub active: u64,
    /// Calls in progress not (yet) with an agent.
    pub waiting: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Calls the caller gave up on, as the trace intended.
    pub abandoned: u64,
    /// Calls that failed.
    pub failed: u64,
    /// The aggregator's service level over the observed calls (trace time; see
    /// [`super::observed`]); `None` before the first call counts.
    pub service_level: Option<f64>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct LoadgenReport {
    /// Calls placed.
    pub placed: u64,
    /// Calls an agent answered (the aggregator's count of observed dispositions).
    pub answered: u64,
    /// Calls the caller gave up on after its patience, as the trace intended (the
    /// aggregator's count, short abandons included).
    pub abandoned: u64,
    /// Calls that ended in a SIP error or timeout the trace did not intend.
    pub failed: u64,
    /// Calls still going when the time bound ended the run: cut off by the run, not by the
    /// daemon, so counted apart from `failed` (a daemon that never ends its calls shows
    /// here, and in the latency table's missing answers).
    pub unfinished: u64,
    /// The first reasons of failed calls.
    pub failure_reasons: Vec<String>,
    /// First INVITE sent to the first 100 Trying, microseconds.
    pub invite_to_trying_us: Histogram<u64>,
    /// First INVITE sent to the first 2xx, microseconds.
    pub invite_to_ok_us: Histogram<u64>,
    /// Caller's ACK to the offer reaching an agent phone, microseconds.
    pub wait_to_agent_us: Histogram<u64>,
    /// The aggregator's service level over the observed calls: answered within target /
    /// (answered + abandoned − short abandons), waits in trace time as in
    /// [`super::patience`].
    pub service_level: Option<f64>,
    /// The aggregator's report of the observed calls, per queue (the trace's departments).
    pub stats: StatsReport,
    /// Offers attributed to their caller by the INVITE's `X-Veertien-Reference`.
    pub offers_attributed: u64,
    /// Offers without a reference header, or with one no caller of this run learned from
    /// its 200 OK: answered with a short talk time; a daemon fault, not a race.
    pub offers_unknown_reference: u64,
    /// Offers whose caller had already hung up (a race with the caller's BYE): answered
    /// with a short talk time.
    pub offers_caller_gone: u64,
    /// Callers that pressed their trace's menu key (RFC 4733).
    pub key_presses: u64,
    /// Callers whose key could not be sent (the daemon's SDP had no telephone-event).
    pub key_presses_impossible: u64,
    /// Answered calls whose caller received RTP from the daemon.
    pub answered_with_media: u64,
    /// RTP packets sent by callers and agent phones.
    pub rtp_sent: u64,
    /// RTP packets callers received (prompts, then the agent's relayed stream).
    pub rtp_received_by_callers: u64,
    /// RTP packets agent phones received (the caller's relayed stream).
    pub rtp_received_by_agents: u64,
    /// Real time from the first possible call to the end.
    pub elapsed: Duration,
    /// True when the time bound stopped the run before every call ended.
    pub stopped_by_time_bound: bool,
}

impl fmt::Display for LoadgenReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "calls placed {}  answered {}  abandoned {}  failed {}", self.placed, self.answered, self.abandoned, self.failed)?;
        if self.unfinished > 0 {
            writeln!(f, "calls still going at the time bound {}", self.unfinished)?;
        }
        match self.service_level {
            Some(level) => writeln!(f, "service level {:.1} % (answered within target / (answered + abandoned - short abandons))", level * 100.0)?,
            None => writeln!(f, "service level -")?,
        }
        writeln!(f, "{:<22} {:>7} {:>9} {:>9} {:>9} {:>9}", "latency (ms)", "count", "p50", "p90", "p99", "max")?;
        for (name, histogram) in [
            ("INVITE -> 100", &self.invite_to_trying_us),
            ("INVITE -> 200", &self.invite_to_ok_us),
            ("wait to agent", &self.wait_to_agent_us),
        ] {
            let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
            writeln!(
                f,
                "{name:<22} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                histogram.len(),
                ms(0.5),
                ms(0.9),
                ms(0.99),
                histogram.max() as f64 / 1000.0
            )?;
        }
        writeln!(
            f,
            "offers by reference {}  unknown reference {}  caller gone {}",
            self.offers_attributed, self.offers_unknown_reference, self.offers_caller_gone
        )?;
        writeln!(f, "menu keys pressed {}  not possible {}", self.key_presses, self.key_presses_impossible)?;
        writeln!(
            f,
            "rtp packets sent {}  received by callers {}  by agents {}  answered calls with media {}",
            self.rtp_sent, self.rtp_received_by_callers, self.rtp_received_by_agents, self.answered_with_media
        )?;
        write!(f, "elapsed {:.1} s", self.elapsed.as_secs_f64())?;
        if self.stopped_by_time_bound {
            write!(f, " (stopped by the time bound)")?;
        }
        for reason in &self.failure_reasons {
            write!(f, "\nfailed: {reason}")?;
        }
        Ok(())
    }
}

pub(super) fn empty_report() -> LoadgenReport {
    let histogram = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid");
    LoadgenReport {
        placed: 0,
        answered: 0,
        abandoned: 0,
        failed: 0,
        unfinished: 0,
        failure_reasons: Vec::new(),
        invite_to_trying_us: histogram(),
        invite_to_ok_us: histogram(),
        wait_to_agent_us: histogram(),
        service_level: None,
        stats: StatsReport::default(),
        offers_attributed: 0,
        offers_unknown_reference: 0,
        offers_caller_gone: 0,
        key_presses: 0,
        key_presses_impossible: 0,
        answered_with_media: 0,
        rtp_sent: 0,
        rtp_received_by_callers: 0,
        rtp_received_by_agents: 0,
        elapsed: Duration::ZERO,
        stopped_by_time_bound: false,
    }
}

pub(super) fn record(histogram: &mut Histogram<u64>, value_us: u64) {
    histogram.saturating_record(value_us.max(1));
}

