//! Real-time pacing, sans-IO: which bytes go in which datagram, and when each leaves.
//!
//! The encoder hands over one chunk of transport stream per video frame period (a *tick*):
//! the frame and the audio beside it, muxed. [`Packetizer`] cuts the chunks into datagrams
//! of 7 TS packets (1316 bytes: what MPEG-TS over RTP and UDP carries, RFC 2250, SMPTE
//! 2022-2); a tail of fewer than 7 packets waits for the next chunk, as ffmpeg's
//! `rtp_mpegts` does. [`slot`] spreads a tick's datagrams evenly over the tick, so the
//! stream leaves at a steady rate within each frame rather than in one burst per frame.
//! [`Clock`] maps media time onto the sender's monotonic clock: the first datagram leaves
//! at once, every later one when its media time has come; a sender held up for longer
//! than `max_lag` (a suspended process, an overloaded box) skips ahead instead of bursting
//! everything it owes.
//!
//! Times are `Duration`s from a zero the caller picks; nothing here reads a clock.

use std::time::Duration;

use media::ts::PACKET_SIZE;

/// TS packets per datagram.
pub const PACKETS_PER_DATAGRAM: usize = 7;
/// Bytes of TS per datagram (1316).
pub const DATAGRAM_BYTES: usize = PACKETS_PER_DATAGRAM * PACKET_SIZE;

/// A null packet (PID 0x1FFF, ISO/IEC 13818-1 §2.4.3.3), to pad the last datagram.
fn null_packet() -> [u8; PACKET_SIZE] {
    let mut p = [0xFF; PACKET_SIZE];
    p[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
    p
}

/// Cuts a transport stream into datagrams of [`PACKETS_PER_DATAGRAM`] packets.
#[derive(Debug, Default)]
pub struct Packetizer {
    tail: Vec<u8>,
}

impl Packetizer {
    /// Appends `ts` (whole TS packets) and returns every whole datagram now available.
    pub fn push(&mut self, ts: &[u8]) -> Vec<Vec<u8>> {
        self.tail.extend_from_slice(ts);
        let len = self.tail.len();
        let whole = len.saturating_sub(len % DATAGRAM_BYTES);
        let rest = self.tail.split_off(whole);
        let full = std::mem::replace(&mut self.tail, rest);
        full.chunks_exact(DATAGRAM_BYTES)
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// The waiting tail padded with null packets to a whole datagram, if any is waiting.
    pub fn flush(&mut self) -> Option<Vec<u8>> {
        if self.tail.is_empty() {
            return None;
        }
        let mut d = std::mem::take(&mut self.tail);
        let null = null_packet();
        while d.len() < DATAGRAM_BYTES {
            d.extend_from_slice(&null);
        }
        d.truncate(DATAGRAM_BYTES);
        Some(d)
    }
}

/// Media time of datagram `k` of the `count` a tick starting at `start` and lasting `len`
/// carries: `start + len × k / count`.
pub fn slot(start: Duration, len: Duration, k: usize, count: usize) -> Duration {
    let k = u128::try_from(k).unwrap_or(0);
    let count = u128::try_from(count).unwrap_or(1).max(1);
    let into = len
        .as_nanos()
        .saturating_mul(k)
        .checked_div(count)
        .unwrap_or(0);
    start.saturating_add(Duration::from_nanos(
        u64::try_from(into).unwrap_or(u64::MAX),
    ))
}

/// Maps media time to the sender's clock. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Clock {
    /// A sender time and the media time due then; media time runs from there with it.
    anchor: Option<(Duration, Duration)>,
    max_lag: Duration,
    skips: u64,
}

impl Clock {
    /// A clock that skips ahead once a datagram is more than `max_lag` late.
    pub fn new(max_lag: Duration) -> Self {
        Self {
            anchor: None,
            max_lag,
            skips: 0,
        }
    }

    /// When the datagram of media time `media` is due, given that it is `now`: a time in
    /// the future to wait for, or `now` or earlier to send at once.
    pub fn due(&mut self, now: Duration, media: Duration) -> Duration {
        let (at, from) = *self.anchor.get_or_insert((now, media));
        let due = at.saturating_add(media.saturating_sub(from));
        if now > due.saturating_add(self.max_lag) {
            self.anchor = Some((now, media));
            self.skips = self.skips.saturating_add(1);
            return now;
        }
        due
    }

    /// How many times the sender was more than `max_lag` behind and skipped ahead.
    pub fn skips(&self) -> u64 {
        self.skips
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn packets(n: usize, tag: u8) -> Vec<u8> {
        (0..n)
            .flat_map(|_| {
                let mut p = [tag; PACKET_SIZE];
                p[0] = 0x47;
                p
            })
            .collect()
    }

    #[test]
    fn seven_packets_a_datagram_with_the_tail_carried_over() {
        let mut p = Packetizer::default();
        let d = p.push(&packets(16, 1));
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|d| d.len() == 1316));
        // Two packets wait; five more make the next datagram.
        let d = p.push(&packets(5, 2));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0][1], 1);
        assert_eq!(d[0][2 * 188 + 1], 2);
        assert!(p.push(&[]).is_empty());
        assert_eq!(p.flush(), None);
        p.push(&packets(3, 3));
        let last = p.flush().unwrap();
        assert_eq!(last.len(), 1316);
        assert_eq!(&last[3 * 188..3 * 188 + 4], &[0x47, 0x1F, 0xFF, 0x10]);
        assert_eq!(p.flush(), None);
    }

    #[test]
    fn a_ticks_datagrams_spread_over_the_tick() {
        let tick = Duration::from_nanos(33_333_333);
        let start = tick * 30;
        let slots: Vec<Duration> = (0..4).map(|k| slot(start, tick, k, 4)).collect();
        assert_eq!(slots[0], start);
        assert_eq!(slots[2], start + tick / 2);
        assert!(slots
            .windows(2)
            .all(|w| w[1] - w[0] >= Duration::from_nanos(8_333_333)));
        assert!(slots[3] < start + tick);
        assert_eq!(slot(start, tick, 0, 0), start);
    }

    #[test]
    fn follows_media_time_and_skips_ahead_when_far_behind() {
        let mut c = Clock::new(ms(500));
        // The first datagram leaves at once; media time then runs with the clock.
        assert_eq!(c.due(ms(1000), ms(0)), ms(1000));
        assert_eq!(c.due(ms(1001), ms(40)), ms(1040));
        // Late by 200 ms: due in the past, sent at once, timeline kept.
        assert_eq!(c.due(ms(1280), ms(80)), ms(1080));
        assert_eq!(c.due(ms(1281), ms(400)), ms(1400));
        assert_eq!(c.skips(), 0);
        // Late by 2 s: skip ahead; later datagrams are due from the new origin.
        assert_eq!(c.due(ms(3440), ms(440)), ms(3440));
        assert_eq!(c.due(ms(3441), ms(480)), ms(3480));
        assert_eq!(c.skips(), 1);
        // Media time starting late (not at zero) is fine too.
        let mut c = Clock::new(ms(500));
        assert_eq!(c.due(ms(5), ms(10_000)), ms(5));
        assert_eq!(c.due(ms(6), ms(10_040)), ms(45));
    }
}
