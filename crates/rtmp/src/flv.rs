//! FLV tag bodies as RTMP carries them (video and audio messages are FLV tag bodies;
//! Adobe "Video File Format Specification" v10.1, §E.4.2.1 AUDIODATA, §E.4.3.1
//! VIDEODATA) turned into what an MPEG-TS multiplexer takes.
//!
//! - Video: AVC only (CodecID 7). AVCPacketType 0 carries the
//!   AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1): parameter sets and the
//!   NAL unit length size; type 1 carries length-prefixed NAL units and a signed 24-bit
//!   composition time offset. [`FlvDecoder::video`] turns them into an H.264 Annex B
//!   access unit (ITU-T H.264 Annex B) that starts with an access unit delimiter, as
//!   ISO/IEC 13818-1 §2.14 requires in a transport stream, and carries SPS and PPS in
//!   front of every key frame, so any key frame is a place to start decoding.
//! - Audio: AAC only (SoundFormat 10). AACPacketType 0 carries the AudioSpecificConfig
//!   (ISO/IEC 14496-3 §1.6.2.1); type 1 carries one raw AAC frame, which
//!   [`FlvDecoder::audio`] wraps in an ADTS header (ISO/IEC 14496-3 §1.A.2.2, no CRC).
//!
//! Other codecs (and the enhanced-RTMP extended headers) are reported as
//! [`Media::Unsupported`]. Nothing here panics on any input.

use crate::Error;

/// FLV VideoTagHeader CodecID of AVC.
pub const CODEC_AVC: u8 = 7;
/// FLV AudioTagHeader SoundFormat of AAC.
pub const SOUND_AAC: u8 = 10;
/// Annex B start code written before every NAL unit.
const START: [u8; 4] = [0, 0, 0, 1];
/// Access unit delimiter NAL unit, primary_pic_type 7 (any slice type).
const AUD: [u8; 2] = [0x09, 0xF0];
/// Sampling frequencies by sampling_frequency_index (ISO/IEC 14496-3 Table 1.18).
pub const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// An H.264 access unit in Annex B form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoFrame {
    /// Decoding time, milliseconds (the RTMP message timestamp, 32 bits wrapping).
    pub timestamp_ms: u32,
    /// Presentation minus decoding time, milliseconds.
    pub composition_ms: i32,
    /// A key frame (FLV frame type 1, or an IDR slice inside).
    pub keyframe: bool,
    /// Annex B byte stream: AUD, then SPS and PPS on key frames, then the NAL units.
    pub data: Vec<u8>,
}

/// One AAC frame with its ADTS header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioFrame {
    /// Time, milliseconds (the RTMP message timestamp).
    pub timestamp_ms: u32,
    /// Sampling frequency from the AudioSpecificConfig (the core rate for HE-AAC).
    pub sample_rate: u32,
    /// channelConfiguration.
    pub channels: u8,
    /// An ADTS frame: 7-byte header and the raw frame.
    pub data: Vec<u8>,
}

/// What one video or audio tag body turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Media {
    /// A decoder configuration was taken (AVC record or AudioSpecificConfig).
    Config,
    /// A video access unit.
    Video(VideoFrame),
    /// An audio frame.
    Audio(AudioFrame),
    /// An AVC end of sequence (AVCPacketType 2; ffmpeg's FLV muxer ends with one).
    EndOfSequence,
    /// Nothing to pass on: an empty tag, a video command frame, or a frame before its
    /// configuration.
    Skipped,
    /// A codec this crate does not take (the FLV CodecID or SoundFormat).
    Unsupported(u8),
}

/// The AVCDecoderConfigurationRecord fields needed to write Annex B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvcConfig {
    /// lengthSizeMinusOne + 1: bytes of each NAL unit length prefix (1, 2 or 4).
    pub length_size: u8,
    /// Sequence parameter sets (NAL units, header byte included).
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter sets.
    pub pps: Vec<Vec<u8>>,
}

