//! Sans-IO SIP: the message boundary, transactions (RFC 3261 §17), dialogs (§12) and the
//! transport rules (§18). Nothing here does I/O or reads a clock.

pub mod dialog;
pub mod msg;
pub mod timers;
pub mod transaction;
pub mod transport;
