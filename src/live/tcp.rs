//! SIP over TCP: accepts connections, opens outbound ones, frames each stream by
//! Content-Length (RFC 3261 §18.3) and gives each connection a writer task, so the engine
//! never blocks on a slow peer.
//!
//! Outbound connections (RFC 3261 §18.1.1): the engine never opens sockets; it emits a
//! message for a TCP peer that names a connection or none. [`TcpConnections::send`] uses
//! the named connection while it is open, else an open connection to the peer's address,
//! else opens one (bounded by a connect timeout and the same connection limit as accepted
//! ones). Messages for that address wait, in order and bounded, until the connection is up;
//! an outbound connection gets a writer and a reader exactly like an accepted one. A
//! connect that fails or times out is reported as [`DriverEvent::ConnectFailed`], which
//! the engine hears as a closed connection, so the transactions to that peer fail.
//!
//! Connections are bounded; at the bound new accepted ones are closed at once and no new
//! outbound one is opened (the engine hears a connect failure).

use super::DriverEvent;
use crate::core::ids::ConnectionId;
use crate::sip::msg::StreamFramer;
use crate::sip::transport::{Peer, TransportKind};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Largest SIP message accepted on a stream.
pub const MAX_STREAM_MESSAGE_BYTES: usize = 64 * 1024;
/// Messages queued for one connection's writer before we drop the connection.
const WRITER_QUEUE_BOUND: usize = 1024;
/// How long an outbound connect may take before the peer counts as unreachable. Well
/// below Timer B (64*T1 = 32 s), so a ringing agent leg fails over while the caller waits.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Messages for one address waiting for its outbound connection to come up; beyond it,
/// messages are dropped and counted (the transaction layer's timers then fail them).
pub const PENDING_MESSAGES_PER_CONNECT_BOUND: usize = 64;
/// Bytes read from a stream at once.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Connection ids and the count of open (or opening) connections, shared by the accept
/// loop and outbound connects, so both count against one `max_tcp_connections`.
#[derive(Debug)]
pub struct ConnectionSlots {
    next_id: AtomicU64,
    open: AtomicUsize,
    max_connections: usize,
}

impl ConnectionSlots {
    /// Slots for at most `max_connections` connections at once.
    pub fn new(max_connections: usize) -> Arc<Self> {
        Arc::new(ConnectionSlots { next_id: AtomicU64::new(1), open: AtomicUsize::new(0), max_connections })
    }

