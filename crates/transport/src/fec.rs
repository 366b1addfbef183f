//! SMPTE 2022-1 forward error correction (Pro-MPEG CoP #3): XOR parity over
//! an L×D matrix of RTP media packets. Column FEC (one parity packet per
//! column of D packets, on media port + 2) repairs bursts; row FEC (one per
//! row of L packets, on port + 4) repairs scattered single losses. Used
//! together, a loss is repaired when some row or column it sits in has no
//! other loss, repeatedly, as repairs free further rows and columns.
//!
//! The layout matches what ffmpeg's `prompeg` protocol sends and expects, so
//! `-f rtp_mpegts -fec prompeg=l=5:d=5 rtp://host:port` is a valid encoder.
//!
//! Why not `smpte2022-1-fec`: it decodes only (outputs need an encoder), it
//! passes packets on out of order and leaves reordering and the give-up policy
//! to the caller, while here repair, reordering and 2022-7 merging share one
//! sequence space and one wait budget. Its last release is from 2021.

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use crate::rtp::{self, RtpPacket};
use crate::seq::{nearest, SeqExtender};

/// RTP payload type of FEC packets (dynamic, as ffmpeg and most gear send).
pub const PT_FEC: u8 = 96;
/// Length of the 2022-1 FEC header that follows the RTP header.
pub const FEC_HEADER_LEN: usize = 16;
/// SMPTE 2022-1 limits: L in 1..=20 (4..=20 with rows), D in 4..=20, L×D ≤ 100.
pub const MAX_L: u8 = 20;
pub const MAX_D: u8 = 20;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FecError {
    #[error("FEC datagram: {0}")]
    Rtp(#[from] rtp::RtpError),
    #[error("FEC packet of {0} bytes has no room for the 16-byte FEC header")]
    TooShort(usize),
    #[error("FEC type {0} is not XOR (2022-1 defines only XOR)")]
    Type(u8),
    #[error("FEC offset {offset} / NA {na} is outside what 2022-1 allows")]
    Matrix { offset: u8, na: u8 },
}

/// The 16-byte 2022-1 FEC header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FecHeader {
    pub sn_base: u16,
    pub length_recovery: u16,
    /// XOR of the media packets' marker+payload-type bytes (7 bits kept).
    pub pt_recovery: u8,
    pub ts_recovery: u32,
    /// D bit: set on row FEC packets, clear on column ones.
    pub row: bool,
    /// Spacing of protected packets: L for columns, 1 for rows.
    pub offset: u8,
    /// Number of protected packets: D for columns, L for rows.
    pub na: u8,
}

impl FecHeader {
    pub fn parse(b: &[u8]) -> Result<Self, FecError> {
        let h: &[u8; FEC_HEADER_LEN] = b
            .get(..FEC_HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(FecError::TooShort(b.len()))?;
        let fec_type = (h[12] >> 3) & 0x07;
        if fec_type != 0 {
            return Err(FecError::Type(fec_type));
        }
        let header = Self {
            sn_base: u16::from_be_bytes([h[0], h[1]]),
            length_recovery: u16::from_be_bytes([h[2], h[3]]),
            pt_recovery: h[4] & 0x7F,
            ts_recovery: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            row: h[12] & 0x40 != 0,
            offset: h[13],
            na: h[14],
        };
        let ok = header.na >= 1
            && header.offset >= 1
            && header.na <= MAX_L.max(MAX_D)
            && header.offset <= MAX_L
            && (!header.row || header.offset == 1);
        if !ok {
            return Err(FecError::Matrix {
                offset: header.offset,
                na: header.na,
            });
        }
        Ok(header)
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sn_base.to_be_bytes());
        out.extend_from_slice(&self.length_recovery.to_be_bytes());
        out.extend_from_slice(&[0x80 | (self.pt_recovery & 0x7F), 0, 0, 0]);
        out.extend_from_slice(&self.ts_recovery.to_be_bytes());
        out.extend_from_slice(&[if self.row { 0x40 } else { 0 }, self.offset, self.na, 0]);
    }

    /// The (16-bit) sequence numbers this FEC packet protects.
    pub fn protected(&self) -> impl Iterator<Item = u16> + '_ {
        (0..u16::from(self.na)).map(move |i| {
            self.sn_base
                .wrapping_add(i.wrapping_mul(u16::from(self.offset)))
        })
    }
}

