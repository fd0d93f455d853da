//! Foundations shared by every layer: owned time types, typed ids, the seeded RNG and
//! redaction of personal data. Nothing here performs I/O or reads an OS clock.

pub mod addr_text;
pub mod deadlines;
pub mod ids;
pub mod redact;
pub mod rng;
pub mod time;
