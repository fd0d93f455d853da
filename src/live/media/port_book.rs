//! Which RTP ports this daemon really has. The engine names a port in its SDP before a
//! media session exists ([`crate::engine::PortReserver`]); the book binds the RTP/RTCP pair
//! at that moment and keeps the sockets until the session on that port opens, so a port
//! another process holds is skipped instead of costing the call (the warning and the
//! `bind_failures` counter say which port).
//!
//! A port one of our own sessions still holds counts as ours: the engine released it and
//! the media plane closes that session before it opens the next one (commands run in
//! order), so binding it now would fail for the wrong reason.

use super::MediaCounters;
use crate::engine::PortReserver;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

/// The RTP and RTCP sockets of one port pair, bound but not yet in a session.
type SocketPair = (std::net::UdpSocket, std::net::UdpSocket);

/// The daemon's RTP ports: reserved ones and those in sessions.
#[derive(Debug)]
pub struct PortBook {
    bind_ip: IpAddr,
    counters: Arc<MediaCounters>,
    state: Mutex<BookState>,
}

#[derive(Debug, Default)]
struct BookState {
    /// Bound for a session that has not opened yet.
    reserved: HashMap<u16, SocketPair>,
    /// RTP ports of open sessions.
    in_sessions: HashSet<u16>,
}

impl PortBook {
    /// A book binding on `bind_ip`, counting failures in `counters.bind_failures`.
    pub fn new(bind_ip: IpAddr, counters: Arc<MediaCounters>) -> Arc<Self> {
        Arc::new(PortBook { bind_ip, counters, state: Mutex::new(BookState::default()) })
    }

    /// The sockets for a session opening on `rtp_port`: the reserved pair, or a pair bound
    /// now (a port our previous session on it just gave back). Must run inside a tokio
    /// runtime.
    pub(super) fn open(&self, rtp_port: u16) -> std::io::Result<(tokio::net::UdpSocket, tokio::net::UdpSocket)> {
        let reserved = self.state().reserved.remove(&rtp_port);
        let (rtp, rtcp) = match reserved {
            Some(pair) => pair,
            None => match bind_pair(self.bind_ip, rtp_port) {
                Ok(pair) => pair,
                Err(error) => {
                    MediaCounters::bump(&self.counters.bind_failures);
                    return Err(error);
                }
            },
        };
        let pair = (into_tokio(rtp)?, into_tokio(rtcp)?);
        self.state().in_sessions.insert(rtp_port);
        Ok(pair)
    }

    /// The session on `rtp_port` closed and dropped its sockets.
    pub(super) fn session_closed(&self, rtp_port: u16) {
        self.state().in_sessions.remove(&rtp_port);
    }

    fn state(&self) -> MutexGuard<'_, BookState> {
        // The state stays consistent even if a holder panicked: every change is one insert
        // or remove.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PortReserver for Arc<PortBook> {
    fn reserve(&mut self, rtp_port: u16) -> bool {
        let mut state = self.state();
        if state.reserved.contains_key(&rtp_port) || state.in_sessions.contains(&rtp_port) {
            return true;
        }
        match bind_pair(self.bind_ip, rtp_port) {
            Ok(pair) => {
                state.reserved.insert(rtp_port, pair);
                true
            }
            Err(error) => {
                MediaCounters::bump(&self.counters.bind_failures);
                tracing::warn!(rtp_port, %error, "RTP port held by another process; skipped");
                false
            }
        }
    }
}

/// Binds RTP on `port` and RTCP on `port + 1`.
fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<SocketPair> {
    let rtcp_port = port
        .checked_add(1)
        .ok_or_else(|| std::io::Error::other("no port above the RTP port for RTCP"))?;
    Ok((std::net::UdpSocket::bind(SocketAddr::new(ip, port))?, std::net::UdpSocket::bind(SocketAddr::new(ip, rtcp_port))?))
}

fn into_tokio(socket: std::net::UdpSocket) -> std::io::Result<tokio::net::UdpSocket> {
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Arc<PortBook> {
        PortBook::new([127, 0, 0, 1].into(), Arc::new(MediaCounters::default()))
    }

    fn free_even_port() -> u16 {
        // Two adjacent free ports: ask the kernel for one, use it if even and the next is free.
        loop {
            let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            let port = probe.local_addr().expect("addr").port();
            drop(probe);
            if port % 2 == 0 && port < u16::MAX && std::net::UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
                return port;
            }
        }
    }

    #[tokio::test]
    async fn a_reserved_port_is_held_until_its_session_opens_on_it() {
        let mut book = book();
        let port = free_even_port();
        assert!(book.reserve(port));
        assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err(), "the book holds the port");
        let (rtp, _rtcp) = book.open(port).expect("opens on the reserved pair");
        assert_eq!(rtp.local_addr().expect("addr").port(), port);
        assert!(book.reserve(port), "a port in our own session counts as ours");
        assert_eq!(MediaCounters::get(&book.counters.bind_failures), 0);
    }

    #[tokio::test]
    async fn a_port_another_process_holds_is_refused_and_counted() {
        let mut book = book();
        let port = free_even_port();
        let _other = std::net::UdpSocket::bind(("127.0.0.1", port)).expect("someone else takes it");
        assert!(!book.reserve(port));
        assert!(book.open(port).is_err());
        assert_eq!(MediaCounters::get(&book.counters.bind_failures), 2);
    }
}
