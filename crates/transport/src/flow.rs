//! The flow engine without I/O: datagrams and time in, datagrams to send out.
//!
//! Per source: whitelist, `maxBitrate`, RTP parsing, 2022-1 FEC repair and a
//! reorder buffer, then TR 101 290 on the repaired stream. Then the flow
//! chooses what goes on air — the single source, the FAILOVER selection, or
//! the 2022-7 merge of both — and every released datagram is sent once to
//! each enabled output with the flow's own RTP numbering (lost packets leave
//! a gap in it, so receivers see the loss).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use media::tr101290::Analyzer;

use crate::align::Aligner;
use crate::failover::Selector;
use crate::fec::{FecDecoder, FecEncoder};
use crate::merge::{Merger, Pushed};
use crate::ratelimit::TokenBucket;
use crate::rtp::{self, RtpPacket};
use crate::{
    FailoverMode, FlowConfig, FlowStats, OutputConfig, OutputProtocol, OutputStats, SourceConfig,
    SourceProtocol, SourceStats,
};

/// Which of a source's ports a datagram arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    Media,
    /// 2022-1 column FEC (media port + 2).
    FecColumn,
    /// 2022-1 row FEC (media port + 4).
    FecRow,
}

impl Port {
    /// How far above the media port this port is: 0, 2 (columns), 4 (rows).
    pub fn offset(self) -> u16 {
        match self {
            Port::Media => 0,
            Port::FecColumn => 2,
            Port::FecRow => 4,
        }
    }
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Index of the output in the current output list.
    pub output: usize,
    pub destination: SocketAddr,
    pub data: Bytes,
}

/// How long an RTP source waits for a reordered packet.
const REORDER_WINDOW: Duration = Duration::from_millis(50);
const REORDER_PACKETS: u64 = 16;
/// How long an rtp-fec source waits for FEC before the matrix is known.
const FEC_WINDOW: Duration = Duration::from_millis(1000);
/// A source that delivered nothing for this long is reported disconnected.
const CONNECTED_WITHIN: Duration = Duration::from_secs(1);
const TS_PACKET: usize = media::ts::PACKET_SIZE;

/// Whether a payload is whole MPEG-TS packets.
fn is_ts(payload: &[u8]) -> bool {
    !payload.is_empty()
        && payload.len().is_multiple_of(TS_PACKET)
        && payload
            .chunks(TS_PACKET)
            .all(|p| p.first() == Some(&media::ts::SYNC_BYTE))
}

/// Whether a datagram is RTCP (RFC 3550 packet types 200–204).
fn is_rtcp(data: &[u8]) -> bool {
    matches!((data.first(), data.get(1)), (Some(b0), Some(200..=204)) if b0 >> 6 == 2)
}

#[derive(Debug, Default)]
struct Meter {
    bytes: u64,
    at_last_tick: u64,
    last_tick: Option<Duration>,
    bps: u64,
}

impl Meter {
    fn tick(&mut self, now: Duration) {
        if let Some(last) = self.last_tick {
            let dt = now.saturating_sub(last).as_secs_f64();
            if dt > 0.0 {
                self.bps = ((self.bytes - self.at_last_tick) as f64 * 8.0 / dt) as u64;
            }
        }
        self.last_tick = Some(now);
        self.at_last_tick = self.bytes;
    }
}

struct Source {
    cfg: SourceConfig,
    fec: Option<FecDecoder>,
    reorder: Option<Merger>,
    bucket: Option<TokenBucket>,
    ts: Analyzer,
    stats: SourceStats,
    meter: Meter,
    last_packet: Option<Duration>,
    jitter: crate::rtp::Jitter,
}

impl Source {
    fn new(cfg: SourceConfig) -> Self {
        let reorder = match cfg.protocol {
            SourceProtocol::Udp
            | SourceProtocol::SrtListener
            | SourceProtocol::SrtCaller
            | SourceProtocol::Rist(_) => None,
            SourceProtocol::Rtp => {
                let mut m = Merger::new(1, REORDER_WINDOW);
                m.set_max_reorder(Some(REORDER_PACKETS));
                Some(m)
            }
            SourceProtocol::RtpFec => Some(Merger::new(1, FEC_WINDOW)),
        };
        Self {
            fec: (cfg.protocol == SourceProtocol::RtpFec).then(FecDecoder::new),
            reorder,
            bucket: cfg.max_bitrate.filter(|b| *b > 0).map(TokenBucket::new),
            ts: Analyzer::new(),
            stats: SourceStats {
                name: cfg.name.clone(),
                ..SourceStats::default()
            },
            meter: Meter::default(),
            last_packet: None,
            jitter: crate::rtp::Jitter::default(),
            cfg,
        }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.cfg.allow.is_empty() || self.cfg.allow.iter().any(|n| n.contains(&ip))
    }
}

