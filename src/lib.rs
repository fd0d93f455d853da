//! veertien: SIP routing and ACD daemon for Dutch municipal contact centres.
//!
//! Layers (dependencies point down only): `live` (tokio driver) and `sim` (simulation
//! driver) → `engine` (the B2BUA, sans-IO) → `sip`, `media`, `acd`, `dialplan` → `core`.
//! See the README's architecture section.

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
