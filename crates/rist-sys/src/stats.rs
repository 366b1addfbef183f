//! The statistics librist reports every `Hooks::stats_every`, read from its
//! typed structs. The counters cover the last interval only: librist resets
//! them after each report.

use crate::ffi;

/// One report of a context.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stats {
    Receiver(ReceiverStats),
    Sender(SenderStats),
}

/// A receiver's flow over the last interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReceiverStats {
    /// Senders delivering to this flow.
    pub peers: u32,
    pub received: u64,
    /// Packets found missing (retransmission asked for), reordered included.
    pub missing: u64,
    pub reordered: u64,
    /// Missing packets that retransmission brought back.
    pub recovered: u64,
    /// Packets lost for good.
    pub lost: u64,
    pub bandwidth_bps: u64,
    /// Average round-trip time over the live peers, in milliseconds.
    pub rtt_ms: u32,
}

/// A sender's peer over the last interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SenderStats {
    pub sent: u64,
    pub retransmitted: u64,
    pub bandwidth_bps: u64,
    pub rtt_ms: u32,
}

impl Stats {
    /// Reads the member `stats_type` names; `None` for an unknown type.
    pub(crate) fn from_raw(s: &ffi::rist_stats) -> Option<Stats> {
        match s.stats_type {
            ffi::RIST_STATS_RECEIVER_FLOW => {
                // SAFETY: `stats_type` says this member is the one written.
                let f = unsafe { s.stats.receiver_flow };
                Some(Stats::Receiver(ReceiverStats {
                    peers: f.peer_count,
                    received: f.received,
                    missing: u64::from(f.missing),
                    reordered: u64::from(f.reordered),
                    recovered: u64::from(f.recovered),
                    lost: u64::from(f.lost),
                    bandwidth_bps: f.bandwidth as u64,
                    rtt_ms: f.rtt,
                }))
            }
            ffi::RIST_STATS_SENDER_PEER => {
                // SAFETY: `stats_type` says this member is the one written.
                let p = unsafe { s.stats.sender_peer };
                Some(Stats::Sender(SenderStats {
                    sent: p.sent,
                    retransmitted: p.retransmitted,
                    bandwidth_bps: p.bandwidth as u64,
                    rtt_ms: p.rtt,
                }))
            }
            _ => None,
        }
    }
}
