//! Simulation groundwork for trace replay and load generation: the trace format, traces
//! generated from a published profile, Erlang C to compare replays with, and a simulated
//! network. Sans-IO: everything works on strings, readers and writers handed in.

pub mod erlang;
pub mod generate;
pub mod invariants;
pub mod media_sim;
pub mod network;
pub mod output_hash;
pub mod phones;
pub mod profile;
pub mod replay;
pub mod report;
pub mod sample;
pub mod store;
pub mod trace;
