//! Sans-IO SIP: the message boundary, transactions (RFC 3261 §17), dialogs (§12), the
//! transport rules (§18), digest authentication and the registrar. Nothing here does I/O
//! or reads a clock.

pub mod auth;
pub mod dialog;
pub mod msg;
pub mod registrar;
pub mod timers;
pub mod transaction;
pub mod transport;
