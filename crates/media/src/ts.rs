//! MPEG-2 transport stream packets (ISO/IEC 13818-1 §2.4.3.2 – §2.4.3.5).
//!
//! [`TsPacket::parse`] borrows one 188-byte packet and splits it into header, adaptation
//! field and payload; [`write_packet`] builds one, stuffing with `0xFF` in the adaptation
//! field so the payload ends exactly at byte 188.
//!
//! Why not `mpeg2ts-reader`: it demultiplexes only, and onair also writes
//! packets (FEC and test tooling now, the segmenter's muxer later) and wants one
//! packet type for both directions, with property tests that round-trip them.

use std::fmt;

/// Size of one transport stream packet in bytes.
pub const PACKET_SIZE: usize = 188;
/// First byte of every transport stream packet.
pub const SYNC_BYTE: u8 = 0x47;

/// Size of the fixed packet header.
const HEADER_SIZE: usize = 4;
/// Bytes after the header: adaptation field (with its length byte) plus payload.
const BODY_SIZE: usize = PACKET_SIZE - HEADER_SIZE;

/// Packet identifier: which elementary stream or table a packet belongs to (13 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Pid(pub u16);

impl Pid {
    /// Program association table.
    pub const PAT: Pid = Pid(0);
    /// Null packets, used to pad a stream to a constant bitrate.
    pub const NULL: Pid = Pid(0x1FFF);
    /// Largest PID that fits the 13-bit field.
    pub const MAX: Pid = Pid(0x1FFF);

    /// Whether the value fits in the 13-bit PID field.
    pub fn is_valid(self) -> bool {
        self.0 <= Self::MAX.0
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04X}", self.0)
    }
}

/// Why a packet could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    /// The input is not exactly one packet; shorter input needs more bytes.
    #[error("packet is {0} bytes, expected 188")]
    WrongLength(usize),
    /// The first byte is not 0x47.
    #[error("no sync byte (found {0:#04x})")]
    NoSync(u8),
    /// adaptation_field_control is `00`, which decoders must discard.
    #[error("reserved adaptation_field_control")]
    ReservedAdaptationControl,
    /// adaptation_field_length points past the end of the packet.
    #[error("adaptation field length {0} too long")]
    AdaptationTooLong(u8),
    /// Writer: adaptation field and payload do not fit in one packet.
    #[error("adaptation field and payload do not fit in one packet")]
    TooLong,
    /// Writer: a header field is out of its bit range.
    #[error("{0} out of range")]
    FieldOutOfRange(&'static str),
    /// Writer: header flags disagree with the adaptation field or payload given.
    #[error("header flags disagree with content: {0}")]
    FlagMismatch(&'static str),
}

/// The 4-byte packet header (§2.4.3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TsHeader {
    /// transport_error_indicator: an upstream demodulator saw uncorrectable errors.
    pub tei: bool,
    /// payload_unit_start_indicator: a PES packet or PSI section starts here.
    pub pusi: bool,
    /// transport_priority.
    pub priority: bool,
    /// Packet identifier.
    pub pid: Pid,
    /// transport_scrambling_control (2 bits); 0 means not scrambled.
    pub scrambling: u8,
    /// An adaptation field follows the header.
    pub has_adaptation: bool,
    /// A payload follows the header (and adaptation field).
    pub has_payload: bool,
    /// continuity_counter (4 bits).
    pub cc: u8,
}

/// One transport stream packet, borrowed from the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsPacket<'a> {
    /// Fixed header.
    pub header: TsHeader,
    /// Adaptation field after its length byte (flags, optional fields, stuffing).
    pub adaptation: Option<&'a [u8]>,
    /// Payload bytes, possibly empty when the header says there is one.
    pub payload: Option<&'a [u8]>,
    /// discontinuity_indicator from the adaptation field: continuity counter or PCR jumps here.
    pub discontinuity: bool,
}

