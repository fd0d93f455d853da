//! Prompt playout pacing: turns a queue of prompts into 20 ms RTP frames on a fixed
//! deadline grid. One RTP stream spans all prompts of a leg, so sequence numbers and
//! timestamps run on across prompt changes (RFC 3550 §5.1); a pause while the queue is
//! empty advances the timestamp by the silent time and the next frame carries the marker
//! bit as the start of a talk spurt (RFC 3551 §4.1).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::g711;
use super::rtp::{write_rtp, RtpHeader};
use super::sdp::Codec;
use crate::core::rng::SeededRng;
use crate::core::time::Instant;

/// Samples per 20 ms frame at 8 kHz.
pub const SAMPLES_PER_FRAME: usize = 160;
/// The frame interval.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(20);
/// G.711 samples per millisecond.
const SAMPLES_PER_MS: u64 = 8;

/// The audio of a prompt.
#[derive(Clone, Debug)]
pub enum PromptAudio {
    /// G.711 bytes in `codec`, transcoded if the leg negotiated the other law.
    Encoded {
        /// The law the bytes are in.
        codec: Codec,
        /// One byte per sample.
        samples: Arc<[u8]>,
    },
    /// 16-bit linear samples at 8 kHz, encoded for the leg's codec as they play.
    Pcm16(Arc<[i16]>),
}

impl PromptAudio {
    fn len(&self) -> usize {
        match self {
            PromptAudio::Encoded { samples, .. } => samples.len(),
            PromptAudio::Pcm16(samples) => samples.len(),
        }
    }

    fn encoded_sample(&self, index: usize, codec: Codec) -> u8 {
        match self {
            PromptAudio::Encoded { codec: source, samples } => match (source, codec) {
                (Codec::Pcma, Codec::Pcmu) => g711::alaw_to_ulaw(samples[index]),
                (Codec::Pcmu, Codec::Pcma) => g711::ulaw_to_alaw(samples[index]),
                _ => samples[index],
            },
            PromptAudio::Pcm16(samples) => g711::encode(codec, samples[index]),
        }
    }
}

/// A prompt to play.
#[derive(Clone, Debug)]
pub struct Prompt {
    /// The audio.
    pub audio: PromptAudio,
    /// Barge-in: a caller's key press stops this prompt (see [`Playout::handle_digit`]).
    pub stop_on_digit: bool,
    /// Repeat until stopped or until another prompt is queued behind it (hold music).
    pub looped: bool,
}

impl Prompt {
    /// A prompt played once that a key press does not interrupt.
    pub fn once(audio: PromptAudio) -> Self {
        Prompt { audio, stop_on_digit: false, looped: false }
    }
}

/// The RTP sender of one leg's prompts.
#[derive(Debug)]
pub struct Playout {
    codec: Codec,
    payload_type: u8,
    ssrc: u32,
    next_sequence: u16,
    next_timestamp: u32,
    /// When the next frame is due; meaningful only while the queue is not empty.
    next_deadline: Instant,
    /// The deadline and timestamp of the last frame sent, to time the gap of a pause.
    last_frame: Option<(Instant, u32)>,
    next_frame_starts_talk_spurt: bool,
    queue: VecDeque<Prompt>,
    /// Sample offset in the prompt at the head of the queue.
    position: usize,
}

impl Playout {
    /// A sender for the negotiated codec; SSRC, first sequence number and first timestamp
    /// are random (RFC 3550 §5.1) and drawn from `rng` so runs replay.
    pub fn new(codec: Codec, payload_type: u8, rng: &mut SeededRng) -> Self {
        let random = rng.next_u64();
        Playout {
            codec,
            payload_type,
            ssrc: (random >> 32) as u32,
            next_timestamp: random as u32,
            next_sequence: rng.next_u64() as u16,
            next_deadline: Instant::ZERO,
            last_frame: None,
            next_frame_starts_talk_spurt: true,
            queue: VecDeque::new(),
            position: 0,
        }
    }

