//! What the media plane reports: digits, finished prompts, dead streams. Until the ACD
//! takes over, a caller hears the welcome and then hold music.

use super::call::{CallState, EndReason};
use super::media_commands::{MediaCommand, MediaEvent, PromptRef};
use super::{Engine, Output};
use crate::core::ids::{CallId, MediaSessionId};

/// Played once when a call is established.
pub const WELCOME_PROMPT: &str = "welcome";
/// Looped while the caller waits.
pub const HOLD_MUSIC_PROMPT: &str = "hold_music";

impl Engine {
    /// Asks the media plane to play `prompts` on `session`.
    pub(super) fn play(&mut self, session: MediaSessionId, prompts: &[&str], looped: bool) {
        let prompts = prompts.iter().map(|name| PromptRef::new(name)).collect();
        self.outputs.push_back(Output::Media(MediaCommand::Play { session, prompts, looped, barge_in: false }));
    }

    pub(super) fn on_media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Digit { session, digit } => {
                if let Some(call) = self.call_by_media(session) {
                    tracing::info!(call = %call, %digit, "caller pressed a key");
                }
            }
            MediaEvent::PlayoutFinished { session } => {
                let established = self
                    .call_by_media(session)
                    .and_then(|id| self.calls.get(&id))
                    .is_some_and(|call| call.state == CallState::Established);
                if established {
                    self.play(session, &[HOLD_MUSIC_PROMPT], true);
                }
            }
            MediaEvent::Inactive { session } => {
                if let Some(call) = self.call_by_media(session) {
                    tracing::info!(call = %call, "no RTP from the caller; ending the call");
                    self.hang_up(call, EndReason::MediaInactive);
                }
            }
            MediaEvent::OpenFailed { session } => {
                if let Some(call) = self.call_by_media(session) {
                    self.hang_up(call, EndReason::MediaUnavailable);
                }
            }
        }
    }

    fn call_by_media(&self, session: MediaSessionId) -> Option<CallId> {
        self.calls.values().find(|call| call.media == session).map(|call| call.id)
    }
}
