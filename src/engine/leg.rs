//! One SIP dialog the engine holds, whoever is on the other end: the caller (we are UAS),
//! an agent's phone or any other party we ring (we are UAC). The engine's handling of
//! INVITE, CANCEL, BYE, re-INVITE and other in-dialog requests is written once, over this
//! type (`dialog_requests.rs`, `outbound.rs`); what differs by party is only what a leg's
//! end or answer means to its call.
//!
//! [`LegTable`] owns every leg with the indexes the engine looks them up by: transaction,
//! dialog id, media session, and the agent whose phone a leg rings (so a phone still
//! clearing a leg is found without a scan).

use crate::core::ids::{CallId, IdAllocator, LegId, MediaSessionId, TransactionId};
use crate::core::time::Instant;
use crate::dialplan::{AgentId, GroupId, TenantId};
use crate::sip::dialog::{Dialog, DialogKey};
use crate::sip::msg::{Request, Response};
use crate::sip::transport::Peer;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Duration;

/// Who is on the other end of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// The citizen who called the 14-number (the leg we answered).
    Caller,
    /// A front-office agent's phone, rung for a queued call.
    Agent(AgentId),
    /// A transfer target: a member of a backoffice group (an agent of the tenant or a
    /// desk phone's SIP URI), or one agent rung directly by a transfer. `agent` names the
    /// agent when the member is one, so the ACD keeps queue calls off its phone.
    Member { group: Option<GroupId>, target: String, agent: Option<AgentId> },
}

impl Party {
    /// Stable name for call records and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Party::Caller => "caller",
            Party::Agent(_) => "agent",
            Party::Member { .. } => "backoffice",
        }
    }
}

/// Where a leg's INVITE and dialog are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// We received the INVITE and have not answered yet (UAS), or we sent it and the
    /// phone rings (UAC).
    Ringing,
    /// UAS: our 2xx is sent and retransmitted until the ACK (RFC 3261 §13.3.1.4).
    AwaitingAck,
    /// UAC: we sent CANCEL and wait for the 487 (RFC 3261 §9.1).
    Cancelling,
    /// The dialog is confirmed; media flows.
    Connected,
    /// We sent BYE and wait for its final response.
    Ending,
}

/// Which side of the INVITE we are, with what only that side needs.
#[derive(Debug)]
pub enum Side {
    /// We answer: the caller's leg.
    Uas(UasAnswer),
    /// We call: every leg the daemon originates.
    Uac,
}

/// The UAS's answer state: the 2xx we retransmit until the ACK.
#[derive(Debug)]
pub struct UasAnswer {
    /// The INVITE had no offer: ours goes in the 2xx and the answer comes in the ACK.
    pub late_offer: bool,
    /// The 2xx, kept until the ACK arrives.
    pub ok_response: Option<Response>,
    /// The next retransmission interval (T1 doubling up to T2).
    pub retransmit_interval: Duration,
}

/// One dialog of a call.
#[derive(Debug)]
pub struct Leg {
    pub id: LegId,
    pub call: CallId,
    pub tenant: TenantId,
    pub party: Party,
    pub side: Side,
    pub state: LegState,
    /// The INVITE that created the leg (received or sent).
    pub invite: Request,
    pub invite_tx: TransactionId,
    /// Present from the start on a UAS leg (early dialog), from the 2xx on a UAC leg.
    pub dialog: Option<Dialog>,
    /// Where the party's requests come from and ours go (symmetric routing: trunks
    /// behind NAT often advertise an unreachable Contact).
    pub peer: Peer,
    pub media: MediaSessionId,
    pub rtp_port: u16,
    /// Our SDP (offer or answer), repeated in answers to re-INVITEs.
    pub local_sdp: Bytes,
    /// When the INVITE arrived or was sent.
    pub started_at: Instant,
    /// The final status of the INVITE (UAC legs).
    pub final_status: Option<u16>,
    /// The party answered (a UAC leg was connected to the call).
    pub answered: bool,
    /// How ringing ended was reported, once.
    pub reported: bool,
    /// Our BYE, once sent: its final response (or failure) ends the leg.
    pub bye_tx: Option<TransactionId>,
}

impl Leg {
    /// The agent on this leg, if the party is one.
    pub fn agent(&self) -> Option<&AgentId> {
        match &self.party {
            Party::Agent(agent) => Some(agent),
            Party::Caller | Party::Member { .. } => None,
        }
    }

