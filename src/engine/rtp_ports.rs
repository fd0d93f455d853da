//! The bounded pool of local RTP ports. The engine hands out numbers; the live driver
//! binds them. A call that finds the pool empty is refused with 503 (counted), so a
//! flood can never make the daemon open unbounded sockets.

use std::collections::BTreeSet;

/// Even ports from `port_min` to `port_max` (RTP on the even port, RTCP on the odd one
/// above it, RFC 3550 §11).
#[derive(Debug, Clone)]
pub struct RtpPortPool {
    free: BTreeSet<u16>,
    capacity: usize,
}

impl RtpPortPool {
    /// A pool over `[port_min, port_max]`; odd `port_min` is rounded up.
    pub fn new(port_min: u16, port_max: u16) -> Self {
        let start = port_min + (port_min % 2);
        let free: BTreeSet<u16> = (start..port_max).step_by(2).collect();
        let capacity = free.len();
        RtpPortPool { free, capacity }
    }

    /// Takes the lowest free port, or `None` when the pool is exhausted.
    pub fn allocate(&mut self) -> Option<u16> {
        self.free.pop_first()
    }

    /// Returns a port to the pool.
    pub fn release(&mut self, port: u16) {
        self.free.insert(port);
    }

    /// Ports in use.
    pub fn in_use(&self) -> usize {
        self.capacity - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
