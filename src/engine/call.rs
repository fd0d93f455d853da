//! One call as the engine tracks it: its legs (the caller's first), which of them are
//! bridged, where it is in the contact centre's flow, its context and the record it
//! will leave.

use super::call_history::CallHistory;
use super::transfer::Transfer;
use crate::acd::reference::ReferenceNumber;
use crate::core::ids::LegId;
use crate::core::time::Instant;
use crate::dialplan::{AgentId, QueueId, TenantId};

/// Where an established call is in the contact centre's flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not yet established (no ACK).
    Answering,
    /// Listening to the entry menu.
    Menu,
    /// Waiting in a queue (the ACD holds it).
    Queued,
    /// Talking to a party: the call's bridges say who hears whom.
    Connected,
    /// On hold while a transfer's target rings or consults with the agent.
    Transferring,
    /// Hearing a last prompt (closed, lines busy), then we hang up for this reason.
    Leaving(EndReason),
}

/// Why a call ended: the disposition recorded for every call, exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The caller sent BYE.
    CallerHungUp,
    /// The caller cancelled before we answered.
    CallerCancelled,
    /// No ACK for our 200 OK within 64*T1 (RFC 3261 §13.3.1.4); we sent BYE.
    NoAck,
    /// The call was still up when the shutdown drain time ran out; we sent BYE.
    ShutdownDrain,
    /// The caller's transaction failed (timeout or transport error).
    TransportFailure,
    /// The offer in the ACK (late offer) had no codec in common.
    NoCommonCodec,
    /// No RTP from the caller for `rtp.inactivity_timeout_s`: a dead call.
    MediaInactive,
    /// The media plane could not open the call's RTP port.
    MediaUnavailable,
    /// The agent hung up after talking to the caller.
    AgentHungUp,
    /// The backoffice member who took a transfer hung up.
    BackofficeHungUp,
    /// An agent's consultation ended: nobody answered it, or it became a transfer.
    NotAnswered,
    /// Outside opening hours (after the closed prompt).
    Closed,
    /// The queue overflowed to a prompt or could not take the call.
    Overflowed,
}

impl EndReason {
    /// Short stable name for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndReason::CallerHungUp => "caller_hung_up",
            EndReason::CallerCancelled => "caller_cancelled",
            EndReason::NoAck => "no_ack",
            EndReason::ShutdownDrain => "shutdown_drain",
            EndReason::TransportFailure => "transport_failure",
            EndReason::NoCommonCodec => "no_common_codec",
            EndReason::MediaInactive => "media_inactive",
            EndReason::MediaUnavailable => "media_unavailable",
            EndReason::AgentHungUp => "agent_hung_up",
            EndReason::BackofficeHungUp => "backoffice_hung_up",
            EndReason::NotAnswered => "not_answered",
            EndReason::Closed => "closed",
            EndReason::Overflowed => "overflowed",
        }
    }
}

/// How a transfer hands the caller over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    /// Cold: the target rings while the caller holds; the agent is gone.
    Blind,
    /// Warm: the agent talks to the target first, then completes or cancels.
    Warm,
}

impl TransferMode {
    /// Stable name for records and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferMode::Blind => "cold",
            TransferMode::Warm => "warm",
        }
    }
}

/// Who placed a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallKind {
    /// A citizen on the 14-number (through a trusted trunk): the calls the contact
    /// centre's figures count.
    Citizen,
    /// An agent's phone calling a group or colleague through the daemon to consult
    /// before an attended transfer. Counted in no figure and leaving no record of its
    /// own: the transferred call's record lists the hop.
    Consult { agent: AgentId },
}

/// What the caller's question is about, handed to whoever takes the call over. Set over
/// the API; free text is personal data: bounded, never logged, never a metric label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    pub subject: Option<String>,
    pub notes: Option<String>,
    /// Reference numbers of the caller's earlier calls about the same question.
    pub previous_references: Vec<String>,
}

/// One call: its legs, which of them hear each other, where it is in the contact
/// centre's flow, its context and the record it will leave.
#[derive(Debug)]
pub struct Call {
    pub tenant: String,
    pub tenant_id: TenantId,
    /// Given at arrival; read out, keyed in and carried to the agent.
    pub reference: ReferenceNumber,
    pub kind: CallKind,
    pub phase: Phase,
    /// The queue the call is (or was last) in.
    pub queue: Option<QueueId>,
    /// The caller's leg; the call ends with it.
    pub caller: LegId,
    /// The other legs: parties being rung, connected, or being cleared.
    pub legs: Vec<LegId>,
    /// Pairs of legs whose media is bridged.
    pub bridges: Vec<(LegId, LegId)>,
    pub context: CallContext,
    /// A transfer under way.
    pub transfer: Option<Transfer>,
    /// Transfers completed (the hop limit counts these).
    pub transfers_made: u32,
    /// The ACD counts the call as a conversation with an agent (ended once, on the
    /// agent's leaving or on handing the caller over).
    pub in_agent_conversation: bool,
    pub arrived_at: Instant,
    pub established_at: Option<Instant>,
    /// Why we are hanging up, once we sent the caller our BYE.
    pub end_reason: Option<EndReason>,
    /// The record the call will leave.
    pub history: CallHistory,
}

impl Call {
    /// The leg bridged to the caller, while connected.
    pub fn caller_partner(&self) -> Option<LegId> {
        self.bridges.iter().find_map(|&(a, b)| match (a == self.caller, b == self.caller) {
            (true, _) => Some(b),
            (_, true) => Some(a),
            _ => None,
        })
    }
}