impl AvcConfig {
    /// Parses an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1.1).
    pub fn parse(record: &[u8]) -> Result<Self, Error> {
        let mut r = record;
        let [version, _profile, _compat, _level, size_byte] =
            *take::<5>(&mut r).ok_or(Error::Flv("avc record too short"))?;
        if version != 1 {
            return Err(Error::Flv("avc record version"));
        }
        let length_size = (size_byte & 0x03).saturating_add(1);
        if length_size == 3 {
            return Err(Error::Flv("nal unit length size 3"));
        }
        let [count] = *take::<1>(&mut r).ok_or(Error::Flv("avc record too short"))?;
        let sps = parameter_sets(&mut r, count & 0x1F)?;
        let [count] = *take::<1>(&mut r).ok_or(Error::Flv("avc record too short"))?;
        let pps = parameter_sets(&mut r, count)?;
        // High profile records go on (chroma format, bit depths, SPS extensions): not
        // needed to write Annex B.
        Ok(Self {
            length_size,
            sps,
            pps,
        })
    }
}

fn take<'a, const N: usize>(r: &mut &'a [u8]) -> Option<&'a [u8; N]> {
    let (head, tail) = r.split_first_chunk::<N>()?;
    *r = tail;
    Some(head)
}

fn parameter_sets(r: &mut &[u8], count: u8) -> Result<Vec<Vec<u8>>, Error> {
    let mut sets = Vec::new();
    for _ in 0..count {
        let len = take::<2>(r).ok_or(Error::Flv("parameter set length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if r.len() < len {
            return Err(Error::Flv("parameter set beyond the record"));
        }
        let (set, rest) = r.split_at(len);
        *r = rest;
        if !set.is_empty() {
            sets.push(set.to_vec());
        }
    }
    Ok(sets)
}

/// The AudioSpecificConfig fields an ADTS header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AacConfig {
    /// audioObjectType of the core coder (2 for AAC-LC; HE-AAC gives its core's type).
    pub object_type: u8,
    /// sampling_frequency_index of the core coder.
    pub frequency_index: u8,
    /// channelConfiguration (1 to 7).
    pub channels: u8,
}

/// MSB-first bit reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.data.get(self.pos / 8)?;
            let bit = (byte << (self.pos % 8)) >> 7;
            v = (v << 1) | u32::from(bit);
            self.pos = self.pos.checked_add(1)?;
        }
        Some(v)
    }

    fn object_type(&mut self) -> Option<u32> {
        match self.read(5)? {
            31 => self.read(6).and_then(|e| e.checked_add(32)),
            t => Some(t),
        }
    }

    fn frequency_index(&mut self) -> Option<u8> {
        match self.read(4)? {
            15 => {
                let hz = self.read(24)?;
                let index = SAMPLE_RATES.iter().position(|&r| r == hz)?;
                u8::try_from(index).ok()
            }
            i => u8::try_from(i).ok(),
        }
    }
}

impl AacConfig {
    /// Parses an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), explicit SBR/PS
    /// signalling (object types 5 and 29) reduced to the core coder.
    pub fn parse(asc: &[u8]) -> Result<Self, Error> {
        let bad = Error::Flv("audio specific config");
        let mut bits = Bits { data: asc, pos: 0 };
        let mut object_type = bits.object_type().ok_or(bad.clone())?;
        let frequency_index = bits.frequency_index().ok_or(bad.clone())?;
        let channels = bits.read(4).ok_or(bad.clone())?;
        if object_type == 5 || object_type == 29 {
            bits.frequency_index().ok_or(bad.clone())?;
            object_type = bits.object_type().ok_or(bad.clone())?;
        }
        if !(1..=4).contains(&object_type) {
            return Err(Error::Flv("aac object type not representable in adts"));
        }
        if usize::from(frequency_index) >= SAMPLE_RATES.len() {
            return Err(Error::Flv("aac sampling frequency index"));
        }
        if !(1..=7).contains(&channels) {
            return Err(Error::Flv("aac channel configuration"));
        }
        Ok(Self {
            object_type: u8::try_from(object_type).map_err(|_| bad.clone())?,
            frequency_index,
            channels: u8::try_from(channels).map_err(|_| bad)?,
        })
    }

    /// Sampling frequency in Hz.
    pub fn sample_rate(&self) -> u32 {
        SAMPLE_RATES
            .get(usize::from(self.frequency_index))
            .copied()
            .unwrap_or(0)
    }

