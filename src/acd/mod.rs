//! The routing domain: calls, queues, agents, selection, transfers, callbacks, calendar.
//! Only the calendar exists so far.

pub mod calendar;
