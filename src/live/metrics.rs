//! The Prometheus exporter. Call numbers come from the one [`StatsAggregator`] (the same
//! numbers the trace-replay report prints); live state (waiting callers, agents) from the
//! engine at scrape time; SIP traffic is counted from the bytes the driver moves.
//!
//! Labels are only tenant, queue, agent, target, outcome, state, window, method and
//! status_class: never a phone number or a reference number, so a scrape is free of
//! personal data and cardinality stays bounded by the dial plan.

use std::collections::HashMap;

use metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::acd::calendar;
use crate::core::time::Now;
use crate::dialplan::{DialPlan, Tenant};
use crate::engine::{Command, Engine, Notification, Reply};
use crate::live::media::MediaCounters;
use crate::live::store::StoreMetrics;
use crate::stats::{StatsAggregator, StatsConfig};

/// Every metric the daemon exports with its help text (dashboards and alert rules may
/// use only these names).
pub const EXPORTED_METRICS: &[(&str, &str)] = &[
    ("veertien_calls_arrived_total", "Calls accepted for a tenant."),
    ("veertien_calls_ended_total", "Calls ended, by end reason (outcome)."),
    ("veertien_calls_offered_total", "Calls that left a queue with a disposition (answered + abandoned + overflowed + closed + failed)."),
    ("veertien_calls_answered_total", "Queued calls answered by an agent."),
    ("veertien_calls_answered_within_target_total", "Queued calls answered with a wait at or below the queue's service-level target."),
    ("veertien_calls_abandoned_total", "Callers who hung up while waiting; outcome short (wait <= 5 s, left out of the service level) or long."),
    ("veertien_calls_overflowed_total", "Calls sent out of the queues by overflow."),
    ("veertien_calls_closed_total", "Waiting calls ended because the queue closed."),
    ("veertien_calls_failed_total", "Queued calls the engine could not keep."),
    ("veertien_wait_seconds", "Wait from arrival to answer of answered calls; one bucket edge is the service-level target."),
    ("veertien_service_level_ratio", "Answered within target / (answered + abandoned - short abandons) over the window."),
    ("veertien_service_level_target_seconds", "The queue's service-level target."),
    ("veertien_queue_waiting_calls", "Callers waiting now."),
    ("veertien_queue_longest_wait_seconds", "Longest current wait in the queue."),
    ("veertien_agents", "Agents serving the queue, by state."),
    ("veertien_agent_offers_total", "Offers to an agent, by outcome."),
    ("veertien_reachability_attempts_total", "Attempts to reach a target (agent), by outcome."),
    ("veertien_reachability_ratio", "Answered / attempts that counted (cancelled rings left out), per target."),
    ("veertien_calls_handling_total", "Ended calls per tenant and last queue by how they were handled (handled, transferred_cold, transferred_warm, bounced, not_handled)."),
    ("veertien_ring_seconds", "How long a target rang per attempt: an agent's phone, or a backoffice group per transfer (target transfer:GROUP)."),
    ("veertien_tenant_open", "1 while the tenant's contact centre is open by its calendar."),
    ("veertien_calls_active", "Calls in progress."),
    ("veertien_sip_requests_total", "SIP requests received, by method."),
    ("veertien_sip_responses_total", "SIP responses sent, by status class."),
    ("veertien_sip_malformed_total", "SIP messages that did not parse or validate (dropped or answered 4xx/5xx)."),
    ("veertien_sip_refused_total", "SIP requests refused, by reason (outcome)."),
    ("veertien_auth_failures_total", "Wrong digest responses from agent phones."),
    ("veertien_api_errors_total", "HTTP API requests answered with an error, by status class."),
    ("veertien_rtp_packets_total", "RTP packets by outcome: received, sent (prompts), relayed, relay_dropped, invalid."),
    ("veertien_media_inactivity_timeouts_total", "Media sessions ended for lack of RTP."),
    ("veertien_media_bind_failures_total", "RTP ports that could not be bound (another process held them): skipped, or a session that could not open."),
    ("veertien_store_writes_total", "Call records made durable in the store."),
    ("veertien_store_write_failures_total", "Call records not written: outcome queue_full (refused at once, the writer was behind) or error (SQLite failed: full disk, locked file)."),
    ("veertien_store_commit_seconds", "Time from BEGIN to the end of COMMIT (fsync included) of one group of records."),
    ("veertien_records_total", "Call records the engine handed to the store, by outcome: persisted, failed (the store refused; retried), timed_out (no answer in time; retried), lost (given up after the last try or pushed out of a full backlog)."),
    ("veertien_records_pending", "Call records not yet durable: in flight, waiting, or waiting for a retry."),
    ("veertien_process_resident_memory_bytes", "Resident memory of the daemon."),
    ("veertien_process_cpu_seconds", "CPU time (user + system) used by the daemon since start."),
    ("veertien_process_open_fds", "Open file descriptors of the daemon."),
];

