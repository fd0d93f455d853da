//! The committed Dutch prompt set: every WAV is a usable prompt (8 kHz mono 16-bit PCM),
//! the README lists exactly the files that exist, and a composed announcement plays out
//! as one continuous RTP stream.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use veertien::core::rng::SeededRng;
use veertien::core::time::Instant;
use veertien::media::playout::{Playout, Prompt, PromptAudio, SAMPLES_PER_FRAME};
use veertien::media::rtp::RtpHeaderView;
use veertien::media::sdp::Codec;
use veertien::media::wav::parse_wav;

const SAMPLE_RATE_HZ: usize = 8000;
const MAX_TOTAL_BYTES: u64 = 2 * 1024 * 1024;

fn prompt_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/prompts")
}

fn load(name: &str) -> Vec<i16> {
    let bytes = fs::read(prompt_dir().join("nl").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    parse_wav(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn wav_names() -> BTreeSet<String> {
    fs::read_dir(prompt_dir().join("nl"))
        .expect("the prompt directory exists")
        .map(|entry| entry.expect("readable entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wav"))
        .collect()
}

#[test]
fn every_prompt_parses_with_a_plausible_length() {
    let names = wav_names();
    let mut total_bytes = 0;
    for name in &names {
        total_bytes += fs::metadata(prompt_dir().join("nl").join(name)).expect("metadata").len();
        let samples = load(name);
        let seconds = samples.len() as f64 / SAMPLE_RATE_HZ as f64;
        if name == "hold_music.wav" {
            assert!((19.0..=21.0).contains(&seconds), "{name}: {seconds} s");
        } else {
            // A five-option menu is the longest speech prompt.
            assert!((0.2..=20.0).contains(&seconds), "{name}: {seconds} s");
        }
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 1000, "{name} is (nearly) silent");
    }
    assert!(total_bytes < MAX_TOTAL_BYTES, "prompt set is {total_bytes} bytes");
}

#[test]
fn readme_lists_exactly_the_generated_files() {
    let readme = fs::read_to_string(prompt_dir().join("README.md")).expect("README exists");
    let listed: BTreeSet<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, wav_names());
    let mut required: Vec<String> = (0..=20).chain((30..=90).step_by(10)).map(|n| format!("num_{n}.wav")).collect();
    required.extend(
        [
            "welcome",
            "position_prefix",
            "position_suffix",
            "wait_prefix",
            "wait_less_than_minute",
            "wait_about",
            "wait_more_than",
            "wait_minutes",
            "callback_offer",
            "transfer_failed",
            "reference_prefix",
            "closed",
            "hold_music",
            "num_and",
        ]
        .map(|name| format!("{name}.wav")),
    );
    for name in required {
        assert!(listed.contains(&name), "{name} missing");
    }
}

#[test]
fn composed_queue_position_plays_as_one_stream() {
    let parts = ["position_prefix.wav", "num_3.wav", "position_suffix.wav"];
    let mut playout = Playout::new(Codec::Pcma, 8, &mut SeededRng::fork(14, "prompts-test"));
    let mut expected_frames = 0;
    for name in parts {
        let samples = load(name);
        expected_frames += samples.len().div_ceil(SAMPLES_PER_FRAME);
        playout.enqueue(Instant::ZERO, Prompt::once(PromptAudio::Pcm16(samples.into())));
    }
    let mut packets = Vec::new();
    while let Some(deadline) = playout.poll_timeout() {
        packets.push(playout.handle_timeout(deadline).expect("frame due at its deadline"));
    }
    assert_eq!(packets.len(), expected_frames);
    let views: Vec<RtpHeaderView<'_>> = packets.iter().map(|p| RtpHeaderView::parse(p).expect("valid RTP")).collect();
    for pair in views.windows(2) {
        assert_eq!(pair[1].sequence(), pair[0].sequence().wrapping_add(1));
        assert_eq!(pair[1].timestamp(), pair[0].timestamp().wrapping_add(SAMPLES_PER_FRAME as u32));
        assert!(!pair[1].marker());
    }
    assert!(views[0].marker());
}
