//! UDP output of a channel: the muxed transport stream in datagrams of
//! [`PACKETS_PER_DATAGRAM`] TS packets, bare (`udp://`) or in RTP with optional
//! SMPTE 2022-1 FEC on port + 2 / + 4 (`rtp://`), framed by `transport`'s
//! [`RtpSender`] as flow outputs are.
//!
//! [`Framer`] is the sans-IO part (muxed bytes in, datagrams and their ports out);
//! [`UdpOut`] owns the connected, non-blocking sockets.

use std::net::{ToSocketAddrs, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use control::medialive::groups::{OutputPlan, UdpTarget};
use media::ts::PACKET_SIZE;
use transport::flow::Port;
use transport::sender::RtpSender;

use super::DeliveryStats;

/// TS packets per UDP datagram (1316 bytes, the usual MTU-safe payload).
pub const PACKETS_PER_DATAGRAM: usize = 7;
const DATAGRAM: usize = PACKET_SIZE * PACKETS_PER_DATAGRAM;

/// Cuts muxed TS into whole datagrams and frames them for one destination.
#[derive(Debug)]
pub struct Framer {
    /// Muxed bytes not yet making a whole datagram.
    pending: Vec<u8>,
    /// RTP framing (and FEC); `None` sends bare TS.
    rtp: Option<RtpSender>,
}

impl Framer {
    /// The framing of `target`: RTP stream `ssrc` from sequence number `seq` for
    /// `rtp://`, with FEC when the target asks for it.
    pub fn new(target: &UdpTarget, ssrc: u32, seq: u16) -> Self {
        let rtp = target.rtp.then(|| {
            let sender = RtpSender::new(ssrc, seq);
            match target.fec {
                Some((cols, rows, row_fec)) => sender.with_fec(cols, rows, row_fec),
                None => sender,
            }
        });
        Self {
            pending: Vec::new(),
            rtp,
        }
    }

    /// Takes muxed bytes at `now` (the stream's clock, for RTP timestamps) and
    /// appends the datagrams now complete to `out`, with their ports.
    pub fn push(&mut self, now: Duration, ts: &[u8], out: &mut Vec<(Port, Bytes)>) {
        self.pending.extend_from_slice(ts);
        let whole = self.pending.len() / DATAGRAM * DATAGRAM;
        for payload in self
            .pending
            .get(..whole)
            .unwrap_or_default()
            .chunks_exact(DATAGRAM)
        {
            match self.rtp.as_mut() {
                Some(rtp) => rtp.send(now, payload, out),
                None => out.push((Port::Media, Bytes::copy_from_slice(payload))),
            }
        }
        self.pending.drain(..whole);
    }
}

/// The sockets of one UDP output and its [`Framer`].
pub struct UdpOut {
    framer: Framer,
    /// Media, column FEC (+2) and row FEC (+4) sockets; FEC ones only with FEC.
    media: UdpSocket,
    fec: Option<(UdpSocket, UdpSocket)>,
    started: Instant,
    out: Vec<(Port, Bytes)>,
    stats: Arc<DeliveryStats>,
}

impl UdpOut {
    /// Resolves the output's destination and connects its sockets.
    pub fn open(plan: &OutputPlan, stats: &Arc<DeliveryStats>) -> Result<Self, String> {
        let target = plan
            .udp
            .as_ref()
            .ok_or_else(|| format!("output {}: no UDP destination", plan.name))?;
        let to = target
            .address
            .to_socket_addrs()
            .map_err(|e| format!("output {}: {}: {e}", plan.name, target.address))?
            .next()
            .ok_or_else(|| format!("output {}: {} has no address", plan.name, target.address))?;
        let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let connected = |port: Port| -> Result<UdpSocket, String> {
            let socket = UdpSocket::bind(bind).map_err(|e| format!("udp bind: {e}"))?;
            let mut addr = to;
            addr.set_port(to.port().wrapping_add(port.offset()));
            socket
                .connect(addr)
                .map_err(|e| format!("udp {addr}: {e}"))?;
            socket
                .set_nonblocking(true)
                .map_err(|e| format!("udp: {e}"))?;
            Ok(socket)
        };
        let fec = match target.fec.filter(|_| target.rtp) {
            Some(_) => Some((connected(Port::FecColumn)?, connected(Port::FecRow)?)),
            None => None,
        };
        Ok(Self {
            framer: Framer::new(target, rand::random(), rand::random()),
            media: connected(Port::Media)?,
            fec,
            started: Instant::now(),
            out: Vec::new(),
            stats: stats.clone(),
        })
    }

    /// Takes muxed bytes; sends the datagrams they complete (never blocking).
    pub fn push(&mut self, ts: &[u8]) {
        self.framer.push(self.started.elapsed(), ts, &mut self.out);
        for (port, datagram) in self.out.drain(..) {
            let socket = match (port, &self.fec) {
                (Port::FecColumn, Some((column, _))) => column,
                (Port::FecRow, Some((_, row))) => row,
                _ => &self.media,
            };
            if socket.send(&datagram).is_err() {
                self.stats.udp_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use transport::fec::FecPacket;
    use transport::rtp::RtpPacket;

    fn target(rtp: bool, fec: Option<(u8, u8, bool)>) -> UdpTarget {
        UdpTarget {
            address: "127.0.0.1:5000".into(),
            rtp,
            fec,
        }
    }

    /// `n` TS packets, numbered in their last byte.
    fn ts(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let mut p = vec![0x47, 0x01, 0x00, 0x10];
                p.resize(PACKET_SIZE, i as u8);
                p
            })
            .collect()
    }

    #[test]
    fn bare_udp_sends_whole_seven_packet_datagrams() {
        let mut framer = Framer::new(&target(false, None), 1, 1);
        let mut out = Vec::new();
        let data = ts(20);
        // Odd chunking: partial packets and datagrams are carried over.
        for piece in data.chunks(500) {
            framer.push(Duration::ZERO, piece, &mut out);
        }
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|(p, d)| *p == Port::Media && d.len() == DATAGRAM));
        assert_eq!(
            out.iter().map(|(_, d)| &d[..]).collect::<Vec<_>>().concat(),
            &data[..2 * DATAGRAM]
        );
        // Six packets wait: one more completes the third datagram.
        framer.push(Duration::ZERO, &ts(1), &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn rtp_carries_seven_packets_with_consecutive_numbers() {
        let mut framer = Framer::new(&target(true, None), 0xABCD, 65534);
        let mut out = Vec::new();
        framer.push(Duration::from_secs(1), &ts(21), &mut out);
        let packets: Vec<_> = out
            .iter()
            .map(|(port, d)| {
                assert_eq!(*port, Port::Media);
                RtpPacket::parse(d).unwrap()
            })
            .collect();
        assert_eq!(
            packets.iter().map(|p| p.seq).collect::<Vec<_>>(),
            vec![65534, 65535, 0]
        );
        assert!(packets.iter().all(|p| p.ssrc == 0xABCD
            && p.payload_type == 33
            && p.timestamp == 90_000
            && p.payload.len() == DATAGRAM));
    }

    #[test]
    fn rtp_fec_sends_columns_and_rows_only_when_asked() {
        for row_fec in [false, true] {
            let mut framer = Framer::new(&target(true, Some((5, 5, row_fec))), 3, 0);
            let mut out = Vec::new();
            framer.push(Duration::ZERO, &ts(7 * 50), &mut out);
            let count = |p: Port| out.iter().filter(|(port, _)| *port == p).count();
            assert_eq!(count(Port::Media), 50);
            assert!(count(Port::FecColumn) >= 5);
            assert_eq!(count(Port::FecRow), if row_fec { 10 } else { 0 });
            for (port, d) in out.iter().filter(|(p, _)| *p != Port::Media) {
                let fec = FecPacket::parse(d).unwrap();
                assert_eq!(fec.header.row, *port == Port::FecRow);
                assert_eq!(
                    (fec.header.offset, fec.header.na),
                    if fec.header.row { (1, 5) } else { (5, 5) }
                );
            }
        }
    }

    #[test]
    fn fec_without_rtp_is_bare_udp() {
        let mut framer = Framer::new(&target(false, Some((5, 5, true))), 3, 0);
        let mut out = Vec::new();
        framer.push(Duration::ZERO, &ts(7 * 30), &mut out);
        assert_eq!(out.len(), 30);
        assert!(out.iter().all(|(p, d)| *p == Port::Media && d[0] == 0x47));
    }
}
