//! The live media plane: runs the engine's [`MediaCommand`]s on real UDP sockets and
//! reports [`MediaEvent`]s back. The engine allocates port numbers; this binds them (RTP
//! on the even port, RTCP on the odd one, RFC 3550 §11), runs one task per session
//! (prompt playout, DTMF, inactivity, symmetric RTP) and relays bridged legs without a
//! hop through the engine loop or another task.
//!
//! Decisions: sockets bind on the IP the SIP socket listens on (the advertised address may
//! be a NAT's); the peer's address is latched from its first valid RTP packet (RFC 4961)
//! and later packets from other sources are dropped until a re-INVITE names a new address;
//! inactivity is watched only after the first `Play` or `Bridge`.

mod counters;
mod port_book;
mod prompt_cache;
mod relay;
mod session;

pub use counters::MediaCounters;
pub use port_book::PortBook;
pub use prompt_cache::{PromptCache, PromptError, REQUIRED_PROMPTS};

use crate::core::ids::MediaSessionId;
use crate::core::rng::SeededRng;
use crate::engine::{MediaCommand, MediaEvent, MediaFormat};
use crate::live::LiveClock;
use relay::{Leg, LegState, OutboundStream};
use session::{Session, SessionCommand};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Commands queued per session; the engine never waits on a session (a full queue drops
/// the command with a warning).
const SESSION_COMMAND_BOUND: usize = 32;

/// How the media plane is set up.
#[derive(Debug, Clone)]
pub struct MediaPlaneConfig {
    /// The local IP to bind RTP and RTCP on.
    pub bind_ip: IpAddr,
    /// Silence from an established peer after which the session is reported inactive.
    pub inactivity_timeout: Duration,
    /// The prompts sessions can play.
    pub prompts: Arc<PromptCache>,
    /// The RTP port range (`rtp.port_min`, `rtp.port_max`).
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
}

/// An open session as the plane tracks it.
struct SessionHandle {
    leg: Arc<Leg>,
    commands: mpsc::Sender<SessionCommand>,
    task: JoinHandle<()>,
}

/// All open media sessions. Owned by the engine task; must be used inside a tokio runtime.
pub struct MediaPlane {
    config: MediaPlaneConfig,
    clock: LiveClock,
    rng: SeededRng,
    events: mpsc::Sender<MediaEvent>,
    counters: Arc<MediaCounters>,
    ports: PortBook,
    sessions: HashMap<MediaSessionId, SessionHandle>,
}

impl MediaPlane {
    /// A plane reporting to `events`; `seed` drives SSRCs and initial sequence numbers.
    pub fn new(config: MediaPlaneConfig, clock: LiveClock, seed: u64, events: mpsc::Sender<MediaEvent>) -> Self {
        let counters = Arc::new(MediaCounters::default());
        let ports = PortBook::new(config.bind_ip, config.rtp_port_min, config.rtp_port_max, counters.clone());
        MediaPlane {
            config,
            clock,
            rng: SeededRng::fork(seed, "media-plane"),
            events,
            counters,
            ports,
            sessions: HashMap::new(),
        }
    }

    /// RTP ports bound now for the engine, which has `engine_free` free; announce them
    /// with [`crate::engine::Input::RtpPortsBound`].
    pub fn top_up_ports(&mut self, engine_free: usize) -> Vec<u16> {
        self.ports.top_up(engine_free)
    }

    /// The counters, shared with whoever reports them.
    pub fn counters(&self) -> Arc<MediaCounters> {
        self.counters.clone()
    }

    /// The local RTP address of an open session.
    pub fn rtp_addr(&self, session: MediaSessionId) -> Option<SocketAddr> {
        self.sessions
            .get(&session)
            .and_then(|handle| handle.leg.rtp.local_addr().ok())
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Carries out one engine command. Only `Close` waits, for the session task to end,
    /// so the port is free again when the engine hands it to the next call.
    pub async fn handle(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Open {
                session,
                rtp_port,
                remote,
                format,
                ..
            } => {
                self.close(session).await;
                self.open(session, rtp_port, remote, format);
            }
            MediaCommand::Update {
                session,
                remote,
                format,
            } => {
                self.send(session, SessionCommand::Update { remote, format });
            }
            MediaCommand::Play {
                session,
                prompts,
                looped,
                barge_in,
            } => {
                self.send(
                    session,
                    SessionCommand::Play {
                        prompts,
                        looped,
                        barge_in,
                    },
                );
            }
            MediaCommand::StopPlayout { session } => self.send(session, SessionCommand::StopPlayout),
            MediaCommand::Bridge { a, b } => self.bridge(a, b),
            MediaCommand::Unbridge { a, b } => {
                self.unbridge(a);
                self.unbridge(b);
            }
            MediaCommand::Close { session, .. } => self.close(session).await,
        }
    }

    fn open(
        &mut self,
        session: MediaSessionId,
        rtp_port: u16,
        remote: Option<SocketAddr>,
        format: Option<MediaFormat>,
    ) {
        let (rtp, rtcp) = match self.ports.open(rtp_port) {
            Ok(sockets) => sockets,
            Err(error) => {
                tracing::warn!(%session, rtp_port, %error, "cannot bind media ports");
                if self.events.try_send(MediaEvent::OpenFailed { session }).is_err() {
                    tracing::warn!(%session, "engine queue full or closed; media event dropped");
                }
                return;
            }
        };
        let state = LegState {
            peer: remote,
            peer_latched: false,
            sdp_remote: remote,
            format,
            outbound: OutboundStream::new(self.rng.next_u64()),
            bridged_to: None,
        };
        let leg = Arc::new(Leg::new(Arc::new(rtp), state));
        let (commands, commands_rx) = mpsc::channel(SESSION_COMMAND_BOUND);
        let task = tokio::spawn(
            Session {
                id: session,
                leg: leg.clone(),
                rtcp,
                commands: commands_rx,
                events: self.events.clone(),
                counters: self.counters.clone(),
                prompts: self.config.prompts.clone(),
                clock: self.clock,
                inactivity_timeout: self.config.inactivity_timeout,
                rng: SeededRng::fork(self.rng.next_u64(), "media-session"),
            }
            .run(),
        );
        self.sessions.insert(session, SessionHandle { leg, commands, task });
    }

    fn send(&self, session: MediaSessionId, command: SessionCommand) {
        let Some(handle) = self.sessions.get(&session) else {
            tracing::debug!(%session, ?command, "media command for a session that is not open");
            return;
        };
        if handle.commands.try_send(command).is_err() {
            tracing::warn!(%session, "media session queue full; command dropped");
        }
    }

    fn bridge(&mut self, a: MediaSessionId, b: MediaSessionId) {
        let (Some(leg_a), Some(leg_b)) = (self.sessions.get(&a), self.sessions.get(&b)) else {
            tracing::info!(%a, %b, "bridge of a session that is not open; ignored");
            return;
        };
        let (leg_a, leg_b) = (leg_a.leg.clone(), leg_b.leg.clone());
        self.unbridge(a);
        self.unbridge(b);
        leg_a.state().bridged_to = Some(leg_b.clone());
        leg_b.state().bridged_to = Some(leg_a);
        self.send(a, SessionCommand::Bridged);
        self.send(b, SessionCommand::Bridged);
    }

    /// Ends `session`'s bridge on both sides (the two legs refer to each other).
    fn unbridge(&self, session: MediaSessionId) {
        let Some(handle) = self.sessions.get(&session) else {
            return;
        };
        let other = handle.leg.state().bridged_to.take();
        if let Some(other) = other {
            let mut other_state = other.state();
            if other_state
                .bridged_to
                .as_ref()
                .is_some_and(|back| Arc::ptr_eq(back, &handle.leg))
            {
                other_state.bridged_to = None;
            }
        }
    }

    async fn close(&mut self, session: MediaSessionId) {
        self.unbridge(session);
        let Some(handle) = self.sessions.remove(&session) else {
            return;
        };
        drop(handle.commands);
        // The task sees its queue closed at once and ends, dropping the sockets.
        if let Err(error) = handle.task.await {
            tracing::warn!(%session, %error, "media session task failed");
        }
    }
}