    /// Takes a slot; false at the bound.
    fn try_reserve(&self) -> bool {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < self.max_connections).then_some(open + 1))
            .is_ok()
    }

    /// Gives a slot back (the connection closed or never opened).
    fn release(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    fn next_id(&self) -> ConnectionId {
        ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

/// Counters of the TCP transport, for `/health`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TcpStats {
    /// Outbound connections opened.
    pub connects_opened: u64,
    /// Outbound connects that failed, timed out or hit the connection limit.
    pub connect_failures: u64,
    /// Messages dropped: a full writer or connect queue, or a failed connect.
    pub messages_dropped: u64,
}

/// An open connection's writer, as the engine task sees it.
struct Writer {
    remote: SocketAddr,
    tx: mpsc::Sender<Bytes>,
}

/// The engine task's view of TCP: writers of open connections, connections by remote
/// address for reuse, and the messages waiting for connects in flight.
pub struct TcpConnections {
    local: SocketAddr,
    slots: Arc<ConnectionSlots>,
    events: mpsc::Sender<DriverEvent>,
    writers: HashMap<ConnectionId, Writer>,
    /// The newest open connection to each remote address (accepted or outbound).
    by_remote: HashMap<SocketAddr, ConnectionId>,
    /// Connects in flight and what waits for each, in order. Bounded by the connection
    /// limit (a connect holds a slot) and [`PENDING_MESSAGES_PER_CONNECT_BOUND`].
    connecting: HashMap<SocketAddr, VecDeque<Bytes>>,
    stats: TcpStats,
}

impl TcpConnections {
    /// Our SIP address is `local`; connection events go to `events`.
    pub fn new(local: SocketAddr, slots: Arc<ConnectionSlots>, events: mpsc::Sender<DriverEvent>) -> Self {
        TcpConnections {
            local,
            slots,
            events,
            writers: HashMap::new(),
            by_remote: HashMap::new(),
            connecting: HashMap::new(),
            stats: TcpStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Sends `bytes` to `peer`: over its connection while open (responses to requests that
    /// came in over a connection go back over it, RFC 3261 §18.2.2), else over an open
    /// connection to its address, else over a new connection. Never waits.
    pub fn send(&mut self, peer: Peer, bytes: Bytes) {
        let named = peer.connection.filter(|id| self.writers.contains_key(id));
        let reusable = named.or_else(|| self.by_remote.get(&peer.remote).copied());
        if let Some(id) = reusable {
            match self.try_write(id, bytes) {
                None => return,
                // The writer is gone (its write failed): forget it and connect anew.
                Some(unsent) => return self.queue_for_connect(peer.remote, unsent),
            }
        }
        self.queue_for_connect(peer.remote, bytes);
    }

    /// Writes on `id`; gives the bytes back when its writer has ended.
    fn try_write(&mut self, id: ConnectionId, bytes: Bytes) -> Option<Bytes> {
        let writer = self.writers.get(&id)?;
        match writer.tx.try_send(bytes) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.messages_dropped += 1;
                tracing::info!(remote = %writer.remote, connection = %id, "tcp writer full; message dropped");
                None
            }
            Err(mpsc::error::TrySendError::Closed(bytes)) => {
                self.forget(id);
                Some(bytes)
            }
        }
    }

    fn queue_for_connect(&mut self, remote: SocketAddr, bytes: Bytes) {
        if let Some(waiting) = self.connecting.get_mut(&remote) {
            if waiting.len() >= PENDING_MESSAGES_PER_CONNECT_BOUND {
                self.stats.messages_dropped += 1;
                tracing::info!(%remote, "tcp connect queue full; message dropped");
            } else {
                waiting.push_back(bytes);
            }
            return;
        }
        let peer = Peer::tcp(self.local, remote, None);
        if !self.slots.try_reserve() {
            self.stats.connect_failures += 1;
            self.stats.messages_dropped += 1;
            tracing::warn!(%remote, "tcp connection limit reached; not connecting");
            self.report_connect_failure(peer);
            return;
        }
        tracing::info!(%remote, "opening tcp connection");
        self.connecting.insert(remote, VecDeque::from([bytes]));
        tokio::spawn(connect(peer, self.slots.clone(), self.events.clone()));
    }

    /// Tells the engine task, through the event queue, that `peer` cannot be reached.
    fn report_connect_failure(&mut self, peer: Peer) {
        if self.events.try_send(DriverEvent::ConnectRefused { peer }).is_err() {
            // The engine queue is full: its transactions to the peer fail by timeout instead.
            tracing::warn!(remote = %peer.remote, "engine queue full; connect failure not reported");
        }
    }

    /// A connection (accepted or outbound) is up: messages waiting for its address leave
    /// now, in order.
    pub fn on_connected(&mut self, id: ConnectionId, remote: SocketAddr, tx: mpsc::Sender<Bytes>) {
        self.writers.insert(id, Writer { remote, tx });
        self.by_remote.insert(remote, id);
        if let Some(waiting) = self.connecting.remove(&remote) {
            self.stats.connects_opened += 1;
            for bytes in waiting {
                if let Some(_unsent) = self.try_write(id, bytes) {
                    // Closed as soon as opened: the reader reports it; the rest is lost.
                    self.stats.messages_dropped += 1;
                }
            }
        }
    }

    /// A connection closed.
    pub fn on_disconnected(&mut self, id: ConnectionId) {
        self.forget(id);
    }

    /// An outbound connect failed: what waited for it is dropped.
    pub fn on_connect_failed(&mut self, remote: SocketAddr) {
        self.stats.connect_failures += 1;
        let dropped = self.connecting.remove(&remote).map_or(0, |waiting| waiting.len());
        self.stats.messages_dropped += dropped as u64;
    }

    fn forget(&mut self, id: ConnectionId) {
        if let Some(writer) = self.writers.remove(&id) {
            if self.by_remote.get(&writer.remote) == Some(&id) {
                self.by_remote.remove(&writer.remote);
            }
        }
    }
}

/// Opens a connection to `peer.remote` (its slot is already reserved), then serves it.
async fn connect(peer: Peer, slots: Arc<ConnectionSlots>, events: mpsc::Sender<DriverEvent>) {
    let timeout = Duration::from_millis(CONNECT_TIMEOUT_MS);
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(peer.remote)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::info!(%error, remote = %peer.remote, "tcp connect failed");
            return connect_failed(peer, &slots, &events).await;
        }
        Err(_elapsed) => {
            tracing::info!(remote = %peer.remote, timeout_ms = CONNECT_TIMEOUT_MS, "tcp connect timed out");
            return connect_failed(peer, &slots, &events).await;
        }
    };
    let id = slots.next_id();
    tracing::debug!(remote = %peer.remote, connection = %id, "tcp connection opened");
    serve(stream, Peer { connection: Some(id), ..peer }, slots, events).await;
}

