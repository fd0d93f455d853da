//! The routing domain: calls, queues, agents, selection, transfers, callbacks, calendar and
//! reference numbers. Names no SIP, SDP or RTP type.
//!
//! The engine drives [`Acd`] like every sans-IO machine: feed an input with the current
//! [`crate::core::time::Instant`], drain [`Acd::poll_action`], and call
//! [`Acd::handle_timeout`] at [`Acd::poll_timeout`].

pub mod action;
pub mod agent;
pub mod calendar;
mod call;
pub mod config;
pub mod distributor;
pub mod reference;
pub mod service_level;
pub mod stats;
pub mod strategy;
pub mod wait_estimate;
pub mod working_days;
mod waiting_calls;

pub use action::{AcdAction, AcdError, Disposition, OfferFailure, Outcome, OverflowDestination, QueueRefusal};
pub use agent::{AgentState, PauseReason};
pub use config::{AcdConfig, QueueSettings};
pub use distributor::Acd;
pub use service_level::ServiceLevelCounts;
pub use stats::{AgentStateCounts, QueueStats};
pub use wait_estimate::WaitEstimate;
