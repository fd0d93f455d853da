//! Seeded mutation fuzzing of the parsers that see network input: the RTP header view and
//! the SDP parser must return an error, never panic, on any bytes. The iteration count
//! defaults to one million RTP packets and can be set with `FUZZ_ITERATIONS`.

use veertien::core::rng::SeededRng;
use veertien::media::rtp::{write_rtp, RtpHeader, RtpHeaderView};
use veertien::media::sdp::{self, LocalMedia};

const DEFAULT_ITERATIONS: u64 = 1_000_000;

fn iterations() -> u64 {
    std::env::var("FUZZ_ITERATIONS").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_ITERATIONS)
}

/// Well-formed packets exercising every optional part, as mutation seeds.
fn rtp_seeds() -> Vec<Vec<u8>> {
    let mut plain = Vec::new();
    write_rtp(
        &mut plain,
        &RtpHeader { marker: true, payload_type: 8, sequence: 1, timestamp: 160, ssrc: 7 },
        &[0xd5; 160],
    );
    let mut full = vec![0x80 | 0x20 | 0x10 | 1, 101, 0, 2, 0, 0, 1, 64, 0, 0, 0, 7, 0, 0, 0, 9];
    full.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 1, 0x80, 0, 160, 0, 2]);
    let mut two_byte = vec![0x90, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0x10, 0x00, 0, 1, 1, 2, 5, 5];
    two_byte.extend_from_slice(&[0xff; 20]);
    vec![plain, full, two_byte]
}

/// Applies one to four random edits: byte overwrite, bit flip, truncation or extension.
fn mutate(rng: &mut SeededRng, packet: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !packet.is_empty() => {
                let at = rng.below(packet.len() as u64) as usize;
                packet[at] = rng.below(256) as u8;
            }
            1 if !packet.is_empty() => {
                let at = rng.below(packet.len() as u64) as usize;
                packet[at] ^= 1 << rng.below(8);
            }
            2 => {
                let len = rng.below(packet.len() as u64 + 1) as usize;
                packet.truncate(len);
            }
            _ => packet.push(rng.below(256) as u8),
        }
    }
}

#[test]
fn rtp_view_never_panics_and_payload_stays_inside_packet() {
    let seeds = rtp_seeds();
    let mut rng = SeededRng::fork(4733, "rtp-fuzz");
    let (mut accepted, mut rejected) = (0u64, 0u64);
    for round in 0..iterations() {
        let mut packet = seeds[(round % seeds.len() as u64) as usize].clone();
        mutate(&mut rng, &mut packet);
        match RtpHeaderView::parse(&packet) {
            Ok(view) => {
                accepted += 1;
                assert!(view.payload().len() + 12 <= packet.len());
                assert_eq!(view.csrcs().count(), usize::from(view.csrc_count()));
                let _ = (view.sequence(), view.timestamp(), view.ssrc(), view.marker(), view.payload_type());
            }
            Err(_) => rejected += 1,
        }
    }
    // Both outcomes must occur, or the mutations are not exploring anything.
    if iterations() >= 1000 {
        assert!(accepted > 0 && rejected > 0, "accepted {accepted}, rejected {rejected}");
    }
}

#[test]
fn sdp_parser_never_panics_on_mutated_offers() {
    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=rtcp:5005\r\na=sendonly\r\nm=video 5006 RTP/AVP 96\r\n";
    let local =
        LocalMedia { ip: "192.0.2.1".parse().expect("literal"), rtp_port: 4000, session_id: 1, session_version: 1 };
    let mut rng = SeededRng::fork(4566, "sdp-fuzz");
    let mut answered = 0u64;
    for _ in 0..iterations() / 20 {
        let mut bytes = OFFER.as_bytes().to_vec();
        mutate(&mut rng, &mut bytes);
        let text = String::from_utf8_lossy(&bytes);
        if sdp::answer(&text, &local).is_ok() {
            answered += 1;
        }
        let _ = sdp::parse_answer(&text);
    }
    if iterations() >= 1000 {
        assert!(answered > 0, "no mutated offer was still acceptable");
    }
}
