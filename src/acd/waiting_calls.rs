//! The waiting callers of the ACD, indexed twice besides by call: by their next deadline
//! (so finding what is due, and when, does not walk every caller on every timeout) and by
//! service order (so dispatch walks callers in order instead of sorting them each time).
//!
//! With hundreds of callers queued (a busy contact centre) the ACD is asked for its next
//! deadline after every input; both indexes make that O(log n). All changes to a waiting
//! call go through [`WaitingCalls::update`], which re-files its deadline, so the indexes
//! cannot drift from the calls.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use crate::core::ids::CallId;
use crate::core::time::Instant;
use crate::dialplan::{QueueId, TenantId};

use super::call::{ServiceOrder, WaitingCall};

/// A waiting call with the deadline it is filed under.
#[derive(Debug, Clone)]
struct Filed {
    call: WaitingCall,
    deadline: Instant,
}

/// A place in the service order, to continue a walk from.
pub(crate) type ServicePlace = (ServiceOrder, CallId);

/// Waiting calls by id, by next deadline and by service order.
#[derive(Debug, Default)]
pub(crate) struct WaitingCalls {
    by_call: BTreeMap<CallId, Filed>,
    by_deadline: BTreeSet<(Instant, CallId)>,
    by_service_order: BTreeSet<ServicePlace>,
    /// How many wait in each queue (no entry: none).
    per_queue: BTreeMap<TenantId, BTreeMap<QueueId, usize>>,
}

impl WaitingCalls {
    pub fn get(&self, call: &CallId) -> Option<&WaitingCall> {
        self.by_call.get(call).map(|filed| &filed.call)
    }

    pub fn contains(&self, call: &CallId) -> bool {
        self.by_call.contains_key(call)
    }

    pub fn len(&self) -> usize {
        self.by_call.len()
    }

    /// How many wait in `queue` of `tenant`.
    pub fn count_in(&self, tenant: &TenantId, queue: &QueueId) -> usize {
        self.per_queue.get(tenant).and_then(|queues| queues.get(queue)).copied().unwrap_or(0)
    }

    /// Every waiting call in call-id order.
    pub fn iter(&self) -> impl Iterator<Item = (&CallId, &WaitingCall)> {
        self.by_call.iter().map(|(id, filed)| (id, &filed.call))
    }

    /// Every waiting call in call-id order.
    pub fn values(&self) -> impl Iterator<Item = &WaitingCall> {
        self.by_call.values().map(|filed| &filed.call)
    }

    /// Files `waiting` under `call`, replacing an earlier entry.
    pub fn insert(&mut self, call: CallId, waiting: WaitingCall) {
        self.remove(&call);
        let deadline = waiting.next_deadline();
        self.by_deadline.insert((deadline, call));
        self.by_service_order.insert((waiting.service_order(), call));
        let tenant = self.per_queue.entry(waiting.entry.tenant.clone()).or_default();
        *tenant.entry(waiting.queue.clone()).or_default() += 1;
        self.by_call.insert(call, Filed { call: waiting, deadline });
    }

    pub fn remove(&mut self, call: &CallId) -> Option<WaitingCall> {
        let filed = self.by_call.remove(call)?;
        self.by_deadline.remove(&(filed.deadline, *call));
        self.by_service_order.remove(&(filed.call.service_order(), *call));
        if let Some(tenant) = self.per_queue.get_mut(&filed.call.entry.tenant) {
            if let Some(count) = tenant.get_mut(&filed.call.queue) {
                *count -= 1;
                if *count == 0 {
                    tenant.remove(&filed.call.queue);
                }
            }
        }
        Some(filed.call)
    }

    /// Changes a waiting call (not its entry, which fixes its service order) and re-files
    /// its deadline; `None` when the call is not waiting.
    pub fn update<R>(&mut self, call: &CallId, change: impl FnOnce(&mut WaitingCall) -> R) -> Option<R> {
        let filed = self.by_call.get_mut(call)?;
        let order = filed.call.service_order();
        let result = change(&mut filed.call);
        debug_assert_eq!(order, filed.call.service_order(), "a waiting call's service order never changes");
        let deadline = filed.call.next_deadline();
        if deadline != filed.deadline {
            self.by_deadline.remove(&(filed.deadline, *call));
            self.by_deadline.insert((deadline, *call));
            filed.deadline = deadline;
        }
        Some(result)
    }