/// True when the daemon exports a metric called `name`.
pub fn is_exported(name: &str) -> bool {
    EXPORTED_METRICS.iter().any(|(exported, _)| *exported == name)
}

/// Ring-time buckets in seconds (ring timeouts are 5–120 s).
const RING_EDGES_S: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0];

/// Store commit-latency buckets in seconds: an fsync on a local SSD takes about 1 ms, a
/// busy or network disk tens; beyond a second something is wrong.
const COMMIT_EDGES_S: [f64; 9] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// SIP methods counted by name; anything else is `other`, so a peer cannot invent labels.
const KNOWN_METHODS: [&str; 14] = [
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK", "SUBSCRIBE", "NOTIFY",
    "REFER", "MESSAGE", "PUBLISH",
];

/// Linux reports CPU times in clock ticks of 1/100 s on every platform we run on.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Owns the recorder and the aggregator; lives in the engine task.
pub struct MetricsExporter {
    recorder: PrometheusRecorder,
    aggregator: StatsAggregator,
    tenants: Vec<Tenant>,
    requests_by_method: HashMap<&'static str, Counter>,
    responses_by_class: HashMap<&'static str, Counter>,
}

impl MetricsExporter {
    /// An exporter for `plan`'s tenants and queues.
    pub fn new(plan: &DialPlan) -> Self {
        let config = StatsConfig::from_plan(plan);
        let wait_edges: Vec<f64> = config.all_wait_edges_s().into_iter().map(|edge| edge as f64).collect();
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("veertien_wait_seconds".to_owned()), &wait_edges)
            .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full("veertien_ring_seconds".to_owned()), &RING_EDGES_S))
            .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full("veertien_store_commit_seconds".to_owned()), &COMMIT_EDGES_S))
            .expect("bucket lists are not empty");
        let recorder = builder.build_recorder();
        for (name, help) in EXPORTED_METRICS {
            // One description per name serves every kind (HELP lines in the scrape).
            recorder.describe_gauge(KeyName::from_const_str(name), None, SharedString::const_str(help));
        }
        MetricsExporter {
            recorder,
            aggregator: StatsAggregator::new(config),
            tenants: plan.tenants().to_vec(),
            requests_by_method: HashMap::new(),
            responses_by_class: HashMap::new(),
        }
    }

    /// The handle the HTTP server renders `/metrics` with.
    pub fn handle(&self) -> PrometheusHandle {
        self.recorder.handle()
    }

    /// A counter the HTTP API increments for its own errors.
    pub fn api_error_counter(&self, status_class: &'static str) -> Counter {
        self.counter("veertien_api_errors_total", vec![Label::new("status_class", status_class)])
    }

    /// The handles the store counts its writes, failures and commit times with.
    pub fn store_metrics(&self) -> StoreMetrics {
        let failures = |outcome: &'static str| self.counter("veertien_store_write_failures_total", vec![Label::new("outcome", outcome)]);
        StoreMetrics {
            writes: self.counter("veertien_store_writes_total", Vec::new()),
            refused_queue_full: failures("queue_full"),
            failed: failures("error"),
            commit_seconds: self.histogram("veertien_store_commit_seconds", Vec::new()),
        }
    }

    /// The aggregator's numbers so far.
    pub fn aggregator(&self) -> &StatsAggregator {
        &self.aggregator
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder.register_counter(&Key::from_parts(name, labels), &metadata())
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>, value: f64) {
        self.recorder.register_gauge(&Key::from_parts(name, labels), &metadata()).set(value);
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder.register_histogram(&Key::from_parts(name, labels), &metadata())
    }

    /// Takes one engine notification that happened at `now`.
    pub fn on_notification(&mut self, now: Now, notification: &Notification) {
        self.aggregator.handle(now, notification);
        match notification {
            Notification::Disposition(disposition) if !disposition.requeued => {
                if let crate::acd::Outcome::Answered { wait, .. } = &disposition.outcome {
                    let labels = vec![
                        Label::new("tenant", disposition.tenant.to_string()),
                        Label::new("queue", disposition.queue.to_string()),
                    ];
                    self.histogram("veertien_wait_seconds", labels).record(wait.as_secs_f64());
                }
            }
            Notification::OfferEnded { tenant, agent, ring_time, .. } => {
                let labels = vec![Label::new("tenant", tenant.to_string()), Label::new("target", agent.to_string())];
                self.histogram("veertien_ring_seconds", labels).record(ring_time.as_secs_f64());
            }
            Notification::TransferEnded { tenant, target, ring_time, .. } => {
                // A backoffice group's ring time per transfer, under the same target
                // name as its reachability.
                let labels = vec![Label::new("tenant", tenant.to_string()), Label::new("target", format!("transfer:{target}"))];
                self.histogram("veertien_ring_seconds", labels).record(ring_time.as_secs_f64());
            }
            _ => {}
        }
    }

    /// Counts a SIP message the driver received (requests by method).
    pub fn on_received(&mut self, bytes: &[u8]) {
        if let Some(method) = request_method(bytes) {
            let counter = match self.requests_by_method.get(method) {
                Some(counter) => counter,
                None => {
                    let counter = self.counter("veertien_sip_requests_total", vec![Label::new("method", method)]);
                    self.requests_by_method.entry(method).or_insert(counter)
                }
            };
            counter.increment(1);
        }
    }

    /// Counts a SIP message the driver sent (responses by status class).
    pub fn on_sent(&mut self, bytes: &[u8]) {
        if let Some(class) = response_class(bytes) {
            let counter = match self.responses_by_class.get(class) {
                Some(counter) => counter,
                None => {
                    let counter =
                        self.counter("veertien_sip_responses_total", vec![Label::new("status_class", class)]);
                    self.responses_by_class.entry(class).or_insert(counter)
                }
            };
            counter.increment(1);
        }
    }

    /// Brings every counter and gauge up to date at `now`, just before a scrape.
    pub fn refresh(&mut self, now: Now, engine: &mut Engine, media: &MediaCounters) {
        self.refresh_calls(now);
        self.refresh_live(now, engine);
        self.refresh_engine(engine);
        self.refresh_media(media);
        self.refresh_process();
    }

    fn refresh_calls(&self, now: Now) {
        let report = self.aggregator.report(now);
        for tenant in &report.tenants {
            let id = tenant.tenant.to_string();
            self.counter("veertien_calls_arrived_total", vec![Label::new("tenant", id.clone())]).absolute(tenant.arrived);
            for (reason, count) in &tenant.ended_by_reason {
                let labels = vec![Label::new("tenant", id.clone()), Label::new("outcome", *reason)];
                self.counter("veertien_calls_ended_total", labels).absolute(*count);
            }
        }
        for queue in &report.queues {
            let labels = || {
                vec![Label::new("tenant", queue.tenant.to_string()), Label::new("queue", queue.queue.to_string())]
            };
            self.counter("veertien_calls_offered_total", labels()).absolute(queue.offered);
            self.counter("veertien_calls_answered_total", labels()).absolute(queue.answered);
            self.counter("veertien_calls_answered_within_target_total", labels()).absolute(queue.answered_within_target);
            for (length, count) in [("short", queue.abandoned_short), ("long", queue.abandoned_long)] {
                let mut with_length = labels();
                with_length.push(Label::new("outcome", length));
                self.counter("veertien_calls_abandoned_total", with_length).absolute(count);
            }
            self.counter("veertien_calls_overflowed_total", labels()).absolute(queue.overflowed);
            self.counter("veertien_calls_closed_total", labels()).absolute(queue.closed);
            self.counter("veertien_calls_failed_total", labels()).absolute(queue.failed);
            self.gauge("veertien_service_level_target_seconds", labels(), queue.target.as_secs_f64());
            for (window, counts) in [("15m", queue.last_15m), ("1h", queue.last_1h), ("today", queue.today)] {
                if let Some(level) = counts.service_level() {
                    let mut with_window = labels();
                    with_window.push(Label::new("window", window));
                    self.gauge("veertien_service_level_ratio", with_window, level);
                }
            }
        }
        for agent in &report.agents {
            for (outcome, count) in &agent.offers_by_outcome {
                let labels = vec![
                    Label::new("tenant", agent.tenant.to_string()),
                    Label::new("agent", agent.agent.to_string()),
                    Label::new("outcome", *outcome),
                ];
                self.counter("veertien_agent_offers_total", labels).absolute(*count);
            }
        }
        for target in &report.reachability {
            let base = || vec![Label::new("tenant", target.tenant.to_string()), Label::new("target", target.target.clone())];
            for (outcome, count) in &target.attempts_by_outcome {
                let mut labels = base();
                labels.push(Label::new("outcome", *outcome));
                self.counter("veertien_reachability_attempts_total", labels).absolute(*count);
            }
            if let Some(ratio) = target.ratio() {
                self.gauge("veertien_reachability_ratio", base(), ratio);
            }
        }
        for handled in &report.handling {
            let labels = vec![
                Label::new("tenant", handled.tenant.to_string()),
                Label::new("queue", handled.queue.clone()),
                Label::new("handling", handled.handling),
            ];
            self.counter("veertien_calls_handling_total", labels).absolute(handled.calls);
        }
    }

    fn refresh_live(&self, now: Now, engine: &mut Engine) {
        for tenant in &self.tenants {
            let open = calendar::is_open(&tenant.hours, &tenant.closed_days, now.wall);
            self.gauge("veertien_tenant_open", vec![Label::new("tenant", tenant.id.to_string())], f64::from(u8::from(open)));
        }
        let Ok(Reply::Queues(queues)) = engine.handle_command(now, Command::ListQueues) else { return };
        for queue in queues {
            let labels = || vec![Label::new("tenant", queue.tenant.clone()), Label::new("queue", queue.queue.clone())];
            self.gauge("veertien_queue_waiting_calls", labels(), queue.waiting as f64);
            self.gauge("veertien_queue_longest_wait_seconds", labels(), queue.longest_wait_s);
            for (state, agents) in [
                ("available", queue.agents_available),
                ("offered", queue.agents_offered),
                ("on_call", queue.agents_on_call),
                ("wrap_up", queue.agents_wrap_up),
                ("paused", queue.agents_paused),
                ("logged_out", queue.agents_logged_out),
            ] {
                let mut with_state = labels();
                with_state.push(Label::new("state", state));
                self.gauge("veertien_agents", with_state, agents as f64);
            }
        }
    }

    fn refresh_engine(&self, engine: &Engine) {
        let stats = engine.stats();
        self.gauge("veertien_calls_active", Vec::new(), engine.active_calls() as f64);
        self.counter("veertien_sip_malformed_total", Vec::new()).absolute(stats.malformed_dropped + stats.malformed_answered);
        self.counter("veertien_auth_failures_total", Vec::new()).absolute(stats.auth_failures);
        for (outcome, count) in [
            ("rejected", stats.requests_rejected),
            ("unknown_number", stats.unknown_number),
            ("untrusted_source", stats.untrusted_source),
            ("too_many_hops", stats.too_many_hops),
            ("method_not_allowed", stats.method_not_allowed),
            ("capacity", stats.capacity_refused),
            ("shutdown", stats.shutdown_refused),
            ("no_common_codec", stats.no_common_codec),
        ] {
            self.counter("veertien_sip_refused_total", vec![Label::new("outcome", outcome)]).absolute(count);
        }
        let persist = engine.persist_stats();
        for (outcome, count) in [
            ("persisted", persist.persisted),
            ("failed", persist.failed),
            ("timed_out", persist.timed_out),
            ("lost", persist.lost),
        ] {
            self.counter("veertien_records_total", vec![Label::new("outcome", outcome)]).absolute(count);
        }
        self.gauge("veertien_records_pending", Vec::new(), engine.persist_pending() as f64);
    }

    fn refresh_media(&self, media: &MediaCounters) {
        for (outcome, counter) in [
            ("received", &media.rtp_packets_received),
            ("sent", &media.rtp_packets_sent),
            ("relayed", &media.rtp_packets_relayed),
            ("relay_dropped", &media.rtp_relay_dropped),
            ("invalid", &media.rtp_packets_invalid),
        ] {
            let labels = vec![Label::new("outcome", outcome)];
            self.counter("veertien_rtp_packets_total", labels).absolute(MediaCounters::get(counter));
        }
        let inactive = MediaCounters::get(&media.inactivity_timeouts);
        self.counter("veertien_media_inactivity_timeouts_total", Vec::new()).absolute(inactive);
        let bind_failures = MediaCounters::get(&media.bind_failures);
        self.counter("veertien_media_bind_failures_total", Vec::new()).absolute(bind_failures);
    }

    fn refresh_process(&self) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(rss_kib) = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse::<f64>().ok())
        {
            self.gauge("veertien_process_resident_memory_bytes", Vec::new(), rss_kib * 1024.0);
        }
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at field 3;
        // utime and stime are fields 14 and 15.
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            self.gauge("veertien_process_cpu_seconds", Vec::new(), (user + system) / CLOCK_TICKS_PER_SECOND);
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            self.gauge("veertien_process_open_fds", Vec::new(), entries.count() as f64);
        }
    }
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()))
}

