//! Server nonces that expire and cannot be replayed (RFC 7616 §3.3, §5.4 and §5.5).
//!
//! A nonce is `base64url(timestamp ‖ counter ‖ MAC)` where the timestamp is the issuing
//! [`Instant`] in microseconds, the counter makes every nonce unique, and the MAC is the first
//! 16 bytes of `SHA-256(secret ‖ timestamp ‖ counter)`. The MAC lets us reject a forged or
//! tampered nonce without any lookup; the timestamp gives its age.
//!
//! Replay: for every nonce still tracked we keep the highest nonce count (`nc`) accepted, and
//! a response with the same or a lower `nc` is refused. Memory is bounded by
//! `max_tracked_nonces`: nonces are tracked from issue in counter order (which is also issue
//! order), expired ones are dropped first, and at the bound the oldest is evicted. An evicted
//! nonce is treated like an expired one (the phone gets `stale=true` and retries), so the
//! bound costs a round trip, never safety.

use super::algorithm::constant_time_eq;
use crate::core::rng::SeededRng;
use crate::core::time::Instant;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Default nonce lifetime: long enough for a phone to answer a challenge, short enough that
/// a captured nonce is soon useless.
pub const DEFAULT_NONCE_LIFETIME_S: u64 = 300;
/// Default bound on nonces tracked for replay detection (about 3 MB at the bound).
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 65_536;

const TIMESTAMP_BYTES: usize = 8;
const COUNTER_BYTES: usize = 8;
const MAC_BYTES: usize = 16;
const NONCE_BYTES: usize = TIMESTAMP_BYTES + COUNTER_BYTES + MAC_BYTES;

/// Nonce settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceConfig {
    /// How long a nonce is accepted after issue.
    pub nonce_lifetime_s: u64,
    /// Most nonces tracked for replay detection at once.
    pub max_tracked_nonces: usize,
}

impl Default for NonceConfig {
    fn default() -> Self {
        NonceConfig { nonce_lifetime_s: DEFAULT_NONCE_LIFETIME_S, max_tracked_nonces: DEFAULT_MAX_TRACKED_NONCES }
    }
}

/// What a received nonce is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours, within its lifetime and tracked; `id` identifies it for [`NonceIssuer::record_use`].
    Valid {
        /// The nonce's counter.
        id: u64,
    },
    /// Ours, but too old or no longer tracked: challenge again with `stale=true`.
    Stale,
    /// Not a nonce we issued (malformed or tampered).
    Invalid,
}

/// A response reused a nonce count: a replay (RFC 7616 §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nonce count replayed")]
pub struct Replayed;

/// Mints and checks nonces. Sans-IO: time comes in as an argument.
#[derive(Debug, Clone)]
pub struct NonceIssuer {
    secret: [u8; 32],
    lifetime: Duration,
    max_tracked: usize,
    next_counter: u64,
    /// Counter → (issued at, highest nc accepted; 0 before first use).
    tracked: BTreeMap<u64, (Instant, u32)>,
}

impl NonceIssuer {
    /// An issuer with a secret key; `max_tracked_nonces` is raised to at least 1.
    pub fn new(secret: [u8; 32], config: &NonceConfig) -> Self {
        NonceIssuer {
            secret,
            lifetime: Duration::from_secs(config.nonce_lifetime_s),
            max_tracked: config.max_tracked_nonces.max(1),
            next_counter: 0,
            tracked: BTreeMap::new(),
        }
    }

    /// An issuer whose secret is drawn from `rng` (deterministic in simulation).
    pub fn from_rng(rng: &mut SeededRng, config: &NonceConfig) -> Self {
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        NonceIssuer::new(secret, config)
    }

    fn mac(&self, timestamp: &[u8], counter: &[u8]) -> [u8; MAC_BYTES] {
        let digest = Sha256::new().chain_update(self.secret).chain_update(timestamp).chain_update(counter).finalize();
        let mut mac = [0u8; MAC_BYTES];
        mac.copy_from_slice(&digest[..MAC_BYTES]);
        mac
    }