struct Output {
    cfg: OutputConfig,
    fec: Option<FecEncoder>,
    stats: OutputStats,
    meter: Meter,
    /// Has somewhere to send: always for datagram outputs; for SRT ones
    /// while a receiver is connected ([`FlowCore::set_output_ready`]).
    ready: bool,
}

impl Output {
    fn new(cfg: OutputConfig, ssrc: u32) -> Self {
        let fec = match cfg.protocol {
            OutputProtocol::RtpFec { cols, rows } => Some(FecEncoder::new(cols, rows, ssrc)),
            _ => None,
        };
        Self {
            stats: OutputStats {
                id: cfg.id.clone(),
                ..OutputStats::default()
            },
            fec,
            ready: !cfg.protocol.is_srt(),
            cfg,
            meter: Meter::default(),
        }
    }
}

enum Mode {
    Single,
    /// 2022-7: RTP sources by their sequence numbers; sources without
    /// (SRT) numbered by content first ([`Aligner`]).
    Merge(Merger, Box<Aligner>),
    Failover(Selector),
}

pub struct FlowCore {
    sources: Vec<Source>,
    mode: Mode,
    outputs: Vec<Output>,
    ssrc: u32,
    egress_seq: u16,
    flow_ts: Analyzer,
    transmits: Vec<Transmit>,
    tap: Option<Vec<Bytes>>,
    arena: Arena,
}

/// Where a flow copies the payloads it takes in: blocks of [`Arena::BLOCK`]
/// bytes shared by the payloads cut from them, so one allocation serves
/// about 50 datagrams. One allocation per datagram cost more than the copy:
/// a 1316-byte request is a large one for glibc, which then consolidates
/// its fast bins each time.
#[derive(Default)]
struct Arena(BytesMut);

impl Arena {
    const BLOCK: usize = 64 * 1024;

    fn copy(&mut self, data: &[u8]) -> Bytes {
        if self.0.capacity() < data.len() {
            // The payloads cut before keep the old block alive.
            self.0 = BytesMut::with_capacity(Self::BLOCK.max(data.len()));
        }
        self.0.extend_from_slice(data);
        self.0.split().freeze()
    }
}

impl FlowCore {
    /// `ssrc` identifies the flow's outgoing RTP streams.
    pub fn new(cfg: FlowConfig, ssrc: u32) -> Self {
        let sources: Vec<Source> = cfg.sources.into_iter().map(Source::new).collect();
        let mode = match cfg.failover.map(|f| f.mode) {
            Some(FailoverMode::Merge { recovery_window }) if sources.len() > 1 => Mode::Merge(
                Merger::new(sources.len(), recovery_window),
                Box::new(Aligner::new(sources.len())),
            ),
            Some(FailoverMode::Failover { primary }) if sources.len() > 1 => {
                let p = primary.and_then(|n| sources.iter().position(|s| s.cfg.name == n));
                Mode::Failover(Selector::new(sources.len(), p))
            }
            _ => Mode::Single,
        };
        Self {
            sources,
            mode,
            outputs: cfg
                .outputs
                .into_iter()
                .map(|o| Output::new(o, ssrc))
                .collect(),
            ssrc,
            egress_seq: (ssrc >> 16) as u16,
            flow_ts: Analyzer::new(),
            transmits: Vec::new(),
            tap: None,
            arena: Arena::default(),
        }
    }

    /// Keep released payloads for [`FlowCore::take_tap`] (a live consumer).
    pub fn set_tap(&mut self, on: bool) {
        if on != self.tap.is_some() {
            self.tap = on.then(Vec::new);
        }
    }

    pub fn take_tap(&mut self) -> Vec<Bytes> {
        self.tap.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Datagrams to send, in order.
    pub fn drain_transmits(&mut self) -> std::vec::Drain<'_, Transmit> {
        self.transmits.drain(..)
    }