async fn connect_failed(peer: Peer, slots: &ConnectionSlots, events: &mpsc::Sender<DriverEvent>) {
    slots.release();
    if events.send(DriverEvent::ConnectFailed { peer }).await.is_err() {
        tracing::debug!(remote = %peer.remote, "engine gone; connect failure not reported");
    }
}

/// Accepts connections until the engine goes away.
pub async fn accept_loop(listener: TcpListener, events: mpsc::Sender<DriverEvent>, slots: Arc<ConnectionSlots>) {
    let local = listener.local_addr().ok();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "tcp accept failed");
                continue;
            }
        };
        let Some(local) = local else { continue };
        if !slots.try_reserve() {
            tracing::warn!(%remote, "tcp connection limit reached; closing new connection");
            drop(stream);
            continue;
        }
        let peer = Peer { transport: TransportKind::Tcp, local, remote, connection: Some(slots.next_id()) };
        if events.is_closed() {
            return;
        }
        tokio::spawn(serve(stream, peer, slots.clone(), events.clone()));
    }
}

/// Serves one open connection (its slot reserved, `peer.connection` set): announces its
/// writer to the engine task, then reads messages until it closes.
async fn serve(stream: TcpStream, peer: Peer, slots: Arc<ConnectionSlots>, events: mpsc::Sender<DriverEvent>) {
    let Some(id) = peer.connection else {
        slots.release();
        return;
    };
    let (writer_tx, mut writer_rx) = mpsc::channel::<Bytes>(WRITER_QUEUE_BOUND);
    // Announced before the reader starts, so the engine task knows the writer before the
    // first message read from the connection.
    if events.send(DriverEvent::Connected { id, remote: peer.remote, writer: writer_tx }).await.is_err() {
        slots.release();
        return;
    }
    let (mut reader, mut writer) = stream.into_split();
    tokio::spawn(async move {
        while let Some(bytes) = writer_rx.recv().await {
            if let Err(error) = writer.write_all(&bytes).await {
                tracing::info!(%error, connection = %id, "tcp write failed");
                break;
            }
        }
    });
    read_connection(&mut reader, peer, &events).await;
    slots.release();
    if events.send(DriverEvent::Disconnected { peer }).await.is_err() {
        tracing::debug!(connection = %id, "engine gone; disconnect not reported");
    }
}

async fn read_connection(reader: &mut tokio::net::tcp::OwnedReadHalf, peer: Peer, events: &mpsc::Sender<DriverEvent>) {
    let mut framer = StreamFramer::new(MAX_STREAM_MESSAGE_BYTES);
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    loop {
        let read = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        framer.push(&buf[..read]);
        loop {
            match framer.next_message() {
                Ok(Some(message)) => {
                    if events.send(DriverEvent::Message { peer, bytes: message }).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    // The caller reports the close (Disconnected), which fails the
                    // connection's transactions like any other close.
                    tracing::info!(%error, remote = %peer.remote, "closing unframeable tcp stream");
                    return;
                }
            }
        }
    }
}
