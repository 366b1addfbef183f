//! Contribution transport: the data plane of a MediaConnect-style flow.
//!
//! A flow receives MPEG-TS from one or two sources (`rtp`, `rtp-fec` with
//! SMPTE 2022-1 FEC, or raw `udp`), puts RTP packets back in order and repairs
//! losses ([`fec`], [`merge`]), chooses what goes on air ([`failover`], or
//! SMPTE 2022-7 merging of both paths), checks the transport stream
//! (TR 101 290 priority 1) and sends it to up to 50 outputs.
//!
//! SRT sources and outputs (`srt-listener`, `srt-caller`) carry the same
//! 1316-byte TS payloads as `udp`; their connections live on one thread per
//! flow waiting on libsrt's epoll ([`srt`]), bridged to the flow by channels.
//! Without sequence numbers, SRT sources are merged by content ([`align`]
//! numbers their messages on one timeline for the 2022-7 merger).
//!
//! RIST sources and outputs (`rist`, simple or main profile) carry the same
//! payloads through Debian's librist ([`rist`]): one reading thread per RIST
//! source, a librist sender per RIST output written to by the flow's thread.
//! Like SRT sources they have no RTP numbering the flow sees, so MERGE
//! numbers them by content ([`align`]).
//!
//! Everything that decides is sans-IO and driven by explicit time
//! ([`flow::FlowCore`]); [`driver`] is the thin tokio layer owning sockets.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod align;
pub mod driver;
pub mod failover;
pub mod fec;
pub mod flow;
pub mod merge;
pub mod ratelimit;
pub mod rist;
pub mod rtp;
pub mod sender;
pub mod seq;
pub mod srt;
pub mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

pub use driver::{start_flow, FlowHandle, TransportError};
pub use merge::MergeStats;
pub use srt_sys::KeyLength;

/// How a source's datagrams are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceProtocol {
    /// MPEG-TS in RTP.
    Rtp,
    /// MPEG-TS in RTP with SMPTE 2022-1 column FEC on port+2 and row FEC on port+4.
    RtpFec,
    /// MPEG-TS directly in UDP datagrams.
    Udp,
    /// SRT (live mode, 1316-byte messages of 7 TS packets): onair listens
    /// on `bind` for one caller at a time.
    SrtListener,
    /// SRT: onair calls the listener at `bind`, again with backoff whenever
    /// the connection is lost.
    SrtCaller,
    /// RIST: onair listens on `bind` (the simple profile also on port+1
    /// for RTCP) for senders.
    Rist(RistSettings),
}

impl SourceProtocol {
    pub fn is_srt(self) -> bool {
        matches!(
            self,
            SourceProtocol::SrtListener | SourceProtocol::SrtCaller
        )
    }

    pub fn is_rist(self) -> bool {
        matches!(self, SourceProtocol::Rist(_))
    }
}

/// Which RIST profile an endpoint speaks; both ends must agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RistProfile {
    /// VSF TR-06-1 (what MediaConnect calls `rist`): RTP on an even port,
    /// RTCP on the next one.
    #[default]
    Simple,
    /// VSF TR-06-2: GRE over one UDP port.
    Main,
}

/// The RIST settings of a source or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RistSettings {
    pub profile: RistProfile,
    /// Recovery buffer (MediaConnect's `maxLatency`): how long a lost packet
    /// may still be asked for again, in milliseconds.
    pub buffer_ms: u32,
}

/// The SRT settings of a source or output (MediaConnect's `minLatency`,
/// `streamId`, and the `srt-password` of `decryption` / `encryption`).
#[derive(Clone, PartialEq, Eq)]
pub struct SrtSettings {
    /// Receiver buffer (SRTO_LATENCY); the peers use the larger of theirs.
    pub latency: Duration,
    /// AES passphrase, 10 to 79 characters; `None`: unencrypted.
    pub passphrase: Option<String>,
    pub key_length: srt_sys::KeyLength,
    /// Sent by a caller (SRTO_STREAMID).
    pub stream_id: Option<String>,
}

impl std::fmt::Debug for SrtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtSettings")
            .field("latency", &self.latency)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<secret>"))
            .field("key_length", &self.key_length)
            .field("stream_id", &self.stream_id)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub protocol: SourceProtocol,
    /// Where the source listens (FEC sources also use port+2 and port+4);
    /// for `SrtCaller`, the listener it calls.
    pub bind: SocketAddr,
    /// Senders allowed to deliver (empty: anyone).
    pub allow: Vec<IpNet>,
    /// Datagrams above this rate (bits per second) are dropped.
    pub max_bitrate: Option<u64>,
    /// SRT sources only.
    pub srt: Option<SrtSettings>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum OutputProtocol {
    Rtp,
    /// RTP plus SMPTE 2022-1 FEC: `cols` (L) × `rows` (D), column FEC to
    /// port+2, row FEC to port+4.
    RtpFec {
        cols: u8,
        rows: u8,
    },
    Udp,
    /// SRT: onair listens on `destination` (its bind address) for one
    /// receiver at a time, admitted by `OutputConfig::allow`.
    SrtListener,
    /// SRT: onair calls the receiver listening at `destination`.
    SrtCaller,
    /// RIST: onair sends to the receiver listening at `destination`.
    Rist(RistSettings),
}

