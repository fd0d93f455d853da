//! The engine's RTP ports: only those the driver has bound and announced
//! ([`super::Input::RtpPortsBound`]). A port number goes into an SDP before any media
//! session exists, so the engine must never name a port nobody holds; the driver owns the
//! sockets (ARCHITECTURE: the driver owns resources) and the engine only hands out numbers.
//! A call that finds no free port is refused with 503 (counted), so a flood never makes
//! the daemon open unbounded sockets.
//!
//! A port, once announced, stays the engine's: released by one call, it is handed to the
//! next (the driver rebinds it when that session opens).

use std::collections::BTreeSet;

/// The even ports from `port_min` to `port_max` (RTP on the even port, RTCP on the odd
/// one above it, RFC 3550 §11): what a driver without sockets (the simulation, scenario
/// tests) announces at once.
pub fn even_ports(port_min: u16, port_max: u16) -> Vec<u16> {
    let start = port_min + (port_min % 2);
    (start..port_max).step_by(2).collect()
}

/// The announced ports, free or in use.
#[derive(Debug)]
pub struct RtpPortPool {
    port_min: u16,
    port_max: u16,
    free: BTreeSet<u16>,
    announced: usize,
}

impl RtpPortPool {
    /// An empty pool that accepts ports in `[port_min, port_max]`.
    pub fn new(port_min: u16, port_max: u16) -> Self {
        RtpPortPool { port_min, port_max, free: BTreeSet::new(), announced: 0 }
    }

    /// The driver bound `ports`. A port outside the configured range or already known is
    /// refused and counted in the returned number (a driver fault, never a crash).
    pub fn add(&mut self, ports: impl IntoIterator<Item = u16>) -> usize {
        let mut refused = 0;
        for port in ports {
            let in_range = port % 2 == 0 && (self.port_min..self.port_max).contains(&port);
            if in_range && self.free.insert(port) {
                self.announced += 1;
            } else {
                refused += 1;
            }
        }
        refused
    }

    /// Takes the lowest free port, or `None` when none is left.
    pub fn allocate(&mut self) -> Option<u16> {
        self.free.pop_first()
    }

    /// Returns a port to the pool.
    pub fn release(&mut self, port: u16) {
        self.free.insert(port);
    }

    /// Ports in use by calls.
    pub fn in_use(&self) -> usize {
        self.announced - self.free.len()
    }

    /// Ports ready for the next calls.
    pub fn free(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_announced_ports_are_handed_out() {
        let mut pool = RtpPortPool::new(10000, 10010);
        assert_eq!(pool.allocate(), None, "nothing announced yet");
        assert_eq!(pool.add([10004, 10002]), 0);
        assert_eq!(pool.allocate(), Some(10002));
        assert_eq!(pool.allocate(), Some(10004));
        assert_eq!(pool.allocate(), None);
        pool.release(10002);
        assert_eq!((pool.in_use(), pool.free()), (1, 1));
        assert_eq!(pool.allocate(), Some(10002));
    }

    #[test]
    fn ports_outside_the_range_odd_or_twice_announced_are_refused() {
        let mut pool = RtpPortPool::new(10000, 10010);
        assert_eq!(pool.add([9998, 10001, 10010, 10002, 10002]), 4);
        assert_eq!(pool.free(), 1);
    }

    #[test]
    fn even_ports_round_an_odd_start_up() {
        assert_eq!(even_ports(10001, 10006), vec![10002, 10004]);
    }
}
