//! What the media plane would report to the engine in a replay: `PlayoutFinished` after
//! the played prompts' total duration (not for looped playout), and who is bridged to
//! whom. No RTP and no file I/O: prompt durations come in as a name → duration map
//! (the command line reads them from the prompt directory's WAV files).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::core::ids::MediaSessionId;
use crate::core::time::Instant;
use crate::engine::MediaCommand;

/// Prompt durations by prompt name, and the duration assumed for an unknown prompt.
#[derive(Debug, Clone, Default)]
pub struct PromptDurations {
    /// Duration per prompt name (file stem).
    pub by_name: HashMap<String, Duration>,
    /// Used for a prompt not in `by_name`.
    pub default_duration: Duration,
}

impl PromptDurations {
    /// Every prompt lasts `default_duration`.
    pub fn uniform(default_duration: Duration) -> Self {
        PromptDurations { by_name: HashMap::new(), default_duration }
    }

    fn of(&self, name: &str) -> Duration {
        self.by_name.get(name).copied().unwrap_or(self.default_duration)
    }
}

/// What the driver must do after a media command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaReaction {
    /// Report `PlayoutFinished` for `session` at `at` unless its playout `generation` moved on.
    PlayoutFinishes { session: MediaSessionId, at: Instant, generation: u32 },
    /// A menu is playing to the caller at `remote` (barge-in prompt): a digit may follow.
    MenuPlaying { session: MediaSessionId, remote: SocketAddr },
    /// Two sessions were bridged; their remote addresses identify the phones.
    Bridged { a: SocketAddr, b: SocketAddr },
}

#[derive(Debug, Clone, Copy)]
struct Session {
    remote: Option<SocketAddr>,
    generation: u32,
}

/// The simulated media plane.
#[derive(Debug)]
pub struct MediaSim {
    prompts: PromptDurations,
    sessions: HashMap<MediaSessionId, Session>,
}

impl MediaSim {
    /// A media plane whose prompts last as `prompts` says.
    pub fn new(prompts: PromptDurations) -> Self {
        MediaSim { prompts, sessions: HashMap::new() }
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// True when `generation` is still the session's current playout (a finish is due).
    pub fn is_current(&self, session: MediaSessionId, generation: u32) -> bool {
        self.sessions.get(&session).is_some_and(|s| s.generation == generation)
    }

    /// Applies one command, appending what the driver must do to `out`.
    pub fn handle(&mut self, now: Instant, command: &MediaCommand, out: &mut Vec<MediaReaction>) {
        match command {
            MediaCommand::Open { session, remote, .. } => {
                self.sessions.insert(*session, Session { remote: *remote, generation: 0 });
            }
            MediaCommand::Update { session, remote, .. } => {
                if let Some(state) = self.sessions.get_mut(session) {
                    state.remote = remote.or(state.remote);
                }
            }
            MediaCommand::Play { session, prompts, looped, barge_in } => {
                let Some(state) = self.sessions.get_mut(session) else { return };
                state.generation += 1;
                if !*looped {
                    let total: Duration = prompts.iter().map(|p| self.prompts.of(&p.0)).sum();
                    out.push(MediaReaction::PlayoutFinishes { session: *session, at: now + total, generation: state.generation });
                }
                if let (true, Some(remote)) = (*barge_in, state.remote) {
                    out.push(MediaReaction::MenuPlaying { session: *session, remote });
                }
            }
            MediaCommand::StopPlayout { session } => {
                if let Some(state) = self.sessions.get_mut(session) {
                    state.generation += 1;
                }
            }
            MediaCommand::Bridge { a, b } => {
                for session in [a, b] {
                    if let Some(state) = self.sessions.get_mut(session) {
                        state.generation += 1;
                    }
                }
                let remote = |s| self.sessions.get(s).and_then(|state: &Session| state.remote);
                if let (Some(a), Some(b)) = (remote(a), remote(b)) {
                    out.push(MediaReaction::Bridged { a, b });
                }
            }
            MediaCommand::Unbridge { .. } => {}
            MediaCommand::Close { session, .. } => {
                self.sessions.remove(session);
            }
        }
    }
}
