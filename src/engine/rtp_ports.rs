//! The bounded pool of local RTP ports. The engine hands out numbers; the live driver
//! binds them. A call that finds the pool empty is refused with 503 (counted), so a
//! flood can never make the daemon open unbounded sockets.
//!
//! A port number goes into an SDP before any socket exists, so a port another process
//! holds would cost the call that gets it. The pool therefore asks a [`PortReserver`]
//! (the live media plane binds the pair there and then) before it hands a port out, and
//! skips a port that cannot be had: it waits aside and gets one more try each time a
//! port comes back, so a port the other process gives up returns to service. Without a
//! reserver (simulation, tests) every port is available.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

/// Makes sure a port can really be used before the engine names it in an SDP.
pub trait PortReserver: Send {
    /// True when the RTP port `rtp_port` and the RTCP port above it are ours to use now;
    /// they stay ours until the media session on them closes.
    fn reserve(&mut self, rtp_port: u16) -> bool;
}

/// Even ports from `port_min` to `port_max` (RTP on the even port, RTCP on the odd one
/// above it, RFC 3550 §11).
pub struct RtpPortPool {
    free: BTreeSet<u16>,
    /// Ports the reserver could not have, oldest first.
    unavailable: VecDeque<u16>,
    capacity: usize,
    reserver: Option<Box<dyn PortReserver>>,
}

impl fmt::Debug for RtpPortPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtpPortPool")
            .field("free", &self.free.len())
            .field("unavailable", &self.unavailable)
            .field("capacity", &self.capacity)
            .field("reserver", &self.reserver.is_some())
            .finish()
    }
}

impl RtpPortPool {
    /// A pool over `[port_min, port_max]`; odd `port_min` is rounded up.
    pub fn new(port_min: u16, port_max: u16) -> Self {
        let start = port_min + (port_min % 2);
        let free: BTreeSet<u16> = (start..port_max).step_by(2).collect();
        let capacity = free.len();
        RtpPortPool { free, unavailable: VecDeque::new(), capacity, reserver: None }
    }

    /// From now on, ports are handed out only once `reserver` has them.
    pub fn set_reserver(&mut self, reserver: Box<dyn PortReserver>) {
        self.reserver = Some(reserver);
    }

    /// Takes the lowest free port the reserver can have, or `None` when none is left.
    pub fn allocate(&mut self) -> Option<u16> {
        while let Some(port) = self.free.pop_first() {
            let reserved = self.reserver.as_mut().is_none_or(|reserver| reserver.reserve(port));
            if reserved {
                return Some(port);
            }
            self.unavailable.push_back(port);
        }
        None
    }

    /// Returns a port to the pool, and gives the longest-unavailable port another try.
    pub fn release(&mut self, port: u16) {
        self.free.insert(port);
        if let Some(retry) = self.unavailable.pop_front() {
            self.free.insert(retry);
        }
    }

    /// Ports in use by calls.
    pub fn in_use(&self) -> usize {
        self.capacity - self.free.len() - self.unavailable.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    #[test]
    fn exhausts_and_recovers() {
        let mut pool = RtpPortPool::new(10001, 10006);
        assert_eq!(pool.allocate(), Some(10002));
        assert_eq!(pool.allocate(), Some(10004));
        assert_eq!(pool.allocate(), None);
        pool.release(10002);
        assert_eq!(pool.in_use(), 1);
        assert_eq!(pool.allocate(), Some(10002));
    }

    /// A reserver that cannot have the ports in its shared set.
    struct HeldElsewhere(Arc<Mutex<HashSet<u16>>>);

    impl PortReserver for HeldElsewhere {
        fn reserve(&mut self, rtp_port: u16) -> bool {
            !self.0.lock().expect("test lock").contains(&rtp_port)
        }
    }

    #[test]
    fn a_port_held_elsewhere_is_skipped_and_retried_when_a_port_comes_back() {
        let held = Arc::new(Mutex::new(HashSet::from([10000])));
        let mut pool = RtpPortPool::new(10000, 10006);
        pool.set_reserver(Box::new(HeldElsewhere(held.clone())));
        assert_eq!(pool.allocate(), Some(10002), "10000 is skipped");
        assert_eq!((pool.in_use(), pool.unavailable.len()), (1, 1));
        held.lock().expect("test lock").clear();
        pool.release(10002);
        assert_eq!(pool.unavailable.len(), 0, "the held port gets another try");
        assert_eq!(pool.allocate(), Some(10000));
    }

    #[test]
    fn when_every_port_is_held_elsewhere_the_pool_is_empty() {
        let held = Arc::new(Mutex::new(HashSet::from([10000, 10002])));
        let mut pool = RtpPortPool::new(10000, 10004);
        pool.set_reserver(Box::new(HeldElsewhere(held)));
        assert_eq!(pool.allocate(), None);
        assert_eq!((pool.in_use(), pool.unavailable.len()), (0, 2));
    }
}
