//! SIP digest authentication (RFC 3261 §22 with RFC 7616 / RFC 8760: SHA-256 preferred, MD5
//! for older phones). Sans-IO: time is an argument, secrets come from the seeded RNG.
//!
//! Accounts store `HA1 = H(username:realm:password)` per algorithm, never the password.
//! Nonces expire and carry a MAC ([`NonceIssuer`]); replayed nonce counts are refused; wrong
//! answers are counted and end in 403 ([`FailureTracker`]). [`Authenticator`] ties it together.
//!
//! Not supported (never offered in our challenges, so refused in credentials): the `-sess`
//! algorithms, `qop=auth-int` and RFC 7616 `userhash`.

mod algorithm;
mod authenticator;
mod challenge;
mod credentials;
mod failures;
mod nonce;
mod response;

pub use algorithm::DigestAlgorithm;
pub use authenticator::{AuthConfig, AuthOutcome, AuthStats, Authenticator, ChallengeKind, StoredCredentials};
pub use challenge::Challenge;
pub use credentials::{CredentialsError, DigestCredentials, NonceCount, MAX_CREDENTIALS_BYTES};
pub use failures::{
    FailurePolicy, FailureTracker, DEFAULT_FAILURE_WINDOW_S, DEFAULT_MAX_CONSECUTIVE_FAILURES,
    DEFAULT_MAX_TRACKED_FAILURE_SOURCES,
};
pub use nonce::{
    NonceConfig, NonceIssuer, NonceStatus, Replayed, DEFAULT_MAX_TRACKED_NONCES, DEFAULT_NONCE_LIFETIME_S,
};
pub use response::{compute_response, expected_response, QopAuth};
