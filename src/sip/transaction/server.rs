//! The server state machines: INVITE (RFC 3261 §17.2.1 with RFC 6026 §7.1's Accepted
//! state) and non-INVITE (§17.2.2).

use super::state::{Action, Kind, State, TimerKind, Transaction};
use super::{TransactionError, TransactionEvent};
use crate::sip::msg::{Method, Request, Response};
use crate::sip::timers::SipTimers;
use crate::sip::transport::{response_target, Peer};

/// A request matched this server transaction: a retransmission, or the ACK of an INVITE.
pub(crate) fn on_request(tx: &mut Transaction, request: Request, peer: Peer, timers: &SipTimers) -> Vec<Action> {
    if request.method == Method::Ack {
        return on_ack(tx, request, peer, timers);
    }
    let resend_last = || match &tx.last_sent {
        Some((to, bytes)) => vec![Action::Transmit { peer: *to, bytes: bytes.clone() }],
        None => Vec::new(),
    };
    match (tx.kind, tx.state) {
        // §17.2.1: in Proceeding the last provisional, in Completed the final response.
        (Kind::InviteServer, State::Proceeding | State::Completed) => resend_last(),
        // §17.2.2: nothing to re-send while Trying; otherwise the last response.
        (Kind::NonInviteServer, State::Proceeding | State::Completed) => resend_last(),
        // Confirmed and (RFC 6026) Accepted absorb INVITE retransmissions; Trying absorbs.
        _ => Vec::new(),
    }
}

fn on_ack(tx: &mut Transaction, request: Request, peer: Peer, timers: &SipTimers) -> Vec<Action> {
    match (tx.kind, tx.state) {
        // §17.2.1: the ACK for our non-2xx ends retransmissions; Timer I absorbs more ACKs.
        (Kind::InviteServer, State::Completed) => {
            tx.state = State::Confirmed;
            vec![
                Action::Stop(TimerKind::G),
                Action::Stop(TimerKind::H),
                tx.wait_or_terminate(TimerKind::I, timers.t4()),
            ]
        }
        // RFC 6026 §7.1: in Accepted, ACKs (for the 2xx) go to the TU.
        (Kind::InviteServer, State::Accepted) => vec![Action::Report(TransactionEvent::Ack { request, peer })],
        _ => Vec::new(),
    }
}

/// The TU sends a response on this server transaction.
pub(crate) fn on_tu_response(
    tx: &mut Transaction,
    response: Response,
    timers: &SipTimers,
) -> Result<Vec<Action>, TransactionError> {
    if !(100..=699).contains(&response.status) {
        return Err(TransactionError::InvalidStatus(response.status));
    }
    let target = response_target(&response, &tx.peer);
    let bytes = response.to_bytes();
    let transmit = Action::Transmit { peer: target, bytes: bytes.clone() };
    let status = response.status;
    let actions = match (tx.kind, tx.state, status) {
        (Kind::InviteServer, State::Proceeding, 100..=199) => vec![Action::Stop(TimerKind::Trying), transmit],
        // RFC 6026 §7.1: a 2xx moves to Accepted; the TU retransmits it (§13.3.1.4).
        (Kind::InviteServer, State::Proceeding, 200..=299) => {
            tx.state = State::Accepted;
            vec![Action::Stop(TimerKind::Trying), transmit, Action::Start(TimerKind::L, timers.transaction_timeout())]
        }
        (Kind::InviteServer, State::Proceeding, _) => {
            tx.state = State::Completed;
            let mut actions = vec![Action::Stop(TimerKind::Trying), transmit];
            // §17.2.1: Timer G only on unreliable transports; Timer H always.
            if !tx.peer.is_reliable() {
                tx.retransmit_interval = timers.t1();
                actions.push(Action::Start(TimerKind::G, timers.t1()));
            }
            actions.push(Action::Start(TimerKind::H, timers.transaction_timeout()));
            actions
        }
        // RFC 6026 §7.1: the TU's 2xx retransmissions pass through in Accepted.
        (Kind::InviteServer, State::Accepted, 200..=299) => vec![transmit],
        (Kind::NonInviteServer, State::Trying | State::Proceeding, 100..=199) => {
            tx.state = State::Proceeding;
            vec![transmit]
        }
        (Kind::NonInviteServer, State::Trying | State::Proceeding, _) => {
            tx.state = State::Completed;
            vec![transmit, tx.wait_or_terminate(TimerKind::J, timers.transaction_timeout())]
        }
        _ => return Err(TransactionError::AlreadyCompleted(tx.id)),
    };
    tx.last_sent = Some((target, bytes));
    Ok(actions)
}

/// A timer of this transaction fired.
pub(crate) fn on_timer(tx: &mut Transaction, timer: TimerKind, timers: &SipTimers) -> Vec<Action> {
    match (timer, tx.state) {
        // §17.2.1: no provisional from the TU within 200 ms, so we send 100 Trying ourselves.
        (TimerKind::Trying, State::Proceeding) if tx.last_sent.is_none() => {
            let trying = Response::to_request(&tx.request, 100, "Trying");
            let target = response_target(&trying, &tx.peer);
            let bytes = trying.to_bytes();
            tx.last_sent = Some((target, bytes.clone()));
            vec![Action::Transmit { peer: target, bytes }]
        }
        // §17.2.1: Timer G re-sends the final response, doubling up to T2.
        (TimerKind::G, State::Completed) => {
            tx.retransmit_interval = tx.retransmit_interval.saturating_mul(2).min(timers.t2());
            let mut actions = Vec::new();
            if let Some((peer, bytes)) = &tx.last_sent {
                actions.push(Action::Transmit { peer: *peer, bytes: bytes.clone() });
            }
            actions.push(Action::Start(TimerKind::G, tx.retransmit_interval));
            actions
        }
        // §17.2.1: no ACK arrived; the TU must treat the call as failed.
        (TimerKind::H, State::Completed) => {
            vec![Action::Report(TransactionEvent::Timeout { tx: tx.id }), Action::Terminate]
        }
        (TimerKind::I, State::Confirmed) | (TimerKind::J, State::Completed) | (TimerKind::L, State::Accepted) => {
            vec![Action::Terminate]
        }
        _ => Vec::new(),
    }
}
