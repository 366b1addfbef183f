//! Packetized elementary stream (ISO/IEC 13818-1 §2.4.3.6 – §2.4.3.7).
//!
//! [`PesHeader::parse`] reads the header at the start of a PES packet (stream_id,
//! PES_packet_length, PTS and DTS); [`PesAssembler`] rebuilds whole PES packets from the
//! TS payloads of one PID: a payload with payload_unit_start_indicator set starts a new
//! packet and ends the previous one. [`Timestamp`] is the 33-bit 90 kHz PTS/DTS and
//! [`Timestamp::extend`] the one place where it is unwrapped onto a 64-bit timeline.

use std::collections::VecDeque;

/// 90 kHz ticks per second: the clock of PTS and DTS.
pub const CLOCK_HZ: u64 = 90_000;
/// PTS and DTS count modulo 2^33.
pub const TIMESTAMP_MODULUS: u64 = 1 << 33;
/// Largest PES packet the assembler keeps; larger ones are dropped.
pub const MAX_PES_SIZE: usize = 8 << 20;
/// Complete packets kept for the caller before the oldest is dropped.
const MAX_READY: usize = 64;

/// Why a PES header could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PesError {
    /// Not enough bytes yet for the header.
    #[error("pes header needs {need} bytes, have {have}")]
    Short { need: usize, have: usize },
    /// The packet does not begin with packet_start_code_prefix 0x000001.
    #[error("no pes start code")]
    NoStartCode,
    /// A header field breaks the syntax.
    #[error("malformed pes header: {0}")]
    Malformed(&'static str),
}

/// A 33-bit presentation or decoding timestamp in 90 kHz ticks (§2.4.3.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The value masked to 33 bits.
    pub fn value(self) -> u64 {
        self.0 % TIMESTAMP_MODULUS
    }

    /// Unwraps this timestamp onto a 64-bit timeline: of all values congruent to it modulo
    /// 2^33, returns the one closest to `previous` (an earlier result of `extend`, or the
    /// plain value for the first timestamp of a stream). A jump of up to 2^32 ticks
    /// (about 13 hours) either way is read as a jump, anything larger as a wrap.
    pub fn extend(self, previous: i64) -> i64 {
        let modulus = TIMESTAMP_MODULUS as i64;
        let prev_wrapped = previous.rem_euclid(modulus);
        let mut delta = self.value() as i64 - prev_wrapped;
        if delta > modulus / 2 {
            delta -= modulus;
        } else if delta < -modulus / 2 {
            delta += modulus;
        }
        previous.saturating_add(delta)
    }

    /// Reads the 5-byte PTS/DTS field (the 4-bit prefix is not checked, marker bits are).
    fn read(bytes: &[u8; 5]) -> Result<Timestamp, PesError> {
        let [b0, b1, b2, b3, b4] = *bytes;
        if b0 & 1 == 0 || b2 & 1 == 0 || b4 & 1 == 0 {
            return Err(PesError::Malformed("timestamp marker bit"));
        }
        let v = (u64::from(b0 >> 1) & 0x07) << 30
            | u64::from(b1) << 22
            | u64::from(b2 >> 1) << 15
            | u64::from(b3) << 7
            | u64::from(b4 >> 1);
        Ok(Timestamp(v))
    }

    /// Writes the 5-byte PTS/DTS field with the 4-bit `prefix` (0b0010 PTS only, 0b0011
    /// PTS of a PTS+DTS pair, 0b0001 DTS).
    pub fn write(self, prefix: u8) -> [u8; 5] {
        let v = self.value();
        [
            (prefix << 4) | (((v >> 30) as u8 & 0x07) << 1) | 1,
            (v >> 22) as u8,
            (((v >> 15) as u8) << 1) | 1,
            (v >> 7) as u8,
            ((v as u8) << 1) | 1,
        ]
    }
}