    /// The 7-byte ADTS header (protection_absent 1) of a frame of `raw_len` bytes.
    pub fn adts_header(&self, raw_len: usize) -> Result<[u8; 7], Error> {
        let frame_len = raw_len
            .checked_add(7)
            .filter(|&l| l < 1 << 13)
            .ok_or(Error::Flv("aac frame too long for adts"))?;
        let len = u16::try_from(frame_len).map_err(|_| Error::Flv("aac frame length"))?;
        let profile = self.object_type.saturating_sub(1) & 0x03;
        let sfi = self.frequency_index & 0x0F;
        let ch = self.channels & 0x07;
        Ok([
            0xFF,
            0xF1, // syncword, MPEG-4, layer 0, protection_absent
            (profile << 6) | (sfi << 2) | (ch >> 2),
            ((ch & 0x03) << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            (((len & 0x07) as u8) << 5) | 0x1F, // buffer fullness 0x7FF (VBR)
            0xFC,                               // ... and one raw data block
        ])
    }
}

/// Turns FLV video and audio tag bodies into Annex B and ADTS frames, keeping the
/// decoder configurations seen so far. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct FlvDecoder {
    avc: Option<AvcConfig>,
    aac: Option<AacConfig>,
}

impl FlvDecoder {
    /// A decoder with no configuration yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The AVC configuration in effect.
    pub fn avc(&self) -> Option<&AvcConfig> {
        self.avc.as_ref()
    }

    /// The AAC configuration in effect.
    pub fn aac(&self) -> Option<&AacConfig> {
        self.aac.as_ref()
    }

    /// One video message body (VIDEODATA, §E.4.3.1) at `timestamp_ms`.
    pub fn video(&mut self, timestamp_ms: u32, body: &[u8]) -> Result<Media, Error> {
        let Some((&first, rest)) = body.split_first() else {
            return Ok(Media::Skipped);
        };
        let codec = first & 0x0F;
        if first & 0x80 != 0 {
            // Enhanced RTMP (IsExHeader): HEVC, AV1, VP9 by FourCC.
            return Ok(Media::Unsupported(codec));
        }
        if codec != CODEC_AVC {
            return Ok(Media::Unsupported(codec));
        }
        let frame_type = first >> 4;
        if frame_type == 5 {
            // Video info / command frame: no picture.
            return Ok(Media::Skipped);
        }
        let mut r = rest;
        let [packet_type, c0, c1, c2] = *take::<4>(&mut r).ok_or(Error::Flv("avc header"))?;
        match packet_type {
            0 => {
                self.avc = Some(AvcConfig::parse(r)?);
                Ok(Media::Config)
            }
            1 => {
                let Some(config) = &self.avc else {
                    return Ok(Media::Skipped);
                };
                // SI24: sign-extend through the top byte of an i32.
                let composition_ms = i32::from_be_bytes([c0, c1, c2, 0]) >> 8;
                let mut keyframe = frame_type == 1;
                let data = annex_b(config, r, &mut keyframe)?;
                if data.is_empty() {
                    return Ok(Media::Skipped);
                }
                Ok(Media::Video(VideoFrame {
                    timestamp_ms,
                    composition_ms,
                    keyframe,
                    data,
                }))
            }
            2 => Ok(Media::EndOfSequence),
            _ => Ok(Media::Skipped),
        }
    }

    /// One audio message body (AUDIODATA, §E.4.2.1) at `timestamp_ms`.
    pub fn audio(&mut self, timestamp_ms: u32, body: &[u8]) -> Result<Media, Error> {
        let Some((&first, rest)) = body.split_first() else {
            return Ok(Media::Skipped);
        };
        let format = first >> 4;
        if format != SOUND_AAC {
            return Ok(Media::Unsupported(format));
        }
        let Some((&packet_type, raw)) = rest.split_first() else {
            return Err(Error::Flv("aac header"));
        };
        match packet_type {
            0 => {
                self.aac = Some(AacConfig::parse(raw)?);
                Ok(Media::Config)
            }
            1 => {
                let Some(config) = self.aac else {
                    return Ok(Media::Skipped);
                };
                if raw.is_empty() {
                    return Ok(Media::Skipped);
                }
                let mut data = Vec::with_capacity(raw.len().saturating_add(7));
                data.extend_from_slice(&config.adts_header(raw.len())?);
                data.extend_from_slice(raw);
                Ok(Media::Audio(AudioFrame {
                    timestamp_ms,
                    sample_rate: config.sample_rate(),
                    channels: config.channels,
                    data,
                }))
            }
            _ => Ok(Media::Skipped),
        }
    }
}

