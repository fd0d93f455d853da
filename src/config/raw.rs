//! The configuration exactly as written (file merged with environment overrides), before
//! validation. Addresses stay strings here so that validation can quote the bad value.

use serde::Deserialize;

/// Top level of `veertien.toml`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSettings {
    pub sip: RawSip,
    pub http: RawHttp,
    pub rtp: RawRtp,
    pub dialplan: RawDialplan,
    pub shutdown: RawShutdown,
    pub limits: RawLimits,
    pub log: RawLog,
    pub api: RawApi,
    pub store: RawStore,
}

/// `[sip]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSip {
    pub listen: String,
    pub public_address: Option<String>,
    pub trusted_peers: Vec<String>,
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    pub max_transactions: usize,
    pub user_agent: String,
    pub answer_delay_ms: u64,
    pub outbound_proxy: Option<String>,
}

impl Default for RawSip {
    fn default() -> Self {
        RawSip {
            listen: "127.0.0.1:5060".to_owned(),
            public_address: None,
            trusted_peers: vec!["127.0.0.1".to_owned()],
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_transactions: 100_000,
            user_agent: concat!("veertien/", env!("CARGO_PKG_VERSION")).to_owned(),
            answer_delay_ms: 0,
            outbound_proxy: None,
        }
    }
}

/// `[http]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawHttp {
    pub listen: String,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: "127.0.0.1:8080".to_owned(),
        }
    }
}

/// `[rtp]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRtp {
    pub port_min: u16,
    pub port_max: u16,
    pub inactivity_timeout_s: u64,
    pub prompt_directory: String,
}

impl Default for RawRtp {
    fn default() -> Self {
        RawRtp {
            port_min: 20_000,
            port_max: 30_000,
            inactivity_timeout_s: 60,
            prompt_directory: "config/prompts/nl".to_owned(),
        }
    }
}

/// `[dialplan]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawDialplan {
    pub directory: String,
}

impl Default for RawDialplan {
    fn default() -> Self {
        RawDialplan {
            directory: "dialplans".to_owned(),
        }
    }
}

/// `[shutdown]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawShutdown {
    pub drain_s: u64,
    pub retry_after_s: u32,
}

impl Default for RawShutdown {
    fn default() -> Self {
        RawShutdown {
            drain_s: 30,
            retry_after_s: 60,
        }
    }
}

/// `[limits]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLimits {
    pub max_calls: usize,
    pub max_udp_datagram_bytes: usize,
    pub max_tcp_connections: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_calls: 5000,
            max_udp_datagram_bytes: 65_507,
            max_tcp_connections: 1024,
        }
    }
}

/// `[store]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawStore {
    pub path: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            path: "data/veertien.sqlite3".to_owned(),
        }
    }
}

/// `[log]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    pub filter: String,
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            filter: "info".to_owned(),
            format: "text".to_owned(),
        }
    }
}

/// `[api]` as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawApi {
    pub tokens: Vec<RawApiToken>,
}

/// One `[[api.tokens]]` entry as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApiToken {
    pub name: String,
    pub token: String,
    pub role: String,
}

impl std::fmt::Debug for RawApiToken {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawApiToken").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}
