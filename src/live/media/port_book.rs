//! The daemon's RTP ports: the driver owns the sockets, the engine only numbers. The book
//! binds RTP/RTCP pairs ahead of need and announces them to the engine
//! ([`crate::engine::Input::RtpPortsBound`]); a bound pair is held until a session opens
//! on it, so a port the engine names in an SDP is always ours. A port another process
//! holds is skipped (warned about once, counted in `bind_failures`) and tried again later;
//! running out of file descriptors is said as what it is, not as a held port.
//!
//! Once announced, a port stays the engine's: after its session closes the engine hands
//! it to the next call, and the book binds it again when that session opens.

use super::MediaCounters;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Announced ports the engine should have free at any time: more than the ports one
/// input can take (a caller and an agent leg), so a burst never finds the pool empty while
/// the range has ports left.
pub const SPARE_PORTS: usize = 64;

/// Below this many free ports in the engine, ports that could not be bound are tried
/// again (each at most once per top-up); above it only fresh ports are bound, so a port
/// another process keeps is not knocked on after every input.
pub const RETRY_BELOW_PORTS: usize = 4;

/// Linux `EMFILE` and `ENFILE`: this process or the system is out of file descriptors.
const OUT_OF_DESCRIPTORS: [i32; 2] = [24, 23];

/// The RTP and RTCP sockets of one port pair, bound but not yet in a session.
type SocketPair = (std::net::UdpSocket, std::net::UdpSocket);

/// The daemon's RTP ports: bound and waiting for a session, or not yet announced.
#[derive(Debug)]
pub struct PortBook {
    bind_ip: IpAddr,
    counters: Arc<MediaCounters>,
    /// Bound for a session that has not opened yet.
    reserved: HashMap<u16, SocketPair>,
    /// Ports of the range never announced, lowest first.
    fresh: VecDeque<u16>,
    /// Ports that could not be bound, retried after the fresh ones, oldest first.
    unavailable: VecDeque<u16>,
}

impl PortBook {
    /// A book over the even ports of `[port_min, port_max]`, binding on `bind_ip`.
    pub fn new(bind_ip: IpAddr, port_min: u16, port_max: u16, counters: Arc<MediaCounters>) -> Self {
        let fresh = crate::engine::even_ports(port_min, port_max).into();
        PortBook { bind_ip, counters, reserved: HashMap::new(), fresh, unavailable: VecDeque::new() }
    }

    /// Binds pairs until the engine, which has `engine_free` ports free, has
    /// [`SPARE_PORTS`]; returns the newly bound ports, for the engine. A port that could
    /// not be bound is counted in `bind_failures` the first time only, and tried again
    /// when the engine is short (below [`RETRY_BELOW_PORTS`]).
    pub fn top_up(&mut self, engine_free: usize) -> Vec<u16> {
        let mut bound = Vec::new();
        let mut retries_left = if engine_free < RETRY_BELOW_PORTS { self.unavailable.len() } else { 0 };
        while engine_free + bound.len() < SPARE_PORTS {
            let (port, retry) = match self.fresh.pop_front() {
                Some(port) => (port, false),
                None if retries_left > 0 => {
                    retries_left -= 1;
                    match self.unavailable.pop_front() {
                        Some(port) => (port, true),
                        None => break,
                    }
                }
                None => break,
            };
            match bind_pair(self.bind_ip, port) {
                Ok(pair) => {
                    self.reserved.insert(port, pair);
                    bound.push(port);
                }
                Err(error) => {
                    let out_of_descriptors = error.raw_os_error().is_some_and(|code| OUT_OF_DESCRIPTORS.contains(&code));
                    self.unavailable.push_back(port);
                    if out_of_descriptors {
                        tracing::warn!(rtp_port = port, %error, "out of file descriptors: no more RTP ports now");
                        if !retry {
                            MediaCounters::bump(&self.counters.bind_failures);
                        }
                        break;
                    }
                    if retry {
                        tracing::debug!(rtp_port = port, %error, "RTP port still held by another process");
                    } else {
                        MediaCounters::bump(&self.counters.bind_failures);
                        tracing::warn!(rtp_port = port, %error, "RTP port held by another process; skipped");
                    }
                }
            }
        }
        bound
    }

    /// The sockets for a session opening on `rtp_port`: the reserved pair, or a pair bound
    /// now (a port an earlier session of ours gave back). Must run inside a tokio runtime.
    pub(super) fn open(&mut self, rtp_port: u16) -> io::Result<(tokio::net::UdpSocket, tokio::net::UdpSocket)> {
        let (rtp, rtcp) = match self.reserved.remove(&rtp_port) {
            Some(pair) => pair,
            None => bind_pair(self.bind_ip, rtp_port).inspect_err(|_| MediaCounters::bump(&self.counters.bind_failures))?,
        };
        Ok((into_tokio(rtp)?, into_tokio(rtcp)?))
    }
}

/// Binds RTP on `port` and RTCP on `port + 1`.
fn bind_pair(ip: IpAddr, port: u16) -> io::Result<SocketPair> {
    let rtcp_port = port.checked_add(1).ok_or_else(|| io::Error::other("no port above the RTP port for RTCP"))?;
    Ok((std::net::UdpSocket::bind(SocketAddr::new(ip, port))?, std::net::UdpSocket::bind(SocketAddr::new(ip, rtcp_port))?))
}

fn into_tokio(socket: std::net::UdpSocket) -> io::Result<tokio::net::UdpSocket> {
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four adjacent free ports starting at an even one.
    fn free_even_range() -> u16 {
        loop {
            let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            let port = probe.local_addr().expect("addr").port();
            drop(probe);
            let free = |p: u16| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok();
            if port % 2 == 0 && port < u16::MAX - 8 && (port..port + 4).all(free) {
                return port;
            }
        }
    }

    #[tokio::test]
    async fn bound_ports_are_held_until_their_session_opens_and_a_held_port_is_skipped() {
        let start = free_even_range();
        let counters = Arc::new(MediaCounters::default());
        let _other = std::net::UdpSocket::bind(("127.0.0.1", start)).expect("someone else takes the first port");
        let mut book = PortBook::new([127, 0, 0, 1].into(), start, start + 4, counters.clone());
        assert_eq!(book.top_up(SPARE_PORTS - 5), vec![start + 2], "the held port is skipped");
        assert_eq!(MediaCounters::get(&counters.bind_failures), 1);
        assert!(std::net::UdpSocket::bind(("127.0.0.1", start + 2)).is_err(), "the book holds the announced port");
        let (rtp, _rtcp) = book.open(start + 2).expect("opens on the reserved pair");
        assert_eq!(rtp.local_addr().expect("addr").port(), start + 2);
        drop(_other);
        assert_eq!(book.top_up(0), vec![start], "a port given up by the other process is tried again");
    }

    #[tokio::test]
    async fn nothing_is_bound_while_the_engine_has_enough() {
        let start = free_even_range();
        let mut book = PortBook::new([127, 0, 0, 1].into(), start, start + 4, Arc::new(MediaCounters::default()));
        assert!(book.top_up(SPARE_PORTS).is_empty());
        assert!(std::net::UdpSocket::bind(("127.0.0.1", start)).is_ok());
    }
}
