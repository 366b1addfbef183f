//! `onair-load`: the traffic generator and probe of the transport benchmark.
//!
//! It reads an MPEG-TS file, sends it paced at a target bitrate in datagrams
//! of 7 TS packets (raw UDP or RTP) to one or more destinations, and receives
//! what a relay forwards on one or more ports. The last TS packet of every
//! datagram is replaced with a null packet (PID 0x1FFF) whose payload carries
//! a magic and a probe id, so each received datagram is matched to the instant
//! it was handed to `sendto`. It prints one JSON report on stdout: per output,
//! probes received, lost, duplicated, reordered, and the latency percentiles.
//!
//! Everything is bounded: the sender stops after `--duration`; the receivers
//! once nothing has arrived for `--drain-ms`, or `--max-drain-ms` after the
//! last send at the latest; then the process exits.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

const TS_PACKET: usize = 188;
const PACKETS_PER_DATAGRAM: usize = 7;
const TS_PAYLOAD: usize = TS_PACKET * PACKETS_PER_DATAGRAM;
const RTP_HEADER: usize = 12;
const RTP_PT_MP2T: u8 = 33;
const RTP_SSRC: u32 = 0x6f6e_6169;
/// Marks a probe inside a null packet's payload (ffmpeg's `-muxrate` padding
/// also uses PID 0x1FFF, with 0xFF payloads).
const MAGIC: &[u8; 8] = b"onairPRB";

#[derive(Parser, Debug)]
#[command(
    name = "onair-load",
    about = "Paced MPEG-TS sender and latency/loss probe"
)]
struct Args {
    /// MPEG-TS file to send (looped); its length must be a multiple of 188.
    #[arg(long)]
    file: PathBuf,
    /// Target bitrate in bits per second of TS bytes (RTP headers not counted).
    #[arg(long)]
    bitrate: f64,
    /// Where to send; repeat for several destinations (each gets a copy).
    #[arg(long = "dest", required = true)]
    dests: Vec<SocketAddr>,
    /// Address to receive forwarded traffic on; repeat for several outputs.
    #[arg(long = "recv")]
    recvs: Vec<SocketAddr>,
    /// Output i is the relay of destination i (else every output is matched
    /// against the send times of the first destination).
    #[arg(long)]
    paired: bool,
    /// Send RTP (12-byte header, PT 33) instead of raw UDP. Received traffic
    /// is recognised either way.
    #[arg(long)]
    rtp: bool,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// After the last datagram is sent, receivers stop once nothing has
    /// arrived for this many milliseconds (a relay with a backlog still
    /// delivers: that is late, not lost)...
    #[arg(long, default_value_t = 500)]
    drain_ms: u64,
    /// ...or after this many milliseconds in any case.
    #[arg(long, default_value_t = 5000)]
    max_drain_ms: u64,
    /// SO_RCVBUF requested on each receiving socket (the kernel caps it at
    /// net.core.rmem_max; the granted size is reported).
    #[arg(long, default_value_t = 32 << 20)]
    rcvbuf: usize,
    /// SO_SNDBUF requested on the sending socket.
    #[arg(long, default_value_t = 8 << 20)]
    sndbuf: usize,
}

/// Send instants, nanoseconds since the common epoch plus one (0 = not sent),
/// per destination and probe id.
struct SendTimes {
    per_dest: Vec<Vec<AtomicU64>>,
}

impl SendTimes {
    fn new(dests: usize, probes: usize) -> Self {
        let per_dest = (0..dests)
            .map(|_| (0..probes).map(|_| AtomicU64::new(0)).collect())
            .collect();
        Self { per_dest }
    }
    fn get(&self, dest: usize, id: u64) -> Option<u64> {
        let slot = self.per_dest.get(dest)?.get(usize::try_from(id).ok()?)?;
        match slot.load(Ordering::Acquire) {
            0 => None,
            t => Some(t - 1),
        }
    }
}

#[derive(Serialize, Debug, Default)]
struct SenderReport {
    datagrams_per_dest: Vec<u64>,
    send_errors_per_dest: Vec<u64>,
    /// Wall time from the first to the last datagram.
    elapsed_s: f64,
    /// TS bits per second actually sent to each destination.
    achieved_bps: f64,
    /// Datagrams sent more than 1 ms after their due time (pacing lag).
    late_over_1ms: u64,
    sndbuf_bytes: usize,
}

#[derive(Serialize, Debug, Default)]
struct Latency {
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    max_us: f64,
    mean_us: f64,
}

