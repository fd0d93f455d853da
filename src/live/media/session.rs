//! One task per media session: receives the peer's RTP and RTCP, latches the peer's
//! address, detects DTMF, paces prompt playout, watches for a dead stream and, while
//! bridged, relays each packet straight to the other leg (see [`super::relay`]).

use super::counters::MediaCounters;
use super::prompt_cache::PromptCache;
use super::relay::{forward, Leg, Source};
use crate::core::ids::MediaSessionId;
use crate::core::rng::SeededRng;
use crate::engine::{MediaEvent, MediaFormat, PromptRef};
use crate::live::LiveClock;
use crate::media::dtmf::DtmfDetector;
use crate::media::playout::{Playout, Prompt, PromptAudio};
use crate::media::rtp::{is_rtcp, RtpHeaderView};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Largest datagram read on a media port; RTP for 20 ms of G.711 is 172 bytes.
const MEDIA_READ_BUFFER_BYTES: usize = 2048;
/// A deadline far enough away to mean "none" for the one reusable timer.
const NO_DEADLINE: Duration = Duration::from_secs(86_400 * 365);

/// What the media plane tells one session task.
#[derive(Debug)]
pub(super) enum SessionCommand {
    /// New SDP: where to send and how to encode.
    Update {
        remote: Option<SocketAddr>,
        format: MediaFormat,
    },
    /// Replace any playout with these prompts.
    Play {
        prompts: Vec<PromptRef>,
        looped: bool,
        barge_in: bool,
    },
    /// Stop any playout.
    StopPlayout,
    /// The leg was bridged: prompts stop, the relay (run by the receive path) takes over.
    Bridged,
}

/// Everything a session task owns.
pub(super) struct Session {
    pub(super) id: MediaSessionId,
    pub(super) leg: Arc<Leg>,
    pub(super) rtcp: UdpSocket,
    pub(super) commands: mpsc::Receiver<SessionCommand>,
    pub(super) events: mpsc::Sender<MediaEvent>,
    pub(super) counters: Arc<MediaCounters>,
    pub(super) prompts: Arc<PromptCache>,
    pub(super) clock: LiveClock,
    pub(super) inactivity_timeout: Duration,
    pub(super) rng: SeededRng,
}

/// The task's changing state, apart from what it owns.
struct Activity {
    playout: Option<Playout>,
    detector: Option<DtmfDetector>,
    /// A non-looped `Play` is running whose end the engine wants to hear about.
    report_finished: bool,
    /// Inactivity is watched only once the call is established (first `Play` or bridge):
    /// before that, a silent phone is normal (it may wait for our prompt to start).
    inactivity: Inactivity,
    last_packet_at: Instant,
}

/// Where the inactivity watch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inactivity {
    /// The call is not established yet.
    Unarmed,
    /// Check again at this time.
    CheckAt(Instant),
    /// Reported; the engine ends the call, so it is never reported twice.
    Reported,
}

