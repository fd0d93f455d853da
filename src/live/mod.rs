//! The live driver: real UDP and TCP sockets, the real clock, the HTTP endpoint and
//! graceful shutdown around one sans-IO [`Engine`]. The only module that uses tokio.
//!
//! One task owns the engine and feeds it inputs in arrival order; socket readers hand it
//! messages over a bounded channel. Outputs leave in the order the engine produced them
//! (ARCHITECTURE rule 4: never reorder a call's messages).

mod clock;
mod http;
pub mod demo;
pub mod loadgen;
pub mod media;
pub mod metrics;
pub mod store;
mod tcp;

pub use clock::LiveClock;

use crate::config::Settings;
use crate::core::ids::ConnectionId;
use crate::dialplan::DialPlan;
use crate::engine::{Engine, EngineConfig, EngineStats, Input, Notification, Output};
use media::{MediaCounters, MediaPlane, MediaPlaneConfig, PromptCache, PromptError};
use crate::sip::timers::SipTimers;
use crate::sip::transport::{Peer, TransportKind};
use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

/// Messages and connection events waiting for the engine task. When full, socket readers
/// wait, and the kernel's socket buffer (then the kernel) sheds UDP load.
const ENGINE_QUEUE_BOUND: usize = 8192;
/// Largest UDP datagram read; anything larger is truncated by the kernel and fails to
/// parse (counted).
const UDP_READ_BUFFER_BYTES: usize = 65_535;
/// Media events (digits, finished prompts) waiting for the engine task.
const MEDIA_EVENT_QUEUE_BOUND: usize = 4096;
/// API requests waiting for the engine task; when full, the API answers 503.
const API_QUEUE_BOUND: usize = 256;

/// Why the daemon could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A listening socket could not be bound.
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    /// The prompt set could not be loaded (the error names the file).
    #[error(transparent)]
    Prompts(#[from] PromptError),
    /// The call-record store could not be opened (the error names the file and why).
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// What a running daemon publishes for the HTTP API: a snapshot, never a lock on the engine.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Snapshot {
    pub active_calls: usize,
    pub active_transactions: usize,
    pub rtp_ports_in_use: usize,
    pub draining: bool,
    pub stats: EngineStats,
    /// Outbound connects and dropped TCP messages.
    pub tcp: tcp::TcpStats,
    /// The media plane's counters, read live when the snapshot is serialised.
    #[serde(serialize_with = "serialize_media_counters")]
    pub media: Arc<MediaCounters>,
}

fn serialize_media_counters<S: serde::Serializer>(counters: &Arc<MediaCounters>, serializer: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(counters.as_ref(), serializer)
}

/// Events from socket tasks to the engine task.
pub enum DriverEvent {
    /// A complete SIP message (a datagram, or a frame of a stream).
    Message { peer: Peer, bytes: Bytes },
    /// A TCP connection (accepted or opened by us) with its writer.
    Connected { id: ConnectionId, remote: SocketAddr, writer: mpsc::Sender<Bytes> },
    /// A TCP connection closed (by the peer, an error, or an unframeable stream).
    Disconnected { peer: Peer },
    /// An outbound connect to `peer.remote` failed or timed out.
    ConnectFailed { peer: Peer },
    /// No outbound connect to `peer.remote` was tried: the connection limit was reached.
    ConnectRefused { peer: Peer },
}

/// The sockets a daemon listens on, bound before it reports ready.
pub struct Listeners {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
    pub http: TcpListener,
}

impl Listeners {
    /// Binds SIP on UDP and TCP at `sip` (port 0: one free port for both) and HTTP.
    pub async fn bind(sip: SocketAddr, http: SocketAddr) -> Result<Self, LiveError> {
        let (udp, tcp) = bind_sip(sip).await?;
        let http = TcpListener::bind(http).await.map_err(|source| LiveError::Bind { what: "http", addr: http, source })?;
        Ok(Listeners { udp, tcp, http })
    }

    /// The SIP address (UDP and TCP share it).
    pub fn sip_addr(&self) -> Option<SocketAddr> {
        self.udp.local_addr().ok()
    }

    /// The HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr().ok()
    }
}

async fn bind_sip(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), LiveError> {
    // With port 0 the kernel picks the UDP port; TCP must then get the same number, which
    // another process may hold: try a few times.
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr).await.map_err(|source| LiveError::Bind { what: "sip udp", addr, source })?;
        let bound = udp.local_addr().map_err(|source| LiveError::Bind { what: "sip udp", addr, source })?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => last_error = Some(LiveError::Bind { what: "sip tcp", addr: bound, source }),
        }
    }
    Err(last_error.unwrap_or(LiveError::Bind {
        what: "sip tcp",
        addr,
        source: std::io::Error::other("no free port"),
    }))
}

