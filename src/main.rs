//! The `veertien` command line: `run` (the daemon), `check` (validate config and dial
//! plans), `trace` (generate a trace from a load profile), `replay` (a trace against the
//! engine in simulated time), `loadgen` (a trace against a running daemon over loopback
//! UDP), `demo` (the daemon with simulated agents and callers), `records` (call records
//! from the store, read-only). `anyhow` lives only here.

/// mimalloc instead of the system allocator: the engine and the simulated phones allocate
/// small strings for every SIP message, and glibc's malloc/free took about 15 % of a
/// replayed month (measured in loadtest/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use veertien::config;
use veertien::live;
use veertien::sim;
use veertien::traffic;

/// SIP routing and ACD daemon for Dutch municipal contact centres.
#[derive(Parser)]
#[command(name = "veertien", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the default when no command is given).
    Run {
        /// Configuration file.
        #[arg(long, default_value = "config/veertien.toml")]
        config: PathBuf,
    },
    /// Validate the configuration and every dial plan; report all errors with file and key.
    Check {
        /// Configuration file.
        #[arg(long, default_value = "config/veertien.toml")]
        config: PathBuf,
    },
    /// Generate a trace (JSON lines) from a load profile, to stdout.
    Trace {
        /// Load profile, e.g. loadtest/almere-2010.toml.
        #[arg(long)]
        profile: PathBuf,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Seed of the generation.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Replay a trace against the engine in simulated time with simulated phones.
    Replay {
        /// The trace file.
        trace: PathBuf,
        /// Seed of the engine, the network and the phones.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Dial-plan directory.
        #[arg(long, default_value = "dialplans")]
        dialplans: PathBuf,
        /// Prompt directory (WAV durations pace the simulated media plane).
        #[arg(long, default_value = "config/prompts/nl")]
        prompts: PathBuf,
        /// Simulate only the first N agents of the tenant.
        #[arg(long)]
        agents: Option<usize>,
        /// Probability that a packet is lost, 0..1.
        #[arg(long, default_value_t = 0.0)]
        loss: f64,
        /// Agents' ring time before answering, in milliseconds.
        #[arg(long, default_value_t = 3000)]
        answer_delay_ms: u64,
        /// Skip the per-step invariant checks (faster).
        #[arg(long)]
        no_invariants: bool,
    },
    /// Play a trace against a running daemon over real UDP on loopback and report latencies.
    Loadgen(LoadgenCli),
    /// Print call records from the store named by the configuration (read-only: works while
    /// the daemon runs or is down), oldest arrival first, one record per line.
    Records {
        /// Configuration file (its `store.path` names the store).
        #[arg(long, default_value = "config/veertien.toml")]
        config: PathBuf,
        /// Only calls that arrived at or after this RFC 3339 time.
        #[arg(long, value_parser = parse_rfc3339)]
        from: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Only calls that arrived before this RFC 3339 time.
        #[arg(long, value_parser = parse_rfc3339)]
        to: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// `jsonl`: one JSON object per record, legs included; `csv`: a header row, then
        /// one row per record with the number of legs.
        #[arg(long, value_enum)]
        format: RecordsFormat,
    },
    /// Run the daemon with simulated agents and callers for a while, printing a summary
    /// every second: a first look at veertien. The dial plans are made always open.
    Demo {
        /// How long the simulated callers call, in seconds.
        #[arg(long, default_value_t = 60)]
        duration_s: u64,
        /// Configuration file.
        #[arg(long, default_value = "config/veertien.toml")]
        config: PathBuf,
    },
}

/// Output formats of `veertien records`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum RecordsFormat {
    Jsonl,
    Csv,
}