/// A parsed FEC packet: its header and XOR payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FecPacket {
    pub header: FecHeader,
    /// Recovery of the media packets' first RTP byte (P, X, CC bits).
    pub byte0_recovery: u8,
    pub payload: Vec<u8>,
}

impl FecPacket {
    pub fn parse(datagram: &[u8]) -> Result<Self, FecError> {
        let rtp = RtpPacket::parse(datagram)?;
        let header = FecHeader::parse(rtp.payload)?;
        Ok(Self {
            header,
            byte0_recovery: datagram.first().copied().unwrap_or(0) & 0x3F,
            payload: rtp
                .payload
                .get(FEC_HEADER_LEN..)
                .unwrap_or_default()
                .to_vec(),
        })
    }
}

/// What FEC keeps of a media packet: the fields 2022-1 protects.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Protected {
    byte0: u8,
    byte1: u8,
    timestamp: u32,
    /// Everything after the 12-byte RTP header.
    rest: Vec<u8>,
}

impl Protected {
    fn of(datagram: &[u8]) -> Option<Self> {
        Some(Self {
            byte0: datagram.first()? & 0x3F,
            byte1: *datagram.get(1)?,
            timestamp: u32::from_be_bytes(datagram.get(4..8)?.try_into().ok()?),
            rest: datagram.get(rtp::HEADER_LEN..)?.to_vec(),
        })
    }
}

/// A running XOR over media packets (one row or one column).
#[derive(Clone, Debug, Default)]
struct Parity {
    sn_base: u16,
    first_ts: u32,
    byte0: u8,
    byte1: u8,
    ts: u32,
    len: u16,
    data: Vec<u8>,
}

impl Parity {
    fn start(seq: u16, p: &Protected) -> Self {
        let mut x = Self {
            sn_base: seq,
            first_ts: p.timestamp,
            ..Self::default()
        };
        x.add(p);
        x
    }

    fn add(&mut self, p: &Protected) {
        self.byte0 ^= p.byte0;
        self.byte1 ^= p.byte1;
        self.ts ^= p.timestamp;
        self.len ^= p.rest.len() as u16;
        xor_into(&mut self.data, &p.rest);
    }

    fn packet(&self, seq: u16, ssrc: u32, row: bool, offset: u8, na: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(rtp::HEADER_LEN + FEC_HEADER_LEN + self.data.len());
        rtp::write_header(&mut out, PT_FEC, seq, self.first_ts, ssrc);
        if let Some(b) = out.first_mut() {
            *b |= self.byte0 & 0x3F;
        }
        FecHeader {
            sn_base: self.sn_base,
            length_recovery: self.len,
            pt_recovery: self.byte1,
            ts_recovery: self.ts,
            row,
            offset,
            na,
        }
        .write(&mut out);
        out.extend_from_slice(&self.data);
        out
    }
}

fn xor_into(acc: &mut Vec<u8>, data: &[u8]) {
    if acc.len() < data.len() {
        acc.resize(data.len(), 0);
    }
    for (a, d) in acc.iter_mut().zip(data) {
        *a ^= d;
    }
}

/// FEC packets an encoder produced for one media packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FecOut {
    pub columns: Vec<Vec<u8>>,
    pub rows: Vec<Vec<u8>>,
}

impl FecOut {
    /// The packets with the port each goes to: columns (media port + 2), then
    /// rows (+ 4).
    pub fn into_datagrams(self) -> impl Iterator<Item = (crate::flow::Port, Vec<u8>)> {
        use crate::flow::Port;
        let columns = self.columns.into_iter().map(|c| (Port::FecColumn, c));
        columns.chain(self.rows.into_iter().map(|r| (Port::FecRow, r)))
    }
}

/// Generates 2022-1 column and row FEC for an outgoing RTP stream. Column
/// packets of a finished matrix are spread over the next one (one every D
/// media packets), as ffmpeg does, so that FEC never bursts.
#[derive(Debug)]
pub struct FecEncoder {
    l: u8,
    d: u8,
    ssrc: u32,
    index: usize,
    row: Option<Parity>,
    columns: Vec<Option<Parity>>,
    finished_columns: VecDeque<Parity>,
    col_seq: u16,
    row_seq: u16,
}