impl Session {
    /// Runs until the media plane drops the command sender (Close).
    pub(super) async fn run(mut self) {
        let format = self.leg.state().format;
        let mut activity = Activity {
            playout: None,
            detector: None,
            report_finished: false,
            inactivity: Inactivity::Unarmed,
            last_packet_at: Instant::now(),
        };
        if let Some(format) = format {
            apply_format(&mut self.rng, &mut activity, format);
        }
        let rtp = self.leg.rtp.clone();
        let mut buf = [0u8; MEDIA_READ_BUFFER_BYTES];
        let mut rtcp_buf = [0u8; MEDIA_READ_BUFFER_BYTES];
        // One fixed "never", so an idle timer is not re-armed on every packet.
        let never = Instant::now() + NO_DEADLINE;
        let timer = tokio::time::sleep_until(never);
        tokio::pin!(timer);
        loop {
            let deadline = self.next_deadline(&activity).unwrap_or(never);
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            // Fixed order (commands first, so a Close or Bridge is never kept waiting);
            // it also spares the per-wake random draw of an unbiased select.
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(&mut activity, command),
                    None => return,
                },
                received = rtp.recv_from(&mut buf) => {
                    if let Ok((len, from)) = received {
                        self.on_rtp_port_datagram(&mut activity, &mut buf[..len], from);
                    }
                }
                received = self.rtcp.recv_from(&mut rtcp_buf) => {
                    if received.is_ok() {
                        MediaCounters::bump(&self.counters.rtcp_packets_received);
                    }
                }
                () = &mut timer => self.on_timer(&mut activity),
            }
        }
    }

    fn next_deadline(&self, activity: &Activity) -> Option<Instant> {
        let playout = activity
            .playout
            .as_ref()
            .and_then(Playout::poll_timeout)
            .map(|at| self.clock.to_tokio(at));
        let dtmf = activity
            .detector
            .as_ref()
            .and_then(DtmfDetector::poll_timeout)
            .map(|at| self.clock.to_tokio(at));
        let inactivity = match activity.inactivity {
            Inactivity::CheckAt(at) => Some(at),
            Inactivity::Unarmed | Inactivity::Reported => None,
        };
        [playout, dtmf, inactivity].into_iter().flatten().min()
    }

    fn on_command(&mut self, activity: &mut Activity, command: SessionCommand) {
        match command {
            SessionCommand::Update { remote, format } => {
                let changed = {
                    let mut state = self.leg.state();
                    if remote.is_some() && remote != state.sdp_remote {
                        // A re-INVITE that moves the peer: send there and learn its source
                        // again. A first address (late offer) does not undo a latch.
                        let moved = state.sdp_remote.is_some();
                        state.sdp_remote = remote;
                        if moved || !state.peer_latched {
                            state.peer = remote;
                            state.peer_latched = false;
                        }
                    }
                    let changed = state.format != Some(format);
                    state.format = Some(format);
                    changed
                };
                if changed {
                    apply_format(&mut self.rng, activity, format);
                }
            }
            SessionCommand::Play {
                prompts,
                looped,
                barge_in,
            } => {
                self.arm_inactivity(activity);
                let Some(playout) = activity.playout.as_mut() else {
                    tracing::info!(session = %self.id, "no negotiated codec yet; prompt not played");
                    return;
                };
                playout.stop();
                let now = self.clock.now().mono;
                let last = prompts.len().saturating_sub(1);
                for (index, prompt) in prompts.iter().enumerate() {
                    let Some(samples) = self.prompts.get(&prompt.0) else {
                        tracing::warn!(prompt = %prompt.0, "prompt not loaded; skipped");
                        continue;
                    };
                    // Only the last prompt loops: a looped prompt gives way to whatever
                    // is queued behind it, so looping earlier ones would cut them short.
                    let prompt = Prompt {
                        audio: PromptAudio::Pcm16(samples),
                        stop_on_digit: barge_in,
                        looped: looped && index == last,
                    };
                    playout.enqueue(now, prompt);
                }
                activity.report_finished = !looped;
                self.report_if_finished(activity);
            }
            SessionCommand::StopPlayout => {
                activity.report_finished = false;
                if let Some(playout) = activity.playout.as_mut() {
                    playout.stop();
                }
            }
            SessionCommand::Bridged => {
                self.arm_inactivity(activity);
                activity.report_finished = false;
                if let Some(playout) = activity.playout.as_mut() {
                    playout.stop();
                }
            }
        }
    }

    fn arm_inactivity(&self, activity: &mut Activity) {
        if activity.inactivity == Inactivity::Unarmed {
            let now = Instant::now();
            activity.last_packet_at = now;
            activity.inactivity = Inactivity::CheckAt(now + self.inactivity_timeout);
        }
    }

    fn on_rtp_port_datagram(&mut self, activity: &mut Activity, packet: &mut [u8], from: SocketAddr) {
        if is_rtcp(packet) {
            MediaCounters::bump(&self.counters.rtcp_packets_received);
            return;
        }
        let Ok(view) = RtpHeaderView::parse(packet) else {
            MediaCounters::bump(&self.counters.rtp_packets_invalid);
            return;
        };
        let (format, bridged_to) = {
            let mut state = self.leg.state();
            if !state.peer_latched {
                // Symmetric RTP (RFC 4961): answer where the peer's packets come from,
                // which behind NAT differs from the address in its SDP.
                state.peer = Some(from);
                state.peer_latched = true;
            } else if state.peer != Some(from) {
                // Once latched, only the peer may feed this session (no injected audio).
                drop(state);
                MediaCounters::bump(&self.counters.rtp_packets_invalid);
                return;
            }
            (state.format, state.bridged_to.clone())
        };
        MediaCounters::bump(&self.counters.rtp_packets_received);
        let now = Instant::now();
        activity.last_packet_at = now;
        let Some(format) = format else { return };
        if Some(view.payload_type()) == format.telephone_event_pt {
            let detected = activity
                .detector
                .as_mut()
                .and_then(|d| d.handle_packet(self.clock.now().mono, &view));
            if let Some(event) = detected {
                self.on_digit(activity, event.digit);
            }
        }
        if let Some(other) = bridged_to {
            match forward(format, &other, packet, now) {
                Ok(()) => MediaCounters::bump(&self.counters.rtp_packets_relayed),
                Err(_) => MediaCounters::bump(&self.counters.rtp_relay_dropped),
            }
        }
    }

    fn on_digit(&self, activity: &mut Activity, digit: char) {
        MediaCounters::bump(&self.counters.dtmf_digits);
        self.report(MediaEvent::Digit {
            session: self.id,
            digit,
        });
        if activity.playout.as_mut().is_some_and(Playout::handle_digit) {
            self.report_if_finished(activity);
        }
    }

    fn on_timer(&mut self, activity: &mut Activity) {
        let core_now = self.clock.now().mono;
        let now = Instant::now();
        if let Some(playout) = activity.playout.as_mut() {
            let source = Source::Prompts(playout.ssrc());
            while let Some(mut frame) = playout.handle_timeout(core_now) {
                let peer = {
                    let mut state = self.leg.state();
                    state.outbound.rewrite(source, &mut frame, now);
                    state.peer
                };
                if let Some(peer) = peer {
                    if self.leg.rtp.try_send_to(&frame, peer).is_ok() {
                        MediaCounters::bump(&self.counters.rtp_packets_sent);
                    }
                }
            }
        }
        self.report_if_finished(activity);
        if let Some(detector) = activity.detector.as_mut() {
            if let Some(event) = detector.handle_timeout(core_now) {
                self.on_digit(activity, event.digit);
            }
        }
        if let Inactivity::CheckAt(check_at) = activity.inactivity {
            if now >= check_at {
                let silent_until = activity.last_packet_at + self.inactivity_timeout;
                if now >= silent_until {
                    activity.inactivity = Inactivity::Reported;
                    MediaCounters::bump(&self.counters.inactivity_timeouts);
                    self.report(MediaEvent::Inactive { session: self.id });
                } else {
                    activity.inactivity = Inactivity::CheckAt(silent_until);
                }
            }
        }
    }

    fn report_if_finished(&self, activity: &mut Activity) {
        if activity.report_finished && activity.playout.as_ref().is_none_or(Playout::is_idle) {
            activity.report_finished = false;
            self.report(MediaEvent::PlayoutFinished { session: self.id });
        }
    }

    fn report(&self, event: MediaEvent) {
        if self.events.try_send(event).is_err() {
            tracing::warn!(session = %self.id, "engine queue full or closed; media event dropped");
        }
    }
}

/// A fresh playout and detector for a (re)negotiated format. The playout's SSRC is new, so
/// the outbound stream treats it as a new source and stays continuous for the peer.
fn apply_format(rng: &mut SeededRng, activity: &mut Activity, format: MediaFormat) {
    activity.playout = Some(Playout::new(format.codec, format.payload_type, rng));
    activity.detector = format.telephone_event_pt.map(DtmfDetector::new);
}