    /// Replaces the outputs. Outputs whose id, protocol and destination are
    /// unchanged keep their counters and FEC state, so they see no glitch.
    pub fn set_outputs(&mut self, outputs: Vec<OutputConfig>) {
        let mut old = std::mem::take(&mut self.outputs);
        for cfg in outputs {
            let kept = old.iter().position(|o| {
                o.cfg.id == cfg.id
                    && o.cfg.protocol == cfg.protocol
                    && o.cfg.destination == cfg.destination
            });
            let out = match kept {
                Some(i) => {
                    let mut o = old.swap_remove(i);
                    o.cfg.enabled = cfg.enabled;
                    o
                }
                None => Output::new(cfg, self.ssrc),
            };
            self.outputs.push(out);
        }
    }

    /// Whether output `id` (an SRT output) has a connected receiver: until
    /// it has, the output is given nothing and counts nothing.
    pub fn set_output_ready(&mut self, id: &str, ready: bool) {
        for o in self.outputs.iter_mut().filter(|o| o.cfg.id == id) {
            o.ready = ready;
        }
    }

    /// A datagram arrived on a source's port from `from`.
    pub fn on_datagram(
        &mut self,
        now: Duration,
        source: usize,
        port: Port,
        from: SocketAddr,
        data: &[u8],
    ) {
        let Some(src) = self.sources.get_mut(source) else {
            return;
        };
        if !src.allowed(from.ip()) {
            src.stats.dropped_not_allowed += 1;
            return;
        }
        if port != Port::Media {
            let rebuilt = match src.fec.as_mut() {
                Some(fec) => {
                    let r = fec.on_fec(data);
                    if let (Some((l, d)), Some(reorder)) = (fec.matrix(), src.reorder.as_mut()) {
                        // Column FEC of a matrix arrives during the next one:
                        // past that no repair can come.
                        let (l, d) = (u64::from(l), u64::from(d));
                        reorder.set_max_reorder(Some(2 * l * d + l + 8));
                    }
                    r
                }
                None => Vec::new(),
            };
            for d in rebuilt {
                self.on_rtp(now, source, &d, true);
            }
            self.drain_source(now, source);
            return;
        }
        if matches!(
            src.cfg.protocol,
            SourceProtocol::Rtp | SourceProtocol::RtpFec
        ) && is_rtcp(data)
        {
            // RTP senders put RTCP on port+1, which is often the next
            // flow's ingest port (the recipe uses 5000 and 5001): ignore it.
            return;
        }
        if let Some(b) = src.bucket.as_mut() {
            if !b.admit(now, data.len()) {
                src.stats.dropped_over_bitrate += 1;
                return;
            }
        }
        src.stats.packets += 1;
        src.stats.bytes += data.len() as u64;
        src.meter.bytes += data.len() as u64;
        src.last_packet = Some(now);
        match src.cfg.protocol {
            // SRT and RIST (librist) deliver whole messages in order, their
            // own ARQ having repaired them: like UDP, TS packets without RTP
            // numbering.
            SourceProtocol::Udp
            | SourceProtocol::SrtListener
            | SourceProtocol::SrtCaller
            | SourceProtocol::Rist(_) => {
                if !is_ts(data) {
                    src.stats.malformed += 1;
                    return;
                }
                let payload = self.arena.copy(data);
                src.ts.feed(now, &payload);
                self.on_air(now, source, None, payload, 0);
            }
            SourceProtocol::Rtp | SourceProtocol::RtpFec => {
                if let Ok(p) = crate::rtp::RtpPacket::parse(data) {
                    src.jitter.on_packet(now, p.timestamp);
                }
                let rebuilt = self.on_rtp(now, source, data, false);
                for d in rebuilt {
                    self.on_rtp(now, source, &d, true);
                }
                self.drain_source(now, source);
            }
        }
    }

    /// Takes an RTP media datagram into a source's reorder buffer; returns
    /// datagrams FEC rebuilt thanks to it.
    fn on_rtp(
        &mut self,
        now: Duration,
        source: usize,
        data: &[u8],
        recovered: bool,
    ) -> Vec<Vec<u8>> {
        let Some(src) = self.sources.get_mut(source) else {
            return Vec::new();
        };
        let pkt = match RtpPacket::parse(data) {
            Ok(p) if is_ts(p.payload) => p,
            _ => {
                if !recovered {
                    src.stats.malformed += 1;
                }
                return Vec::new();
            }
        };
        let Some(reorder) = src.reorder.as_mut() else {
            return Vec::new();
        };
        let pushed = reorder.push(now, 0, pkt.seq, self.arena.copy(pkt.payload));
        if recovered && pushed == Pushed::Accepted {
            src.stats.fec_recovered += 1;
        }
        match (&mut src.fec, recovered) {
            (Some(fec), false) => fec.on_media(data),
            _ => Vec::new(),
        }
    }

