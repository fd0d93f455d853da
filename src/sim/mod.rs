//! The simulation driver: trace replay through the real engine in simulated time, with a
//! simulated network and media plane, invariants checked after every step, an output
//! hash, and Erlang C to compare replays with. Sans-IO: nothing reads a clock or a
//! socket. The traffic it plays (traces, profiles, simulated phones) is
//! [`crate::traffic`], shared with the load generator.

pub mod erlang;
pub mod invariants;
pub mod media_sim;
pub mod network;
pub mod output_hash;
pub mod replay;
pub mod report;
pub mod store;
