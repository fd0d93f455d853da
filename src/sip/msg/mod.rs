//! The SIP message boundary: our own zero-copy parser and serialiser (RFC 3261 §7, §25).
//!
//! Why not rsip: see `DEPENDENCIES.md` in the design notes and the README. In short, it
//! rejects valid RFC 4475 messages, cannot represent extension methods, ignores compact
//! headers, folding and Content-Length framing, and corrupts binary bodies.
//!
//! Design: [`parse`] splits a datagram into start line, header fields and body, keeping
//! every value as a `Bytes` slice of the input (no copies except to unfold folded lines).
//! It checks the syntax of the headers every element depends on (Via, From, To, CSeq,
//! Call-ID, Contact, Route, Record-Route, Date, Content-Length) so malformed messages are
//! refused at the boundary (RFC 4475 §3.1.2), but keeps them raw: typed views (`Via`,
//! `CSeq`, `NameAddr`, `SipUri`) are built only when a caller asks for them.
//!
//! Flow for a received request: [`parse`] (on `Err`, answer `ParseError::reply` if any),
//! then [`validate_request`] (on `Err`, answer `Rejection::response_to`), then the
//! transaction layer. On streams, [`StreamFramer`] cuts the byte stream into messages
//! first. Responses go through [`parse`] and [`validate_response`] and are dropped on error.

mod header_name;
mod header_syntax;
mod headers;
mod lex;
mod method;
mod message;
mod name_addr;
mod parse;
mod replaces;
mod serialize;
mod stream;
mod typed;
mod uri;
mod validate;
mod via;

pub use header_name::HeaderName;
pub use headers::{Header, Headers};
pub use message::{Message, Request, Response};
pub use method::Method;
pub use parse::{parse, ParseError};
pub use replaces::Replaces;
pub use stream::{StreamError, StreamFramer};
pub use typed::{CSeq, NameAddr, Param, SipUri, Transport, TypedError, Via};
pub use via::ViaView;
pub use validate::{parse_max_forwards, validate_request, validate_response, Rejection};
