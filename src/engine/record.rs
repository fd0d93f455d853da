//! What the engine asks the store to keep, and the contract around it: persist before
//! promise. The engine emits [`super::Output::Persist`] with a [`PersistTicket`]; the
//! driver's store answers [`super::Input::Persisted`] once the write is durable, or
//! [`super::Input::PersistFailed`]. At start the driver replays what the store holds with
//! [`super::Input::Restored`].
//!
//! A call record carries no phone number in clear: the caller is a keyed hash
//! ([`caller_hash`]), the same for the same number under the same key, so repeat callers
//! can be recognised without keeping who they are. Field names follow the municipal data
//! model's call record (GGM *Telefoontje*); the mapping is in the README.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Names one pending write; answered exactly once by `Persisted` or `PersistFailed`
/// (or given up after the engine's persist timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersistTicket(pub u64);

/// Something the store keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A call that ended.
    Call(CallRecord),
}

impl Record {
    /// The reference number the record is filed under.
    pub fn reference(&self) -> &str {
        match self {
            Record::Call(call) => &call.reference,
        }
    }
}

/// A reference number a tenant issued, as the store read it back at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedReference {
    /// The tenant id.
    pub tenant: String,
    /// The 8 digits.
    pub reference: String,
}

/// The durable record of one call, written once when the call ends. Times are wall-clock
/// milliseconds since the Unix epoch (UTC); durations are milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call's 8-digit reference number (GGM: `kenmerk`).
    pub reference: String,
    /// The tenant (municipality) that answered.
    pub tenant: String,
    /// The number dialled, e.g. `14036` (a public service number, not personal data).
    pub dialled: String,
    /// Keyed hash of the caller's number (hex), `None` when the number was withheld.
    pub caller_hash: Option<String>,
    /// The INVITE arrived (GGM: `starttijd`).
    pub arrived_at_ms: i64,
    /// The caller's ACK confirmed our answer.
    pub established_at_ms: Option<i64>,
    /// The digit the caller chose in the entry menu.
    pub menu_choice: Option<String>,
    /// The queue the call was last in.
    pub queue: Option<String>,
    /// The call entered its first queue.
    pub queued_at_ms: Option<i64>,
    /// An agent answered.
    pub answered_at_ms: Option<i64>,
    /// The agent who answered.
    pub agent: Option<String>,
    /// The call ended (GGM: `eindtijd`).
    pub ended_at_ms: i64,
    /// Time in queue until answered or until the caller left the queue (GGM: `totale wachttijd`).
    pub wait_ms: u64,
    /// Time connected to an agent, hold included (GGM: `gespreksduur`).
    pub talk_ms: u64,
    /// Time the caller was on hold while connected (GGM: `holdtijd`).
    pub hold_ms: u64,
    /// After-call work the ACD gave the agent (the queue's wrap-up time) when an agent
    /// answered; 0 otherwise (GGM: `nawerktijd`).
    pub wrap_up_ms: u64,
    /// How the call left the ACD or why it never reached it (GGM: `status`): `answered`,
    /// `abandoned`, `overflowed`, `closed`, `failed`, or `not_queued`.
    pub disposition: String,
    /// Why the call ended ([`super::EndReason::as_str`]).
    pub end_reason: String,
    /// Subject of the call, when an agent or transfer set one.
    pub subject: Option<String>,
    /// Notes handed over with the call.
    pub notes: Option<String>,
    /// Earlier reference numbers this call continues (transfers, callbacks).
    pub previous_references: Vec<String>,
    /// Every leg the engine held for this call other than the caller's, in the order rung.
    pub legs: Vec<LegRecord>,
    /// How the contact centre handled it: `handled`, `transferred_cold`,
    /// `transferred_warm`, `bounced` or `not_handled` (the 80 % norm's measure).
    #[serde(default)]
    pub handling: String,
    /// Every transfer of the call, in order.
    #[serde(default)]
    pub transfers: Vec<TransferRecord>,
}

/// One transfer of a call (or a menu's route to a backoffice group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// `cold` or `warm`.
    pub mode: String,
    /// The group or queue id, or `agent`.
    pub target: String,
    pub requested_at_ms: i64,
    /// `answered`, a bounce reason (`no_answer`, `busy`, `rejected`, `unreachable`,
    /// `closed`, `consult_ended`), `cancelled`, or `pending` when the call ended first.
    pub outcome: String,
    /// Who took the call (the member's agent id or desk phone URI).
    pub answered_by: Option<String>,
    pub ended_at_ms: Option<i64>,
}

/// One attempt to reach a person for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegRecord {
    /// `agent`, `backoffice` or `callback_target`.
    pub party: String,
    /// Who was rung: the agent id, or the group member's id.
    pub target: String,
    /// The INVITE was sent.
    pub rung_at_ms: i64,
    /// Time from the INVITE to the answer or to giving up.
    pub ring_ms: u64,
    /// The final SIP status the phone answered, if any (none when we cancelled first or
    /// it never answered).
    pub final_status: Option<u16>,
    /// `answered`, `no_answer`, `busy`, `rejected`, `unreachable` or `cancelled`.
    pub outcome: String,
    /// The leg ended.
    pub ended_at_ms: i64,
}

/// The keyed hash of a phone number: SHA-256 over the key and the number's digits (a
/// leading `+` kept, everything else but digits dropped, so `+31 6-1234` and `+3161234`
/// hash alike). HMAC construction (RFC 2104), so the hash cannot be reversed by hashing
/// every Dutch number without the key.
pub fn caller_hash(key: &[u8; 32], number: &str) -> String {
    let normalised: String = number
        .char_indices()
        .filter(|(index, c)| c.is_ascii_digit() || (*index == 0 && *c == '+'))
        .map(|(_, c)| c)
        .collect();
    hex(&hmac_sha256(key, normalised.as_bytes()))
}

/// HMAC-SHA256 (RFC 2104) with a 32-byte key (zero-padded to the 64-byte block).
fn hmac_sha256(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut inner_key = [0x36u8; 64];
    let mut outer_key = [0x5cu8; 64];
    for (index, byte) in key.iter().enumerate() {
        inner_key[index] ^= byte;
        outer_key[index] ^= byte;
    }
    let inner = Sha256::new().chain_update(inner_key).chain_update(data).finalize();
    Sha256::new().chain_update(outer_key).chain_update(inner).finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_keyed_stable_and_ignores_formatting() {
        let key = [7u8; 32];
        let a = caller_hash(&key, "+31 6-1234 5678");
        assert_eq!(a, caller_hash(&key, "+31612345678"));
        assert_ne!(a, caller_hash(&[8u8; 32], "+31612345678"), "another key, another hash");
        assert_ne!(a, caller_hash(&key, "+31612345679"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("612345678"));
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?". A short key is
        // zero-padded to the block size, so our 32-byte zero-padded key is the same key.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex(&hmac_sha256(&key, b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
