//! Validation of the merged raw configuration into [`Settings`]. Collects every problem
//! rather than stopping at the first, so one `veertien check` run shows them all.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::cidr::Cidr;
use super::error::ConfigError;
use super::load::Origins;
use super::raw::{RawApi, RawSettings};
use super::settings::{
    ApiRole, ApiSettings, ApiToken, DialplanSettings, HttpSettings, LimitSettings, LogFormat, LogSettings, RtpSettings, Settings,
    ShutdownSettings, SipSettings, StoreSettings,
};

/// Upper bound on T1; a larger estimate of the round-trip time means a broken setup.
const MAX_T1_MS: u64 = 10_000;
/// Upper bound on the drain time, so a shutdown always ends.
const MAX_DRAIN_S: u64 = 3600;
/// Largest UDP payload over IPv4, the most a datagram buffer can ever need.
const MAX_UDP_PAYLOAD_BYTES: usize = 65_507;
/// Smallest datagram buffer: RFC 3261 §18.1.1 lets requests up to 1300 bytes go over UDP,
/// and responses can be a little larger than their request.
const MIN_UDP_DATAGRAM_BYTES: usize = 1500;
/// Ports up to here are privileged or well known; RTP must stay above them.
const HIGHEST_RESERVED_PORT: u16 = 1024;

/// Checks every key of `raw`; returns the typed settings or all problems found.
pub(crate) fn validate(raw: &RawSettings, origins: &Origins) -> Result<Settings, ConfigError> {
    let mut problems = Vec::new();
    let mut report = |key: &str, problem: String| problems.push(origins.problem(key, problem));

    let sip_listen = socket_address(&raw.sip.listen, "sip.listen", &mut report);
    let public_address = match &raw.sip.public_address {
        None => None,
        Some(text) => match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => {
                report(
                    "sip.public_address",
                    format!("{text:?} is a wildcard, not an address peers can reach"),
                );
                None
            }
            Ok(ip) => Some(ip),
            Err(_) => {
                report(
                    "sip.public_address",
                    format!("{text:?} is not an IP address"),
                );
                None
            }
        },
    };
    if let Some(listen) = sip_listen {
        if listen.ip().is_unspecified() && raw.sip.public_address.is_none() {
            report(
                "sip.public_address",
                format!("must be set when sip.listen is a wildcard ({listen})"),
            );
        }
    }
    let outbound_proxy = raw.sip.outbound_proxy.as_ref().and_then(|text| socket_address(text, "sip.outbound_proxy", &mut report));
    let mut trusted_peers = Vec::new();
    for (index, text) in raw.sip.trusted_peers.iter().enumerate() {
        match text.parse::<Cidr>() {
            Ok(network) => trusted_peers.push(network),
            Err(e) => report(&format!("sip.trusted_peers[{index}]"), e.to_string()),
        }
    }
    if raw.sip.t1_ms == 0 || raw.sip.t1_ms > MAX_T1_MS {
        report(
            "sip.t1_ms",
            format!("must be between 1 and {MAX_T1_MS}, not {}", raw.sip.t1_ms),
        );
    }
    if raw.sip.t2_ms < raw.sip.t1_ms {
        report(
            "sip.t2_ms",
            format!("must be at least sip.t1_ms ({})", raw.sip.t1_ms),
        );
    }
    if raw.sip.t4_ms == 0 {
        report("sip.t4_ms", "must be at least 1".to_owned());
    }
    if raw.sip.max_transactions == 0 {
        report("sip.max_transactions", "must be at least 1".to_owned());
    }
    let user_agent_ok = !raw.sip.user_agent.trim().is_empty()
        && raw
            .sip
            .user_agent
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' ');
    if !user_agent_ok {
        report(
            "sip.user_agent",
            "must be non-empty printable ASCII (it becomes a header value)".to_owned(),
        );
    }

    if raw.sip.answer_delay_ms > 60_000 {
        report("sip.answer_delay_ms", "must be at most 60000".to_owned());
    }

    let http_listen = socket_address(&raw.http.listen, "http.listen", &mut report);
    if let (Some(http), Some(sip)) = (http_listen, sip_listen) {
        // Port 0 asks the kernel for a free port, so two port-0 addresses never collide.
        if http == sip && http.port() != 0 {
            report(
                "http.listen",
                format!("must differ from sip.listen ({sip}): SIP also listens on TCP there"),
            );
        }
    }

    let rtp = &raw.rtp;
    if rtp.port_min <= HIGHEST_RESERVED_PORT {
        report(
            "rtp.port_min",
            format!(
                "must be above {HIGHEST_RESERVED_PORT}, not {}",
                rtp.port_min
            ),
        );
    }
    if rtp.port_min % 2 != 0 {
        report(
            "rtp.port_min",
            format!(
                "must be even (RTP uses even ports, RTCP the odd one above), not {}",
                rtp.port_min
            ),
        );
    }
    if rtp.port_max <= rtp.port_min {
        report(
            "rtp.port_max",
            format!("must be above rtp.port_min ({})", rtp.port_min),
        );
    }

    if !(10..=3600).contains(&rtp.inactivity_timeout_s) {
        report("rtp.inactivity_timeout_s", format!("must be between 10 and 3600, not {}", rtp.inactivity_timeout_s));
    }
    if rtp.prompt_directory.trim().is_empty() {
        report("rtp.prompt_directory", "must not be empty".to_owned());
    }

    if raw.dialplan.directory.trim().is_empty() {
        report("dialplan.directory", "must not be empty".to_owned());
    }

    if raw.shutdown.drain_s > MAX_DRAIN_S {
        report(
            "shutdown.drain_s",
            format!(
                "must be at most {MAX_DRAIN_S}, not {}",
                raw.shutdown.drain_s
            ),
        );
    }
    if raw.shutdown.retry_after_s == 0 {
        report("shutdown.retry_after_s", "must be at least 1".to_owned());
    }

    let limits = &raw.limits;
    if limits.max_calls == 0 {
        report("limits.max_calls", "must be at least 1".to_owned());
    }
    if !(MIN_UDP_DATAGRAM_BYTES..=MAX_UDP_PAYLOAD_BYTES).contains(&limits.max_udp_datagram_bytes) {
        report(
            "limits.max_udp_datagram_bytes",
            format!(
                "must be between {MIN_UDP_DATAGRAM_BYTES} and {MAX_UDP_PAYLOAD_BYTES}, not {}",
                limits.max_udp_datagram_bytes
            ),
        );
    }
    if limits.max_tcp_connections == 0 {
        report(
            "limits.max_tcp_connections",
            "must be at least 1".to_owned(),
        );
    }

    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&raw.log.filter) {
        report(
            "log.filter",
            format!("{:?} is not a valid filter: {e}", raw.log.filter),
        );
    }
    let log_format = match raw.log.format.as_str() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        other => {
            report(
                "log.format",
                format!("{other:?} is not one of \"text\", \"json\""),
            );
            None
        }
    };

    let api = api_settings(&raw.api, &mut report);

    let store_path = raw.store.path.trim();
    if store_path.is_empty() {
        report("store.path", "must not be empty".to_owned());
    } else if store_path.ends_with('/') {
        report("store.path", format!("{:?} names a directory; give the file, e.g. data/veertien.sqlite3", raw.store.path));
    }

    match (sip_listen, http_listen, log_format) {
        (Some(sip_listen), Some(http_listen), Some(log_format)) if problems.is_empty() => {
            Ok(Settings {
                sip: SipSettings {
                    listen: sip_listen,
                    public_address,
                    trusted_peers,
                    t1_ms: raw.sip.t1_ms,
                    t2_ms: raw.sip.t2_ms,
                    t4_ms: raw.sip.t4_ms,
                    max_transactions: raw.sip.max_transactions,
                    user_agent: raw.sip.user_agent.clone(),
                    answer_delay_ms: raw.sip.answer_delay_ms,
                    outbound_proxy,
                },
                http: HttpSettings {
                    listen: http_listen,
                },
                rtp: RtpSettings {
                    port_min: rtp.port_min,
                    port_max: rtp.port_max,
                    inactivity_timeout_s: rtp.inactivity_timeout_s,
                    prompt_directory: PathBuf::from(&rtp.prompt_directory),
                },
                dialplan: DialplanSettings {
                    directory: PathBuf::from(&raw.dialplan.directory),
                },
                shutdown: ShutdownSettings {
                    drain_s: raw.shutdown.drain_s,
                    retry_after_s: raw.shutdown.retry_after_s,
                },
                limits: LimitSettings {
                    max_calls: limits.max_calls,
                    max_udp_datagram_bytes: limits.max_udp_datagram_bytes,
                    max_tcp_connections: limits.max_tcp_connections,
                },
                log: LogSettings {
                    filter: raw.log.filter.clone(),
                    format: log_format,
                },
                api,
                store: StoreSettings {
                    path: PathBuf::from(&raw.store.path),
                },
            })
        }
        // Each `None` above came with a reported problem, so `problems` is not empty here.
        _ => Err(ConfigError::Invalid(problems)),
    }
}