    /// The SSRC of this stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Whether nothing is playing or queued.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `prompt` at `now`; playing starts at once when idle. Empty prompts are dropped.
    pub fn enqueue(&mut self, now: Instant, prompt: Prompt) {
        if prompt.audio.len() == 0 {
            return;
        }
        if self.queue.is_empty() {
            self.start_talk_spurt(now);
        }
        self.queue.push_back(prompt);
    }

    /// Stops playing and drops every queued prompt.
    pub fn stop(&mut self) {
        self.queue.clear();
        self.position = 0;
    }

    /// A caller pressed a key: stops the current prompt if it allows barge-in, with the
    /// barge-in prompts queued right behind it (the rest of the same announcement).
    /// Returns whether anything was stopped.
    pub fn handle_digit(&mut self) -> bool {
        let mut stopped = false;
        while self.queue.front().is_some_and(|prompt| prompt.stop_on_digit) {
            self.queue.pop_front();
            self.position = 0;
            stopped = true;
        }
        if stopped && !self.queue.is_empty() {
            // What remains starts after a gap, however short: a new talk spurt.
            self.next_frame_starts_talk_spurt = true;
        }
        stopped
    }

    /// When the next frame is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.queue.is_empty()).then_some(self.next_deadline)
    }

    /// Produces the frame due at or before `now` as RTP packet bytes. A late caller gets
    /// one frame per call on the unchanged grid, so calling until [`Self::poll_timeout`]
    /// is in the future catches up without drift.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.queue.is_empty() || now < self.next_deadline {
            return None;
        }
        let payload = self.next_frame_payload();
        let header = RtpHeader {
            marker: self.next_frame_starts_talk_spurt,
            payload_type: self.payload_type,
            sequence: self.next_sequence,
            timestamp: self.next_timestamp,
            ssrc: self.ssrc,
        };
        let mut packet = Vec::new();
        write_rtp(&mut packet, &header, &payload);
        self.last_frame = Some((self.next_deadline, self.next_timestamp));
        self.next_frame_starts_talk_spurt = false;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.next_timestamp = self.next_timestamp.wrapping_add(SAMPLES_PER_FRAME as u32);
        self.next_deadline += FRAME_INTERVAL;
        Some(packet)
    }

    /// Begins a talk spurt at `now`: the timestamp jumps by the silent time since the last
    /// frame, and frames never come closer than the frame interval.
    fn start_talk_spurt(&mut self, now: Instant) {
        self.next_frame_starts_talk_spurt = true;
        self.position = 0;
        match self.last_frame {
            None => self.next_deadline = now,
            Some((last_deadline, last_timestamp)) => {
                self.next_deadline = now.max(last_deadline + FRAME_INTERVAL);
                let silent_micros = (self.next_deadline - last_deadline).as_micros() as u64;
                let silent_samples = silent_micros * SAMPLES_PER_MS / 1000;
                self.next_timestamp = last_timestamp.wrapping_add(silent_samples as u32);
            }
        }
    }

    /// Fills one frame from the head of the queue, looping or padding with silence at the
    /// end of a prompt; a finished prompt leaves the queue.
    fn next_frame_payload(&mut self) -> Vec<u8> {
        let silence = g711::silence(self.codec);
        if self.queue.front().is_some_and(|prompt| prompt.looped) && self.queue.len() > 1 {
            // Hold music gives way to a queued announcement at the next frame.
            self.queue.pop_front();
            self.position = 0;
        }
        let mut payload = Vec::with_capacity(SAMPLES_PER_FRAME);
        while payload.len() < SAMPLES_PER_FRAME {
            let Some(prompt) = self.queue.front() else {
                payload.resize(SAMPLES_PER_FRAME, silence);
                break;
            };
            let take = (SAMPLES_PER_FRAME - payload.len()).min(prompt.audio.len() - self.position);
            payload.extend((self.position..self.position + take).map(|i| prompt.audio.encoded_sample(i, self.codec)));
            self.position += take;
            if self.position < prompt.audio.len() {
                continue;
            }
            self.position = 0;
            if prompt.looped && self.queue.len() == 1 {
                continue;
            }
            self.queue.pop_front();
            // The next prompt starts on a frame boundary, so its first word is not clipped.
            payload.resize(SAMPLES_PER_FRAME, silence);
        }
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::RtpHeaderView;

    fn pcm(len: usize, value: i16) -> Prompt {
        Prompt::once(PromptAudio::Pcm16(vec![value; len].into()))
    }

    fn playout() -> Playout {
        Playout::new(Codec::Pcma, 8, &mut SeededRng::fork(1, "playout"))
    }

    /// Runs the playout in virtual time by jumping to each deadline until idle or `limit`.
    fn run(playout: &mut Playout, limit: Instant) -> Vec<(Instant, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Some(deadline) = playout.poll_timeout().filter(|d| *d <= limit) {
            let packet = playout.handle_timeout(deadline).expect("a frame is due at its deadline");
            frames.push((deadline, packet));
        }
        frames
    }

    fn view(packet: &[u8]) -> RtpHeaderView<'_> {
        RtpHeaderView::parse(packet).expect("playout writes valid RTP")
    }

    #[test]
    fn frames_are_paced_and_continuous_across_prompts() {
        let mut playout = playout();
        let start = Instant::from_micros(1_000_000);
        playout.enqueue(start, pcm(400, 1000));
        playout.enqueue(start, pcm(160, -1000));
        let frames = run(&mut playout, Instant::from_micros(u64::MAX));
        // 400 samples → 3 frames (last one padded), then 1 frame.
        assert_eq!(frames.len(), 4);
        let first = view(&frames[0].1);
        for (index, (deadline, packet)) in frames.iter().enumerate() {
            let header = view(packet);
            assert_eq!(*deadline, start + FRAME_INTERVAL * index as u32);
            assert_eq!(header.sequence(), first.sequence().wrapping_add(index as u16));
            assert_eq!(header.timestamp(), first.timestamp().wrapping_add(160 * index as u32));
            assert_eq!(header.ssrc(), playout.ssrc());
            assert_eq!(header.marker(), index == 0);
            assert_eq!(header.payload().len(), SAMPLES_PER_FRAME);
        }
        let third = view(&frames[2].1);
        assert_eq!(third.payload()[79], g711::linear_to_alaw(1000));
        assert_eq!(third.payload()[80], g711::silence(Codec::Pcma));
        assert_eq!(view(&frames[3].1).payload()[0], g711::linear_to_alaw(-1000));
        assert!(playout.is_idle());
        assert_eq!(playout.poll_timeout(), None);
    }

    #[test]
    fn no_frame_before_its_deadline() {
        let mut playout = playout();
        playout.enqueue(Instant::ZERO, pcm(480, 1));
        assert!(playout.handle_timeout(Instant::ZERO).is_some());
        assert_eq!(playout.handle_timeout(Instant::from_micros(19_999)), None);
        assert!(playout.handle_timeout(Instant::from_micros(20_000)).is_some());
    }

    #[test]
    fn pause_advances_timestamp_by_silent_time_and_marks_the_new_spurt() {
        let mut playout = playout();
        playout.enqueue(Instant::ZERO, pcm(160, 1));
        let first = run(&mut playout, Instant::from_micros(u64::MAX));
        let resume_at = Instant::from_micros(1_000_000);
        playout.enqueue(resume_at, pcm(160, 1));
        let second = run(&mut playout, Instant::from_micros(u64::MAX));
        let (a, b) = (view(&first[0].1), view(&second[0].1));
        assert_eq!(second[0].0, resume_at);
        assert_eq!(b.sequence(), a.sequence().wrapping_add(1));
        assert_eq!(b.timestamp(), a.timestamp().wrapping_add(8000));
        assert!(b.marker());
        // Re-queued immediately: still a new spurt, but never closer than one frame.
        playout.enqueue(resume_at + Duration::from_millis(25), pcm(160, 1));
        let third = run(&mut playout, Instant::from_micros(u64::MAX));
        assert_eq!(third[0].0, resume_at + Duration::from_millis(25));
        assert_eq!(view(&third[0].1).timestamp(), b.timestamp().wrapping_add(200));
        let mut playout = self::playout();
        playout.enqueue(Instant::ZERO, pcm(160, 1));
        run(&mut playout, Instant::from_micros(u64::MAX));
        playout.enqueue(Instant::from_micros(5_000), pcm(160, 1));
        assert_eq!(playout.poll_timeout(), Some(Instant::from_micros(20_000)));
    }

    #[test]
    fn looped_prompt_repeats_until_another_is_queued() {
        let mut playout = playout();
        let music: Arc<[i16]> = (0..100).map(|i| i * 100).collect::<Vec<i16>>().into();
        playout.enqueue(Instant::ZERO, Prompt { audio: PromptAudio::Pcm16(music), stop_on_digit: false, looped: true });
        let frames = run(&mut playout, Instant::from_micros(1_000_000));
        assert_eq!(frames.len(), 51);
        // Sample 160 of the stream is sample 60 of the second pass: no padding at the wrap.
        assert_eq!(view(&frames[1].1).payload()[0], g711::linear_to_alaw(6000));
        assert!(!playout.is_idle());
        let announcement_at = frames.last().map(|(at, _)| *at + FRAME_INTERVAL).expect("frames");
        playout.enqueue(announcement_at, pcm(160, -5));
        let rest = run(&mut playout, Instant::from_micros(u64::MAX));
        assert_eq!(rest.len(), 1, "the music gives way at the next frame");
        let last = view(&rest.last().expect("the announcement plays").1);
        assert_eq!(last.payload()[0], g711::linear_to_alaw(-5));
        assert!(!last.marker(), "no gap between music and announcement");
        assert!(playout.is_idle());
    }

    #[test]
    fn barge_in_stops_the_announcement_but_not_the_rest() {
        let mut playout = playout();
        let barge = |value| Prompt { stop_on_digit: true, ..pcm(320, value) };
        playout.enqueue(Instant::ZERO, barge(1));
        playout.enqueue(Instant::ZERO, barge(2));
        playout.enqueue(Instant::ZERO, pcm(160, 3));
        assert!(playout.handle_timeout(Instant::ZERO).is_some());
        assert!(playout.handle_digit());
        assert!(!playout.handle_digit(), "the remaining prompt does not allow barge-in");
        let frames = run(&mut playout, Instant::from_micros(u64::MAX));
        assert_eq!(frames.len(), 1);
        let header = view(&frames[0].1);
        assert!(header.marker());
        assert_eq!(header.payload()[0], g711::linear_to_alaw(3));
    }

    #[test]
    fn encoded_prompts_are_transcoded_for_the_leg() {
        let mut playout = Playout::new(Codec::Pcmu, 0, &mut SeededRng::fork(2, "playout"));
        playout.enqueue(
            Instant::ZERO,
            Prompt::once(PromptAudio::Encoded { codec: Codec::Pcma, samples: vec![0xaa; 160].into() }),
        );
        playout.enqueue(
            Instant::ZERO,
            Prompt::once(PromptAudio::Encoded { codec: Codec::Pcmu, samples: vec![0x12; 160].into() }),
        );
        playout.enqueue(Instant::ZERO, Prompt::once(PromptAudio::Pcm16(Vec::new().into())));
        let frames = run(&mut playout, Instant::from_micros(u64::MAX));
        assert_eq!(frames.len(), 2);
        assert_eq!(view(&frames[0].1).payload_type(), 0);
        assert_eq!(view(&frames[0].1).payload()[0], g711::alaw_to_ulaw(0xaa));
        assert_eq!(view(&frames[1].1).payload()[0], 0x12);
    }

    #[test]
    fn seeded_start_values_replay() {
        let a = Playout::new(Codec::Pcma, 8, &mut SeededRng::fork(9, "playout"));
        let b = Playout::new(Codec::Pcma, 8, &mut SeededRng::fork(9, "playout"));
        let c = Playout::new(Codec::Pcma, 8, &mut SeededRng::fork(10, "playout"));
        assert_eq!((a.ssrc, a.next_sequence, a.next_timestamp), (b.ssrc, b.next_sequence, b.next_timestamp));
        assert_ne!(a.ssrc, c.ssrc);
    }
}