    /// A fresh nonce, tracked from now on.
    pub fn issue(&mut self, now: Instant) -> String {
        self.forget_expired(now);
        while self.tracked.len() >= self.max_tracked {
            self.tracked.pop_first();
        }
        let counter = self.next_counter;
        self.next_counter += 1;
        self.tracked.insert(counter, (now, 0));
        let timestamp = now.as_micros().to_be_bytes();
        let counter_bytes = counter.to_be_bytes();
        let mut raw = [0u8; NONCE_BYTES];
        raw[..TIMESTAMP_BYTES].copy_from_slice(&timestamp);
        raw[TIMESTAMP_BYTES..TIMESTAMP_BYTES + COUNTER_BYTES].copy_from_slice(&counter_bytes);
        raw[TIMESTAMP_BYTES + COUNTER_BYTES..].copy_from_slice(&self.mac(&timestamp, &counter_bytes));
        base64url_encode(&raw)
    }

    /// Checks integrity, age and tracking of a received nonce; changes nothing.
    pub fn verify(&self, now: Instant, nonce: &str) -> NonceStatus {
        let Some(raw) = base64url_decode::<NONCE_BYTES>(nonce) else {
            return NonceStatus::Invalid;
        };
        let (timestamp, rest) = raw.split_at(TIMESTAMP_BYTES);
        let (counter_bytes, mac) = rest.split_at(COUNTER_BYTES);
        if !constant_time_eq(mac, &self.mac(timestamp, counter_bytes)) {
            return NonceStatus::Invalid;
        }
        let mut timestamp_array = [0u8; TIMESTAMP_BYTES];
        timestamp_array.copy_from_slice(timestamp);
        let issued_at = Instant::from_micros(u64::from_be_bytes(timestamp_array));
        let mut counter_array = [0u8; COUNTER_BYTES];
        counter_array.copy_from_slice(counter_bytes);
        let id = u64::from_be_bytes(counter_array);
        if issued_at > now || now - issued_at > self.lifetime {
            return NonceStatus::Stale;
        }
        match self.tracked.get(&id) {
            Some((tracked_at, _)) if *tracked_at == issued_at => NonceStatus::Valid { id },
            _ => NonceStatus::Stale,
        }
    }

    /// Records that a verified response used nonce `id` with count `nonce_count`; refuses a
    /// count not above the highest accepted so far (RFC 7616 §3.4: nc increases per use).
    pub fn record_use(&mut self, id: u64, nonce_count: u32) -> Result<(), Replayed> {
        let Some((_, highest)) = self.tracked.get_mut(&id) else {
            return Err(Replayed);
        };
        if nonce_count <= *highest {
            return Err(Replayed);
        }
        *highest = nonce_count;
        Ok(())
    }

    /// How many nonces are tracked now.
    pub fn tracked_count(&self) -> usize {
        self.tracked.len()
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some((_, (issued_at, _))) = self.tracked.first_key_value() {
            if now - *issued_at <= self.lifetime {
                break;
            }
            self.tracked.pop_first();
        }
    }
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url (RFC 4648 §5): only token characters, so the nonce survives any quoting.
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let group = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for index in 0..chunk.len() + 1 {
            out.push(char::from(BASE64URL[((group >> (18 - 6 * index)) & 0x3f) as usize]));
        }
    }
    out
}

