//! The daemon's typed, validated settings. Every field has a default (stated in its doc
//! comment and in the shipped `config/veertien.toml`), so an empty file is a valid config.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::cidr::Cidr;

/// All settings of one daemon, after loading the file, applying environment overrides
/// and validating.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// SIP transport and transaction layer.
    pub sip: SipSettings,
    /// The HTTP API and `/metrics`.
    pub http: HttpSettings,
    /// The RTP port range for media sessions.
    pub rtp: RtpSettings,
    /// Where the per-tenant dial plans live.
    pub dialplan: DialplanSettings,
    /// Graceful shutdown behaviour.
    pub shutdown: ShutdownSettings,
    /// Bounds on load, so overload is shed instead of exhausting memory.
    pub limits: LimitSettings,
    /// Log filter and format.
    pub log: LogSettings,
    /// Bearer tokens of the HTTP API.
    pub api: ApiSettings,
    /// Where call records are kept.
    pub store: StoreSettings,
}

/// SIP transport and transaction settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SipSettings {
    /// Address for both UDP and TCP. Default `127.0.0.1:5060`.
    pub listen: SocketAddr,
    /// Address to put in Via, Contact and SDP when `listen` is a wildcard (0.0.0.0 or ::).
    /// Default none; required when `listen` is a wildcard.
    pub public_address: Option<IpAddr>,
    /// Peers (trunks, PBXs) whose INVITEs are accepted without digest authentication.
    /// Default `["127.0.0.1"]`.
    pub trusted_peers: Vec<Cidr>,
    /// RFC 3261 §17.1.1.1 T1, the RTT estimate. Default 500 ms.
    pub t1_ms: u64,
    /// RFC 3261 §17.1.2.2 T2, the cap on non-INVITE retransmit intervals. Default 4000 ms.
    pub t2_ms: u64,
    /// RFC 3261 §17.1.2.2 T4, how long the network may hold a message. Default 5000 ms.
    pub t4_ms: u64,
    /// Bound on live transactions; new requests beyond it get a 503. Default 100000.
    pub max_transactions: usize,
    /// Value of the User-Agent and Server headers. Default `veertien/<version>`.
    pub user_agent: String,
    /// Delay between 180 Ringing and 200 OK for inbound calls, in milliseconds (0-60000).
    /// Default 0: answer at once. A delay lets a caller cancel before the answer.
    pub answer_delay_ms: u64,
    /// Where INVITEs to backoffice members go whose URI names a host rather than an IP
    /// address (the municipal PBX or SBC that serves the desk phones). Default none: such
    /// members are unreachable.
    pub outbound_proxy: Option<SocketAddr>,
}

impl SipSettings {
    /// True when `peer` is inside one of the trusted networks.
    pub fn is_trusted(&self, peer: IpAddr) -> bool {
        self.trusted_peers
            .iter()
            .any(|network| network.contains(peer))
    }

    /// The address other parties should use to reach us: `public_address` when set,
    /// else the listen address (validation guarantees that one is not a wildcard then).
    pub fn advertised_address(&self) -> IpAddr {
        self.public_address.unwrap_or(self.listen.ip())
    }
}

/// HTTP API settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Address of the HTTP API and `/metrics`. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
}

/// RTP port range. Even ports carry RTP, the odd port above each carries RTCP.
#[derive(Debug, Clone, PartialEq)]
pub struct RtpSettings {
    /// Lowest port, even and above 1024. Default 20000.
    pub port_min: u16,
    /// Highest port, above `port_min`. Default 30000.
    pub port_max: u16,
    /// Seconds without RTP from a peer after which the call is ended as dead (10-3600).
    /// Default 60.
    pub inactivity_timeout_s: u64,
    /// Directory of the prompt WAV files (8 kHz mono 16-bit), relative to the working
    /// directory. Default "config/prompts/nl".
    pub prompt_directory: PathBuf,
}

/// Dial-plan location.
#[derive(Debug, Clone, PartialEq)]
pub struct DialplanSettings {
    /// Directory holding one `*.toml` per tenant. A relative path is relative to the
    /// daemon's working directory (not to the config file), like every other path given
    /// on the command line. Default `dialplans`.
    pub directory: PathBuf,
}

/// Graceful shutdown settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ShutdownSettings {
    /// How long calls in progress may continue after a shutdown signal. Default 30 s.
    pub drain_s: u64,
    /// Retry-After value on the 503 sent to new calls while draining. Default 60 s.
    pub retry_after_s: u32,
}

/// Load bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSettings {
    /// Simultaneous calls; beyond it new INVITEs get 503. Default 5000.
    pub max_calls: usize,
    /// Largest UDP datagram read; larger ones are dropped and counted. Default 65507 bytes.
    pub max_udp_datagram_bytes: usize,
    /// Simultaneous TCP connections; beyond it new ones are refused. Default 1024.
    pub max_tcp_connections: usize,
}

/// The call-record store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    /// The SQLite file, relative to the daemon's working directory like every other path;
    /// the daemon creates it and its parent directory. Default `data/veertien.sqlite3`.
    pub path: PathBuf,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// tracing env-filter directives, e.g. `info` or `veertien::sip=debug,info`. Default `info`.
    pub filter: String,
    /// Line format. Default text.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// HTTP API access. `/health`, `/ready` and `/metrics` need no token; everything under
/// `/api/` needs one. Default: no tokens, so the API answers 401 to everyone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiSettings {
    /// Accepted bearer tokens.
    pub tokens: Vec<ApiToken>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiRole {
    /// Read queues, agents and calls.
    Read,
    /// Read, and change agent states (log in, pause, ...).
    Supervise,
}

/// One bearer token.
#[derive(Clone, PartialEq)]
pub struct ApiToken {
    /// Who holds it (for logs; never the secret).
    pub name: String,
    /// The secret, at least 16 characters.
    pub token: String,
    /// What it may do.
    pub role: ApiRole,
}

impl std::fmt::Debug for ApiToken {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}