impl FecEncoder {
    /// `l` columns × `d` rows, both clamped to what 2022-1 allows.
    pub fn new(l: u8, d: u8, ssrc: u32) -> Self {
        let l = l.clamp(1, MAX_L);
        let d = d.clamp(4, MAX_D);
        Self {
            l,
            d,
            ssrc,
            index: 0,
            row: None,
            columns: vec![None; usize::from(l)],
            finished_columns: VecDeque::new(),
            col_seq: 0,
            row_seq: 0,
        }
    }

    /// Feeds one outgoing media datagram (a full RTP packet).
    pub fn push(&mut self, datagram: &[u8]) -> FecOut {
        let mut out = FecOut::default();
        let (Some(p), Ok(rtp)) = (Protected::of(datagram), RtpPacket::parse(datagram)) else {
            return out;
        };
        let (l, d) = (usize::from(self.l), usize::from(self.d));
        let col = self.index % l;
        let row = self.index / l;
        match &mut self.row {
            Some(r) if col != 0 => r.add(&p),
            _ => self.row = Some(Parity::start(rtp.seq, &p)),
        }
        if let Some(slot) = self.columns.get_mut(col) {
            match slot {
                Some(c) if row != 0 => c.add(&p),
                _ => *slot = Some(Parity::start(rtp.seq, &p)),
            }
        }
        if col + 1 == l {
            if let Some(r) = self.row.take() {
                self.row_seq = self.row_seq.wrapping_add(1);
                out.rows
                    .push(r.packet(self.row_seq, self.ssrc, true, 1, self.l));
            }
        }
        if self.index.is_multiple_of(d) {
            if let Some(c) = self.finished_columns.pop_front() {
                self.col_seq = self.col_seq.wrapping_add(1);
                out.columns
                    .push(c.packet(self.col_seq, self.ssrc, false, self.l, self.d));
            }
        }
        self.index += 1;
        if self.index == l * d {
            self.index = 0;
            // Anything not yet sent from the previous matrix goes now.
            while let Some(c) = self.finished_columns.pop_front() {
                self.col_seq = self.col_seq.wrapping_add(1);
                out.columns
                    .push(c.packet(self.col_seq, self.ssrc, false, self.l, self.d));
            }
            self.finished_columns
                .extend(self.columns.iter_mut().filter_map(Option::take));
        }
        out
    }
}

/// Counters of a decoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FecStats {
    pub fec_packets: u64,
    pub recovered: u64,
    pub malformed: u64,
}

/// How many media packets the decoder remembers for repairs. Column FEC of a
/// matrix arrives during the next one, so two 20×20 matrices must fit.
const HISTORY: u64 = 1024;
/// FEC packets waiting for a repair opportunity.
const MAX_PENDING: usize = 512;

/// Receives media and FEC packets of one source and hands back media packets
/// it rebuilt. Packets are identified by extended sequence number.
#[derive(Debug, Default)]
pub struct FecDecoder {
    ext: SeqExtender,
    media: BTreeMap<u64, Protected>,
    pending: Vec<(u64, FecPacket)>,
    /// Largest L and D seen in FEC headers (0 until FEC arrives).
    l: u8,
    d: u8,
    stats: FecStats,
}