#[derive(Serialize, Debug, Default)]
struct SecondStats {
    second: u64,
    received: u64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

#[derive(Serialize, Debug, Default)]
struct OutputReport {
    addr: String,
    dest_index: usize,
    datagrams: u64,
    bytes: u64,
    /// Distinct probes received that match a sent datagram.
    received: u64,
    /// Probes sent to the matching destination and never received.
    lost: u64,
    duplicates: u64,
    /// Probes received after one with a higher id.
    reordered: u64,
    /// Datagrams without a recognisable probe.
    unmatched: u64,
    /// Datagrams that were not 1316 bytes of TS (after an RTP header).
    odd_sizes: u64,
    rtp: u64,
    latency: Latency,
    /// Probes whose latency exceeded 10 ms.
    over_10ms: u64,
    /// Latency of the probes sent in each second of the run (by send time),
    /// to tell a start-up transient from a steady backlog.
    per_second: Vec<SecondStats>,
    rcvbuf_bytes: usize,
}

#[derive(Serialize, Debug)]
struct Report {
    bitrate_bps: f64,
    rtp: bool,
    duration_s: f64,
    probes_planned: u64,
    /// How long the receivers listened after the last datagram was sent.
    drain_s: f64,
    sender: SenderReport,
    outputs: Vec<OutputReport>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.bitrate <= 0.0 || args.duration <= 0.0 || args.duration > 3600.0 {
        bail!("--bitrate must be > 0 and --duration in (0, 3600]");
    }
    if args.paired && args.recvs.len() != args.dests.len() {
        bail!("--paired needs as many --recv as --dest");
    }
    let data = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let chunks = data.len() / TS_PAYLOAD;
    if chunks == 0 || data.first() != Some(&0x47) {
        bail!(
            "{} is not an MPEG-TS file of at least 7 packets",
            args.file.display()
        );
    }
    let data = Arc::new(data[..chunks * TS_PAYLOAD].to_vec());

    let interval_s = (TS_PAYLOAD * 8) as f64 / args.bitrate;
    // `as` saturates; the duration bound keeps this far below usize::MAX.
    let probes = (args.duration / interval_s).ceil() as usize;
    let times = Arc::new(SendTimes::new(args.dests.len(), probes));
    let stop = Arc::new(AtomicBool::new(false));
    // Nanoseconds since the epoch of the latest datagram any receiver got.
    let last_rx = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();

    let mut receivers = Vec::new();
    for (i, addr) in args.recvs.iter().enumerate() {
        let sock = bind_receiver(*addr, args.rcvbuf)?;
        let dest = if args.paired { i } else { 0 };
        let (times, stop, last_rx) = (times.clone(), stop.clone(), last_rx.clone());
        let addr = *addr;
        receivers.push(
            thread::Builder::new()
                .name(format!("recv-{i}"))
                .spawn(move || receive(sock, addr, dest, probes, &times, &stop, &last_rx, epoch))?,
        );
    }

