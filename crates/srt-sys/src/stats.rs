//! Connection statistics as MediaConnect publishes them for SRT.

use crate::ffi::SRT_TRACEBSTATS;

/// Counters of one SRT connection since it opened (or since the last read
/// with `clear`), converted from `SRT_TRACEBSTATS`. Negative C values (never
/// expected) read as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Data packets sent, retransmissions included.
    pub packets_sent: u64,
    /// Data packets received.
    pub packets_received: u64,
    /// Packets the receiver found missing (before any retransmission).
    pub packets_lost: u64,
    /// Packets the sender learnt were lost.
    pub packets_send_lost: u64,
    /// Loss reports (NAK packets) this side sent, as a receiver.
    pub naks_sent: u64,
    /// Loss reports (NAK packets) this side received, as a sender.
    pub naks_received: u64,
    /// Packets retransmitted by this side.
    pub packets_retransmitted: u64,
    /// Packets the receiver dropped as too late to play.
    pub packets_dropped: u64,
    /// Packets the sender dropped as too late to send.
    pub packets_send_dropped: u64,
    /// Packets that could not be decrypted (wrong key).
    pub packets_undecrypted: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Smoothed round-trip time, in milliseconds.
    pub rtt_ms: f64,
    /// Current send rate, in Mb/s.
    pub send_rate_mbps: f64,
    /// Current receive rate, in Mb/s.
    pub receive_rate_mbps: f64,
    /// Estimated link bandwidth, in Mb/s.
    pub bandwidth_mbps: f64,
    /// Negotiated receiver latency (TSBPD delay), in milliseconds.
    pub latency_ms: u32,
    /// Receive buffer held, in milliseconds.
    pub receive_buffer_ms: u32,
}

fn count(v: impl TryInto<u64>) -> u64 {
    v.try_into().unwrap_or(0)
}

impl From<&SRT_TRACEBSTATS> for Stats {
    fn from(s: &SRT_TRACEBSTATS) -> Self {
        Stats {
            packets_sent: count(s.pktSentTotal),
            packets_received: count(s.pktRecvTotal),
            packets_lost: count(s.pktRcvLossTotal),
            packets_send_lost: count(s.pktSndLossTotal),
            naks_sent: count(s.pktSentNAKTotal),
            naks_received: count(s.pktRecvNAKTotal),
            packets_retransmitted: count(s.pktRetransTotal),
            packets_dropped: count(s.pktRcvDropTotal),
            packets_send_dropped: count(s.pktSndDropTotal),
            packets_undecrypted: count(s.pktRcvUndecryptTotal),
            bytes_sent: s.byteSentTotal,
            bytes_received: s.byteRecvTotal,
            rtt_ms: s.msRTT,
            send_rate_mbps: s.mbpsSendRate,
            receive_rate_mbps: s.mbpsRecvRate,
            bandwidth_mbps: s.mbpsBandwidth,
            latency_ms: u32::try_from(s.msRcvTsbPdDelay).unwrap_or(0),
            receive_buffer_ms: u32::try_from(s.msRcvBuf).unwrap_or(0),
        }
    }
}
