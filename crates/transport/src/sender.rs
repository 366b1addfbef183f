//! The sending half of an output, sans-IO: MPEG-TS payloads in, the datagrams to
//! send (and to which port) out.
//!
//! [`RtpSender`] wraps each payload in RTP (RFC 2250, payload type 33, 90 kHz
//! timestamps from the caller's clock) with its own sequence numbering and, for
//! `rtp-fec`, runs the SMPTE 2022-1 [`FecEncoder`] over the RTP packets: column
//! FEC goes to media port + 2, row FEC to port + 4 ([`Port::offset`]). The flow
//! engine ([`crate::flow::FlowCore`]) builds its output packets with the same
//! pieces ([`rtp::mp2t_packet`], [`crate::fec::FecOut::into_datagrams`]); other engines
//! (a channel's UDP outputs) use an `RtpSender` per destination.
//!
//! ```
//! use std::time::Duration;
//! use transport::flow::Port;
//! use transport::sender::RtpSender;
//!
//! let mut sender = RtpSender::new(0x1234, 100).with_fec(5, 5, true);
//! let mut out = Vec::new();
//! sender.send(Duration::ZERO, &[0x47; 7 * 188], &mut out);
//! assert_eq!(out.len(), 1); // FEC comes once a row or column is complete
//! assert_eq!(out[0].0, Port::Media);
//! ```

use std::time::Duration;

use bytes::Bytes;

use crate::fec::FecEncoder;
use crate::flow::Port;
use crate::rtp;

/// RTP (and 2022-1 FEC) numbering of one outgoing stream; see the
/// [module docs](self).
#[derive(Debug)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    fec: Option<FecEncoder>,
    row_fec: bool,
}

impl RtpSender {
    /// A sender of RTP stream `ssrc` whose first packet has sequence number `first_seq`.
    pub fn new(ssrc: u32, first_seq: u16) -> Self {
        Self {
            ssrc,
            seq: first_seq,
            fec: None,
            row_fec: false,
        }
    }

    /// Adds SMPTE 2022-1 FEC over `cols` (L) × `rows` (D) packets (clamped as
    /// [`FecEncoder::new`] does): column FEC always, row FEC when `row_fec`.
    pub fn with_fec(mut self, cols: u8, rows: u8, row_fec: bool) -> Self {
        self.fec = Some(FecEncoder::new(cols, rows, self.ssrc));
        self.row_fec = row_fec;
        self
    }

    /// The sequence number the next packet gets.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// Wraps `payload` (whole TS packets) sent at `now` (the stream's clock) in
    /// RTP and appends what to send to `out`: the media packet, then the FEC
    /// packets the encoder finished with it (after it, so that a receiver never
    /// rebuilds a packet that is on its way), each with its [`Port`].
    pub fn send(&mut self, now: Duration, payload: &[u8], out: &mut Vec<(Port, Bytes)>) {
        let packet = rtp::mp2t_packet(self.seq, rtp::timestamp(now), self.ssrc, payload);
        self.seq = self.seq.wrapping_add(1);
        let fec = self.fec.as_mut().map(|f| f.push(&packet));
        out.push((Port::Media, packet));
        if let Some(fec) = fec {
            let row_fec = self.row_fec;
            out.extend(
                fec.into_datagrams()
                    .filter(|(port, _)| row_fec || *port != Port::FecRow)
                    .map(|(port, d)| (port, Bytes::from(d))),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::fec::{FecDecoder, FecPacket};
    use crate::rtp::RtpPacket;

    fn payload(n: u8) -> Vec<u8> {
        let mut b = Vec::new();
        for k in 0..7u8 {
            b.extend_from_slice(&[
                0x47,
                0x01,
                0x00,
                0x10 | (n.wrapping_mul(7).wrapping_add(k) & 0x0F),
            ]);
            b.extend(std::iter::repeat_n(n, 184));
        }
        b
    }

    #[test]
    fn numbers_and_stamps_rtp_packets() {
        let mut sender = RtpSender::new(7, u16::MAX);
        let mut out = Vec::new();
        sender.send(Duration::from_millis(10), &payload(0), &mut out);
        sender.send(Duration::from_millis(20), &payload(1), &mut out);
        let packets: Vec<_> = out
            .iter()
            .map(|(port, d)| {
                assert_eq!(*port, Port::Media);
                RtpPacket::parse(d).unwrap()
            })
            .collect();
        assert_eq!(
            packets
                .iter()
                .map(|p| (p.seq, p.timestamp, p.ssrc, p.payload_type))
                .collect::<Vec<_>>(),
            vec![(u16::MAX, 900, 7, 33), (0, 1800, 7, 33)]
        );
        assert_eq!(packets[1].payload, &payload(1)[..]);
        assert_eq!(sender.next_seq(), 1);
    }

    #[test]
    fn fec_goes_to_its_ports_and_repairs_a_loss() {
        for row_fec in [false, true] {
            let mut sender = RtpSender::new(9, 1000).with_fec(4, 4, row_fec);
            let mut out = Vec::new();
            for n in 0..40u8 {
                sender.send(Duration::from_millis(u64::from(n)), &payload(n), &mut out);
            }
            let count = |p: Port| out.iter().filter(|(port, _)| *port == p).count();
            assert_eq!(count(Port::Media), 40);
            // The first matrix's 4 columns go during the second, the second's
            // during the third (2 of them by packet 40); a row per 4 packets.
            assert_eq!(count(Port::FecColumn), 6);
            assert_eq!(count(Port::FecRow), if row_fec { 10 } else { 0 });
            for (port, d) in &out {
                if *port != Port::Media {
                    let fec = FecPacket::parse(d).unwrap();
                    assert_eq!(fec.header.row, *port == Port::FecRow);
                }
            }
            // Lose media packet 5: the FEC rebuilds it.
            let mut decoder = FecDecoder::new();
            let mut rebuilt = Vec::new();
            for (port, d) in &out {
                match port {
                    Port::Media if RtpPacket::parse(d).unwrap().seq == 1005 => {}
                    Port::Media => rebuilt.extend(decoder.on_media(d)),
                    _ => rebuilt.extend(decoder.on_fec(d)),
                }
            }
            let lost = out
                .iter()
                .find(|(p, d)| *p == Port::Media && RtpPacket::parse(d).unwrap().seq == 1005)
                .unwrap();
            // 2022-1 does not protect the SSRC; everything else comes back.
            assert_eq!(rebuilt.len(), 1, "row FEC {row_fec}");
            let (got, want) = (
                RtpPacket::parse(&rebuilt[0]).unwrap(),
                RtpPacket::parse(&lost.1).unwrap(),
            );
            assert_eq!(
                (got.seq, got.timestamp, got.payload),
                (want.seq, want.timestamp, want.payload)
            );
        }
    }
}
