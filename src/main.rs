//! The `veertien` command line: `run` (the daemon), `check` (validate config and dial
//! plans). `anyhow` lives only here.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use veertien::config;
use veertien::live;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run { config: PathBuf::from("config/veertien.toml") });
    let result = match command {
        Command::Run { config } => run(config),
        Command::Check { config } => return check(config),
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