/// Length-prefixed NAL units to Annex B: an AUD first (the one in the frame, or one
/// made here), then SPS and PPS from `config` on key frames that carry none, then the
/// frame's other units. Sets `keyframe` when an IDR slice is inside.
fn annex_b(config: &AvcConfig, mut data: &[u8], keyframe: &mut bool) -> Result<Vec<u8>, Error> {
    let size = usize::from(config.length_size);
    let mut units = Vec::new();
    while !data.is_empty() {
        if data.len() < size {
            return Err(Error::Flv("nal unit length cut short"));
        }
        let (len, rest) = data.split_at(size);
        let len = len
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if rest.len() < len {
            return Err(Error::Flv("nal unit beyond the tag"));
        }
        let (unit, rest) = rest.split_at(len);
        data = rest;
        if !unit.is_empty() {
            units.push(unit);
        }
    }
    let nal_type = |u: &[u8]| u.first().map(|b| b & 0x1F);
    if units.is_empty() {
        return Ok(Vec::new());
    }
    *keyframe |= units
        .iter()
        .any(|u| nal_type(u) == Some(media::h264::NAL_IDR));
    let has_sps = units
        .iter()
        .any(|u| nal_type(u) == Some(media::h264::NAL_SPS));
    let total: usize = units
        .iter()
        .copied()
        .chain(config.sps.iter().map(Vec::as_slice))
        .chain(config.pps.iter().map(Vec::as_slice))
        .fold(8usize, |acc, u| {
            acc.saturating_add(u.len()).saturating_add(4)
        });
    let mut out = Vec::with_capacity(total);
    let aud = units
        .iter()
        .find(|u| nal_type(u) == Some(media::h264::NAL_AUD))
        .copied()
        .unwrap_or(&AUD);
    out.extend_from_slice(&START);
    out.extend_from_slice(aud);
    if *keyframe && !has_sps {
        for set in config.sps.iter().chain(&config.pps) {
            out.extend_from_slice(&START);
            out.extend_from_slice(set);
        }
    }
    for unit in units {
        if nal_type(unit) != Some(media::h264::NAL_AUD) {
            out.extend_from_slice(&START);
            out.extend_from_slice(unit);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC];
    const PPS: &[u8] = &[0x68, 0xEE, 0x3C, 0x80];

    fn record() -> Vec<u8> {
        let mut r = vec![1, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0, SPS.len() as u8];
        r.extend_from_slice(SPS);
        r.extend_from_slice(&[1, 0, PPS.len() as u8]);
        r.extend_from_slice(PPS);
        r
    }

    fn tag(frame_type: u8, packet_type: u8, cts: i32, data: &[u8]) -> Vec<u8> {
        let c = cts.to_be_bytes();
        let mut t = vec![(frame_type << 4) | CODEC_AVC, packet_type, c[1], c[2], c[3]];
        t.extend_from_slice(data);
        t
    }

    #[test]
    fn avc_to_annex_b() {
        let mut d = FlvDecoder::new();
        // Before the record: skipped.
        assert_eq!(
            d.video(0, &tag(1, 1, 0, &[0, 0, 0, 1, 0x65])).unwrap(),
            Media::Skipped
        );
        assert_eq!(d.video(0, &tag(1, 0, 0, &record())).unwrap(), Media::Config);
        assert_eq!(d.avc().unwrap().length_size, 4);
        let mut nalus = vec![0, 0, 0, 3, 0x65, 0x88, 0x84];
        nalus.extend_from_slice(&[0, 0, 0, 2, 0x06, 0x05]);
        let Media::Video(frame) = d.video(40, &tag(1, 1, 80, &nalus)).unwrap() else {
            panic!("no frame");
        };
        assert!(frame.keyframe);
        assert_eq!(frame.composition_ms, 80);
        assert_eq!(frame.timestamp_ms, 40);
        assert_eq!(
            media::h264::nal_types(&frame.data),
            vec![9, 7, 8, 5, 6],
            "AUD, SPS, PPS, then the frame's units"
        );
        // Inter frame with a negative composition offset: no parameter sets.
        let Media::Video(frame) = d
            .video(80, &tag(2, 1, -40, &[0, 0, 0, 2, 0x41, 0x9A]))
            .unwrap()
        else {
            panic!("no frame");
        };
        assert!(!frame.keyframe);
        assert_eq!(frame.composition_ms, -40);
        assert_eq!(media::h264::nal_types(&frame.data), vec![9, 1]);
        // A length beyond the tag.
        assert!(d.video(0, &tag(2, 1, 0, &[0, 0, 1, 0, 0x41])).is_err());
        assert_eq!(
            d.video(0, &tag(1, 2, 0, &[])).unwrap(),
            Media::EndOfSequence
        );
        // Other codecs.
        assert_eq!(d.video(0, &[0x12, 0]).unwrap(), Media::Unsupported(2));
        assert_eq!(d.video(0, &[0x9C, 0]).unwrap(), Media::Unsupported(12));
    }

    #[test]
    fn aac_to_adts() {
        let mut d = FlvDecoder::new();
        // AAC-LC, 44.1 kHz (index 4), stereo: 0x12 0x10.
        assert_eq!(d.audio(0, &[0xAF, 0, 0x12, 0x10]).unwrap(), Media::Config);
        let raw = [0x21, 0x10, 0x05];
        let Media::Audio(frame) = d.audio(23, &[0xAF, 1, raw[0], raw[1], raw[2]]).unwrap() else {
            panic!("no frame");
        };
        assert_eq!(frame.sample_rate, 44_100);
        assert_eq!(frame.channels, 2);
        // FF F1 50 80 01 5F FC: LC, index 4, 2 channels, length 10.
        assert_eq!(
            &frame.data[..7],
            &[0xFF, 0xF1, 0x50, 0x80, 0x01, 0x5F, 0xFC]
        );
        assert_eq!(&frame.data[7..], &raw);
        // HE-AAC explicit: object type 5, 24 kHz core (index 6), stereo, 48 kHz ext
        // (index 3), core type 2.
        let he = AacConfig::parse(&[0x2B, 0x11, 0x88, 0x00]).unwrap();
        assert_eq!(he.object_type, 2);
        assert_eq!(he.frequency_index, 6);
        assert_eq!(he.channels, 2);
        assert!(AacConfig::parse(&[0x12]).is_err());
        assert_eq!(d.audio(0, &[0x2F, 1, 2]).unwrap(), Media::Unsupported(2));
    }

    proptest! {
        #[test]
        fn never_panics(body in prop::collection::vec(any::<u8>(), 0..100), video in any::<bool>()) {
            let mut d = FlvDecoder::new();
            let _ = d.video(0, &tag(1, 0, 0, &record()));
            let _ = d.audio(0, &[0xAF, 0, 0x12, 0x10]);
            let _ = if video { d.video(0, &body) } else { d.audio(0, &body) };
        }

        #[test]
        fn nal_units_survive(units in prop::collection::vec(prop::collection::vec(1u8..=255, 1..50), 1..6)) {
            // Bytes without zeros cannot contain a start code: the split is exact.
            let mut d = FlvDecoder::new();
            d.video(0, &tag(1, 0, 0, &record())).unwrap();
            let mut body = Vec::new();
            for u in &units {
                body.extend_from_slice(&(u.len() as u32).to_be_bytes());
                body.extend_from_slice(u);
            }
            let Media::Video(frame) = d.video(0, &tag(2, 1, 0, &body)).unwrap() else {
                panic!("no frame");
            };
            let mut got: Vec<&[u8]> = media::h264::nal_units(&frame.data).collect();
            prop_assert_eq!(got[0][0] & 0x1F, 9);
            got.remove(0);
            let want: Vec<&[u8]> = units.iter().map(Vec::as_slice).filter(|u| u[0] & 0x1F != 9).collect();
            let has_sps = units.iter().any(|u| u[0] & 0x1F == 7);
            let skip = if frame.keyframe && !has_sps { 2 } else { 0 };
            prop_assert_eq!(&got[skip..], &want[..]);
        }
    }
}
