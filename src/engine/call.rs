//! One inbound call as the engine tracks it: the caller's dialog, its media port and
//! where it is in its life, and the record it will leave.

use super::call_history::CallHistory;
use crate::acd::reference::ReferenceNumber;
use crate::core::ids::{CallId, LegId, MediaSessionId, TransactionId};
use crate::dialplan::{QueueId, TenantId};
use crate::core::time::Instant;
use crate::sip::dialog::Dialog;
use crate::sip::msg::{Request, Response};
use crate::sip::transport::Peer;
use bytes::Bytes;
use std::time::Duration;

/// Where a call is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// INVITE accepted, 100 (and 180) sent; answered when the answer timer fires.
    Ringing,
    /// 200 OK sent, retransmitted until the ACK arrives (RFC 3261 §13.3.1.4).
    AwaitingAck,
    /// ACK received: media flows.
    Established,
    /// We sent BYE and wait for its response.
    Ending,
}

/// Where an established call is in the contact centre's flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not yet established (no ACK).
    Answering,
    /// Listening to the entry menu.
    Menu,
    /// Waiting in a queue (the ACD holds it).
    Queued,
    /// Talking to an agent on this leg.
    Connected(LegId),
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
            EndReason::Closed => "closed",
            EndReason::Overflowed => "overflowed",
        }
    }
}

/// A call with its caller leg.
#[derive(Debug)]
pub struct Call {
    pub id: CallId,
    pub tenant: String,
    pub tenant_id: TenantId,
    /// Given at arrival; read out, keyed in and carried to the agent.
    pub reference: ReferenceNumber,
    pub state: CallState,
    pub phase: Phase,
    /// The queue the call is (or was last) in.
    pub queue: Option<QueueId>,
    /// Agent legs (ringing or connected).
    pub legs: Vec<LegId>,
    pub dialog: Dialog,
    /// Where the caller's requests come from; in-dialog requests we send go here too
    /// (symmetric routing: trunks behind NAT often advertise an unreachable Contact).
    pub peer: Peer,
    pub invite: Request,
    pub invite_tx: TransactionId,
    pub media: MediaSessionId,
    pub rtp_port: u16,
    /// Our SDP (answer, or offer when the INVITE had no body).
    pub local_sdp: Bytes,
    /// True when the INVITE had no offer and the caller's answer is expected in the ACK.
    pub late_offer: bool,
    /// The 200 OK we retransmit until ACK.
    pub ok_response: Option<Response>,
    pub ok_retransmit_interval: Duration,
    pub arrived_at: Instant,
    pub established_at: Option<Instant>,
    pub bye_tx: Option<TransactionId>,
    pub end_reason: Option<EndReason>,
    /// The record the call will leave.
    pub history: CallHistory,
}
