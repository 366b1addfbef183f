//! Contribution transport: the data plane of a MediaConnect-style flow.
//!
//! A flow receives MPEG-TS from one or two sources (`rtp`, `rtp-fec` with
//! SMPTE 2022-1 FEC, or raw `udp`), puts RTP packets back in order and repairs
//! losses ([`fec`], [`merge`]), chooses what goes on air ([`failover`], or
//! SMPTE 2022-7 merging of both paths), checks the transport stream
//! (TR 101 290 priority 1) and sends it to up to 50 outputs.
//!
//! Everything that decides is sans-IO and driven by explicit time
//! ([`flow::FlowCore`]); [`driver`] is the thin tokio layer owning sockets.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod driver;
pub mod failover;
pub mod fec;
pub mod flow;
pub mod merge;
pub mod ratelimit;
pub mod rtp;
pub mod sender;
pub mod seq;

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

pub use driver::{start_flow, FlowHandle, TransportError};
pub use merge::MergeStats;

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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub protocol: SourceProtocol,
    /// Where the source listens (FEC sources also use port+2 and port+4).
    pub bind: SocketAddr,
    /// Senders allowed to deliver (empty: anyone).
    pub allow: Vec<IpNet>,
    /// Datagrams above this rate (bits per second) are dropped.
    pub max_bitrate: Option<u64>,
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    /// Stable identity (the output ARN): counters and FEC state of an output
    /// survive changes to other outputs.
    pub id: String,
    pub protocol: OutputProtocol,
    pub destination: SocketAddr,
    pub enabled: bool,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    pub sources: Vec<SourceConfig>,
    pub outputs: Vec<OutputConfig>,
    /// With two sources: how they are combined (None: the first only).
    pub failover: Option<FailoverConfig>,
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
}

/// Live counters of one output.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OutputStats {
    pub id: String,
    pub packets: u64,
    pub bytes: u64,
    pub bitrate_bps: u64,
    pub fec_packets: u64,
    /// Datagrams the kernel would not take (socket buffer full, no route).
    pub send_errors: u64,
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
