//! Reads prompt WAV files from bytes (the driver reads the file). Prompts are converted
//! offline to what a G.711 call carries, 8 kHz mono 16-bit PCM, so we accept only that and
//! say precisely what is wrong with anything else instead of resampling at run time.

use thiserror::Error;

/// The sample rate of a G.711 call.
const REQUIRED_SAMPLE_RATE_HZ: u32 = 8000;
/// WAVE_FORMAT_PCM.
const FORMAT_PCM: u16 = 1;
/// WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

/// Why bytes are not a usable prompt.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WavError {
    /// The file does not start with a RIFF/WAVE header.
    #[error("not a RIFF WAVE file")]
    NotWave,
    /// A chunk runs past the end of the file.
    #[error("chunk {chunk:?} runs past the end of the file")]
    Truncated {
        /// The four-character chunk id.
        chunk: String,
    },
    /// No `fmt ` chunk before the `data` chunk.
    #[error("no fmt chunk before the data chunk")]
    MissingFormat,
    /// No `data` chunk.
    #[error("no data chunk")]
    MissingData,
    /// The `fmt ` chunk is shorter than its 16 mandatory bytes.
    #[error("fmt chunk of {0} bytes is too short")]
    FormatTooShort(usize),
    /// Not integer PCM.
    #[error("audio format {0:#06x} is not PCM")]
    NotPcm(u16),
    /// Not mono.
    #[error("{0} channels, prompts must be mono")]
    NotMono(u16),
    /// Not 8 kHz.
    #[error("sample rate {0} Hz, prompts must be 8000 Hz")]
    WrongSampleRate(u32),
    /// Not 16-bit.
    #[error("{0} bits per sample, prompts must be 16-bit")]
    WrongBitsPerSample(u16),
    /// The data chunk holds half a sample.
    #[error("data chunk of {0} bytes is not a whole number of 16-bit samples")]
    PartialSample(usize),
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks a `fmt ` chunk body against 8 kHz mono 16-bit PCM.
fn check_format(body: &[u8]) -> Result<(), WavError> {
    if body.len() < 16 {
        return Err(WavError::FormatTooShort(body.len()));
    }
    let mut format = u16_at(body, 0);
    if format == FORMAT_EXTENSIBLE && body.len() >= 26 {
        format = u16_at(body, 24);
    }
    if format != FORMAT_PCM {
        return Err(WavError::NotPcm(format));
    }
    let channels = u16_at(body, 2);
    if channels != 1 {
        return Err(WavError::NotMono(channels));
    }
    let sample_rate_hz = u32_at(body, 4);
    if sample_rate_hz != REQUIRED_SAMPLE_RATE_HZ {
        return Err(WavError::WrongSampleRate(sample_rate_hz));
    }
    let bits_per_sample = u16_at(body, 14);
    if bits_per_sample != 16 {
        return Err(WavError::WrongBitsPerSample(bits_per_sample));
    }
    Ok(())
}

/// Parses an 8 kHz mono 16-bit PCM WAV file into its samples; other chunks are skipped.
pub fn parse_wav(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut offset = 12;
    let mut format_checked = false;
    while offset < bytes.len() {
        let chunk_name = |id: &[u8]| String::from_utf8_lossy(id).into_owned();
        let Some(header) = bytes.get(offset..offset + 8) else {
            return Err(WavError::Truncated { chunk: chunk_name(&bytes[offset..]) });
        };
        let id = &header[0..4];
        let size = u32_at(header, 4) as usize;
        let body_start = offset + 8;
        let body = body_start
            .checked_add(size)
            .and_then(|end| bytes.get(body_start..end))
            .ok_or_else(|| WavError::Truncated { chunk: chunk_name(id) })?;
        match id {
            b"fmt " => {
                check_format(body)?;
                format_checked = true;
            }
            b"data" if !format_checked => return Err(WavError::MissingFormat),
            b"data" => {
                if body.len() % 2 != 0 {
                    return Err(WavError::PartialSample(body.len()));
                }
                return Ok(body.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect());
            }
            _ => {}
        }
        // Chunks are padded to an even length (RIFF).
        offset = body_start + size + (size & 1);
    }
    Err(WavError::MissingData)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(format: u16, channels: u16, rate_hz: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // odd-sized chunk with its pad byte
        out.extend_from_slice(b"fmt \x10\0\0\0");
        out.extend_from_slice(&format.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate_hz.to_le_bytes());
        out.extend_from_slice(&(rate_hz * 2).to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let riff_size = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff_size.to_le_bytes());
        out
    }

    #[test]
    fn reads_samples_of_a_valid_file() {
        let samples = parse_wav(&wav(1, 1, 8000, 16, &[0x01, 0x00, 0xff, 0xff, 0x00, 0x80])).expect("valid");
        assert_eq!(samples, [1, -1, i16::MIN]);
    }

    #[test]
    fn precise_errors() {
        assert_eq!(parse_wav(b"RIFX\0\0\0\0WAVE"), Err(WavError::NotWave));
        assert_eq!(parse_wav(&wav(3, 1, 8000, 16, &[])), Err(WavError::NotPcm(3)));
        assert_eq!(parse_wav(&wav(1, 2, 8000, 16, &[])), Err(WavError::NotMono(2)));
        assert_eq!(parse_wav(&wav(1, 1, 16000, 16, &[])), Err(WavError::WrongSampleRate(16000)));
        assert_eq!(parse_wav(&wav(1, 1, 8000, 8, &[])), Err(WavError::WrongBitsPerSample(8)));
        assert_eq!(parse_wav(&wav(1, 1, 8000, 16, &[1, 2, 3])), Err(WavError::PartialSample(3)));
        let mut truncated = wav(1, 1, 8000, 16, &[1, 2, 3, 4]);
        truncated.truncate(truncated.len() - 1);
        assert_eq!(parse_wav(&truncated), Err(WavError::Truncated { chunk: "data".into() }));
        let no_data = &wav(1, 1, 8000, 16, &[])[..48];
        assert_eq!(parse_wav(no_data), Err(WavError::MissingData));
        let mut data_first = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0\x01\x00".to_vec();
        assert_eq!(parse_wav(&data_first), Err(WavError::MissingFormat));
        data_first.truncate(14);
        assert_eq!(parse_wav(&data_first), Err(WavError::Truncated { chunk: "da".into() }));
    }

    #[test]
    fn extensible_pcm_is_accepted() {
        let mut out = b"RIFF\0\0\0\0WAVEfmt \x28\0\0\0".to_vec();
        let mut fmt = vec![0u8; 40];
        fmt[0..2].copy_from_slice(&FORMAT_EXTENSIBLE.to_le_bytes());
        fmt[2..4].copy_from_slice(&1u16.to_le_bytes());
        fmt[4..8].copy_from_slice(&8000u32.to_le_bytes());
        fmt[14..16].copy_from_slice(&16u16.to_le_bytes());
        fmt[24..26].copy_from_slice(&FORMAT_PCM.to_le_bytes());
        out.extend_from_slice(&fmt);
        out.extend_from_slice(b"data\x02\0\0\0\x07\x00");
        assert_eq!(parse_wav(&out), Ok(vec![7]));
    }

    #[test]
    fn never_panics_on_any_prefix() {
        let file = wav(1, 1, 8000, 16, &[1, 0, 2, 0]);
        for len in 0..file.len() {
            let _ = parse_wav(&file[..len]);
        }
    }
}