/// Decodes unpadded base64url of exactly `N` bytes; `None` on any other input.
fn base64url_decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != (N * 4).div_ceil(3) {
        return None;
    }
    let mut out = [0u8; N];
    let mut written = 0;
    for chunk in text.as_bytes().chunks(4) {
        let mut group = 0u32;
        for (index, &c) in chunk.iter().enumerate() {
            let value = BASE64URL.iter().position(|&x| x == c)? as u32;
            group |= value << (18 - 6 * index);
        }
        for index in 0..chunk.len() - 1 {
            out[written] = (group >> (16 - 8 * index)) as u8;
            written += 1;
        }
        // Canonical encoding only: the unused low bits of a final partial group must be zero.
        let unused_bits = group & ((1 << (8 * (3 - (chunk.len() - 1)))) - 1);
        if chunk.len() < 4 && unused_bits != 0 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(lifetime_s: u64, max_tracked: usize) -> NonceIssuer {
        NonceIssuer::from_rng(
            &mut SeededRng::fork(9, "nonce-secret"),
            &NonceConfig { nonce_lifetime_s: lifetime_s, max_tracked_nonces: max_tracked },
        )
    }

    fn at_s(seconds: u64) -> Instant {
        Instant::from_micros(seconds * 1_000_000)
    }

    #[test]
    fn base64url_round_trips_and_rejects_noise() {
        let bytes: [u8; NONCE_BYTES] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        let text = base64url_encode(&bytes);
        assert_eq!(text.len(), 43);
        assert_eq!(base64url_decode::<NONCE_BYTES>(&text), Some(bytes));
        assert_eq!(base64url_decode::<NONCE_BYTES>(&text[1..]), None);
        assert_eq!(base64url_decode::<NONCE_BYTES>(&text.replacen(&text[..1], "=", 1)), None);
        assert_eq!(base64url_encode(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw");
    }

    #[test]
    fn fresh_nonce_is_valid_and_unique() {
        let mut issuer = issuer(300, 16);
        let first = issuer.issue(at_s(10));
        let second = issuer.issue(at_s(10));
        assert_ne!(first, second);
        assert!(matches!(issuer.verify(at_s(20), &first), NonceStatus::Valid { .. }));
        assert!(matches!(issuer.verify(at_s(20), &second), NonceStatus::Valid { .. }));
    }

    #[test]
    fn tampered_or_foreign_nonces_are_invalid() {
        let mut issuer = issuer(300, 16);
        let nonce = issuer.issue(at_s(1));
        for position in 0..nonce.len() {
            let mut bytes = nonce.clone().into_bytes();
            bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(issuer.verify(at_s(2), &tampered), NonceStatus::Invalid, "position {position}");
        }
        let mut other = NonceIssuer::from_rng(&mut SeededRng::fork(10, "nonce-secret"), &NonceConfig::default());
        assert_eq!(issuer.verify(at_s(2), &other.issue(at_s(1))), NonceStatus::Invalid);
        assert_eq!(issuer.verify(at_s(2), "dcd98b7102dd2f0e8b11d0f600bfb0c093"), NonceStatus::Invalid);
        assert_eq!(issuer.verify(at_s(2), ""), NonceStatus::Invalid);
    }

    #[test]
    fn nonce_expires_after_its_lifetime() {
        let mut issuer = issuer(300, 16);
        let nonce = issuer.issue(at_s(100));
        assert!(matches!(issuer.verify(at_s(400), &nonce), NonceStatus::Valid { .. }));
        assert_eq!(issuer.verify(at_s(401), &nonce), NonceStatus::Stale);
    }

    #[test]
    fn nonce_count_must_increase() {
        let mut issuer = issuer(300, 16);
        let nonce = issuer.issue(at_s(1));
        let NonceStatus::Valid { id } = issuer.verify(at_s(2), &nonce) else { panic!("fresh nonce") };
        assert_eq!(issuer.record_use(id, 1), Ok(()));
        assert_eq!(issuer.record_use(id, 1), Err(Replayed));
        assert_eq!(issuer.record_use(id, 3), Ok(()));
        assert_eq!(issuer.record_use(id, 2), Err(Replayed));
    }

    #[test]
    fn tracking_is_bounded_and_evicts_the_oldest() {
        let mut issuer = issuer(300, 3);
        let oldest = issuer.issue(at_s(1));
        let nonces: Vec<String> = (0..3).map(|_| issuer.issue(at_s(2))).collect();
        assert_eq!(issuer.tracked_count(), 3);
        assert_eq!(issuer.verify(at_s(3), &oldest), NonceStatus::Stale);
        for nonce in &nonces {
            assert!(matches!(issuer.verify(at_s(3), nonce), NonceStatus::Valid { .. }));
        }
    }

    #[test]
    fn expired_nonces_are_forgotten_on_issue() {
        let mut issuer = issuer(10, 100);
        for _ in 0..5 {
            issuer.issue(at_s(1));
        }
        issuer.issue(at_s(100));
        assert_eq!(issuer.tracked_count(), 1);
    }
}