    /// The earliest deadline of any waiting call.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// The calls with a deadline at or before `now`, in call-id order (the order the ACD
    /// handles them in, which decides the order of its actions).
    pub fn due(&self, now: Instant) -> Vec<CallId> {
        let mut due: Vec<CallId> = self
            .by_deadline
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, call)| *call)
            .collect();
        due.sort_unstable();
        due
    }

    /// The first waiting call in service order after `after` (from the start for `None`).
    pub fn next_in_service_order(&self, after: Option<ServicePlace>) -> Option<ServicePlace> {
        match after {
            None => self.by_service_order.first().copied(),
            Some(place) => self
                .by_service_order
                .range((Bound::Excluded(place), Bound::Unbounded))
                .next()
                .copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acd::call::CallEntry;
    use crate::dialplan::{AgentId, QueueId, TenantId};

    fn at(s: u64) -> Instant {
        Instant::from_micros(s * 1_000_000)
    }

    fn waiting(priority: u8, arrived_s: u64, seq: u64, overflow_s: u64) -> WaitingCall {
        WaitingCall {
            entry: CallEntry { tenant: TenantId::new("t"), priority, arrived: at(arrived_s), seq, visited: Vec::new(), requeued: false },
            queue: QueueId::new("q"),
            overflow_at: at(overflow_s),
            next_announce: None,
            ringing: Vec::new(),
            cooldown: Vec::new(),
        }
    }

    #[test]
    fn deadlines_follow_updates_and_removals() {
        let mut calls = WaitingCalls::default();
        calls.insert(CallId(1), waiting(0, 1, 1, 100));
        calls.insert(CallId(2), waiting(0, 2, 2, 50));
        assert_eq!(calls.next_deadline(), Some(at(50)));
        calls.update(&CallId(1), |w| w.ringing.push((AgentId::new("a"), at(20))));
        assert_eq!(calls.next_deadline(), Some(at(20)));
        assert_eq!(calls.due(at(60)), vec![CallId(1), CallId(2)]);
        assert_eq!(calls.due(at(30)), vec![CallId(1)]);
        calls.update(&CallId(1), |w| w.ringing.clear());
        assert_eq!(calls.next_deadline(), Some(at(50)));
        assert!(calls.remove(&CallId(2)).is_some());
        assert_eq!(calls.next_deadline(), Some(at(100)));
        assert_eq!(calls.due(at(60)), Vec::<CallId>::new());
        assert!(calls.update(&CallId(2), |_| ()).is_none());
        assert_eq!(calls.len(), 1);
        assert_eq!(calls.count_in(&TenantId::new("t"), &QueueId::new("q")), 1);
        calls.remove(&CallId(1));
        assert_eq!(calls.count_in(&TenantId::new("t"), &QueueId::new("q")), 0);
        assert_eq!(calls.count_in(&TenantId::new("other"), &QueueId::new("q")), 0);
    }

    #[test]
    fn due_calls_come_in_call_id_order_not_deadline_order() {
        let mut calls = WaitingCalls::default();
        calls.insert(CallId(9), waiting(0, 1, 1, 10));
        calls.insert(CallId(3), waiting(0, 2, 2, 20));
        assert_eq!(calls.due(at(20)), vec![CallId(3), CallId(9)]);
    }

    #[test]
    fn service_order_walk_is_priority_then_arrival_then_sequence() {
        let mut calls = WaitingCalls::default();
        calls.insert(CallId(1), waiting(0, 5, 4, 100));
        calls.insert(CallId(2), waiting(1, 9, 3, 100));
        calls.insert(CallId(3), waiting(0, 5, 2, 100));
        calls.insert(CallId(4), waiting(0, 1, 1, 100));
        let mut walked = Vec::new();
        let mut place = None;
        while let Some(next) = calls.next_in_service_order(place) {
            walked.push(next.1);
            place = Some(next);
        }
        assert_eq!(walked, vec![CallId(2), CallId(4), CallId(3), CallId(1)]);
        calls.remove(&CallId(4));
        assert_eq!(calls.next_in_service_order(Some(walked_place(&calls, CallId(2)))).map(|p| p.1), Some(CallId(3)));
    }

    fn walked_place(calls: &WaitingCalls, call: CallId) -> ServicePlace {
        (calls.get(&call).expect("waiting").service_order(), call)
    }
}