fn socket_address(
    text: &str,
    key: &str,
    report: &mut impl FnMut(&str, String),
) -> Option<SocketAddr> {
    match text.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            report(key, format!("{text:?} is not a socket address"));
            None
        }
    }
}

/// Shortest accepted API token: long enough that guessing is hopeless.
const MIN_API_TOKEN_LEN: usize = 16;

fn api_settings(raw: &RawApi, report: &mut impl FnMut(&str, String)) -> ApiSettings {
    let mut tokens: Vec<ApiToken> = Vec::new();
    for (index, entry) in raw.tokens.iter().enumerate() {
        let key = format!("api.tokens[{index}]");
        if entry.name.trim().is_empty() {
            report(&format!("{key}.name"), "must not be empty".to_owned());
        } else if tokens.iter().any(|t| t.name == entry.name) {
            report(&format!("{key}.name"), format!("{:?} is used twice", entry.name));
        }
        if entry.token.chars().count() < MIN_API_TOKEN_LEN || entry.token.chars().any(char::is_whitespace) {
            report(&format!("{key}.token"), format!("must be at least {MIN_API_TOKEN_LEN} characters without spaces"));
        } else if tokens.iter().any(|t| t.token == entry.token) {
            report(&format!("{key}.token"), "is the same as another token".to_owned());
        }
        let role = match entry.role.as_str() {
            "read" => ApiRole::Read,
            "supervise" => ApiRole::Supervise,
            other => {
                report(&format!("{key}.role"), format!("{other:?} is not one of \"read\", \"supervise\""));
                continue;
            }
        };
        tokens.push(ApiToken { name: entry.name.clone(), token: entry.token.clone(), role });
    }
    ApiSettings { tokens }
}
