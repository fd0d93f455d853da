//! The client state machines: INVITE (RFC 3261 §17.1.1 with RFC 6026 §7.2's Accepted
//! state) and non-INVITE (§17.1.2).

use super::derived::ack_for_non_2xx;
use super::state::{Action, Kind, State, TimerKind, Transaction};
use super::TransactionEvent;
use crate::sip::msg::Response;
use crate::sip::timers::SipTimers;

/// The first transmission, and the timers that guard it.
pub(crate) fn start(tx: &mut Transaction, timers: &SipTimers) -> Vec<Action> {
    let mut actions = vec![Action::Transmit { peer: tx.peer, bytes: tx.request_bytes.clone() }];
    let (retransmit, timeout) = match tx.kind {
        Kind::InviteClient => (TimerKind::A, TimerKind::B),
        _ => (TimerKind::E, TimerKind::F),
    };
    // §17.1.1.2 / §17.1.2.2: retransmission timers only on unreliable transports.
    if !tx.peer.is_reliable() {
        tx.retransmit_interval = timers.t1();
        actions.push(Action::Start(retransmit, timers.t1()));
    }
    actions.push(Action::Start(timeout, timers.transaction_timeout()));
    actions
}

/// A response matched this transaction.
pub(crate) fn on_response(tx: &mut Transaction, response: Response, timers: &SipTimers) -> Vec<Action> {
    match tx.kind {
        Kind::InviteClient => invite_response(tx, response, timers),
        _ => non_invite_response(tx, response, timers),
    }
}

/// A timer of this transaction fired.
pub(crate) fn on_timer(tx: &mut Transaction, timer: TimerKind, timers: &SipTimers) -> Vec<Action> {
    let retransmit = Action::Transmit { peer: tx.peer, bytes: tx.request_bytes.clone() };
    match (timer, tx.state) {
        // §17.1.1.2: Timer A doubles without a cap, only while Calling.
        (TimerKind::A, State::Calling) => {
            tx.retransmit_interval = tx.retransmit_interval.saturating_mul(2);
            vec![retransmit, Action::Start(TimerKind::A, tx.retransmit_interval)]
        }
        // §17.1.2.2: Timer E doubles up to T2 while Trying; in Proceeding it is reset to T2.
        (TimerKind::E, State::Trying) => {
            tx.retransmit_interval = tx.retransmit_interval.saturating_mul(2).min(timers.t2());
            vec![retransmit, Action::Start(TimerKind::E, tx.retransmit_interval)]
        }
        (TimerKind::E, State::Proceeding) => vec![retransmit, Action::Start(TimerKind::E, timers.t2())],
        // Timer B also runs in Proceeding after a CANCEL was sent (RFC 3261 §9.1).
        (TimerKind::B, State::Calling | State::Proceeding) | (TimerKind::F, State::Trying | State::Proceeding) => {
            vec![Action::Report(TransactionEvent::Timeout { tx: tx.id }), Action::Terminate]
        }
        (TimerKind::D, State::Completed) | (TimerKind::K, State::Completed) | (TimerKind::M, State::Accepted) => {
            vec![Action::Terminate]
        }
        _ => Vec::new(),
    }
}

fn invite_response(tx: &mut Transaction, response: Response, timers: &SipTimers) -> Vec<Action> {
    let report = Action::Report(TransactionEvent::Response { tx: tx.id, response: response.clone() });
    match (tx.state, response.status) {
        (State::Calling | State::Proceeding, 100..=199) => {
            tx.state = State::Proceeding;
            vec![Action::Stop(TimerKind::A), Action::Stop(TimerKind::B), report]
        }
        // RFC 6026 §7.2: a 2xx moves to Accepted; Timer M absorbs nothing but keeps the
        // transaction so 2xx retransmissions (and forked 2xx) still reach the TU.
        (State::Calling | State::Proceeding, 200..=299) => {
            tx.state = State::Accepted;
            vec![
                Action::Stop(TimerKind::A),
                Action::Stop(TimerKind::B),
                report,
                Action::Start(TimerKind::M, timers.transaction_timeout()),
            ]
        }
        (State::Calling | State::Proceeding, 300..=699) => {
            tx.state = State::Completed;
            let ack = ack_for_non_2xx(&tx.request, &response).to_bytes();
            tx.last_sent = Some((tx.peer, ack.clone()));
            vec![
                Action::Stop(TimerKind::A),
                Action::Stop(TimerKind::B),
                report,
                Action::Transmit { peer: tx.peer, bytes: ack },
                tx.wait_or_terminate(TimerKind::D, timers.timer_d_unreliable()),
            ]
        }
        // §17.1.1.2: a retransmitted non-2xx final response is answered with the same ACK
        // and not passed up.
        (State::Completed, 300..=699) => match &tx.last_sent {
            Some((peer, ack)) => vec![Action::Transmit { peer: *peer, bytes: ack.clone() }],
            None => Vec::new(),
        },
        (State::Accepted, 200..=299) => vec![report],
        _ => Vec::new(),
    }
}

fn non_invite_response(tx: &mut Transaction, response: Response, timers: &SipTimers) -> Vec<Action> {
    let report = Action::Report(TransactionEvent::Response { tx: tx.id, response: response.clone() });
    match (tx.state, response.status) {
        (State::Trying | State::Proceeding, 100..=199) => {
            tx.state = State::Proceeding;
            vec![report]
        }
        (State::Trying | State::Proceeding, 200..=699) => {
            tx.state = State::Completed;
            vec![
                Action::Stop(TimerKind::E),
                Action::Stop(TimerKind::F),
                report,
                tx.wait_or_terminate(TimerKind::K, timers.t4()),
            ]
        }
        // Completed absorbs retransmitted finals (§17.1.2.2).
        _ => Vec::new(),
    }
}
