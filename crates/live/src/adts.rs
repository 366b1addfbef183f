//! AAC ADTS framing (ISO/IEC 13818-7 §6.2, §8.1.1): splitting a PES payload into frames
//! and writing the 7-byte header in front of a raw AAC frame from the encoder.

/// Sampling frequencies by sampling_frequency_index.
const RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Splits an ADTS byte stream into whole frames (header included); a torn tail is dropped.
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [0xFF, b1, _, b3, b4, b5, ..] = *data {
        if b1 & 0xF0 != 0xF0 {
            break;
        }
        let len = (usize::from(b3 & 0x03) << 11) | (usize::from(b4) << 3) | usize::from(b5 >> 5);
        let (Some(frame), Some(rest)) = (data.get(..len), data.get(len..)) else {
            break;
        };
        if len < 7 {
            break;
        }
        out.push(frame);
        data = rest;
    }
    out
}

/// The sampling frequency an ADTS frame header signals.
pub fn sample_rate(frame: &[u8]) -> Option<u32> {
    let b2 = *frame.get(2)?;
    RATES.get(usize::from((b2 >> 2) & 0x0F)).copied()
}

/// The 7-byte ADTS header (no CRC) for an AAC-LC frame of `payload_len` bytes; `None` for a
/// sample rate ADTS cannot signal or a frame too long for the 13-bit length.
pub fn header(sample_rate: u32, channels: u16, payload_len: usize) -> Option<[u8; 7]> {
    let index = RATES.iter().position(|&r| r == sample_rate)? as u8;
    let len = payload_len + 7;
    if len >= 1 << 13 || channels > 7 {
        return None;
    }
    let profile = 1u8; // AAC LC (object type 2) minus one.
    let ch = channels as u8;
    Some([
        0xFF,
        0xF1, // MPEG-4, layer 0, no CRC
        (profile << 6) | (index << 2) | (ch >> 2),
        ((ch & 3) << 6) | ((len >> 11) as u8 & 0x03),
        (len >> 3) as u8,
        (((len & 7) as u8) << 5) | 0x1F,
        0xFC,
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_split() {
        let mut stream = Vec::new();
        for n in [10usize, 300, 0] {
            stream.extend_from_slice(&header(48000, 2, n).unwrap());
            stream.extend(std::iter::repeat_n(0xAB, n));
        }
        stream.extend_from_slice(&[0xFF, 0xF1, 0]); // torn tail
        let f = frames(&stream);
        assert_eq!(f.iter().map(|f| f.len()).collect::<Vec<_>>(), [17, 307, 7]);
        assert_eq!(header(48000, 2, 0).unwrap()[2], 0x4C);
        assert!(header(12345, 2, 0).is_none());
        assert!(frames(&[0xFF, 0xF1, 0x4C, 0x80, 0, 0x1F, 0xFC]).is_empty());
    }
}
