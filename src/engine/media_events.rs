//! What the media plane reports: digits (menu choices), finished prompts (hold music
//! resumes, the menu timeout starts, a last prompt ends the call), dead streams.

use super::call::{EndReason, Phase};
use super::media_commands::{MediaCommand, MediaEvent, PromptRef};
use super::leg::Party;
use super::{Engine, Output};
use crate::core::ids::{CallId, MediaSessionId};

/// Looped while the caller waits.
pub const HOLD_MUSIC_PROMPT: &str = "hold_music";

impl Engine {
    /// Asks the media plane to play `prompts` on `session`, replacing what plays.
    pub(super) fn play_prompts(&mut self, session: MediaSessionId, prompts: Vec<String>, looped: bool, barge_in: bool) {
        let prompts = prompts.iter().map(|name| PromptRef::new(name)).collect();
        self.outputs.push_back(Output::Media(MediaCommand::Play { session, prompts, looped, barge_in }));
    }

    pub(super) fn on_media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Digit { session, digit } => {
                if let Some(call) = self.caller_call(session) {
                    tracing::info!(call = %call, reference = %self.reference_label(call), %digit, "caller pressed a key");
                    self.on_digit(call, digit);
                }
            }
            MediaEvent::PlayoutFinished { session } => {
                let Some(id) = self.caller_call(session) else { return };
                let Some(phase) = self.calls.get(&id).map(|call| call.phase.clone()) else { return };
                match phase {
                    // Between announcements the caller hears hold music.
                    Phase::Queued => self.play_prompts(session, vec![HOLD_MUSIC_PROMPT.to_string()], true, false),
                    Phase::Menu => self.on_menu_prompt_finished(id),
                    Phase::Leaving(_) => self.on_leave_timeout(id),
                    Phase::Answering | Phase::Connected | Phase::Transferring => {}
                }
            }
            MediaEvent::Inactive { session } => {
                if let Some(call) = self.caller_call(session) {
                    tracing::info!(call = %call, reference = %self.reference_label(call), "no RTP from the caller; ending the call");
                    self.hang_up(call, EndReason::MediaInactive);
                }
            }
            MediaEvent::OpenFailed { session } => {
                if let Some(call) = self.caller_call(session) {
                    self.hang_up(call, EndReason::MediaUnavailable);
                }
            }
        }
    }

    /// The caller's media session of `call` (prompts and hold music play there).
    pub(super) fn caller_media(&self, call: CallId) -> Option<MediaSessionId> {
        self.legs.get(self.calls.get(&call)?.caller).map(|leg| leg.media)
    }

    /// The call whose caller's media session this is. Events of other parties' sessions
    /// (an agent's phone) change nothing: the caller's leg drives the call's flow.
    fn caller_call(&self, session: MediaSessionId) -> Option<CallId> {
        let leg = self.legs.get(self.legs.by_media(session)?)?;
        (leg.party == Party::Caller).then_some(leg.call)
    }
}
