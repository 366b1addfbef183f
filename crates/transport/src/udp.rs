//! Batched UDP socket I/O for a flow's thread: many datagrams per system
//! call, through `nix`'s safe wrappers.
//!
//! - [`Receiver`]: one `recvmmsg` takes up to [`RECV_BATCH`] datagrams.
//! - [`Sender`]: a round's transmits are grouped per destination into runs
//!   of equal-size datagrams (the last may be shorter); each run is one UDP
//!   GSO message (`UDP_SEGMENT`, Linux ≥ 4.18): the kernel does the socket,
//!   routing and IP work once per run and cuts it into datagrams at the
//!   device, or on loopback at the receiving socket. Every run of the round
//!   goes in one `sendmmsg`. Where the kernel refuses GSO the sender falls
//!   back to one message per datagram, still batched by `sendmmsg`.
//!
//! Datagrams to one destination keep their order; the order between
//! destinations is not kept (nothing can observe it).

use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};

use crate::flow::Transmit;

/// Datagrams read by one `recvmmsg`.
pub const RECV_BATCH: usize = 32;
/// Room for the largest UDP datagram, so nothing is ever truncated. The
/// slots are one allocation, large enough to be mapped on demand: only the
/// pages datagrams touch become resident (about 32 × 4 KiB for TS).
const SLOT: usize = 65_536;
/// Messages given to one `sendmmsg` (the kernel takes at most 1024).
const SEND_BATCH: usize = 256;
/// Segments in one GSO message (the kernel's `UDP_MAX_SEGMENTS`).
const GSO_SEGMENTS: usize = 64;
/// Payload bytes in one GSO message: it must fit one IP packet of 64 KiB.
const GSO_BYTES: usize = 65_000;

/// Reads datagrams in batches into buffers it owns.
pub struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    /// [`RECV_BATCH`] slots of [`SLOT`] bytes.
    slots: Vec<u8>,
    /// Length and sender of each datagram of the last batch.
    got: Vec<(usize, Option<SocketAddr>)>,
}

impl Default for Receiver {
    fn default() -> Self {
        Self {
            headers: MultiHeaders::preallocate(RECV_BATCH, None),
            slots: vec![0; RECV_BATCH * SLOT],
            got: Vec::with_capacity(RECV_BATCH),
        }
    }
}

impl Receiver {
    /// Reads what `socket` holds, up to [`RECV_BATCH`] datagrams, without
    /// waiting, and gives each to `on_datagram(from, payload)`. Returns how
    /// many were read; `WouldBlock` if there was none. Fewer than
    /// [`RECV_BATCH`] means the socket was empty a moment ago.
    pub fn recv(
        &mut self,
        socket: &impl AsRawFd,
        mut on_datagram: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<usize> {
        self.got.clear();
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self
                .slots
                .chunks_mut(SLOT)
                .map(|s| [IoSliceMut::new(s)])
                .collect();
            let msgs = recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )?;
            self.got
                .extend(msgs.map(|m| (m.bytes, m.address.as_ref().and_then(to_std))));
        }
        for ((len, from), slot) in self.got.iter().zip(self.slots.chunks(SLOT)) {
            // A datagram without a sender address cannot pass an allow
            // list; it does not happen on UDP sockets.
            if let (Some(from), Some(data)) = (from, slot.get(..*len)) {
                on_datagram(*from, data);
            }
        }
        Ok(self.got.len())
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// Consecutive datagrams for one destination that go out as one message:
/// `segment` bytes each, the last possibly shorter.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    destination: SocketAddr,
    output: usize,
    segment: usize,
    count: usize,
    bytes: usize,
    /// A shorter datagram ended the run.
    closed: bool,
}

impl Run {
    fn takes(&self, len: usize) -> bool {
        !self.closed
            && len <= self.segment
            && self.count < GSO_SEGMENTS
            && self.bytes + len <= GSO_BYTES
    }
}

/// Groups `transmits` into runs; `run_of[i]` is the run of `transmits[i]`.
/// Without GSO every datagram is a run of its own.
fn plan(transmits: &[Transmit], gso: bool, runs: &mut Vec<Run>, run_of: &mut Vec<usize>) {
    runs.clear();
    run_of.clear();
    // The run still open for each destination.
    let mut open: HashMap<SocketAddr, usize> = HashMap::new();
    for t in transmits {
        let len = t.data.len();
        let current = open
            .get(&t.destination)
            .copied()
            .filter(|&r| gso && runs.get(r).is_some_and(|r| r.takes(len)));
        let r = match current {
            Some(r) => r,
            None => {
                runs.push(Run {
                    destination: t.destination,
                    output: t.output,
                    segment: len,
                    count: 0,
                    bytes: 0,
                    closed: false,
                });
                open.insert(t.destination, runs.len() - 1);
                runs.len() - 1
            }
        };
        if let Some(run) = runs.get_mut(r) {
            run.closed = len < run.segment;
            run.count += 1;
            run.bytes += len;
        }
        run_of.push(r);
    }
}

