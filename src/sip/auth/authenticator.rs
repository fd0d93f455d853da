//! The digest authentication decision for one request (RFC 3261 §22.2, §22.3): accept,
//! challenge (401/407, possibly `stale=true`) or refuse (403 after repeated wrong answers).

use super::algorithm::{constant_time_eq, DigestAlgorithm};
use super::challenge::Challenge;
use super::credentials::DigestCredentials;
use super::failures::{FailurePolicy, FailureTracker};
use super::nonce::{NonceConfig, NonceIssuer, NonceStatus};
use super::response::expected_response;
use crate::core::redact::Redacted;
use crate::core::rng::SeededRng;
use crate::core::time::Instant;
use crate::sip::msg::{HeaderName, Request, Response};
use std::net::IpAddr;

/// Whether we authenticate as the request's final destination or as a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeKind {
    /// A registrar or user agent server: 401, `WWW-Authenticate`, `Authorization` (§22.2).
    Origin,
    /// A proxy: 407, `Proxy-Authenticate`, `Proxy-Authorization` (§22.3).
    Proxy,
}

impl ChallengeKind {
    /// The header carrying the client's credentials.
    pub fn credentials_header(self) -> HeaderName {
        match self {
            ChallengeKind::Origin => HeaderName::Authorization,
            ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }

    /// The header carrying our challenges.
    pub fn challenge_header(self) -> HeaderName {
        match self {
            ChallengeKind::Origin => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The challenge status code and reason phrase.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            ChallengeKind::Origin => (401, "Unauthorized"),
            ChallengeKind::Proxy => (407, "Proxy Authentication Required"),
        }
    }
}

/// Authenticator settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// The realm we challenge with; credentials for other realms are ignored.
    pub realm: String,
    /// Origin (401) or proxy (407) authentication.
    pub kind: ChallengeKind,
    /// Nonce lifetime and replay-tracking bound.
    pub nonce: NonceConfig,
    /// When wrong responses turn into 403.
    pub failures: FailurePolicy,
}

impl AuthConfig {
    /// Defaults for `realm`: origin authentication, 300 s nonces, 403 after 3 wrong answers.
    pub fn new(realm: impl Into<String>) -> Self {
        AuthConfig {
            realm: realm.into(),
            kind: ChallengeKind::Origin,
            nonce: NonceConfig::default(),
            failures: FailurePolicy::default(),
        }
    }
}

/// What an account stores: HA1 = H(username:realm:password) per algorithm, hex. Never the
/// password itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredCredentials {
    /// HA1 with MD5, for phones that only speak RFC 2617.
    pub ha1_md5: Option<String>,
    /// HA1 with SHA-256 (RFC 8760).
    pub ha1_sha256: Option<String>,
}

impl StoredCredentials {
    /// Both HA1 values derived from a password (for provisioning and tests).
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        StoredCredentials {
            ha1_md5: Some(DigestAlgorithm::Md5.ha1(username, realm, password)),
            ha1_sha256: Some(DigestAlgorithm::Sha256.ha1(username, realm, password)),
        }
    }

    /// The HA1 for `algorithm`, if provisioned.
    pub fn ha1(&self, algorithm: DigestAlgorithm) -> Option<&str> {
        match algorithm {
            DigestAlgorithm::Md5 => self.ha1_md5.as_deref(),
            DigestAlgorithm::Sha256 => self.ha1_sha256.as_deref(),
        }
    }
}

/// The decision for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Authenticated as this username.
    Ok(String),
    /// Answer 401/407 with fresh challenges; `stale` when only the nonce was out of date.
    Challenge {
        /// Set `stale=true` in the challenges.
        stale: bool,
    },
    /// Answer 403: too many wrong responses for this username from this source.
    Forbidden,
}

/// Counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Requests authenticated.
    pub accepted: u64,
    /// Challenges without `stale` (no or unusable credentials, or a wrong response).
    pub challenged: u64,
    /// Challenges with `stale=true` (expired or forgotten nonce, replayed nonce count).
    pub stale_challenged: u64,
    /// Wrong responses (unknown user, missing HA1 or wrong password): the counted failures.
    pub wrong_responses: u64,
    /// Replayed nonce counts with an otherwise correct response.
    pub replays: u64,
    /// Requests answered 403.
    pub forbidden: u64,
}

/// Digest authentication state: nonces, failure counts and counters. Sans-IO.
#[derive(Debug, Clone)]
pub struct Authenticator {
    config: AuthConfig,
    nonces: NonceIssuer,
    failures: FailureTracker,
    opaque: String,
    stats: AuthStats,
}

impl Authenticator {
    /// An authenticator whose nonce secret and opaque value come from `rng`.
    pub fn new(config: AuthConfig, rng: &mut SeededRng) -> Self {
        let nonces = NonceIssuer::from_rng(rng, &config.nonce);
        let failures = FailureTracker::new(config.failures.clone());
        let opaque = rng.token(16);
        Authenticator { config, nonces, failures, opaque, stats: AuthStats::default() }
    }

    /// Decides on `request` from `source`. `lookup` finds an account's stored credentials by
    /// username (the realm is ours). Does not build the response: see
    /// [`Authenticator::challenge_response`] and [`Authenticator::forbidden_response`].
    pub fn authenticate(
        &mut self,
        now: Instant,
        request: &Request,
        source: IpAddr,
        lookup: impl FnOnce(&str) -> Option<StoredCredentials>,
    ) -> AuthOutcome {
        let outcome = self.decide(now, request, source, lookup);
        match &outcome {
            AuthOutcome::Ok(_) => self.stats.accepted += 1,
            AuthOutcome::Challenge { stale: false } => self.stats.challenged += 1,
            AuthOutcome::Challenge { stale: true } => self.stats.stale_challenged += 1,
            AuthOutcome::Forbidden => self.stats.forbidden += 1,
        }
        outcome
    }