/// The engine configuration for `settings`, advertising `sip_addr`.
pub fn engine_config(settings: &Settings, sip_addr: SocketAddr, http_addr: SocketAddr) -> EngineConfig {
    EngineConfig {
        timers: SipTimers { t1_ms: settings.sip.t1_ms, t2_ms: settings.sip.t2_ms, t4_ms: settings.sip.t4_ms },
        advertised: SocketAddr::new(settings.sip.advertised_address(), sip_addr.port()),
        trusted_peers: settings.sip.trusted_peers.clone(),
        user_agent: settings.sip.user_agent.clone(),
        max_transactions: settings.sip.max_transactions,
        max_calls: settings.limits.max_calls,
        max_udp_datagram_bytes: settings.limits.max_udp_datagram_bytes,
        retry_after_s: settings.shutdown.retry_after_s,
        answer_delay_ms: settings.sip.answer_delay_ms,
        http_base_url: format!("http://{http_addr}"),
        outbound_proxy: settings.sip.outbound_proxy,
        max_waiting_calls: settings.limits.max_calls,
        rtp_port_min: settings.rtp.port_min,
        rtp_port_max: settings.rtp.port_max,
        // Replaced in `run` by the store's key; zeros only for callers without a store.
        caller_hash_key: [0u8; 32],
        persist: crate::engine::PersistLimits::default(),
    }
}

/// Runs the daemon on bound `listeners` until `shutdown` resolves and the drain is over.
pub async fn run(
    settings: Settings,
    plan: DialPlan,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LiveError> {
    let prompts = Arc::new(PromptCache::load(&settings.rtp.prompt_directory)?);
    tracing::info!(prompts = prompts.len(), directory = %settings.rtp.prompt_directory.display(), "prompts loaded");
    let clock = LiveClock::start();
    let sip_addr = listeners.sip_addr().unwrap_or(settings.sip.listen);
    let http_addr = listeners.http_addr().unwrap_or(settings.http.listen);
    let mut config = engine_config(&settings, sip_addr, http_addr);
    let seed = clock.now().wall.unix_ms() as u64;
    let (events_tx, mut events) = mpsc::channel(ENGINE_QUEUE_BOUND);
    let (snapshot_tx, snapshot_rx) = watch::channel(Snapshot::default());
    let mut exporter = metrics::MetricsExporter::new(&plan);
    // The store opens before the engine: the engine's caller-hash key lives in it.
    let store::OpenedStore { writer: mut store, caller_hash_key, recent_references } =
        store::StoreWriter::open(&settings.store.path, exporter.store_metrics())?;
    config.caller_hash_key = caller_hash_key;
    tracing::info!(store = %settings.store.path.display(), recent_references = recent_references.len(), "store opened");
    let records = http::RecordsReader::new(store::StoreReader::open(&settings.store.path)?);
    let mut engine = Engine::new(plan, config.clone(), seed, clock.now());
    engine.handle_input(Input::Restored { now: clock.now(), records: Vec::new(), recent_references });
    let (api_tx, mut api_requests) = mpsc::channel(API_QUEUE_BOUND);
    let http_state = http::HttpState {
        snapshot: snapshot_rx,
        engine: api_tx,
        metrics: exporter.handle(),
        tokens: Arc::new(settings.api.tokens.clone()),
        client_errors: exporter.api_error_counter("4xx"),
        server_errors: exporter.api_error_counter("5xx"),
        records,
    };

    let udp = Arc::new(listeners.udp);
    let tcp_slots = tcp::ConnectionSlots::new(settings.limits.max_tcp_connections);
    tokio::spawn(udp_reader(udp.clone(), sip_addr, events_tx.clone()));
    tokio::spawn(tcp::accept_loop(listeners.tcp, events_tx.clone(), tcp_slots.clone()));
    tokio::spawn(http::serve(listeners.http, http_state));
    let mut tcp = tcp::TcpConnections::new(sip_addr, tcp_slots, events_tx);
    let (media_events_tx, mut media_events) = mpsc::channel(MEDIA_EVENT_QUEUE_BOUND);
    let media_config = MediaPlaneConfig {
        bind_ip: sip_addr.ip(),
        inactivity_timeout: Duration::from_secs(settings.rtp.inactivity_timeout_s),
        prompts,
        rtp_port_min: settings.rtp.port_min,
        rtp_port_max: settings.rtp.port_max,
    };
    let mut media = MediaPlane::new(media_config, clock, seed, media_events_tx);
    announce_rtp_ports(&mut engine, &mut media, clock.now());
    let drain = Duration::from_secs(settings.shutdown.drain_s);
    tokio::pin!(shutdown);
    let mut shutting_down = false;
    loop {
        let deadline = engine.poll_timeout().map(|at| clock.to_tokio(at));
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let now = clock.now();
                match event {
                    DriverEvent::Message { peer, bytes } => {
                        exporter.on_received(&bytes);
                        engine.handle_input(Input::Message { now, peer, bytes });
                    }
                    DriverEvent::Connected { id, remote, writer } => tcp.on_connected(id, remote, writer),
                    DriverEvent::Disconnected { peer } => {
                        if let Some(id) = peer.connection { tcp.on_disconnected(id); }
                        engine.handle_input(Input::ConnectionClosed { now, peer });
                    }
                    DriverEvent::ConnectFailed { peer } => {
                        tcp.on_connect_failed(peer.remote);
                        engine.handle_input(Input::ConnectionClosed { now, peer });
                    }
                    DriverEvent::ConnectRefused { peer } => engine.handle_input(Input::ConnectionClosed { now, peer }),
                }
            }
            Some(event) = media_events.recv() => engine.handle_input(Input::Media { now: clock.now(), event }),
            answer = store.next_answer() => engine.handle_input(answer.into_input(clock.now())),
            Some(request) = api_requests.recv() => match request {
                http::ApiRequest::Command { command, reply } => {
                    let _ = reply.send(engine.handle_command(clock.now(), command));
                }
                http::ApiRequest::RefreshMetrics { reply } => {
                    exporter.refresh(clock.now(), &mut engine, &media.counters());
                    let _ = reply.send(());
                }
            },
            _ = sleep_until_deadline(deadline) => engine.handle_input(Input::Timeout(clock.now())),
            _ = &mut shutdown, if !shutting_down => {
                shutting_down = true;
                tracing::info!(drain_s = drain.as_secs(), active_calls = engine.active_calls(), "shutting down: refusing new calls, draining");
                engine.handle_input(Input::Shutdown { now: clock.now(), drain });
            }
        }
        let mut drained = false;
        while let Some(output) = engine.poll_output() {
            match output {
                Output::Transmit { peer, bytes } => {
                    exporter.on_sent(&bytes);
                    transmit(&udp, &mut tcp, peer, bytes).await;
                }
                Output::Media(command) => media.handle(command).await,
                Output::Notify(Notification::Drained) => drained = true,
                Output::Notify(notification) => exporter.on_notification(clock.now(), &notification),
                Output::Persist { ticket, record } => store.persist(ticket, record),
            }
        }
        announce_rtp_ports(&mut engine, &mut media, clock.now());
        snapshot_tx.send_replace(Snapshot {
            active_calls: engine.active_calls(),
            active_transactions: engine.active_transactions(),
            rtp_ports_in_use: engine.rtp_ports_in_use(),
            draining: shutting_down,
            stats: engine.stats().clone(),
            tcp: tcp.stats(),
            media: media.counters(),
        });
        if drained {
            tracing::info!("all calls ended; stopping");
            break;
        }
    }
    // Everything the engine asked to keep is written before the process exits.
    if let Err(error) = tokio::task::spawn_blocking(move || store.finish()).await {
        tracing::error!(%error, "store writer did not finish");
    }
    Ok(())
}

