//! Which legs of a call hear each other: the call's bridge list and the media plane's
//! relays kept in step, and the call's phase.

use super::call::Phase;
use super::media_commands::MediaCommand;
use super::{Engine, Output};
use crate::core::ids::{CallId, LegId};

impl Engine {
    /// Relays media between two legs of a call.
    pub(super) fn bridge(&mut self, call_id: CallId, a: LegId, b: LegId) {
        let (Some(media_a), Some(media_b)) = (self.legs.get(a).map(|l| l.media), self.legs.get(b).map(|l| l.media)) else { return };
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.bridges.push((a, b));
        }
        self.outputs.push_back(Output::Media(MediaCommand::Bridge { a: media_a, b: media_b }));
    }

    /// Stops relaying media between two legs of a call.
    pub(super) fn unbridge(&mut self, call_id: CallId, a: LegId, b: LegId) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        let before = call.bridges.len();
        call.bridges.retain(|&(x, y)| !((x == a && y == b) || (x == b && y == a)));
        if call.bridges.len() == before {
            return;
        }
        if let (Some(media_a), Some(media_b)) = (self.legs.get(a).map(|l| l.media), self.legs.get(b).map(|l| l.media)) {
            self.outputs.push_back(Output::Media(MediaCommand::Unbridge { a: media_a, b: media_b }));
        }
    }

    pub(super) fn set_phase(&mut self, call_id: CallId, phase: Phase) {
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.phase = phase;
        }
    }
}
