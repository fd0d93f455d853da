//! The SIP message boundary: our own zero-copy parser and serialiser (RFC 3261 §7, §25).
//!
//! Why not rsip: see `DEPENDENCIES.md` in the design notes and the README. In short, it
//! rejects valid RFC 4475 messages, cannot represent extension methods, ignores compact
//! headers, folding and Content-Length framing, and corrupts binary bodies.
//!
//! Design: [`parse`] splits a datagram into start line, header fields and body, keeping
//! every value as a `Bytes` slice of the input (no copies). Typed views (`Via`, `CSeq`,
//! `NameAddr`, `SipUri`) are parsed only when a caller asks for them, so routing pays only
//! for the headers it reads.

mod header_name;
mod header_syntax;
mod headers;
mod lex;
mod method;
mod message;
mod name_addr;
mod parse;
mod serialize;
mod stream;
mod typed;
mod validate;
mod uri;
mod via;

pub use header_name::HeaderName;
pub use headers::{Header, Headers};
pub use message::{Message, Request, Response};
pub use method::Method;
pub use parse::{parse, ParseError};
pub use stream::{StreamError, StreamFramer};
pub use typed::{CSeq, NameAddr, Param, SipUri, Transport, TypedError, Via};
pub use validate::{parse_max_forwards, validate_request, validate_response, Rejection};