/// The start of a PES packet (§2.4.3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PesHeader {
    /// stream_id: 0xE0..=0xEF video, 0xC0..=0xDF audio, 0xBD private stream 1, ...
    pub stream_id: u8,
    /// PES_packet_length: bytes after this field; 0 means unbounded (video in TS).
    pub packet_length: u16,
    /// Presentation timestamp.
    pub pts: Option<Timestamp>,
    /// Decoding timestamp (only present with a PTS).
    pub dts: Option<Timestamp>,
    /// Offset of the elementary stream data from the start of the packet.
    pub header_length: usize,
}

/// stream_ids whose packets carry no optional header (§2.4.3.7, Table 2-21).
fn has_optional_header(stream_id: u8) -> bool {
    !matches!(
        stream_id,
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF
    )
}

impl PesHeader {
    /// Reads the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<PesHeader, PesError> {
        let short = |need: usize| PesError::Short {
            need,
            have: data.len(),
        };
        let Some(&[p0, p1, p2, stream_id, l0, l1]) = data.first_chunk::<6>() else {
            return Err(short(6));
        };
        if [p0, p1, p2] != [0, 0, 1] {
            return Err(PesError::NoStartCode);
        }
        let packet_length = u16::from_be_bytes([l0, l1]);
        if !has_optional_header(stream_id) {
            return Ok(PesHeader {
                stream_id,
                packet_length,
                pts: None,
                dts: None,
                header_length: 6,
            });
        }
        let Some(&[_, _, _, _, _, _, f0, f1, hdr_len]) = data.first_chunk::<9>() else {
            return Err(short(9));
        };
        if f0 & 0xC0 != 0x80 {
            return Err(PesError::Malformed("optional header marker"));
        }
        let header_length = 9 + usize::from(hdr_len);
        if packet_length != 0 && usize::from(packet_length) + 6 < header_length {
            return Err(PesError::Malformed("header longer than packet"));
        }
        let fields = data.get(9..header_length).ok_or(short(header_length))?;
        let ts_at = |offset: usize| -> Result<Timestamp, PesError> {
            let bytes = fields
                .get(offset..offset + 5)
                .and_then(|b| b.first_chunk::<5>())
                .ok_or(PesError::Malformed("timestamp past header"))?;
            Timestamp::read(bytes)
        };
        let (pts, dts) = match f1 >> 6 {
            0b10 => (Some(ts_at(0)?), None),
            0b11 => (Some(ts_at(0)?), Some(ts_at(5)?)),
            0b00 => (None, None),
            _ => return Err(PesError::Malformed("pts_dts_flags 01")),
        };
        Ok(PesHeader {
            stream_id,
            packet_length,
            pts,
            dts,
            header_length,
        })
    }
}

/// Why a [`PesAssembler`] dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PesDrop {
    /// Its header could not be read: [`PesError::Short`] when the packet ended (at the
    /// next unit start, or a flush) before its header was whole, another error when the
    /// header is invalid.
    Header(PesError),
    /// It grew past [`MAX_PES_SIZE`].
    TooLarge,
    /// It was complete but the caller did not take it before 64 more were.
    Overrun,
}

/// One complete PES packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PesPacket {
    /// The packet header.
    pub header: PesHeader,
    /// Elementary stream bytes after the header.
    pub payload: Vec<u8>,
}

/// Rebuilds PES packets from the TS payloads of one PID.
///
/// Call [`push`](Self::push) with every payload of the PID in order and take finished
/// packets with [`pop`](Self::pop). A packet with a PES_packet_length is complete as soon
/// as its bytes are in; an unbounded one (length 0, usual for video) ends at the next
/// payload unit start, or at [`flush`](Self::flush). Call [`reset`](Self::reset) after a
/// continuity error so a torn packet is dropped. Packets whose header cannot be read and
/// packets over [`MAX_PES_SIZE`] are dropped and counted in [`errors`](Self::errors).
#[derive(Clone, Debug, Default)]
pub struct PesAssembler {
    partial: Vec<u8>,
    collecting: bool,
    ready: VecDeque<PesPacket>,
    errors: u64,
    last_drop: Option<PesDrop>,
}