    /// The agent whose phone this leg rings, as a queue's agent or as a transfer's member.
    pub fn phone_agent(&self) -> Option<&AgentId> {
        match &self.party {
            Party::Agent(agent) | Party::Member { agent: Some(agent), .. } => Some(agent),
            Party::Caller | Party::Member { agent: None, .. } => None,
        }
    }

    /// Our tag in the leg's dialog (empty before a UAC leg has one).
    pub fn local_tag(&self) -> String {
        self.dialog.as_ref().map(|dialog| dialog.id.local_tag.clone()).unwrap_or_default()
    }
}

/// Every leg, with its indexes. Entries of the transaction index are removed when the
/// transaction layer reports the transaction terminated, which it does for every
/// transaction (bounded by the live transactions); the others go with their leg.
#[derive(Debug, Default)]
pub struct LegTable {
    legs: HashMap<LegId, Leg>,
    by_tx: HashMap<TransactionId, LegId>,
    by_dialog: HashMap<DialogKey, LegId>,
    by_media: HashMap<MediaSessionId, LegId>,
    /// Legs per agent's phone, so an offer waits while the phone clears an earlier leg.
    per_agent: HashMap<(TenantId, AgentId), usize>,
    ids: IdAllocator,
}

impl LegTable {
    /// A fresh leg id.
    pub fn next_id(&mut self) -> LegId {
        LegId(self.ids.next_raw())
    }

    /// Adds `leg` with its INVITE transaction, media session and (UAS) dialog.
    pub fn insert(&mut self, leg: Leg) {
        self.by_tx.insert(leg.invite_tx, leg.id);
        self.by_media.insert(leg.media, leg.id);
        if let Some(dialog) = &leg.dialog {
            self.by_dialog.insert(dialog.id.clone(), leg.id);
        }
        if let Some(agent) = leg.phone_agent() {
            *self.per_agent.entry((leg.tenant.clone(), agent.clone())).or_default() += 1;
        }
        self.legs.insert(leg.id, leg);
    }

    /// Removes a leg and its index entries (its transactions' go when they terminate).
    pub fn remove(&mut self, id: LegId) -> Option<Leg> {
        let leg = self.legs.remove(&id)?;
        self.by_media.remove(&leg.media);
        if let Some(dialog) = &leg.dialog {
            self.by_dialog.remove(&dialog.id);
        }
        if let Some(agent) = leg.phone_agent() {
            let key = (leg.tenant.clone(), agent.clone());
            if let Some(count) = self.per_agent.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.per_agent.remove(&key);
                }
            }
        }
        Some(leg)
    }

    pub fn get(&self, id: LegId) -> Option<&Leg> {
        self.legs.get(&id)
    }

    pub fn get_mut(&mut self, id: LegId) -> Option<&mut Leg> {
        self.legs.get_mut(&id)
    }

    /// Gives a UAC leg the dialog its 2xx created.
    pub fn set_dialog(&mut self, id: LegId, dialog: Dialog) {
        if let Some(leg) = self.legs.get_mut(&id) {
            self.by_dialog.insert(dialog.id.clone(), id);
            leg.dialog = Some(dialog);
        }
    }

    /// Another transaction of leg `id` (CANCEL, BYE).
    pub fn add_transaction(&mut self, tx: TransactionId, id: LegId) {
        self.by_tx.insert(tx, id);
    }

    /// The transaction layer forgot `tx`.
    pub fn transaction_terminated(&mut self, tx: TransactionId) {
        self.by_tx.remove(&tx);
    }

    pub fn by_transaction(&self, tx: TransactionId) -> Option<LegId> {
        self.by_tx.get(&tx).copied()
    }

    pub fn by_dialog(&self, key: &DialogKey) -> Option<LegId> {
        self.by_dialog.get(key).copied()
    }

    pub fn by_media(&self, media: MediaSessionId) -> Option<LegId> {
        self.by_media.get(&media).copied()
    }

    /// True while a leg to `agent`'s phone exists (ringing, up, or being cleared).
    pub fn agent_has_leg(&self, tenant: &TenantId, agent: &AgentId) -> bool {
        self.per_agent.contains_key(&(tenant.clone(), agent.clone()))
    }
}
