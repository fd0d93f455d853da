//! Media sockets. The engine allocates RTP port numbers; this binds them (RTP on the even
//! port, RTCP on the odd one, RFC 3550 §11) and, until the media plane lands, receives and
//! counts what arrives so a caller's RTP is not answered with ICMP port-unreachable.

use crate::core::ids::MediaSessionId;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// Packets received on all media sockets (RTP and RTCP).
#[derive(Debug, Default)]
pub struct MediaCounters {
    pub rtp_packets_received: AtomicU64,
    pub rtcp_packets_received: AtomicU64,
    pub bind_failures: AtomicU64,
}

/// Open media sessions.
pub struct MediaSockets {
    ip: IpAddr,
    sessions: HashMap<MediaSessionId, [JoinHandle<()>; 2]>,
    pub counters: Arc<MediaCounters>,
}

impl MediaSockets {
    /// Sockets bound on `ip`.
    pub fn new(ip: IpAddr) -> Self {
        MediaSockets { ip, sessions: HashMap::new(), counters: Arc::new(MediaCounters::default()) }
    }

    /// Binds RTP and RTCP for a session. A failed bind is counted and logged; the call
    /// goes on without media rather than failing signalling that was already promised.
    pub fn open(&mut self, session: MediaSessionId, rtp_port: u16) {
        let rtp = std::net::UdpSocket::bind(SocketAddr::new(self.ip, rtp_port));
        let rtcp = std::net::UdpSocket::bind(SocketAddr::new(self.ip, rtp_port.saturating_add(1)));
        let (Ok(rtp), Ok(rtcp)) = (rtp, rtcp) else {
            self.counters.bind_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(rtp_port, "could not bind media ports");
            return;
        };
        let rtp_task = spawn_counter(rtp, self.counters.clone(), false);
        let rtcp_task = spawn_counter(rtcp, self.counters.clone(), true);
        if let (Some(rtp_task), Some(rtcp_task)) = (rtp_task, rtcp_task) {
            self.sessions.insert(session, [rtp_task, rtcp_task]);
        }
    }

    /// Closes a session's sockets.
    pub fn close(&mut self, session: MediaSessionId) {
        if let Some(tasks) = self.sessions.remove(&session) {
            for task in tasks {
                task.abort();
            }
        }
    }
}

fn spawn_counter(socket: std::net::UdpSocket, counters: Arc<MediaCounters>, rtcp: bool) -> Option<JoinHandle<()>> {
    socket.set_nonblocking(true).ok()?;
    let socket = UdpSocket::from_std(socket).ok()?;
    Some(tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while socket.recv_from(&mut buf).await.is_ok() {
            let counter = if rtcp { &counters.rtcp_packets_received } else { &counters.rtp_packets_received };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }))
}