impl PesAssembler {
    /// An assembler waiting for the first payload unit start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the payload of one TS packet; `pusi` is its payload_unit_start_indicator.
    pub fn push(&mut self, pusi: bool, payload: &[u8]) {
        if pusi {
            self.flush();
            self.collecting = true;
        }
        if !self.collecting {
            return;
        }
        if self.partial.len() + payload.len() > MAX_PES_SIZE {
            self.errors += 1;
            self.last_drop = Some(PesDrop::TooLarge);
            self.reset();
            return;
        }
        self.partial.extend_from_slice(payload);
        self.complete_bounded();
    }

    /// Ends the packet being collected (end of stream): emits it if its header reads.
    pub fn flush(&mut self) {
        if self.collecting && !self.partial.is_empty() {
            let data = std::mem::take(&mut self.partial);
            self.finish(data);
        }
        self.reset();
    }

    /// Drops a partly collected packet and waits for the next payload unit start.
    pub fn reset(&mut self) {
        self.partial.clear();
        self.collecting = false;
    }

    /// Takes the oldest complete packet, if any.
    pub fn pop(&mut self) -> Option<PesPacket> {
        self.ready.pop_front()
    }

    /// Packets dropped because their header was invalid or they grew too large.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Why the latest dropped packet was dropped.
    pub fn last_drop(&self) -> Option<PesDrop> {
        self.last_drop
    }

    fn complete_bounded(&mut self) {
        let Ok(header) = PesHeader::parse(&self.partial) else {
            return;
        };
        if header.packet_length == 0 {
            return;
        }
        let total = 6 + usize::from(header.packet_length);
        if self.partial.len() >= total {
            let mut data = std::mem::take(&mut self.partial);
            data.truncate(total);
            self.finish(data);
            self.collecting = false;
        }
    }