impl FecDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> FecStats {
        self.stats
    }

    /// The matrix seen so far as (L, D), once both kinds of FEC have arrived.
    pub fn matrix(&self) -> Option<(u8, u8)> {
        (self.l > 0 && self.d > 0).then_some((self.l, self.d))
    }

    /// Records a media datagram (already known to be valid RTP). Returns
    /// packets this made recoverable, as full RTP datagrams.
    pub fn on_media(&mut self, datagram: &[u8]) -> Vec<Vec<u8>> {
        let (Some(p), Ok(rtp)) = (Protected::of(datagram), RtpPacket::parse(datagram)) else {
            return Vec::new();
        };
        let seq = self.ext.extend(rtp.seq);
        self.media.insert(seq, p);
        self.trim();
        self.repair()
    }

    /// Records a FEC datagram from the column or row port.
    pub fn on_fec(&mut self, datagram: &[u8]) -> Vec<Vec<u8>> {
        let fec = match FecPacket::parse(datagram) {
            Ok(f) => f,
            Err(_) => {
                self.stats.malformed += 1;
                return Vec::new();
            }
        };
        self.stats.fec_packets += 1;
        if fec.header.row {
            self.l = self.l.max(fec.header.na);
        } else {
            self.l = self.l.max(fec.header.offset);
            self.d = self.d.max(fec.header.na);
        }
        let Some(highest) = self.ext.highest() else {
            return Vec::new();
        };
        let base = nearest(highest, fec.header.sn_base);
        self.pending.push((base, fec));
        if self.pending.len() > MAX_PENDING {
            self.pending.remove(0);
        }
        self.repair()
    }

    fn trim(&mut self) {
        let Some(h) = self.ext.highest() else { return };
        let floor = h.saturating_sub(HISTORY);
        while self
            .media
            .first_key_value()
            .is_some_and(|(k, _)| *k < floor)
        {
            self.media.pop_first();
        }
        self.pending
            .retain(|(base, _)| *base + 2 * u64::from(MAX_L) * u64::from(MAX_D) >= floor);
    }

    /// Repairs every packet some pending FEC can rebuild, repeating while a
    /// repair makes another one possible.
    fn repair(&mut self) -> Vec<Vec<u8>> {
        let mut rebuilt = Vec::new();
        let floor = self.ext.highest().map_or(0, |h| h.saturating_sub(HISTORY));
        loop {
            let mut progress = false;
            let mut i = 0;
            while i < self.pending.len() {
                let Some((base, fec)) = self.pending.get(i) else {
                    break;
                };
                let covered: Vec<u64> = (0..u64::from(fec.header.na))
                    .map(|k| base + k * u64::from(fec.header.offset))
                    .collect();
                if covered.first().is_some_and(|f| *f < floor) {
                    self.pending.swap_remove(i);
                    continue;
                }
                let missing: Vec<u64> = covered
                    .iter()
                    .copied()
                    .filter(|s| !self.media.contains_key(s))
                    .collect();
                match missing.as_slice() {
                    [] => {
                        self.pending.swap_remove(i);
                    }
                    [lost] => {
                        let lost = *lost;
                        let (_, fec) = self.pending.swap_remove(i);
                        if let Some(p) = self.rebuild(&fec, &covered, lost) {
                            rebuilt.push(p.0);
                            self.media.insert(lost, p.1);
                            self.stats.recovered += 1;
                            progress = true;
                        }
                    }
                    _ => i += 1,
                }
            }
            if !progress {
                return rebuilt;
            }
        }
    }

    fn rebuild(&self, fec: &FecPacket, covered: &[u64], lost: u64) -> Option<(Vec<u8>, Protected)> {
        let mut byte0 = fec.byte0_recovery;
        let mut byte1 = fec.header.pt_recovery;
        let mut ts = fec.header.ts_recovery;
        let mut len = fec.header.length_recovery;
        let mut rest = fec.payload.clone();
        for s in covered.iter().filter(|s| **s != lost) {
            let p = self.media.get(s)?;
            byte0 ^= p.byte0;
            byte1 ^= p.byte1;
            ts ^= p.timestamp;
            len ^= p.rest.len() as u16;
            xor_into(&mut rest, &p.rest);
        }
        rest.truncate(usize::from(len));
        let seq = (lost & 0xFFFF) as u16;
        let mut datagram = Vec::with_capacity(rtp::HEADER_LEN + rest.len());
        rtp::write_header(&mut datagram, byte1 & 0x7F, seq, ts, 0);
        if let Some(b) = datagram.first_mut() {
            *b |= byte0 & 0x3F;
        }
        datagram.extend_from_slice(&rest);
        // A rebuilt packet must itself be valid RTP, or it is not used.
        RtpPacket::parse(&datagram).ok()?;
        let protected = Protected {
            byte0: byte0 & 0x3F,
            byte1,
            timestamp: ts,
            rest,
        };
        Some((datagram, protected))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn media(seq: u16) -> Vec<u8> {
        let mut b = Vec::new();
        rtp::write_header(&mut b, rtp::PT_MP2T, seq, u32::from(seq) * 3000, 42);
        for k in 0..7u8 {
            b.push(0x47);
            b.extend((0..187u32).map(|i| (i as u8) ^ (seq as u8) ^ k));
        }
        b
    }

    /// Sends `count` packets from `start` through an encoder, drops `lost`
    /// (offsets from start), and returns what the decoder rebuilt.
    fn run(l: u8, d: u8, start: u16, count: usize, lost: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut enc = FecEncoder::new(l, d, 1);
        let mut dec = FecDecoder::new();
        let mut rebuilt = BTreeSet::new();
        for i in 0..count {
            let seq = start.wrapping_add(i as u16);
            let pkt = media(seq);
            let fec = enc.push(&pkt);
            let mut got = Vec::new();
            if !lost.contains(&i) {
                got.extend(dec.on_media(&pkt));
            }
            for f in fec.columns.iter().chain(&fec.rows) {
                got.extend(dec.on_fec(f));
            }
            for g in got {
                let r = RtpPacket::parse(&g).unwrap();
                let off = r.seq.wrapping_sub(start) as usize;
                // Everything but the SSRC, which 2022-1 does not protect.
                let want = media(r.seq);
                assert!(
                    g[..8] == want[..8] && g[12..] == want[12..],
                    "rebuilt packet {off} differs"
                );
                rebuilt.insert(off);
            }
        }
        rebuilt
    }

    #[test]
    fn header_round_trip() {
        let h = FecHeader {
            sn_base: 65530,
            length_recovery: 1316,
            pt_recovery: 33,
            ts_recovery: 99,
            row: false,
            offset: 5,
            na: 5,
        };
        let mut b = Vec::new();
        h.write(&mut b);
        assert_eq!(FecHeader::parse(&b), Ok(h));
        assert_eq!(
            h.protected().collect::<Vec<_>>(),
            vec![65530, 65535, 4, 9, 14]
        );
    }

    #[test]
    fn a_single_loss_in_every_position_is_rebuilt() {
        for pos in 0..50 {
            let lost = BTreeSet::from([pos]);
            assert_eq!(run(5, 5, 65500, 100, &lost), lost, "position {pos}");
        }
    }

    #[test]
    fn a_burst_of_l_packets_is_rebuilt_by_columns() {
        for start in 0..25 {
            let lost: BTreeSet<usize> = (start..start + 5).collect();
            assert_eq!(run(5, 5, 100, 100, &lost), lost, "burst at {start}");
        }
    }

    #[test]
    fn a_2x2_square_cannot_be_rebuilt() {
        // Packets (row 0, col 0), (0, 1), (1, 0), (1, 1): every row and every
        // column through them has two losses, so XOR parity cannot help.
        let lost = BTreeSet::from([0, 1, 5, 6]);
        assert!(run(5, 5, 7, 75, &lost).is_empty());
    }

    #[test]
    fn a_burst_longer_than_l_leaves_exactly_the_unrecoverable_packets() {
        // Six consecutive losses: columns 0 has two (positions 0 and 5); row
        // 0 has five. Row 1 has only position 5: rebuilt by row FEC, after
        // which column 0 has one loss left and rebuilds position 0.
        let lost: BTreeSet<usize> = (0..6).collect();
        assert_eq!(run(5, 5, 0, 75, &lost), lost);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever is lost, every packet the decoder returns is exactly the
        /// original, and every loss recoverable by iterated row/column parity
        /// is recovered.
        #[test]
        fn rebuilds_exactly_the_recoverable_losses(
            start: u16,
            lost in proptest::collection::btree_set(0usize..50, 0..12),
        ) {
            // Only matrices whose FEC has fully arrived: the first two.
            let got = run(5, 5, start, 100, &lost);
            let expected = recoverable(5, 5, &lost);
            proptest::prop_assert_eq!(got, expected);
        }
    }

    /// Reference model: iterated peeling over rows and columns of each
    /// 5×5 matrix.
    fn recoverable(l: usize, d: usize, lost: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut missing = lost.clone();
        let mut done = BTreeSet::new();
        loop {
            let mut changed = false;
            for &m in missing.clone().iter() {
                let matrix = m / (l * d);
                let (r, c) = ((m % (l * d)) / l, m % l);
                let row: Vec<usize> = (0..l).map(|k| matrix * l * d + r * l + k).collect();
                let col: Vec<usize> = (0..d).map(|k| matrix * l * d + k * l + c).collect();
                let alone = |g: &[usize]| g.iter().filter(|x| missing.contains(x)).count() == 1;
                if alone(&row) || alone(&col) {
                    missing.remove(&m);
                    done.insert(m);
                    changed = true;
                }
            }
            if !changed {
                return done;
            }
        }
    }
}
