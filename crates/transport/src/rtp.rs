//! RTP (RFC 3550) packets carrying MPEG-TS (payload type 33, RFC 2250).
//!
//! `rtp-rs` would parse this too; the parser is kept here (60 lines) because
//! the FEC decoder rebuilds the very header fields 2022-1 protects and writes
//! RTP headers for outputs, and one small type for both directions is simpler.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

pub const HEADER_LEN: usize = 12;
/// RFC 3551's static payload type for MPEG-2 transport streams.
pub const PT_MP2T: u8 = 33;
/// The 90 kHz media clock MPEG-TS over RTP uses.
pub const CLOCK_HZ: u64 = 90_000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RtpError {
    #[error("datagram of {0} bytes is too short for an RTP header")]
    TooShort(usize),
    #[error("RTP version {0} (expected 2)")]
    Version(u8),
    #[error("CSRC list, header extension or padding runs past the datagram")]
    Truncated,
}

/// A parsed RTP packet borrowing its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// The media payload: after CSRCs and extension, before padding.
    pub payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Result<u16, RtpError> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(RtpError::Truncated),
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, RtpError> {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => Ok(u32::from_be_bytes([w, x, y, z])),
        _ => Err(RtpError::Truncated),
    }
}

impl<'a> RtpPacket<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let (&b0, &b1) = match (buf.first(), buf.get(1)) {
            (Some(a), Some(b)) if buf.len() >= HEADER_LEN => (a, b),
            _ => return Err(RtpError::TooShort(buf.len())),
        };
        if b0 >> 6 != 2 {
            return Err(RtpError::Version(b0 >> 6));
        }
        let csrc = usize::from(b0 & 0x0F);
        let mut start = HEADER_LEN + 4 * csrc;
        if b0 & 0x10 != 0 {
            let words = usize::from(be16(buf, start + 2)?);
            start += 4 + 4 * words;
        }
        let mut end = buf.len();
        if b0 & 0x20 != 0 {
            let pad = usize::from(*buf.last().ok_or(RtpError::Truncated)?);
            end = end.checked_sub(pad).ok_or(RtpError::Truncated)?;
        }
        let payload = buf.get(start..end).ok_or(RtpError::Truncated)?;
        Ok(Self {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7F,
            seq: be16(buf, 2)?,
            timestamp: be32(buf, 4)?,
            ssrc: be32(buf, 8)?,
            payload,
        })
    }
}

/// RFC 3550 §6.4.1 (A.8) interarrival jitter: the mean deviation of the
/// difference between arrival spacing and RTP timestamp spacing, smoothed
/// with gain 1/16, on the 90 kHz clock.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Jitter {
    last_transit: Option<i64>,
    /// In 90 kHz units.
    jitter: f64,
}

impl Jitter {
    /// One packet that arrived at `arrival` with RTP timestamp `timestamp`.
    /// Packets rebuilt by FEC must not be given: they have no arrival of
    /// their own.
    pub fn on_packet(&mut self, arrival: Duration, timestamp: u32) {
        // Both clocks wrap at 2^32 ticks: the transit time's difference is
        // taken modulo 2^32 and read as signed.
        let transit = i64::from(self::timestamp(arrival).wrapping_sub(timestamp));
        if let Some(last) = self.last_transit {
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            self.jitter += (f64::from(d) - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// The estimate in milliseconds.
    pub fn millis(&self) -> f64 {
        self.jitter * 1000.0 / CLOCK_HZ as f64
    }
}

/// Writes a plain 12-byte RTP header (no CSRC, extension or padding).
pub fn write_header(out: &mut Vec<u8>, payload_type: u8, seq: u16, timestamp: u32, ssrc: u32) {
    out.push(0x80);
    out.push(payload_type & 0x7F);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
}

/// The RTP timestamp of `now` on the 90 kHz clock (wrapping, as RTP does).
pub fn timestamp(now: Duration) -> u32 {
    (now.as_micros() * u128::from(CLOCK_HZ) / 1_000_000) as u32
}

/// An RTP packet carrying MPEG-TS (payload type 33): a plain header, then `payload`.
pub fn mp2t_packet(seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(HEADER_LEN + payload.len());
    let mut h = Vec::with_capacity(HEADER_LEN);
    write_header(&mut h, PT_MP2T, seq, timestamp, ssrc);
    b.put_slice(&h);
    b.put_slice(payload);
    b.freeze()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let mut b = Vec::new();
        write_header(&mut b, PT_MP2T, 65535, 0xDEAD_BEEF, 7);
        b.extend_from_slice(&[0x47; 188]);
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(
            (p.seq, p.timestamp, p.ssrc, p.payload_type),
            (65535, 0xDEAD_BEEF, 7, 33)
        );
        assert_eq!(p.payload.len(), 188);
    }

    #[test]
    fn mp2t_packets_on_the_90_khz_clock() {
        assert_eq!(timestamp(Duration::from_millis(10)), 900);
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        // Evenly spaced packets with matching timestamps: no jitter, even
        // across the 32-bit wrap.
        let mut j = Jitter::default();
        for i in 0..100u32 {
            j.on_packet(
                Duration::from_millis(10 * u64::from(i)),
                (u32::MAX - 450).wrapping_add(900 * i),
            );
        }
        assert!(j.millis() < 1e-9, "{}", j.millis());
        // Every other packet 4 ms late: |D| alternates 4 ms; the estimate
        // converges to it.
        let mut j = Jitter::default();
        for i in 0..400u64 {
            let late = if i % 2 == 1 { 4 } else { 0 };
            j.on_packet(Duration::from_millis(10 * i + late), (900 * i) as u32);
        }
        assert!((j.millis() - 4.0).abs() < 0.1, "{}", j.millis());
        // 2^32 ticks (about 13.25 hours) wrap to 0.
        assert_eq!(timestamp(Duration::from_micros(47_721_858_845)), 0);
        let b = mp2t_packet(9, timestamp(Duration::from_secs(1)), 5, &[0x47; 188]);
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(
            (p.seq, p.timestamp, p.ssrc, p.payload_type, p.marker),
            (9, 90_000, 5, PT_MP2T, false)
        );
        assert_eq!(p.payload, &[0x47; 188][..]);
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped() {
        let mut b = vec![0x80 | 0x20 | 0x10 | 1, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[1, 2, 3, 4]); // one CSRC
        b.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // extension of one word
        b.extend_from_slice(&[0x47, 1, 2]);
        b.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        assert_eq!(RtpPacket::parse(&b).unwrap().payload, &[0x47, 1, 2]);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(RtpPacket::parse(&[0x80; 5]), Err(RtpError::TooShort(5)));
        assert_eq!(RtpPacket::parse(&[0x47; 20]), Err(RtpError::Version(1)));
        let mut b = vec![0x8F, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::Truncated));
        b[0] = 0xA0;
        b.push(200);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::Truncated));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data: Vec<u8>) {
            let _ = RtpPacket::parse(&data);
        }
    }
}