fn parse_rfc3339(text: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(text).map_err(|error| format!("not an RFC 3339 time such as 2026-01-05T09:00:00+01:00: {error}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run { config: PathBuf::from("config/veertien.toml") });
    let result = match command {
        Command::Run { config } => run(config),
        Command::Check { config } => return check(config),
        Command::Trace { profile, from, to, seed } => trace(profile, from, to, seed),
        Command::Loadgen(options) => {
            return match loadgen(options) {
                Ok(code) => code,
                Err(error) => {
                    eprintln!("veertien: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Demo { duration_s, config } => demo(config, duration_s),
        Command::Records { config, from, to, format } => records(config, from, to, format),
        Command::Replay { trace, seed, dialplans, prompts, agents, loss, answer_delay_ms, no_invariants } => {
            let options = ReplayOptions { seed, dialplans, prompts, agents, loss, answer_delay_ms, no_invariants };
            return match replay(trace, options) {
                Ok(code) => code,
                Err(error) => {
                    eprintln!("veertien: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("veertien: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(config_path: PathBuf) -> ExitCode {
    let report = config::check(&config_path);
    for error in &report.errors {
        println!("error: {error}");
    }
    println!("{}", report.summary());
    if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn trace(profile_path: PathBuf, from: chrono::NaiveDate, to: chrono::NaiveDate, seed: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let text = std::fs::read_to_string(&profile_path).with_context(|| format!("reading {}", profile_path.display()))?;
    let profile = traffic::profile::Profile::from_toml(&text).map_err(|error| anyhow::anyhow!("{}: {error}", profile_path.display()))?;
    let range = traffic::generate::DateRange::new(from, to).context("--from must not be after --to")?;
    let (header, calls) = traffic::generate::generate_trace(&profile, seed, range);
    let stdout = std::io::stdout().lock();
    let mut writer = traffic::trace::TraceWriter::new(std::io::BufWriter::new(stdout), &header)?;
    for call in &calls {
        writer.write_call(call)?;
    }
    writer.finish()?.flush()?;
    Ok(())
}

/// Options of `veertien replay`.
struct ReplayOptions {
    seed: u64,
    dialplans: PathBuf,
    prompts: PathBuf,
    agents: Option<usize>,
    loss: f64,
    answer_delay_ms: u64,
    no_invariants: bool,
}

fn replay(trace_path: PathBuf, options: ReplayOptions) -> anyhow::Result<ExitCode> {
    let plan = load_dialplans(&options.dialplans)?;
    let file = std::fs::File::open(&trace_path).with_context(|| format!("opening {}", trace_path.display()))?;
    let reader = traffic::trace::TraceReader::new(std::io::BufReader::new(file))?;
    let header = reader.header().clone();
    let mut config = sim::replay::ReplayConfig::new(options.seed);
    config.agents = options.agents;
    config.network.loss_probability = options.loss.clamp(0.0, 1.0);
    config.agent_answer_delay = std::time::Duration::from_millis(options.answer_delay_ms);
    config.check_invariants = !options.no_invariants;
    config.prompts = prompt_durations(&options.prompts)?;
    let started = std::time::Instant::now();
    let outcome = sim::replay::replay(plan, &header, reader, &config)?;
    let elapsed = started.elapsed();
    println!("{}", outcome.report);
    println!(
        "wall {:.2} s, {:.0} calls/s",
        elapsed.as_secs_f64(),
        outcome.report.calls as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if outcome.violation_count == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} invariant violations; the first:", outcome.violation_count);
    for violation in &outcome.violations {
        println!("  {violation}");
    }
    println!("REPLAY: veertien replay {} --seed {}", trace_path.display(), options.seed);
    Ok(ExitCode::FAILURE)
}

/// Durations of the prompt WAV files (8 kHz mono: samples / 8000); unreadable files are
/// skipped, unknown prompts then take the replay's default.
fn prompt_durations(directory: &std::path::Path) -> anyhow::Result<sim::media_sim::PromptDurations> {
    let mut durations = sim::media_sim::PromptDurations::uniform(std::time::Duration::from_secs(4));
    let entries = std::fs::read_dir(directory).with_context(|| format!("reading {}", directory.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wav") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        let Ok(bytes) = std::fs::read(&path) else { continue };
        if let Ok(samples) = veertien::media::wav::parse_wav(&bytes) {
            durations.by_name.insert(stem.to_string(), std::time::Duration::from_micros(samples.len() as u64 * 125));
        }
    }
    Ok(durations)
}

/// `veertien loadgen` options.
#[derive(clap::Args, Debug)]
struct LoadgenCli {
    /// The trace file.
    #[arg(long)]
    trace: PathBuf,
    /// The daemon's SIP address (loopback only).
    #[arg(long, default_value = "127.0.0.1:5060")]
    target: std::net::SocketAddr,
    /// Speed-up of trace time (arrivals, patience, talk).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Place at most N calls.
    #[arg(long)]
    max_calls: Option<usize>,
    /// Stop after this many seconds of real time.
    #[arg(long, default_value_t = 600)]
    max_duration_s: u64,
    /// Log in only the first N agents of the tenant.
    #[arg(long)]
    agents: Option<usize>,
    /// Dial-plan directory (for the tenant's agents and realm).
    #[arg(long, default_value = "dialplans")]
    dialplans: PathBuf,
    /// Agents' ring time before answering, in milliseconds of real time.
    #[arg(long, default_value_t = 1000)]
    agent_ring_ms: u64,
    /// Each phone sends a 20 ms RTP packet this often: 20 is a real phone, larger is
    /// like silence suppression and lowers the load.
    #[arg(long, default_value_t = 20)]
    rtp_interval_ms: u64,
    /// Real time the daemon's entry takes for callers who press no key; their patience
    /// runs at real speed for this long, sped up after it. Default: the welcome and the
    /// tenant's menu prompt plus the menu timeout (0 without a menu). Callers who press a
    /// key: 2 s.
    #[arg(long)]
    entry_ms: Option<u64>,
    /// Prompt directory (the prompts' lengths for the default --entry-ms).
    #[arg(long, default_value = "config/prompts/nl")]
    prompts: PathBuf,
}

/// Runs the load generator; fails (exit 1) when any call failed.
fn loadgen(cli: LoadgenCli) -> anyhow::Result<ExitCode> {
    use live::loadgen::{run_loadgen, AgentLogin, LoadgenOptions};
    let plan = load_dialplans(&cli.dialplans)?;
    let file = std::fs::File::open(&cli.trace).with_context(|| format!("opening {}", cli.trace.display()))?;
    let reader = traffic::trace::TraceReader::new(std::io::BufReader::new(file))?;
    let header = reader.header().clone();
    let limit = cli.max_calls.unwrap_or(usize::MAX);
    let calls = reader.take(limit).collect::<Result<Vec<_>, _>>()?;
    let agents = AgentLogin::demo_agents(&plan, &header.tenant, cli.agents)?;
    let mut options = LoadgenOptions::new(header, calls, cli.target, agents);
    options.speed = cli.speed;
    options.max_calls = cli.max_calls;
    options.max_duration = std::time::Duration::from_secs(cli.max_duration_s);
    options.agent_ring = std::time::Duration::from_millis(cli.agent_ring_ms);
    options.rtp_interval = std::time::Duration::from_millis(cli.rtp_interval_ms.max(1));
    options.entry_without_key = match cli.entry_ms {
        Some(ms) => std::time::Duration::from_millis(ms),
        None => {
            let tenant = plan.tenant(&veertien::dialplan::TenantId::new(&options.header.tenant));
            let prompts = prompt_durations(&cli.prompts)?;
            live::loadgen::entry_without_key(tenant.and_then(|t| t.menu.as_ref()), |name| prompts.by_name.get(name).copied())
        }
    };
    eprintln!("entry for callers without a key: {:.1} s (real time)", options.entry_without_key.as_secs_f64());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    let report = runtime.block_on(run_loadgen(options))?;
    println!("{report}");
    Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn load_dialplans(directory: &std::path::Path) -> anyhow::Result<veertien::dialplan::DialPlan> {
    veertien::dialplan::load_dir(directory).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("dial plan errors:\n  {}", lines.join("\n  "))
    })
}

fn run(config_path: PathBuf) -> anyhow::Result<()> {
    let settings = config::load(&config_path).map_err(|error| anyhow::anyhow!("{error}"))?;
    init_tracing(&settings.log.filter, settings.log.format);
    let plan = veertien::dialplan::load_dir(&settings.dialplan.directory).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("dial plan errors:\n  {}", lines.join("\n  "))
    })?;
    let missing = config::missing_prompts(&plan, &settings.rtp.prompt_directory);
    if !missing.is_empty() {
        anyhow::bail!("dial plan prompts missing:\n  {}", missing.join("\n  "));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let listeners = live::Listeners::bind(settings.sip.listen, settings.http.listen).await?;
        let sip = listeners.sip_addr().context("reading the bound SIP address")?;
        let http = listeners.http_addr().context("reading the bound HTTP address")?;
        tracing::info!(%sip, %http, "listening (SIP on UDP and TCP)");
        // The one line tests and scripts wait for; everything else goes to stderr.
        println!("veertien ready sip={sip} http={http}");
        live::run(settings, plan, listeners, shutdown_signal()).await?;
        Ok(())
    })
}

/// Runs `veertien records`: pages through the store read-only and prints every record.
fn records(
    config_path: PathBuf,
    from: Option<chrono::DateTime<chrono::FixedOffset>>,
    to: Option<chrono::DateTime<chrono::FixedOffset>>,
    format: RecordsFormat,
) -> anyhow::Result<()> {
    use live::store::{export, StoreReader, TimeRange, MAX_PAGE_RECORDS};
    use std::io::Write;
    let settings = config::load(&config_path).map_err(|error| anyhow::anyhow!("{error}"))?;
    let reader = StoreReader::open(&settings.store.path)?;
    let range = TimeRange { from_ms: from.map(|t| t.timestamp_millis()), to_ms: to.map(|t| t.timestamp_millis()) };
    if let (Some(from), Some(to)) = (range.from_ms, range.to_ms) {
        anyhow::ensure!(from <= to, "--from must not be after --to");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if matches!(format, RecordsFormat::Csv) {
        export::write_csv_header(&mut out)?;
    }
    let mut cursor = None;
    loop {
        let page = reader.list(range, MAX_PAGE_RECORDS, cursor)?;
        for record in &page.records {
            match format {
                RecordsFormat::Jsonl => export::write_json_line(&mut out, record)?,
                RecordsFormat::Csv => export::write_csv_row(&mut out, record)?,
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}

/// Runs `veertien demo`: the daemon plus simulated phones for `duration_s` seconds.
fn demo(config_path: PathBuf, duration_s: u64) -> anyhow::Result<()> {
    let settings = config::load(&config_path).map_err(|error| anyhow::anyhow!("{error}"))?;
    // Only warnings: the per-second summary on stdout is what a newcomer reads.
    init_tracing("warn", settings.log.format);
    let plan = load_dialplans(&settings.dialplan.directory)?;
    let missing = config::missing_prompts(&plan, &settings.rtp.prompt_directory);
    if !missing.is_empty() {
        anyhow::bail!("dial plan prompts missing:\n  {}", missing.join("\n  "));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")?;
    let duration = std::time::Duration::from_secs(duration_s);
    let report = runtime.block_on(live::demo::run_demo(
        settings,
        plan,
        duration,
        |sip, http| {
            println!("veertien ready sip={sip} http={http}");
            println!("demo: {duration_s} s of simulated callers and agents (every tenant open around the clock); health at http://{http}/health");
        },
        |line| println!("{line}"),
    ))?;
    println!("demo over:\n{report}");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn init_tracing(filter: &str, format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == config::LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}
