//! G.711 (ITU-T G.711) A-law and µ-law companding on 16-bit linear samples, and the
//! A-law↔µ-law transcoding tables for bridging a PCMA leg to a PCMU leg. Everything is a
//! `const fn`, so the 256-entry tables are built at compile time.

use super::sdp::Codec;

/// µ-law adds this bias before finding the segment, so every segment starts at a power of two.
const ULAW_BIAS: i32 = 0x84;
/// The largest magnitude µ-law can represent after biasing into 15 bits.
const ULAW_CLIP: i32 = 32635;
/// A-law transmits every other bit inverted (G.711 §3); positive samples also get bit 7.
const ALAW_POSITIVE_MASK: u8 = 0xd5;
const ALAW_NEGATIVE_MASK: u8 = 0x55;

/// Encodes one linear sample as A-law.
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let (mask, magnitude) = if sample >= 0 {
        (ALAW_POSITIVE_MASK, sample as i32)
    } else {
        // -1 - x keeps -32768 in range and makes -1 the smallest negative step.
        (ALAW_NEGATIVE_MASK, -1 - sample as i32)
    };
    // A-law works on 13-bit samples: 12 bits of magnitude.
    let magnitude = magnitude >> 3;
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let segment = (32 - (magnitude as u32).leading_zeros()) as i32 - 5;
        (segment << 4) | ((magnitude >> segment) & 0x0f)
    };
    (code as u8) ^ mask
}

/// Decodes one A-law byte to the middle of its quantisation interval.
pub const fn alaw_to_linear(byte: u8) -> i16 {
    let value = byte ^ ALAW_NEGATIVE_MASK;
    let segment = ((value >> 4) & 0x07) as i32;
    let mantissa = (value & 0x0f) as i32;
    let magnitude = if segment == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (segment - 1) };
    if value & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Encodes one linear sample as µ-law.
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let (sign, mut magnitude) = if sample < 0 { (0x80, -(sample as i32)) } else { (0x00, sample as i32) };
    if magnitude > ULAW_CLIP {
        magnitude = ULAW_CLIP;
    }
    magnitude += ULAW_BIAS;
    // The biased magnitude is at least 0x84, so the top byte above bit 7 is never zero.
    let exponent = 7 - ((magnitude >> 7) as u8).leading_zeros() as i32;
    let mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes one µ-law byte to the middle of its quantisation interval.
pub const fn ulaw_to_linear(byte: u8) -> i16 {
    let value = !byte;
    let exponent = ((value >> 4) & 0x07) as i32;
    let mantissa = (value & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if value & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn build_alaw_to_ulaw() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut index = 0;
    while index < 256 {
        table[index] = linear_to_ulaw(alaw_to_linear(index as u8));
        index += 1;
    }
    table
}

const fn build_ulaw_to_alaw() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut index = 0;
    while index < 256 {
        table[index] = linear_to_alaw(ulaw_to_linear(index as u8));
        index += 1;
    }
    table
}

/// A-law byte → µ-law byte, through the linear value.
static ALAW_TO_ULAW: [u8; 256] = build_alaw_to_ulaw();
/// µ-law byte → A-law byte, through the linear value.
static ULAW_TO_ALAW: [u8; 256] = build_ulaw_to_alaw();

/// Transcodes one A-law byte to µ-law.
pub fn alaw_to_ulaw(byte: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(byte)]
}

/// Transcodes one µ-law byte to A-law.
pub fn ulaw_to_alaw(byte: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(byte)]
}

/// Rewrites a payload in place from codec `from` to codec `to` (a no-op when equal).
pub fn transcode_in_place(from: Codec, to: Codec, payload: &mut [u8]) {
    let table = match (from, to) {
        (Codec::Pcma, Codec::Pcmu) => &ALAW_TO_ULAW,
        (Codec::Pcmu, Codec::Pcma) => &ULAW_TO_ALAW,
        _ => return,
    };
    for byte in payload {
        *byte = table[usize::from(*byte)];
    }
}

/// Encodes one linear sample for `codec`.
pub const fn encode(codec: Codec, sample: i16) -> u8 {
    match codec {
        Codec::Pcma => linear_to_alaw(sample),
        Codec::Pcmu => linear_to_ulaw(sample),
    }
}

/// Decodes one byte of `codec` to a linear sample.
pub const fn decode(codec: Codec, byte: u8) -> i16 {
    match codec {
        Codec::Pcma => alaw_to_linear(byte),
        Codec::Pcmu => ulaw_to_linear(byte),
    }
}

/// The byte that encodes silence in `codec`.
pub const fn silence(codec: Codec) -> u8 {
    encode(codec, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0xfe), 8);
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
        assert_eq!(silence(Codec::Pcma), 0xd5);
        assert_eq!(silence(Codec::Pcmu), 0xff);
    }

    #[test]
    fn decode_then_encode_is_identity() {
        for byte in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(byte)), byte, "A-law {byte:#04x}");
            // µ-law has two zeros (0x7f is "negative zero"); both decode to 0 → 0xff.
            if byte != 0x7f {
                assert_eq!(linear_to_ulaw(ulaw_to_linear(byte)), byte, "µ-law {byte:#04x}");
            }
        }
    }

    #[test]
    fn encode_then_decode_stays_within_quantisation() {
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let value = i32::from(sample);
            // Relative error of G.711 is bounded by the segment step: about 1/16 of the
            // magnitude, plus the first segment's absolute step.
            let bound = value.abs() / 16 + 16;
            let alaw = i32::from(alaw_to_linear(linear_to_alaw(sample)));
            assert!((alaw - value).abs() <= bound + 8, "A-law {sample} → {alaw}");
            let ulaw = i32::from(ulaw_to_linear(linear_to_ulaw(sample)));
            let ulaw_bound = if value.abs() > ULAW_CLIP { bound + (value.abs() - ULAW_CLIP) } else { bound };
            assert!((ulaw - value).abs() <= ulaw_bound, "µ-law {sample} → {ulaw}");
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut previous = i16::MIN;
        for sample in (i16::MIN..=i16::MAX).step_by(13) {
            assert!(alaw_to_linear(linear_to_alaw(sample)) >= alaw_to_linear(linear_to_alaw(previous)));
            assert!(ulaw_to_linear(linear_to_ulaw(sample)) >= ulaw_to_linear(linear_to_ulaw(previous)));
            previous = sample;
        }
    }

    #[test]
    fn transcoding_preserves_the_signal() {
        for byte in 0..=255u8 {
            let linear = i32::from(alaw_to_linear(byte));
            let through_ulaw = i32::from(ulaw_to_linear(alaw_to_ulaw(byte)));
            assert!((through_ulaw - linear).abs() <= linear.abs() / 16 + 16, "{byte:#04x}");
        }
        let mut payload = [0xd5, 0x55, 0xaa];
        transcode_in_place(Codec::Pcma, Codec::Pcmu, &mut payload);
        assert_eq!(payload, [0xfe, 0x7e, 0x80]);
        transcode_in_place(Codec::Pcmu, Codec::Pcma, &mut payload);
        assert_eq!(payload, [0xd5, 0x55, 0xaa]);
        transcode_in_place(Codec::Pcma, Codec::Pcma, &mut payload);
        assert_eq!(payload, [0xd5, 0x55, 0xaa]);
    }
}