    /// Releases what a source's reorder buffer has ready.
    fn drain_source(&mut self, now: Duration, source: usize) {
        loop {
            let Some(src) = self.sources.get_mut(source) else {
                return;
            };
            let Some(r) = src.reorder.as_mut().and_then(|m| m.pop(now)) else {
                return;
            };
            src.stats.not_recovered += r.lost_before;
            src.ts.feed(now, &r.payload);
            self.on_air(now, source, Some(r.seq), r.payload, r.lost_before);
        }
    }

    /// A source's repaired, in-order datagram: decide whether it goes out.
    fn on_air(
        &mut self,
        now: Duration,
        source: usize,
        seq: Option<u16>,
        payload: Bytes,
        lost: u64,
    ) {
        match &mut self.mode {
            Mode::Single => self.emit(now, payload, lost),
            Mode::Failover(sel) => {
                if sel.on_packet(now, source) {
                    self.emit(now, payload, lost);
                }
            }
            Mode::Merge(m, aligner) => {
                // The timeline number's low 16 bits: the merger extends
                // them as it extends RTP's.
                let seq = seq.or_else(|| {
                    aligner
                        .number(source, &payload)
                        .map(|n| (n & u64::from(u16::MAX)) as u16)
                });
                if let Some(seq) = seq {
                    m.push(now, source, seq, payload);
                    self.drain_merge(now);
                }
            }
        }
    }

    fn drain_merge(&mut self, now: Duration) {
        loop {
            let Mode::Merge(m, _) = &mut self.mode else {
                return;
            };
            let Some(r) = m.pop(now) else { return };
            self.emit(now, r.payload, r.lost_before);
        }
    }

    /// Sends one datagram's payload to every enabled output.
    fn emit(&mut self, now: Duration, payload: Bytes, lost_before: u64) {
        self.egress_seq = self.egress_seq.wrapping_add(lost_before as u16);
        let seq = self.egress_seq;
        self.egress_seq = self.egress_seq.wrapping_add(1);
        if !matches!(self.mode, Mode::Single) {
            // With one source the output is that source's repaired stream,
            // already analysed; see `stats`.
            self.flow_ts.feed(now, &payload);
        }
        if let Some(tap) = self.tap.as_mut() {
            tap.push(payload.clone());
        }
        let timestamp = rtp::timestamp(now);
        let mut rtp_datagram: Option<Bytes> = None;
        for (i, out) in self
            .outputs
            .iter_mut()
            .enumerate()
            .filter(|(_, o)| o.cfg.enabled && o.ready)
        {
            let data = match out.cfg.protocol {
                // librist adds its own RTP (or GRE) framing.
                OutputProtocol::Udp
                | OutputProtocol::SrtListener
                | OutputProtocol::SrtCaller
                | OutputProtocol::Rist(_) => payload.clone(),
                OutputProtocol::Rtp | OutputProtocol::RtpFec { .. } => rtp_datagram
                    .get_or_insert_with(|| rtp::mp2t_packet(seq, timestamp, self.ssrc, &payload))
                    .clone(),
            };
            out.stats.packets += 1;
            out.stats.bytes += data.len() as u64;
            out.meter.bytes += data.len() as u64;
            if let Some(fec) = out.fec.as_mut() {
                let f = fec.push(&data);
                let dest = out.cfg.destination;
                for (port, bytes) in f.into_datagrams() {
                    out.stats.fec_packets += 1;
                    let mut d = dest;
                    d.set_port(dest.port().saturating_add(port.offset()));
                    self.transmits.push(Transmit {
                        output: i,
                        destination: d,
                        data: Bytes::from(bytes),
                    });
                }
            }
            self.transmits.push(Transmit {
                output: i,
                destination: out.cfg.destination,
                data,
            });
        }
    }

    pub fn enabled_outputs(&self) -> usize {
        self.outputs.iter().filter(|o| o.cfg.enabled).count()
    }

    /// The kernel refused a datagram for `output`.
    pub fn send_failed(&mut self, output: usize) {
        if let Some(o) = self.outputs.get_mut(output) {
            o.stats.send_errors += 1;
        }
    }

    /// Gives up gaps whose wait is over and re-evaluates the failover choice.
    pub fn on_timeout(&mut self, now: Duration) {
        for i in 0..self.sources.len() {
            self.drain_source(now, i);
        }
        self.drain_merge(now);
        if let Mode::Failover(sel) = &mut self.mode {
            sel.evaluate(now);
        }
    }

