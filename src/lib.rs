//! veertien: SIP routing and ACD daemon for Dutch municipal contact centres.
//!
//! Layers, bottom to top (dependencies point down only; `tests/architecture.rs` checks
//! every pair): `core` → `sip`, `media`, `dialplan` (peers that never import each other)
//! → `config` → `acd` → `engine` (the B2BUA, sans-IO) → `stats` → `traffic` (traces,
//! profiles, simulated phones) → `sim` (simulation driver) and `live` (tokio driver),
//! which never import each other → the binary. See the README's architecture section.

pub mod acd;
pub mod config;
pub mod core;
pub mod dialplan;
pub mod engine;
pub mod live;
pub mod media;
pub mod sim;
pub mod sip;
pub mod stats;
pub mod traffic;