impl<'a> TsPacket<'a> {
    /// Reads one packet; `data` must be exactly [`PACKET_SIZE`] bytes.
    pub fn parse(data: &'a [u8]) -> Result<TsPacket<'a>, TsError> {
        if data.len() != PACKET_SIZE {
            return Err(TsError::WrongLength(data.len()));
        }
        let Some(([sync, b1, b2, b3], body)) = data.split_first_chunk::<HEADER_SIZE>() else {
            return Err(TsError::WrongLength(data.len()));
        };
        if *sync != SYNC_BYTE {
            return Err(TsError::NoSync(*sync));
        }
        let header = TsHeader {
            tei: b1 & 0x80 != 0,
            pusi: b1 & 0x40 != 0,
            priority: b1 & 0x20 != 0,
            pid: Pid(u16::from(b1 & 0x1F) << 8 | u16::from(*b2)),
            scrambling: b3 >> 6,
            has_adaptation: b3 & 0x20 != 0,
            has_payload: b3 & 0x10 != 0,
            cc: b3 & 0x0F,
        };
        if !header.has_adaptation && !header.has_payload {
            return Err(TsError::ReservedAdaptationControl);
        }
        let (adaptation, rest) = if header.has_adaptation {
            let Some((len, rest)) = body.split_first() else {
                return Err(TsError::WrongLength(data.len()));
            };
            let Some((field, rest)) = rest.split_at_checked(usize::from(*len)) else {
                return Err(TsError::AdaptationTooLong(*len));
            };
            (Some(field), rest)
        } else {
            (None, body)
        };
        let discontinuity = adaptation
            .and_then(|a| a.first())
            .is_some_and(|flags| flags & 0x80 != 0);
        Ok(TsPacket {
            header,
            adaptation,
            payload: header.has_payload.then_some(rest),
            discontinuity,
        })
    }
}

/// Builds one packet into `out`.
///
/// `adaptation` is the adaptation field after its length byte (flags first). When the
/// payload leaves room, the adaptation field is padded with `0xFF` stuffing; if the header
/// has no adaptation field, one is added (and the flag set in `out`) to carry the stuffing.
/// Without a payload (`has_payload == false`) `payload` must be empty.
pub fn write_packet(
    h: &TsHeader,
    adaptation: Option<&[u8]>,
    payload: &[u8],
    out: &mut [u8; PACKET_SIZE],
) -> Result<(), TsError> {
    if !h.pid.is_valid() {
        return Err(TsError::FieldOutOfRange("pid"));
    }
    if h.scrambling > 3 {
        return Err(TsError::FieldOutOfRange("scrambling"));
    }
    if h.cc > 15 {
        return Err(TsError::FieldOutOfRange("cc"));
    }
    if h.has_adaptation != adaptation.is_some() {
        return Err(TsError::FlagMismatch("adaptation"));
    }
    if !h.has_payload && !payload.is_empty() {
        return Err(TsError::FlagMismatch("payload"));
    }
    if !h.has_adaptation && !h.has_payload {
        return Err(TsError::ReservedAdaptationControl);
    }

    let field = adaptation.unwrap_or(&[]);
    // Room left for the adaptation field (length byte included) once the payload is in.
    let room = BODY_SIZE
        .checked_sub(payload.len())
        .ok_or(TsError::TooLong)?;
    let needs_adaptation = h.has_adaptation || room > 0;
    if needs_adaptation && field.len() + 1 > room {
        return Err(TsError::TooLong);
    }

    let mut w = Vec::with_capacity(PACKET_SIZE);
    w.push(SYNC_BYTE);
    let pid = h.pid.0.to_be_bytes();
    w.push(
        u8::from(h.tei) << 7
            | u8::from(h.pusi) << 6
            | u8::from(h.priority) << 5
            | (pid.first().copied().unwrap_or(0) & 0x1F),
    );
    w.push(pid.get(1).copied().unwrap_or(0));
    w.push(
        h.scrambling << 6 | u8::from(needs_adaptation) << 5 | u8::from(h.has_payload) << 4 | h.cc,
    );
    if needs_adaptation {
        // `room - 1` fits a byte: room <= 184.
        let field_len = u8::try_from(room - 1).map_err(|_| TsError::TooLong)?;
        w.push(field_len);
        w.extend_from_slice(field);
        let mut stuffing = room - 1 - field.len();
        if field.is_empty() && stuffing > 0 {
            // A non-empty adaptation field starts with its flags byte.
            w.push(0x00);
            stuffing -= 1;
        }
        w.extend(std::iter::repeat_n(0xFF, stuffing));
    }
    w.extend_from_slice(payload);
    for (o, b) in out
        .iter_mut()
        .zip(w.into_iter().chain(std::iter::repeat(0xFF)))
    {
        *o = b;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(pid: u16, cc: u8) -> TsHeader {
        TsHeader {
            pid: Pid(pid),
            has_payload: true,
            cc,
            ..TsHeader::default()
        }
    }

    #[test]
    fn parses_fields() {
        let mut p = [0xFFu8; PACKET_SIZE];
        p[..6].copy_from_slice(&[0x47, 0xE1, 0x00, 0x7A, 0x01, 0x80]);
        let pkt = TsPacket::parse(&p).unwrap();
        assert!(pkt.header.tei && pkt.header.pusi && pkt.header.priority);
        assert_eq!(pkt.header.pid, Pid(0x100));
        assert_eq!(pkt.header.scrambling, 1);
        assert_eq!(pkt.header.cc, 0xA);
        assert_eq!(pkt.adaptation, Some(&[0x80u8][..]));
        assert!(pkt.discontinuity);
        assert_eq!(pkt.payload.unwrap().len(), 182);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(TsPacket::parse(&[0x47; 10]), Err(TsError::WrongLength(10)));
        let mut p = [0u8; PACKET_SIZE];
        assert_eq!(TsPacket::parse(&p), Err(TsError::NoSync(0)));
        p[0] = SYNC_BYTE;
        assert_eq!(TsPacket::parse(&p), Err(TsError::ReservedAdaptationControl));
        p[3] = 0x30;
        p[4] = 184;
        assert_eq!(TsPacket::parse(&p), Err(TsError::AdaptationTooLong(184)));
    }

    #[test]
    fn short_payload_gets_stuffing() {
        let mut out = [0u8; PACKET_SIZE];
        write_packet(&header(0x31, 3), None, &[1, 2, 3], &mut out).unwrap();
        let pkt = TsPacket::parse(&out).unwrap();
        assert!(pkt.header.has_adaptation);
        assert_eq!(pkt.payload, Some(&[1u8, 2, 3][..]));
        let field = pkt.adaptation.unwrap();
        assert_eq!(field[0], 0x00);
        assert!(field[1..].iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn single_byte_adaptation() {
        let mut out = [0u8; PACKET_SIZE];
        write_packet(&header(0x31, 3), None, &[7; 183], &mut out).unwrap();
        let pkt = TsPacket::parse(&out).unwrap();
        assert_eq!(pkt.adaptation, Some(&[][..]));
        assert_eq!(pkt.payload, Some(&[7u8; 183][..]));
    }

    #[test]
    fn writer_rejects_oversize() {
        let mut out = [0u8; PACKET_SIZE];
        assert_eq!(
            write_packet(&header(1, 0), None, &[0; 185], &mut out),
            Err(TsError::TooLong)
        );
        let h = TsHeader {
            has_adaptation: true,
            ..header(1, 0)
        };
        assert_eq!(
            write_packet(&h, Some(&[0; 10]), &[0; 174], &mut out),
            Err(TsError::TooLong)
        );
        assert_eq!(
            write_packet(&header(0x2000, 0), None, &[], &mut out),
            Err(TsError::FieldOutOfRange("pid"))
        );
    }

    fn arb_packet() -> impl Strategy<Value = (TsHeader, Option<Vec<u8>>, Vec<u8>)> {
        (
            any::<(bool, bool, bool)>(),
            0u16..0x2000,
            0u8..4,
            0u8..16,
            0u8..3,
            prop::collection::vec(any::<u8>(), 0..=183),
            prop::collection::vec(any::<u8>(), 0..=184),
        )
            .prop_map(|((tei, pusi, priority), pid, scrambling, cc, kind, a, p)| {
                let (has_adaptation, has_payload) = match kind {
                    0 => (true, false),
                    1 => (false, true),
                    _ => (true, true),
                };
                let mut payload = if has_payload { p } else { Vec::new() };
                if has_adaptation {
                    payload.truncate(183);
                }
                let adaptation = has_adaptation.then(|| {
                    let max = 183 - payload.len();
                    a[..a.len().min(max)].to_vec()
                });
                let h = TsHeader {
                    tei,
                    pusi,
                    priority,
                    pid: Pid(pid),
                    scrambling,
                    has_adaptation,
                    has_payload,
                    cc,
                };
                (h, adaptation, payload)
            })
    }

    proptest! {
        #[test]
        fn round_trip((h, adaptation, payload) in arb_packet()) {
            let mut out = [0u8; PACKET_SIZE];
            write_packet(&h, adaptation.as_deref(), &payload, &mut out).unwrap();
            let pkt = TsPacket::parse(&out).unwrap();
            let expected = TsHeader {
                has_adaptation: h.has_adaptation || payload.len() < 184,
                ..h
            };
            prop_assert_eq!(pkt.header, expected);
            prop_assert_eq!(pkt.payload, h.has_payload.then_some(&payload[..]));
            let given = adaptation.unwrap_or_default();
            if let Some(field) = pkt.adaptation {
                prop_assert!(field.starts_with(&given));
                let stuffing = &field[given.len()..];
                let skip = usize::from(given.is_empty() && !stuffing.is_empty());
                prop_assert!(stuffing[skip..].iter().all(|&b| b == 0xFF));
            }
            // Writing what was parsed gives back the same bytes.
            let mut again = [0u8; PACKET_SIZE];
            write_packet(&pkt.header, pkt.adaptation, pkt.payload.unwrap_or(&[]), &mut again)
                .unwrap();
            prop_assert_eq!(&again[..], &out[..]);
        }

        #[test]
        fn parse_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = TsPacket::parse(&data);
        }
    }
}
