//! The network side: chunks of transport stream in, paced datagrams out over RTP,
//! RTP-FEC or UDP, with the `drop` and `stop` impairments applied per datagram.
//!
//! [`Framer`] is sans-IO: one 7-packet payload and its media time in, the datagrams to
//! send (media, then any FEC it completed) out. RTP numbering and 2022-1 FEC are
//! `transport`'s [`RtpSender`], the same code as a flow's outputs. The RTP timestamp of a
//! datagram is its media time on the 90 kHz clock from a random base (RFC 3550 §5.1), so
//! timestamps advance exactly with the stream whatever the sending jitter. A dropped
//! datagram is numbered before it is lost, so receivers see the gap in sequence numbers
//! and FEC covers it; a withheld one (`stop`) is never numbered, so the stream resumes
//! with the next sequence number and a jump in timestamps.
//!
//! [`run`] is the tokio task around it: it takes a chunk when the previous one is sent,
//! cuts it ([`Packetizer`]), waits for each datagram's time ([`Clock`], [`slot`]) and sends.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use transport::flow::Port;
use transport::sender::RtpSender;

use crate::config::{FecMatrix, Protocol};
use crate::encode::Chunk;
use crate::impair::{Dropper, Impairments};
use crate::pace::{slot, Clock, Packetizer};

/// How late a datagram may be before the sender skips ahead instead of catching up.
const MAX_LAG: Duration = Duration::from_secs(1);
/// Datagrams due within this much are sent now rather than after a timer.
const EARLY: Duration = Duration::from_millis(1);

/// Counters of a running source, published after every frame's datagrams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Video frames encoded.
    pub frames: u64,
    /// Media time sent (or withheld) so far.
    pub media_time: Duration,
    /// Media datagrams sent.
    pub datagrams: u64,
    /// FEC datagrams sent (column and row).
    pub fec_datagrams: u64,
    /// Bytes of UDP payload sent, media and FEC.
    pub bytes: u64,
    /// Media datagrams lost on purpose (`drop`).
    pub dropped: u64,
    /// Datagrams not sent because of `stop`.
    pub withheld: u64,
    /// Sends the operating system refused.
    pub send_errors: u64,
    /// Times the sender was more than a second behind real time and skipped ahead.
    pub skips: u64,
    /// Time the encoder thread spent drawing, encoding and muxing. Divided by
    /// `media_time`, the share of real time encoding needs (below 100 %: it keeps up).
    pub encode_busy: Duration,
}

/// Frames payloads as the protocol wants them. See the [module docs](self).
#[derive(Debug)]
pub struct Framer {
    rtp: Option<RtpSender>,
    rtp_base: Duration,
    dropper: Dropper,
}

impl Framer {
    /// A framer for `protocol`; RTP streams get `ssrc`, start at sequence `first_seq` and
    /// put media time zero at `rtp_base` on the 90 kHz clock. `seed` seeds the drop draws.
    pub fn new(
        protocol: Protocol,
        fec: FecMatrix,
        ssrc: u32,
        first_seq: u16,
        rtp_base: Duration,
        seed: Option<u64>,
    ) -> Self {
        let rtp = match protocol {
            Protocol::Rtp => Some(RtpSender::new(ssrc, first_seq)),
            Protocol::RtpFec => {
                Some(RtpSender::new(ssrc, first_seq).with_fec(fec.columns, fec.rows, true))
            }
            Protocol::Udp => None,
        };
        Self {
            rtp,
            rtp_base,
            dropper: Dropper::new(seed),
        }
    }

    /// Appends the datagrams carrying `payload` (whole TS packets) of media time `media`
    /// to `out`, the media datagram left out with `drop_percent` % chance; returns whether
    /// it was left out.
    pub fn frame(
        &mut self,
        media: Duration,
        payload: &[u8],
        drop_percent: f64,
        out: &mut Vec<(Port, Bytes)>,
    ) -> bool {
        let first = out.len();
        match self.rtp.as_mut() {
            Some(rtp) => rtp.send(self.rtp_base.saturating_add(media), payload, out),
            None => out.push((Port::Media, Bytes::copy_from_slice(payload))),
        }
        let dropped = self.dropper.drop(drop_percent);
        if dropped {
            // The media datagram is the first one `send` appended.
            if out.get(first).is_some_and(|(port, _)| *port == Port::Media) {
                out.remove(first);
            }
        }
        dropped
    }
}

/// Where the sender sends and how; the rest of [`crate::Config`] is the encoder's.
#[derive(Clone, Debug)]
pub struct Route {
    pub destination: SocketAddr,
    pub protocol: Protocol,
    pub fec: FecMatrix,
    pub seed: Option<u64>,
}

