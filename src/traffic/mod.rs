//! Traffic models both drivers play: the trace format, traces generated from a published
//! profile, samplers of the distributions they use, and the simulated caller and agent
//! phones (SIP user agents driven by inputs, with timers as outputs), what an agent does
//! with a call (talk or transfer), and the backoffice desk phones transfers ring. A layer of its own
//! below `sim` and `live` so that the load generator plays the same phones as the replay
//! without one driver importing the other. Sans-IO: strings, readers and writers handed
//! in, time as an argument.

pub mod agent_task;
pub mod backoffice;
pub mod generate;
pub mod phones;
pub mod profile;
pub mod sample;
pub mod trace;