/// Sends datagrams without ever waiting, from an IPv4 socket and, where
/// the host has IPv6, an IPv6 one.
pub struct Sender {
    v4: UdpSocket,
    v6: Option<UdpSocket>,
    /// Cleared for good the first time the kernel refuses a GSO message.
    gso: bool,
    gso_headers: MultiHeaders<SockaddrStorage>,
    plain_headers: MultiHeaders<SockaddrStorage>,
    runs: Vec<Run>,
    run_of: Vec<usize>,
}

impl Sender {
    pub fn new(v4: UdpSocket, v6: Option<UdpSocket>) -> Self {
        Self {
            v4,
            v6,
            gso: true,
            gso_headers: MultiHeaders::preallocate(SEND_BATCH, Some(nix::cmsg_space!(u16))),
            plain_headers: MultiHeaders::preallocate(SEND_BATCH, None),
            runs: Vec::new(),
            run_of: Vec::new(),
        }
    }

    /// Sends `transmits`; `failed(output, n)` counts datagrams the kernel
    /// refused (a full socket buffer, an unreachable network).
    pub fn send(&mut self, transmits: &[Transmit], mut failed: impl FnMut(usize, u64)) {
        if transmits.is_empty() {
            return;
        }
        let (mut runs, mut run_of) = (
            std::mem::take(&mut self.runs),
            std::mem::take(&mut self.run_of),
        );
        plan(transmits, self.gso, &mut runs, &mut run_of);
        // Lay every run's datagrams out contiguously: a message's iovecs.
        let mut start = Vec::with_capacity(runs.len() + 1);
        start.push(0);
        for r in &runs {
            start.push(start.last().copied().unwrap_or(0) + r.count);
        }
        let mut filled = start.clone();
        let mut iovs = vec![IoSlice::new(&[]); transmits.len()];
        for (t, &r) in transmits.iter().zip(&run_of) {
            if let Some(slot) = filled.get_mut(r).and_then(|f| {
                let i = *f;
                *f += 1;
                iovs.get_mut(i)
            }) {
                *slot = IoSlice::new(&t.data);
            }
        }
        let messages: Vec<&[IoSlice<'_>]> = start
            .windows(2)
            .map(|w| match w {
                [from, to] => iovs.get(*from..*to).unwrap_or_default(),
                _ => &[],
            })
            .collect();
        // One sendmmsg per stretch of runs with the same socket and segment
        // size (usually all of them).
        let mut i = 0;
        while let Some(first) = runs.get(i) {
            let key = (first.destination.is_ipv6(), first.segment);
            let len = runs
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take(SEND_BATCH)
                .take_while(|r| (r.destination.is_ipv6(), r.segment) == key)
                .count();
            let (Some(batch), Some(msgs)) = (runs.get(i..i + len), messages.get(i..i + len)) else {
                break;
            };
            if let Err((refused, at)) = self.send_batch(batch, msgs, &mut failed) {
                // GSO refused: the rest of this stretch again, one datagram
                // per message, and no GSO from now on.
                tracing::info!("UDP GSO not available ({refused}); sending datagram by datagram");
                self.gso = false;
                let rest = batch.iter().zip(msgs).skip(at);
                let one_each: Vec<Run> = rest
                    .clone()
                    .flat_map(|(r, m)| {
                        m.iter().map(|d| Run {
                            segment: d.len(),
                            count: 1,
                            bytes: d.len(),
                            ..*r
                        })
                    })
                    .collect();
                let singles: Vec<&[IoSlice<'_>]> = rest.flat_map(|(_, m)| m.chunks(1)).collect();
                for (b, m) in one_each.chunks(SEND_BATCH).zip(singles.chunks(SEND_BATCH)) {
                    let _ = self.send_batch(b, m, &mut failed);
                }
            }
            i += len;
        }
        (self.runs, self.run_of) = (runs, run_of);
    }

    /// One `sendmmsg` of `msgs` (all to one address family, all of one
    /// segment size), continued past a message the kernel refuses. If the
    /// kernel refuses GSO itself: the error and the first message not sent.
    fn send_batch(
        &mut self,
        runs: &[Run],
        msgs: &[&[IoSlice<'_>]],
        failed: &mut impl FnMut(usize, u64),
    ) -> Result<(), (Errno, usize)> {
        let Some(first) = runs.first() else {
            return Ok(());
        };
        let socket = match (first.destination, &self.v6) {
            (SocketAddr::V6(_), Some(v6)) => v6,
            _ => &self.v4,
        };
        let segment = u16::try_from(first.segment).unwrap_or(u16::MAX);
        let addrs: Vec<Option<SockaddrStorage>> = runs
            .iter()
            .map(|r| Some(SockaddrStorage::from(r.destination)))
            .collect();
        let mut at = 0;
        while let (Some(m), Some(a)) = (msgs.get(at..).filter(|m| !m.is_empty()), addrs.get(at..)) {
            let sent = if self.gso {
                let cmsg = [ControlMessage::UdpGsoSegments(&segment)];
                sendmmsg(
                    socket.as_raw_fd(),
                    &mut self.gso_headers,
                    m,
                    a,
                    cmsg,
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|r| r.count())
            } else {
                let none: [ControlMessage<'_>; 0] = [];
                sendmmsg(
                    socket.as_raw_fd(),
                    &mut self.plain_headers,
                    m,
                    a,
                    none,
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|r| r.count())
            };
            match sent {
                Ok(n) if n > 0 => at += n,
                // What the kernel says when it cannot do GSO at all (no
                // UDP_SEGMENT, or a device without checksum offload).
                Err(e @ (Errno::EINVAL | Errno::EIO | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP))
                    if self.gso =>
                {
                    return Err((e, at));
                }
                // The first message not sent was refused (a full buffer,
                // an unreachable network): count its datagrams, go on.
                _ => {
                    if let Some(r) = runs.get(at) {
                        failed(r.output, r.count as u64);
                    }
                    at += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn t(output: usize, port: u16, len: usize) -> Transmit {
        Transmit {
            output,
            destination: SocketAddr::from(([127, 0, 0, 1], port)),
            data: Bytes::from(vec![0x47; len]),
        }
    }

    fn runs_of(transmits: &[Transmit], gso: bool) -> Vec<(u16, usize, usize)> {
        let (mut runs, mut run_of) = (Vec::new(), Vec::new());
        plan(transmits, gso, &mut runs, &mut run_of);
        assert_eq!(run_of.len(), transmits.len());
        runs.iter()
            .map(|r| (r.destination.port(), r.segment, r.count))
            .collect()
    }

    #[test]
    fn equal_datagrams_to_each_destination_make_one_run_each() {
        // Datagram-major order, as the flow produces it: d0 to both, d1 to both...
        let ts: Vec<Transmit> = (0..5)
            .flat_map(|_| [t(0, 5000, 1316), t(1, 5001, 1316)])
            .collect();
        assert_eq!(runs_of(&ts, true), vec![(5000, 1316, 5), (5001, 1316, 5)]);
        assert_eq!(runs_of(&ts, false).len(), 10);
    }

    #[test]
    fn a_shorter_datagram_ends_a_run_and_a_longer_one_starts_one() {
        let ts = [
            t(0, 5000, 1316),
            t(0, 5000, 188),
            t(0, 5000, 1316),
            t(0, 5000, 1500),
        ];
        assert_eq!(
            runs_of(&ts, true),
            vec![(5000, 1316, 2), (5000, 1316, 1), (5000, 1500, 1)]
        );
    }

    #[test]
    fn runs_respect_the_kernel_limits() {
        let ts: Vec<Transmit> = (0..100).map(|_| t(0, 5000, 1316)).collect();
        // 65 000 bytes hold 49 datagrams of 1316.
        assert_eq!(
            runs_of(&ts, true),
            vec![(5000, 1316, 49), (5000, 1316, 49), (5000, 1316, 2)]
        );
        let small: Vec<Transmit> = (0..100).map(|_| t(0, 5000, 188)).collect();
        assert_eq!(
            runs_of(&small, true),
            vec![(5000, 188, 64), (5000, 188, 36)]
        );
    }

    #[test]
    fn every_datagram_arrives_whole_and_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let port = rx.local_addr().unwrap().port();
        let mut sender = Sender::new(UdpSocket::bind("127.0.0.1:0").unwrap(), None);
        let ts: Vec<Transmit> = (0..70u8)
            .map(|i| Transmit {
                output: 0,
                destination: SocketAddr::from(([127, 0, 0, 1], port)),
                data: Bytes::from(vec![i; if i == 69 { 188 } else { 1316 }]),
            })
            .collect();
        let mut refused = 0;
        sender.send(&ts, |_, n| refused += n);
        assert_eq!(refused, 0);
        let mut receiver = Receiver::default();
        let mut got = Vec::new();
        // Loopback delivers within the send call; the bound only keeps a
        // broken kernel from hanging the test.
        for _ in 0..100_000 {
            if got.len() >= ts.len() {
                break;
            }
            match receiver.recv(&rx, |_, d| got.push(d.to_vec())) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        let want: Vec<Vec<u8>> = ts.iter().map(|t| t.data.to_vec()).collect();
        assert_eq!(got, want);
    }
}