    fn finish(&mut self, mut data: Vec<u8>) {
        match PesHeader::parse(&data) {
            Ok(header) => {
                let payload = data.split_off(header.header_length.min(data.len()));
                if self.ready.len() >= MAX_READY {
                    self.ready.pop_front();
                    self.errors += 1;
                    self.last_drop = Some(PesDrop::Overrun);
                }
                self.ready.push_back(PesPacket { header, payload });
            }
            Err(error) => {
                self.errors += 1;
                self.last_drop = Some(PesDrop::Header(error));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pes(
        stream_id: u8,
        pts: Option<u64>,
        dts: Option<u64>,
        body: &[u8],
        bounded: bool,
    ) -> Vec<u8> {
        let mut fields = Vec::new();
        let flags = match (pts, dts) {
            (Some(p), Some(d)) => {
                fields.extend_from_slice(&Timestamp(p).write(0b0011));
                fields.extend_from_slice(&Timestamp(d).write(0b0001));
                0xC0
            }
            (Some(p), None) => {
                fields.extend_from_slice(&Timestamp(p).write(0b0010));
                0x80
            }
            _ => 0,
        };
        let len = if bounded {
            3 + fields.len() + body.len()
        } else {
            0
        };
        let mut out = vec![0, 0, 1, stream_id];
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&[0x80, flags, fields.len() as u8]);
        out.extend_from_slice(&fields);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn parses_pts_and_dts() {
        let data = pes(
            0xE0,
            Some(0x1_2345_6789),
            Some(0x0_0000_0001),
            b"abc",
            false,
        );
        let h = PesHeader::parse(&data).unwrap();
        assert_eq!(h.stream_id, 0xE0);
        assert_eq!(h.packet_length, 0);
        assert_eq!(h.pts, Some(Timestamp(0x1_2345_6789)));
        assert_eq!(h.dts, Some(Timestamp(1)));
        assert_eq!(&data[h.header_length..], b"abc");
    }

    #[test]
    fn parses_known_bytes() {
        // ffmpeg's first video PES: PTS 126000 (1.4 s), DTS 126000.
        let data = [
            0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80, 0xC0, 0x0A, 0x31, 0x00, 0x07, 0xD8, 0x61,
            0x11, 0x00, 0x07, 0xD8, 0x61,
        ];
        let h = PesHeader::parse(&data).unwrap();
        assert_eq!(h.pts, Some(Timestamp(126_000)));
        assert_eq!(h.dts, Some(Timestamp(126_000)));
        assert_eq!(h.header_length, 19);
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(
            PesHeader::parse(&[0, 0, 1]),
            Err(PesError::Short { need: 6, have: 3 })
        );
        assert_eq!(
            PesHeader::parse(&[0, 0, 2, 0xE0, 0, 0]),
            Err(PesError::NoStartCode)
        );
        let mut data = pes(0xE0, Some(5), None, b"", false);
        data[9] &= 0xFE; // clear a marker bit
        assert!(matches!(
            PesHeader::parse(&data),
            Err(PesError::Malformed(_))
        ));
        let data = pes(0xE0, Some(5), None, b"", false);
        assert!(matches!(
            PesHeader::parse(&data[..12]),
            Err(PesError::Short { .. })
        ));
    }

    #[test]
    fn extend_handles_wrap() {
        let max = TIMESTAMP_MODULUS as i64;
        // Forward across the wrap.
        assert_eq!(Timestamp(10).extend(max - 10), max + 10);
        // Backward across the wrap (a B-frame just before it).
        assert_eq!(Timestamp(TIMESTAMP_MODULUS - 5).extend(max + 3), max - 5);
        // Before zero stays negative instead of jumping a whole period.
        assert_eq!(Timestamp(TIMESTAMP_MODULUS - 5).extend(3), -5);
        // Ordinary steps.
        assert_eq!(Timestamp(3600).extend(0), 3600);
        assert_eq!(Timestamp(3600).extend(2 * max + 100), 2 * max + 3600);
    }

    #[test]
    fn assembles_across_packets() {
        let mut asm = PesAssembler::new();
        let first = pes(0xE0, Some(100), None, &[7; 300], false);
        let second = pes(0xE0, Some(3700), None, &[8; 10], false);
        asm.push(false, &[1, 2, 3]); // before any start: ignored
        asm.push(true, &first[..184]);
        asm.push(false, &first[184..]);
        assert!(asm.pop().is_none());
        asm.push(true, &second);
        let p = asm.pop().unwrap();
        assert_eq!(p.header.pts, Some(Timestamp(100)));
        assert_eq!(p.payload, vec![7; 300]);
        asm.flush();
        assert_eq!(asm.pop().unwrap().payload, vec![8; 10]);
        assert_eq!(asm.errors(), 0);
    }

    #[test]
    fn bounded_packet_completes_without_next_start() {
        let mut asm = PesAssembler::new();
        let audio = pes(0xC0, Some(1), None, &[9; 200], true);
        asm.push(true, &audio[..100]);
        assert!(asm.pop().is_none());
        asm.push(false, &audio[100..]);
        assert_eq!(asm.pop().unwrap().payload, vec![9; 200]);
    }

    proptest! {
        #[test]
        fn timestamp_round_trip(v in 0u64..TIMESTAMP_MODULUS) {
            let bytes = Timestamp(v).write(0b0010);
            prop_assert_eq!(Timestamp::read(&bytes).unwrap(), Timestamp(v));
        }

        #[test]
        fn extend_is_within_half_period(prev in -(1i64 << 40)..(1i64 << 40), v in 0u64..TIMESTAMP_MODULUS) {
            let e = Timestamp(v).extend(prev);
            prop_assert_eq!(e.rem_euclid(TIMESTAMP_MODULUS as i64) as u64, v);
            prop_assert!((e - prev).abs() <= (TIMESTAMP_MODULUS / 2) as i64);
        }

        #[test]
        fn parse_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = PesHeader::parse(&data);
            let mut asm = PesAssembler::new();
            asm.push(true, &data);
            asm.flush();
        }
    }
}