impl OutputProtocol {
    pub fn is_srt(self) -> bool {
        matches!(
            self,
            OutputProtocol::SrtListener | OutputProtocol::SrtCaller
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    /// Stable identity (the output ARN): counters and FEC state of an output
    /// survive changes to other outputs.
    pub id: String,
    pub protocol: OutputProtocol,
    pub destination: SocketAddr,
    pub enabled: bool,
    /// SRT outputs only (`SrtListener`: receivers admitted by `allow`).
    pub srt: Option<SrtSettings>,
    /// `cidrAllowList` of an `SrtListener` output (empty: anyone).
    pub allow: Vec<IpNet>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailoverMode {
    /// SMPTE 2022-7: both sources carry the same RTP stream; packets are
    /// merged by sequence number, a gap waiting at most `recovery_window`.
    Merge { recovery_window: Duration },
    /// One source on air; `primary` (a source name) preferred while healthy.
    Failover { primary: Option<String> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverConfig {
    pub mode: FailoverMode,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowConfig {
    pub sources: Vec<SourceConfig>,
    pub outputs: Vec<OutputConfig>,
    /// With two sources: how they are combined (None: the first only).
    pub failover: Option<FailoverConfig>,
    /// How the flow trades added latency for CPU.
    pub batching: Batching,
}

/// How a flow gathers datagrams into rounds of forwarding. What costs CPU
/// at contribution rates is waking up, not forwarding, so fewer rounds cost
/// less; each round waited for adds up to its interval of latency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Batching {
    /// Each datagram is forwarded as it arrives up to 4000 a second
    /// (40 Mb/s of TS); above that, rounds start 650 µs apart. Adds well
    /// under a millisecond.
    #[default]
    Auto,
    /// Rounds start at least this far apart at any rate, SRT reads
    /// included: adds up to this much latency, for fewer wake-ups.
    Every(std::time::Duration),
}

/// Live health of one source.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceStats {
    pub name: String,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Datagrams from senders outside `whitelistCidr`.
    pub dropped_not_allowed: u64,
    /// Datagrams above `maxBitrate`.
    pub dropped_over_bitrate: u64,
    /// Datagrams that are not RTP (rtp sources) or not MPEG-TS.
    pub malformed: u64,
    pub fec_packets: u64,
    /// Media packets rebuilt from FEC.
    pub fec_recovered: u64,
    /// Media packets lost on this source after FEC.
    pub not_recovered: u64,
    /// On air (FAILOVER), or contributing (MERGE).
    pub selected: bool,
    /// Has delivered within the last second.
    pub connected: bool,
    /// RFC 3550 interarrival jitter of the RTP packets, in milliseconds
    /// (0 for UDP sources).
    pub jitter_ms: f64,
    /// TR 101 290 priority-1 checks on this source's stream.
    pub ts: media::tr101290::Tr101290Stats,
    /// The SRT connection (SRT sources only).
    pub srt: Option<SrtLinkStats>,
    /// librist's view of the link (RIST sources only).
    pub rist: Option<RistLinkStats>,
}

/// One RIST endpoint's link, summed over librist's reports since the flow
/// started.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RistLinkStats {
    /// The peer answers now (librist's keep-alives).
    pub connected: bool,
    /// The last sender admitted (sources).
    pub peer: Option<SocketAddr>,
    /// Senders refused: address outside the allow list.
    pub refused: u64,
    /// Packets received (sources) or sent (outputs).
    pub packets: u64,
    /// Packets found missing, for which retransmission was asked (sources),
    /// or retransmitted on request (outputs).
    pub arq_requests: u64,
    /// Missing packets that retransmission recovered in time (sources).
    pub arq_recovered: u64,
    /// Packets lost for good (sources).
    pub lost: u64,
    /// Average round-trip time over the live peers, in milliseconds.
    pub rtt_ms: f64,
    /// Messages the flow could not take in time (its queue was full).
    pub overflow: u64,
}

/// One SRT endpoint's connection, as MediaConnect reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SrtLinkStats {
    /// A peer is connected now.
    pub connected: bool,
    /// The connected peer.
    pub peer: Option<SocketAddr>,
    pub connections: u64,
    /// Connections lost (peer gone, broken), not counting refusals.
    pub disconnections: u64,
    /// Peers refused: wrong or missing passphrase, address outside the
    /// allow list, or a second peer while one is connected; for a caller,
    /// connection attempts the listener refused.
    pub refused: u64,
    /// Retransmission requests: NAKs sent (receiving) or received
    /// (sending), on the current connection.
    pub arq_requests: u64,
    /// Lost packets that retransmission recovered in time (receiving).
    pub arq_recovered: u64,
    /// Packets lost on the link (before recovery).
    pub lost: u64,
    /// Packets given up as too late.
    pub dropped: u64,
    pub retransmitted: u64,
    /// Smoothed round-trip time, in milliseconds.
    pub rtt_ms: f64,
    /// Messages the flow could not take in time (its queue was full).
    pub overflow: u64,
}

/// Live counters of one output.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OutputStats {
    pub id: String,
    pub packets: u64,
    pub bytes: u64,
    pub bitrate_bps: u64,
    pub fec_packets: u64,
    /// Datagrams the kernel would not take (socket buffer full, no route);
    /// for SRT, messages the send buffer would not take.
    pub send_errors: u64,
    /// The SRT connection (SRT outputs only).
    pub srt: Option<SrtLinkStats>,
    /// librist's view of the link (RIST outputs only).
    pub rist: Option<RistLinkStats>,
}

/// Live state of a flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowStats {
    pub sources: Vec<SourceStats>,
    pub outputs: Vec<OutputStats>,
    /// The source on air (FAILOVER or a single source).
    pub active_source: Option<String>,
    pub failover_switches: u64,
    /// 2022-7 merging counters (MERGE only).
    pub merge: Option<MergeStats>,
    /// TR 101 290 checks on what the outputs carry.
    pub flow_ts: media::tr101290::Tr101290Stats,
}