/// Binds RTP ports ahead of need and hands them to the engine (the driver owns the
/// sockets; the engine only names ports it was given). Announcing produces no outputs.
fn announce_rtp_ports(engine: &mut Engine, media: &mut MediaPlane, now: crate::core::time::Now) {
    let ports = media.top_up_ports(engine.rtp_ports_free());
    if !ports.is_empty() {
        engine.handle_input(Input::RtpPortsBound { now, ports });
    }
}

async fn sleep_until_deadline(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends one engine output. UDP goes straight out; TCP goes over the peer's connection,
/// or one the driver reuses or opens ([`tcp::TcpConnections::send`]): the engine never
/// opens sockets and never waits for a connect.
async fn transmit(udp: &UdpSocket, tcp: &mut tcp::TcpConnections, peer: Peer, bytes: Bytes) {
    match peer.transport {
        TransportKind::Udp => {
            if let Err(error) = udp.send_to(&bytes, peer.remote).await {
                tracing::debug!(%error, remote = %peer.remote, "udp send failed");
            }
        }
        TransportKind::Tcp => tcp.send(peer, bytes),
    }
}

async fn udp_reader(socket: Arc<UdpSocket>, local: SocketAddr, events: mpsc::Sender<DriverEvent>) {
    let mut buf = vec![0u8; UDP_READ_BUFFER_BYTES];
    loop {
        let (len, remote) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                // ICMP errors from earlier sends surface here on some systems; keep reading.
                tracing::debug!(%error, "udp receive error");
                continue;
            }
        };
        let peer = Peer { transport: TransportKind::Udp, local, remote, connection: None };
        let bytes = Bytes::copy_from_slice(&buf[..len]);
        if events.send(DriverEvent::Message { peer, bytes }).await.is_err() {
            return;
        }
    }
}