/// The sending task: until the encoder thread ends (its sender half dropped) or the task
/// is aborted.
pub async fn run(
    socket: UdpSocket,
    route: Route,
    mut chunks: mpsc::Receiver<Chunk>,
    impairments: watch::Receiver<Impairments>,
    stats: watch::Sender<Stats>,
) {
    let ssrc = rand::random::<u32>();
    let first_seq = rand::random::<u16>();
    // Anywhere on the 32-bit 90 kHz clock (2^32 ticks is about 13.25 hours).
    let rtp_base = Duration::from_secs(rand::random::<u64>().checked_rem(47_721).unwrap_or(0));
    let mut framer = Framer::new(
        route.protocol,
        route.fec,
        ssrc,
        first_seq,
        rtp_base,
        route.seed,
    );
    let epoch = Instant::now();
    let mut clock = Clock::new(MAX_LAG);
    let mut packetizer = Packetizer::default();
    let mut st = Stats::default();
    let mut out = Vec::new();
    let ip = route.destination.ip();
    let port = route.destination.port();
    while let Some(chunk) = chunks.recv().await {
        st.frames = chunk.frames;
        st.encode_busy = st.encode_busy.saturating_add(chunk.busy);
        let datagrams = packetizer.push(&chunk.ts);
        let count = datagrams.len();
        for (k, payload) in datagrams.iter().enumerate() {
            let media = slot(chunk.start, chunk.len, k, count);
            let due = clock.due(epoch.elapsed(), media);
            if due > epoch.elapsed().saturating_add(EARLY) {
                tokio::time::sleep_until(epoch.checked_add(due).unwrap_or(epoch)).await;
            }
            let now = *impairments.borrow();
            if now.stop {
                st.withheld = st.withheld.saturating_add(1);
                continue;
            }
            out.clear();
            if framer.frame(media, payload, now.drop_percent, &mut out) {
                st.dropped = st.dropped.saturating_add(1);
            }
            for (p, d) in out.drain(..) {
                let to = SocketAddr::new(ip, port.saturating_add(p.offset()));
                match socket.send_to(&d, to).await {
                    Ok(n) => {
                        st.bytes = st.bytes.saturating_add(u64::try_from(n).unwrap_or(0));
                        if p == Port::Media {
                            st.datagrams = st.datagrams.saturating_add(1);
                        } else {
                            st.fec_datagrams = st.fec_datagrams.saturating_add(1);
                        }
                    }
                    Err(_) => st.send_errors = st.send_errors.saturating_add(1),
                }
            }
        }
        st.media_time = chunk.start.saturating_add(chunk.len);
        st.skips = clock.skips();
        stats.send_replace(st);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use transport::fec::FecPacket;
    use transport::rtp::RtpPacket;

    fn payload(n: u8) -> Vec<u8> {
        (0..7)
            .flat_map(|_| {
                let mut p = [n; 188];
                p[0] = 0x47;
                p
            })
            .collect()
    }

    #[test]
    fn rtp_headers_carry_media_time_on_the_90_khz_clock() {
        let base = Duration::from_secs(47_000);
        let mut f = Framer::new(
            Protocol::Rtp,
            FecMatrix::default(),
            0xABCD,
            65_534,
            base,
            None,
        );
        let mut out = Vec::new();
        for (i, ms) in [0u64, 10, 33, 1000].iter().enumerate() {
            f.frame(Duration::from_millis(*ms), &payload(i as u8), 0.0, &mut out);
        }
        let got: Vec<(u8, u16, u32, u32)> = out
            .iter()
            .map(|(port, d)| {
                assert_eq!(*port, Port::Media);
                let p = RtpPacket::parse(d).unwrap();
                assert_eq!(p.payload.len(), 1316);
                (p.payload_type, p.seq, p.timestamp, p.ssrc)
            })
            .collect();
        let t0 = (47_000u64 * 90_000) as u32;
        assert_eq!(
            got,
            vec![
                (33, 65_534, t0, 0xABCD),
                (33, 65_535, t0 + 900, 0xABCD),
                (33, 0, t0 + 2970, 0xABCD),
                (33, 1, t0 + 90_000, 0xABCD),
            ]
        );
        // Past the 32-bit wrap of the 90 kHz clock (about 47 722 s), timestamps wrap
        // as RTP's do.
        let mut f = Framer::new(Protocol::Rtp, FecMatrix::default(), 1, 0, base, None);
        out.clear();
        f.frame(Duration::from_secs(800), &payload(0), 0.0, &mut out);
        let ts = RtpPacket::parse(&out[0].1).unwrap().timestamp;
        assert_eq!(ts, ((47_800u64 * 90_000) % (1 << 32)) as u32);
    }

    #[test]
    fn fec_goes_to_its_ports_and_drops_spare_it() {
        let m = FecMatrix {
            columns: 4,
            rows: 4,
        };
        let mut f = Framer::new(Protocol::RtpFec, m, 9, 100, Duration::ZERO, Some(3));
        let mut out = Vec::new();
        let mut dropped = 0;
        for n in 0..48u8 {
            // Every media datagram is dropped; FEC still goes.
            if f.frame(
                Duration::from_millis(u64::from(n)),
                &payload(n),
                100.0,
                &mut out,
            ) {
                dropped += 1;
            }
        }
        assert_eq!(dropped, 48);
        assert!(out.iter().all(|(p, _)| *p != Port::Media));
        let rows = out.iter().filter(|(p, _)| *p == Port::FecRow).count();
        let cols = out.iter().filter(|(p, _)| *p == Port::FecColumn).count();
        assert_eq!(rows, 12);
        assert!(cols >= 8, "{cols}");
        for (p, d) in &out {
            assert_eq!(FecPacket::parse(d).unwrap().header.row, *p == Port::FecRow);
        }
        // Dropped datagrams are numbered: the next one sent is 100 + 48.
        out.clear();
        f.frame(Duration::ZERO, &payload(0), 0.0, &mut out);
        assert_eq!(RtpPacket::parse(&out[0].1).unwrap().seq, 148);
    }

    #[test]
    fn udp_is_the_bare_payload() {
        let mut f = Framer::new(
            Protocol::Udp,
            FecMatrix::default(),
            0,
            0,
            Duration::ZERO,
            Some(1),
        );
        let mut out = Vec::new();
        assert!(!f.frame(Duration::ZERO, &payload(5), 0.0, &mut out));
        assert_eq!(out, vec![(Port::Media, Bytes::from(payload(5)))]);
        assert!(f.frame(Duration::ZERO, &payload(5), 100.0, &mut out));
        assert_eq!(out.len(), 1);
    }
}
