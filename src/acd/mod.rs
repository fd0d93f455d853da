//! The routing domain: calls, queues, agents, selection, transfers, callbacks, calendar and
//! reference numbers. Names no SIP, SDP or RTP type.

pub mod calendar;
pub mod reference;