    /// The earliest time `on_timeout` has work to do.
    pub fn deadline(&self) -> Option<Duration> {
        let sources = self
            .sources
            .iter()
            .filter_map(|s| s.reorder.as_ref()?.deadline());
        let merge = match &self.mode {
            Mode::Merge(m, _) => m.deadline(),
            _ => None,
        };
        sources.chain(merge).min()
    }

    /// Periodic bookkeeping (about once a second): rates and TS timers.
    pub fn tick(&mut self, now: Duration) {
        for s in &mut self.sources {
            s.meter.tick(now);
            s.ts.handle_timeout(now);
        }
        for o in &mut self.outputs {
            o.meter.tick(now);
        }
        self.flow_ts.handle_timeout(now);
        self.on_timeout(now);
    }

    pub fn stats(&self, now: Duration) -> FlowStats {
        let active = match &self.mode {
            Mode::Single => Some(0),
            Mode::Failover(sel) => Some(sel.active()),
            Mode::Merge(..) => None,
        };
        let sources = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut st = s.stats.clone();
                st.bitrate_bps = s.meter.bps;
                if let Some(f) = &s.fec {
                    st.fec_packets = f.stats().fec_packets;
                }
                st.connected = s
                    .last_packet
                    .is_some_and(|t| now.saturating_sub(t) < CONNECTED_WITHIN);
                st.selected = match active {
                    Some(a) => a == i,
                    None => st.connected,
                };
                st.ts = s.ts.stats();
                st.jitter_ms = s.jitter.millis();
                st
            })
            .collect();
        FlowStats {
            sources,
            outputs: self
                .outputs
                .iter()
                .map(|o| OutputStats {
                    bitrate_bps: o.meter.bps,
                    ..o.stats.clone()
                })
                .collect(),
            active_source: active
                .and_then(|a| self.sources.get(a))
                .map(|s| s.cfg.name.clone()),
            failover_switches: match &self.mode {
                Mode::Failover(sel) => sel.switches(),
                _ => 0,
            },
            merge: match &self.mode {
                Mode::Merge(m, _) => Some(m.stats().clone()),
                _ => None,
            },
            flow_ts: match (&self.mode, self.sources.first()) {
                (Mode::Single, Some(s)) => s.ts.stats(),
                _ => self.flow_ts.stats(),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::{Batching, FailoverConfig, OutputConfig};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn arena_copies_are_the_data_across_blocks() {
        let mut arena = Arena::default();
        let mut rng = StdRng::seed_from_u64(7);
        let mut kept = Vec::new();
        // Sizes from empty to larger than a block, so that copies straddle
        // and exceed block ends.
        for n in 0..400u32 {
            let len = match n % 5 {
                0 => 0,
                4 if n % 40 == 4 => Arena::BLOCK + 17,
                _ => rng.gen_range(1..=1500),
            };
            let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            kept.push((arena.copy(&data), data));
        }
        for (copy, data) in &kept {
            assert_eq!(&copy[..], &data[..]);
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::from((ip, port))
    }

    fn source(name: &str, protocol: SourceProtocol, port: u16) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            protocol,
            bind: addr([127, 0, 0, 1], port),
            allow: Vec::new(),
            max_bitrate: None,
            srt: None,
        }
    }

    fn output(id: &str, protocol: OutputProtocol, port: u16) -> OutputConfig {
        OutputConfig {
            id: id.into(),
            protocol,
            destination: addr([127, 0, 0, 1], port),
            enabled: true,
            srt: None,
            allow: Vec::new(),
        }
    }

    /// A datagram of 7 TS packets on PID 0x100 with continuity counters
    /// following `n`, so the TS analyzers can see any loss or duplicate.
    fn ts_payload(n: u64) -> Vec<u8> {
        let mut b = Vec::with_capacity(7 * 188);
        for k in 0..7u64 {
            let cc = ((n * 7 + k) % 16) as u8;
            b.extend_from_slice(&[0x47, 0x01, 0x00, 0x10 | cc]);
            b.extend(std::iter::repeat_n((n % 251) as u8, 184));
        }
        b
    }

    fn rtp_datagram(seq: u16, n: u64) -> Vec<u8> {
        let mut b = Vec::new();
        rtp::write_header(&mut b, rtp::PT_MP2T, seq, n as u32 * 900, 7);
        b.extend_from_slice(&ts_payload(n));
        b
    }

    #[test]
    fn senders_outside_the_whitelist_are_dropped_and_counted() {
        let mut s = source("in", SourceProtocol::Udp, 5000);
        s.allow = vec!["10.0.0.0/8".parse().unwrap()];
        let cfg = FlowConfig {
            sources: vec![s],
            outputs: vec![output("o", OutputProtocol::Udp, 6000)],
            failover: None,
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        core.on_datagram(
            ms(0),
            0,
            Port::Media,
            addr([192, 168, 1, 1], 9),
            &ts_payload(0),
        );
        assert_eq!(core.drain_transmits().count(), 0);
        core.on_datagram(
            ms(1),
            0,
            Port::Media,
            addr([10, 1, 2, 3], 9),
            &ts_payload(1),
        );
        assert_eq!(core.drain_transmits().count(), 1);
        let st = core.stats(ms(2));
        assert_eq!(
            (st.sources[0].dropped_not_allowed, st.sources[0].packets),
            (1, 1)
        );
    }

    #[test]
    fn srt_messages_go_out_as_they_came_once_a_receiver_is_there() {
        let cfg = FlowConfig {
            sources: vec![source("in", SourceProtocol::SrtListener, 5000)],
            outputs: vec![
                output("srt", OutputProtocol::SrtListener, 6000),
                output("rtp", OutputProtocol::Rtp, 6010),
            ],
            failover: None,
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        let from = addr([127, 0, 0, 1], 9);
        core.on_datagram(ms(0), 0, Port::Media, from, &ts_payload(0));
        // No SRT receiver yet: only the RTP output gets the message.
        let t: Vec<Transmit> = core.drain_transmits().collect();
        assert_eq!(t.iter().map(|t| t.output).collect::<Vec<_>>(), vec![1]);
        core.set_output_ready("srt", true);
        core.on_datagram(ms(1), 0, Port::Media, from, &ts_payload(1));
        let t: Vec<Transmit> = core.drain_transmits().collect();
        assert_eq!(t.len(), 2);
        // The SRT output carries the message unchanged (no RTP header).
        assert_eq!(t[0].data.as_ref(), &ts_payload(1)[..]);
        core.on_datagram(ms(2), 0, Port::Media, from, &[0x47; 100]);
        assert_eq!(core.drain_transmits().count(), 0);
        let st = core.stats(ms(3));
        assert_eq!((st.sources[0].packets, st.sources[0].malformed), (3, 1));
        assert_eq!((st.outputs[0].packets, st.outputs[1].packets), (1, 2));
    }

    #[test]
    fn merge_of_srt_sources_by_content_is_hitless() {
        merge_by_content(SourceProtocol::SrtListener, SourceProtocol::SrtCaller);
    }

    #[test]
    fn merge_of_rist_sources_by_content_is_hitless() {
        let rist = SourceProtocol::Rist(crate::RistSettings {
            profile: crate::RistProfile::Simple,
            buffer_ms: 500,
        });
        merge_by_content(rist, rist);
    }

    fn merge_by_content(a: SourceProtocol, b: SourceProtocol) {
        let cfg = FlowConfig {
            sources: vec![source("a", a, 5000), source("b", b, 5010)],
            outputs: vec![output("o", OutputProtocol::Udp, 6000)],
            failover: Some(FailoverConfig {
                mode: FailoverMode::Merge {
                    recovery_window: ms(200),
                },
            }),
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        let from = addr([127, 0, 0, 1], 9);
        let mut out = Vec::new();
        // Path a delivers 0..300 then dies; path b lags 3 messages and lost
        // 50..60 (its ARQ gave them up); both carry the same messages.
        for t in 0..400u64 {
            let now = ms(t * 2);
            core.on_timeout(now);
            if t < 300 {
                core.on_datagram(now, 0, Port::Media, from, &ts_payload(t));
            }
            if let Some(n) = t.checked_sub(3).filter(|n| !(50..60).contains(n)) {
                core.on_datagram(now, 1, Port::Media, from, &ts_payload(n));
            }
            out.extend(core.drain_transmits().map(|t| t.data));
        }
        let want: Vec<Vec<u8>> = (0..397).map(ts_payload).collect();
        assert_eq!(out.len(), want.len());
        assert!(out.iter().zip(&want).all(|(o, w)| o.as_ref() == &w[..]));
        let st = core.stats(ms(800));
        assert_eq!(st.flow_ts.continuity_errors, 0, "{st:?}");
        assert_eq!(st.merge.unwrap().lost, 0);
    }

    #[test]
    fn datagrams_that_are_not_ts_never_reach_an_output() {
        let cfg = FlowConfig {
            sources: vec![source("in", SourceProtocol::Rtp, 5000)],
            outputs: vec![output("o", OutputProtocol::Udp, 6000)],
            failover: None,
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        let from = addr([127, 0, 0, 1], 9);
        core.on_datagram(ms(0), 0, Port::Media, from, &ts_payload(0)); // raw TS to an RTP source
        core.on_datagram(ms(0), 0, Port::Media, from, &[0x80, 200, 0, 6, 0, 0, 0, 7]); // RTCP: ignored
        let mut cut = rtp_datagram(1, 1);
        cut.truncate(cut.len() - 10); // a broken TS packet
        core.on_datagram(ms(1), 0, Port::Media, from, &cut);
        assert_eq!(core.drain_transmits().count(), 0);
        assert_eq!(core.stats(ms(2)).sources[0].malformed, 2);
    }

    /// Two rtp sources in MERGE mode, 5 % independent loss on each, jitter:
    /// the output carries every packet that reached either path, in order,
    /// once, and its TS has no continuity errors.
    #[test]
    fn merge_with_independent_loss_gives_a_clean_output() {
        let cfg = FlowConfig {
            sources: vec![
                source("a", SourceProtocol::Rtp, 5000),
                source("b", SourceProtocol::Rtp, 5010),
            ],
            outputs: vec![output("o", OutputProtocol::Rtp, 6000)],
            failover: Some(FailoverConfig {
                mode: FailoverMode::Merge {
                    recovery_window: ms(200),
                },
            }),
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        let mut rng = StdRng::seed_from_u64(11);
        let from = addr([127, 0, 0, 1], 9);
        let mut arrivals = Vec::new();
        let count = 6000u64;
        for n in 0..count {
            let seq = (60_000 + n) as u16;
            for path in 0..2usize {
                let edge = n < 10 || n + 10 >= count;
                if !edge && rng.gen_bool(0.05) {
                    continue;
                }
                let t = n * 1000 + path as u64 * 2000 + rng.gen_range(0..1500);
                arrivals.push((t, path, seq, n));
            }
        }
        arrivals.sort();
        let mut out = Vec::new();
        for (t_us, path, seq, n) in arrivals {
            let now = Duration::from_micros(t_us);
            core.on_timeout(now);
            core.on_datagram(now, path, Port::Media, from, &rtp_datagram(seq, n));
            out.extend(core.drain_transmits().map(|t| t.data));
        }
        core.on_timeout(Duration::from_secs(3600));
        out.extend(core.drain_transmits().map(|t| t.data));
        let st = core.stats(Duration::from_secs(3600));
        let merge = st.merge.unwrap();
        // Both paths lost the same packet sometimes (p = 0.25 %); nothing else.
        assert_eq!(out.len() as u64 + merge.lost, count);
        assert!(merge.lost < 40, "{merge:?}");
        // Output RTP numbering is continuous except where both paths lost.
        let seqs: Vec<u16> = out
            .iter()
            .map(|d| RtpPacket::parse(d).unwrap().seq)
            .collect();
        let gaps: u64 = seqs
            .windows(2)
            .map(|w| u64::from(w[1].wrapping_sub(w[0]) - 1))
            .sum();
        assert_eq!(gaps, merge.lost);
        if merge.lost == 0 {
            assert_eq!(st.flow_ts.continuity_errors, 0);
        }
        assert_eq!(
            st.flow_ts.continuity_errors,
            merge.lost.min(st.flow_ts.continuity_errors)
        );
        // Each path alone would have had losses.
        assert!(
            st.sources.iter().all(|s| s.not_recovered > 100),
            "{:?}",
            st.sources
        );
    }

    #[test]
    fn failover_switches_to_the_backup_when_the_primary_stops() {
        // SRT sources fail over exactly as UDP ones: by arrival, with no
        // sequence numbers.
        for proto in [
            SourceProtocol::Udp,
            SourceProtocol::SrtListener,
            SourceProtocol::SrtCaller,
        ] {
            let cfg = FlowConfig {
                sources: vec![source("main", proto, 5000), source("backup", proto, 5010)],
                outputs: vec![output("o", OutputProtocol::Udp, 6000)],
                failover: Some(FailoverConfig {
                    mode: FailoverMode::Failover {
                        primary: Some("main".into()),
                    },
                }),
                batching: Batching::Auto,
            };
            let mut core = FlowCore::new(cfg, 1);
            let from = addr([127, 0, 0, 1], 9);
            let mut sent_from = Vec::new();
            for t in (0..4000u64).step_by(10) {
                let now = ms(t);
                core.on_timeout(now);
                if t < 2000 {
                    core.on_datagram(now, 0, Port::Media, from, &ts_payload(t));
                    sent_from.extend(core.drain_transmits().map(|_| (t, 0)));
                }
                core.on_datagram(now, 1, Port::Media, from, &ts_payload(t + 1));
                sent_from.extend(core.drain_transmits().map(|_| (t, 1)));
            }
            assert!(
                sent_from.iter().all(|&(t, s)| if t < 2000 {
                    s == 0
                } else {
                    t >= 1990 + 500 && s == 1
                }),
                "{proto:?}"
            );
            assert_eq!(
                core.stats(ms(4000)).active_source.as_deref(),
                Some("backup"),
                "{proto:?}"
            );
        }
    }

    #[test]
    fn unchanged_outputs_keep_their_state_when_others_change() {
        let cfg = FlowConfig {
            sources: vec![source("in", SourceProtocol::Udp, 5000)],
            outputs: vec![output(
                "a",
                OutputProtocol::RtpFec { cols: 5, rows: 5 },
                6000,
            )],
            failover: None,
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        let from = addr([127, 0, 0, 1], 9);
        for n in 0..10 {
            core.on_datagram(ms(n), 0, Port::Media, from, &ts_payload(n));
        }
        core.drain_transmits().for_each(drop);
        core.set_outputs(vec![
            output("a", OutputProtocol::RtpFec { cols: 5, rows: 5 }, 6000),
            output("b", OutputProtocol::Udp, 6010),
        ]);
        core.on_datagram(ms(20), 0, Port::Media, from, &ts_payload(10));
        let st = core.stats(ms(21));
        assert_eq!(
            st.outputs
                .iter()
                .map(|o| (o.id.as_str(), o.packets))
                .collect::<Vec<_>>(),
            vec![("a", 11), ("b", 1)]
        );
        core.set_outputs(vec![output("b", OutputProtocol::Udp, 6010)]);
        assert_eq!(core.stats(ms(22)).outputs[0].packets, 1);
    }

    #[test]
    fn a_datagram_reaches_all_fifty_outputs_once() {
        let outputs = (0..50u16)
            .map(|i| output(&format!("o{i}"), OutputProtocol::Udp, 6000 + i))
            .collect();
        let cfg = FlowConfig {
            sources: vec![source("in", SourceProtocol::Udp, 5000)],
            outputs,
            failover: None,
            batching: Batching::Auto,
        };
        let mut core = FlowCore::new(cfg, 1);
        core.on_datagram(
            ms(0),
            0,
            Port::Media,
            addr([127, 0, 0, 1], 9),
            &ts_payload(0),
        );
        let mut ports: Vec<u16> = core
            .drain_transmits()
            .map(|t| t.destination.port())
            .collect();
        ports.sort_unstable();
        assert_eq!(ports, (6000..6050).collect::<Vec<_>>());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic_and_only_ts_leaves(
            input in proptest::collection::vec((0u8..6, proptest::collection::vec(proptest::num::u8::ANY, 0..1400)), 0..40)
        ) {
            let cfg = FlowConfig {
                sources: vec![source("a", SourceProtocol::RtpFec, 5000), source("b", SourceProtocol::Udp, 5010)],
                outputs: vec![output("o", OutputProtocol::RtpFec { cols: 4, rows: 4 }, 6000)],
                failover: Some(FailoverConfig { mode: FailoverMode::Failover { primary: None } }),
                batching: Batching::Auto,
            };
            let mut core = FlowCore::new(cfg, 1);
            for (i, (sel, data)) in input.iter().enumerate() {
                let port = [Port::Media, Port::FecColumn, Port::FecRow][usize::from(sel % 3)];
                core.on_datagram(ms(i as u64), usize::from(sel / 3), port, addr([127, 0, 0, 1], 9), data);
                core.on_timeout(ms(i as u64));
                for t in core.drain_transmits() {
                    let media = t.destination.port() == 6000;
                    proptest::prop_assert!(!media || is_ts(RtpPacket::parse(&t.data).unwrap().payload));
                }
            }
        }
    }
}