    fn decide(
        &mut self,
        now: Instant,
        request: &Request,
        source: IpAddr,
        lookup: impl FnOnce(&str) -> Option<StoredCredentials>,
    ) -> AuthOutcome {
        let header = self.config.kind.credentials_header();
        // A request may carry credentials for several realms (§22.3); take the first for ours.
        let credentials = request
            .headers
            .get_all(&header)
            .filter_map(|value| DigestCredentials::parse(value).ok())
            .find(|credentials| credentials.realm == self.config.realm);
        let Some(credentials) = credentials else {
            return AuthOutcome::Challenge { stale: false };
        };
        if self.failures.is_locked(now, &credentials.username, source) {
            return AuthOutcome::Forbidden;
        }
        // RFC 7616 §3.4 (RFC 2617 §3.2.2.5): the digest-uri must be the Request-URI, and
        // opaque must come back unchanged; otherwise the response answers another request.
        let uri_matches = credentials.uri.as_bytes() == request.uri.as_ref();
        let opaque_matches = credentials.opaque.as_deref().is_none_or(|opaque| opaque == self.opaque);
        if !uri_matches || !opaque_matches {
            return AuthOutcome::Challenge { stale: false };
        }
        let nonce_status = self.nonces.verify(now, &credentials.nonce);
        if nonce_status == NonceStatus::Invalid {
            // Not our nonce: the response proves nothing either way, so nothing is counted.
            return AuthOutcome::Challenge { stale: false };
        }
        let method = String::from_utf8_lossy(request.method.as_bytes());
        let correct = lookup(&credentials.username)
            .as_ref()
            .and_then(|stored| stored.ha1(credentials.algorithm))
            .is_some_and(|ha1| {
                let expected = expected_response(&credentials, ha1, &method);
                constant_time_eq(expected.as_bytes(), credentials.response.to_ascii_lowercase().as_bytes())
            });
        if !correct {
            self.stats.wrong_responses += 1;
            if self.failures.record_failure(now, &credentials.username, source) {
                tracing::info!(user = %Redacted(&credentials.username), %source, "digest failures reached the limit; answering 403");
                return AuthOutcome::Forbidden;
            }
            return AuthOutcome::Challenge { stale: false };
        }
        let NonceStatus::Valid { id } = nonce_status else {
            // Right password, old nonce (RFC 7616 §3.3 stale): retry without asking the user.
            return AuthOutcome::Challenge { stale: true };
        };
        // Without qop there is no nc: the nonce is then good for one use only.
        let nonce_count = credentials.nonce_count.as_ref().map_or(1, |nc| nc.value);
        if self.nonces.record_use(id, nonce_count).is_err() {
            self.stats.replays += 1;
            return AuthOutcome::Challenge { stale: true };
        }
        self.failures.record_success(&credentials.username, source);
        AuthOutcome::Ok(credentials.username)
    }

    /// Challenge header values, one per algorithm, SHA-256 first then MD5 (RFC 8760 §2.4),
    /// sharing one fresh nonce.
    pub fn challenge_values(&mut self, now: Instant, stale: bool) -> Vec<String> {
        self.challenge_values_for(now, stale, &DigestAlgorithm::PREFERENCE_ORDER)
    }

    /// Challenge header values for `algorithms` only, in preference order. The registrar
    /// challenges an account only with algorithms it holds a hash for: offering SHA-256 to
    /// an MD5-only account would fail it, and clients that read only the first challenge
    /// (SIPp, older phones) would never try MD5.
    pub fn challenge_values_for(&mut self, now: Instant, stale: bool, algorithms: &[DigestAlgorithm]) -> Vec<String> {
        let nonce = self.nonces.issue(now);
        DigestAlgorithm::PREFERENCE_ORDER
            .iter()
            .filter(|algorithm| algorithms.contains(algorithm))
            .map(|&algorithm| {
                Challenge { realm: &self.config.realm, nonce: &nonce, opaque: &self.opaque, algorithm, stale }
                    .to_header_value()
            })
            .collect()
    }

    /// The 401/407 response to `request` carrying fresh challenges. The caller adds a To tag.
    pub fn challenge_response(&mut self, now: Instant, request: &Request, stale: bool) -> Response {
        self.challenge_response_for(now, request, stale, &DigestAlgorithm::PREFERENCE_ORDER)
    }

    /// [`Authenticator::challenge_response`] limited to `algorithms`.
    pub fn challenge_response_for(
        &mut self,
        now: Instant,
        request: &Request,
        stale: bool,
        algorithms: &[DigestAlgorithm],
    ) -> Response {
        let (status, reason) = self.config.kind.status();
        let mut response = Response::to_request(request, status, reason);
        let header = self.config.kind.challenge_header();
        for value in self.challenge_values_for(now, stale, algorithms) {
            response.headers.push(header.clone(), value);
        }
        response
    }

    /// The 403 response to `request` once the failure limit is reached.
    pub fn forbidden_response(request: &Request) -> Response {
        Response::to_request(request, 403, "Forbidden")
    }

    /// Counters since start.
    pub fn stats(&self) -> AuthStats {
        self.stats
    }

    /// The realm we challenge with.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }
}