/// The method of a request's start line (`other` for an unknown token); `None` for a
/// response.
fn request_method(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"SIP/") {
        return None;
    }
    let token = bytes.split(|byte| *byte == b' ').next()?;
    Some(KNOWN_METHODS.iter().find(|method| method.as_bytes() == token).copied().unwrap_or("other"))
}

/// `1xx` … `6xx` of a response's status line; `None` for a request or garbage.
fn response_class(bytes: &[u8]) -> Option<&'static str> {
    let rest = bytes.strip_prefix(b"SIP/2.0 ")?;
    match rest.first()? {
        b'1' => Some("1xx"),
        b'2' => Some("2xx"),
        b'3' => Some("3xx"),
        b'4' => Some("4xx"),
        b'5' => Some("5xx"),
        b'6' => Some("6xx"),
        _ => None,
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines_are_classified_without_inventing_labels() {
        assert_eq!(request_method(b"INVITE sip:14010@x SIP/2.0\r\n"), Some("INVITE"));
        assert_eq!(request_method(b"FOO0612345678 sip:x SIP/2.0\r\n"), Some("other"));
        assert_eq!(request_method(b"SIP/2.0 200 OK\r\n"), None);
        assert_eq!(response_class(b"SIP/2.0 486 Busy Here\r\n"), Some("4xx"));
        assert_eq!(response_class(b"INVITE sip:x SIP/2.0\r\n"), None);
    }
}