    let sender_sock = bind_sender(args.sndbuf)?;
    let sender = {
        let (times, data, dests) = (times.clone(), data.clone(), args.dests.clone());
        let (rtp, duration) = (args.rtp, args.duration);
        thread::Builder::new().name("send".into()).spawn(move || {
            send(
                sender_sock,
                &dests,
                &data,
                rtp,
                interval_s,
                probes,
                duration,
                &times,
                epoch,
            )
        })?
    };
    let sender = sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender thread panicked"))?;
    let drain_start = Instant::now();
    let quiet = Duration::from_millis(args.drain_ms);
    loop {
        thread::sleep(Duration::from_millis(10));
        let last = Duration::from_nanos(last_rx.load(Ordering::Acquire));
        let since_rx = epoch.elapsed().saturating_sub(last);
        if since_rx >= quiet || drain_start.elapsed() >= Duration::from_millis(args.max_drain_ms) {
            break;
        }
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    let mut outputs = Vec::new();
    for r in receivers {
        let mut out = r
            .join()
            .map_err(|_| anyhow::anyhow!("receiver thread panicked"))?;
        let sent = sender
            .datagrams_per_dest
            .get(out.dest_index)
            .copied()
            .unwrap_or(0);
        out.lost = sent.saturating_sub(out.received);
        outputs.push(out);
    }
    let report = Report {
        bitrate_bps: args.bitrate,
        rtp: args.rtp,
        duration_s: args.duration,
        probes_planned: probes as u64,
        drain_s,
        sender,
        outputs,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn bind_receiver(addr: SocketAddr, rcvbuf: usize) -> Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps the size at net.core.rmem_max.
    let _ = sock.set_recv_buffer_size(rcvbuf);
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    sock.bind(&addr.into())
        .with_context(|| format!("cannot bind {addr}"))?;
    Ok(sock)
}

fn bind_sender(sndbuf: usize) -> Result<UdpSocket> {
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    let _ = sock.set_send_buffer_size(sndbuf);
    sock.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
    Ok(sock.into())
}

/// Writes the probe null packet: PID 0x1FFF, payload only, CC 0, then the
/// magic and the probe id (big endian), the rest 0xFF.
fn write_probe(pkt: &mut [u8], id: u64) {
    pkt.fill(0xFF);
    pkt[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
    pkt[4..12].copy_from_slice(MAGIC);
    pkt[12..20].copy_from_slice(&id.to_be_bytes());
}

#[allow(clippy::too_many_arguments)]
fn send(
    sock: UdpSocket,
    dests: &[SocketAddr],
    data: &[u8],
    rtp: bool,
    interval_s: f64,
    probes: usize,
    duration: f64,
    times: &SendTimes,
    epoch: Instant,
) -> SenderReport {
    let sndbuf = socket2::SockRef::from(&sock)
        .send_buffer_size()
        .unwrap_or(0);
    let header = if rtp { RTP_HEADER } else { 0 };
    let mut buf = vec![0u8; header + TS_PAYLOAD];
    let chunks = data.len() / TS_PAYLOAD;
    let mut report = SenderReport {
        datagrams_per_dest: vec![0; dests.len()],
        send_errors_per_dest: vec![0; dests.len()],
        sndbuf_bytes: sndbuf,
        ..SenderReport::default()
    };
    let start = Instant::now();
    // Hard stop: the sender never runs more than a second past its duration,
    // even when it cannot keep up.
    let deadline = start + Duration::from_secs_f64(duration + 1.0);
    for id in 0..probes {
        let due = start + Duration::from_secs_f64(id as f64 * interval_s);
        let now = Instant::now();
        if now < due {
            // Sleep (no spinning: the relay under test needs the CPU); what
            // oversleeping delays goes out in the next short burst.
            thread::sleep(due - now);
        } else if now - due > Duration::from_millis(1) {
            report.late_over_1ms += 1;
        }
        if now > deadline {
            break;
        }
        let chunk = &data[(id % chunks) * TS_PAYLOAD..][..TS_PAYLOAD];
        if rtp {
            let seq = (id & 0xFFFF) as u16;
            let ts90k = (start.elapsed().as_secs_f64() * 90_000.0) as u64 as u32;
            buf[0] = 0x80;
            buf[1] = RTP_PT_MP2T;
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..8].copy_from_slice(&ts90k.to_be_bytes());
            buf[8..12].copy_from_slice(&RTP_SSRC.to_be_bytes());
        }
        buf[header..].copy_from_slice(chunk);
        write_probe(&mut buf[header + TS_PAYLOAD - TS_PACKET..], id as u64);
        for (k, dest) in dests.iter().enumerate() {
            let slot = &times.per_dest[k][id];
            // Stored before sendto, so a receiver never sees a probe whose
            // send time is not yet there.
            slot.store(epoch.elapsed().as_nanos() as u64 + 1, Ordering::Release);
            match sock.send_to(&buf, dest) {
                Ok(_) => report.datagrams_per_dest[k] += 1,
                Err(_) => {
                    slot.store(0, Ordering::Release);
                    report.send_errors_per_dest[k] += 1;
                }
            }
        }
    }
    report.elapsed_s = start.elapsed().as_secs_f64();
    let sent = report.datagrams_per_dest.first().copied().unwrap_or(0);
    if report.elapsed_s > 0.0 {
        report.achieved_bps = (sent as f64 * (TS_PAYLOAD * 8) as f64) / report.elapsed_s;
    }
    report
}

/// The TS bytes of a datagram: raw TS, or the payload of an RTP packet.
fn ts_payload(d: &[u8]) -> Option<(&[u8], bool)> {
    match d.first()? {
        0x47 => Some((d, false)),
        b if b >> 6 == 2 => {
            let csrc = usize::from(b & 0x0F) * 4;
            let mut off = RTP_HEADER + csrc;
            if b & 0x10 != 0 {
                let ext = d.get(off + 2..off + 4)?;
                off += 4 + usize::from(u16::from_be_bytes([ext[0], ext[1]])) * 4;
            }
            Some((d.get(off..)?, true))
        }
        _ => None,
    }
}

fn probe_id(ts: &[u8]) -> Option<u64> {
    ts.chunks_exact(TS_PACKET).find_map(|p| {
        let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
        if p[0] == 0x47 && pid == 0x1FFF && &p[4..12] == MAGIC {
            Some(u64::from_be_bytes(p[12..20].try_into().ok()?))
        } else {
            None
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn receive(
    sock: Socket,
    addr: SocketAddr,
    dest: usize,
    probes: usize,
    times: &SendTimes,
    stop: &AtomicBool,
    last_rx: &AtomicU64,
    epoch: Instant,
) -> OutputReport {
    let sock: UdpSocket = sock.into();
    let mut out = OutputReport {
        addr: addr.to_string(),
        dest_index: dest,
        rcvbuf_bytes: socket2::SockRef::from(&sock)
            .recv_buffer_size()
            .unwrap_or(0),
        ..OutputReport::default()
    };
    let mut seen = vec![false; probes];
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(probes);
    let mut by_send: Vec<(u64, u64)> = Vec::with_capacity(probes);
    let mut highest: Option<u64> = None;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Acquire) {
        let len = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => continue,
        };
        let now = epoch.elapsed().as_nanos() as u64;
        last_rx.fetch_max(now, Ordering::AcqRel);
        out.datagrams += 1;
        out.bytes += len as u64;
        let Some((ts, is_rtp)) = ts_payload(&buf[..len]) else {
            out.unmatched += 1;
            continue;
        };
        out.rtp += u64::from(is_rtp);
        if ts.len() != TS_PAYLOAD {
            out.odd_sizes += 1;
        }
        let Some(id) = probe_id(ts) else {
            out.unmatched += 1;
            continue;
        };
        let Some(sent) = times.get(dest, id) else {
            out.unmatched += 1;
            continue;
        };
        let idx = id as usize;
        if seen[idx] {
            out.duplicates += 1;
            continue;
        }
        seen[idx] = true;
        out.received += 1;
        if highest.is_some_and(|h| id < h) {
            out.reordered += 1;
        }
        highest = Some(highest.map_or(id, |h| h.max(id)));
        let lat = now.saturating_sub(sent);
        if lat > 10_000_000 {
            out.over_10ms += 1;
        }
        latencies_ns.push(lat);
        by_send.push((sent, lat));
    }
    out.latency = latency(&mut latencies_ns);
    out.per_second = per_second(&mut by_send);
    out
}

fn latency(ns: &mut [u64]) -> Latency {
    if ns.is_empty() {
        return Latency::default();
    }
    ns.sort_unstable();
    let pct = |p: f64| {
        let i = ((ns.len() as f64 * p).ceil() as usize).clamp(1, ns.len()) - 1;
        ns[i] as f64 / 1000.0
    };
    let sum: u128 = ns.iter().map(|&v| u128::from(v)).sum();
    Latency {
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: ns[ns.len() - 1] as f64 / 1000.0,
        mean_us: sum as f64 / ns.len() as f64 / 1000.0,
    }
}

/// Latency percentiles of the probes grouped by the second they were sent in.
fn per_second(samples: &mut [(u64, u64)]) -> Vec<SecondStats> {
    samples.sort_unstable();
    samples
        .chunk_by(|a, b| a.0 / 1_000_000_000 == b.0 / 1_000_000_000)
        .map(|group| {
            let mut lat: Vec<u64> = group.iter().map(|&(_, l)| l).collect();
            let l = latency(&mut lat);
            SecondStats {
                second: group[0].0 / 1_000_000_000,
                received: group.len() as u64,
                p50_us: l.p50_us,
                p99_us: l.p99_us,
                max_us: l.max_us,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_round_trips_raw_and_rtp() {
        let mut d = vec![0x47u8; TS_PAYLOAD];
        write_probe(&mut d[TS_PAYLOAD - TS_PACKET..], 42);
        let (ts, rtp) = ts_payload(&d).unwrap();
        assert!(!rtp);
        assert_eq!(probe_id(ts), Some(42));
        let mut r = vec![0x80, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        r.extend_from_slice(&d);
        let (ts, rtp) = ts_payload(&r).unwrap();
        assert!(rtp);
        assert_eq!(probe_id(ts), Some(42));
    }

    #[test]
    fn padding_null_packets_are_not_probes() {
        let mut d = vec![0xFFu8; TS_PACKET];
        d[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
        assert_eq!(probe_id(&d), None);
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<u64> = (1..=1000).map(|x| x * 1000).collect();
        let l = latency(&mut v);
        assert_eq!(l.p50_us, 500.0);
        assert_eq!(l.p99_us, 990.0);
        assert_eq!(l.max_us, 1000.0);
    }
}
