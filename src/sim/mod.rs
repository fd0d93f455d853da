//! Simulation groundwork for trace replay and load generation: the trace format, traces
//! generated from a published profile, Erlang C to compare replays with, and a simulated
//! network. Sans-IO: everything works on strings, readers and writers handed in.

pub mod erlang;
pub mod generate;
pub mod network;
pub mod profile;
pub mod sample;
pub mod trace;
