//! Putting RTP packets back in order: the reorder buffer behind every RTP
//! source, and SMPTE 2022-7 seamless protection switching when two paths
//! carry the same packets. Packets are released in sequence order as soon as
//! every earlier one has been released; a missing packet is waited for at
//! most `window` (MediaConnect's `recoveryWindow`), then declared lost.
//! Duplicates (the same packet from the other path, or a late copy) are
//! dropped, so the output carries each packet exactly once.
//!
//! An encoder restart starts a new sequence at a random number. Far from the
//! old one (more than `RESYNC_DISTANCE`) that is seen at once. A new
//! sequence that lands shortly *behind* the old one would otherwise read as
//! copies of released packets for thousands of packets, so the merger remembers
//! a digest of the packets it released: [`FOREIGN_RUN`] packets in a row that
//! are behind and differ from what was released under their number are a new
//! stream, and it resyncs.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use bytes::Bytes;

use crate::seq::nearest;

/// Where the first sequence number lands in the extended space.
const ORIGIN: u64 = 1 << 32;

/// Packets held at most; past this the oldest gap is given up.
const CAPACITY: usize = 8192;
/// A jump this far from the expected sequence number is a new stream (an
/// encoder restart), not a loss.
const RESYNC_DISTANCE: u64 = 3000;

/// Released packets whose digest is remembered (more than [`RESYNC_DISTANCE`]).
const RECENT: usize = 4096;
/// Packets in a row behind the expected number that are not copies of what
/// was released: a new stream.
pub const FOREIGN_RUN: u32 = 16;

fn digest(payload: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    payload.hash(&mut h);
    h.finish()
}

/// Counters of a merger.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeStats {
    pub released: u64,
    /// Packets given up on after the window.
    pub lost: u64,
    /// Copies dropped because the packet was already buffered or released.
    pub duplicates: u64,
    /// Packets that arrived after their place had been given up.
    pub late: u64,
    /// Restarts of the sequence (encoder restarted).
    pub resyncs: u64,
    /// Released packets per path, by which path delivered them first.
    pub from_path: Vec<u64>,
}

/// What `push` did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Accepted,
    Duplicate,
    Late,
}

/// A packet leaving the merger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    pub seq: u16,
    pub payload: Bytes,
    /// Packets declared lost just before this one.
    pub lost_before: u64,
}

#[derive(Debug)]
struct Held {
    payload: Bytes,
    arrived: Duration,
}

#[derive(Debug)]
pub struct Merger {
    window: Duration,
    max_reorder: Option<u64>,
    /// Extended sequence number of the next packet to release.
    next: Option<u64>,
    held: BTreeMap<u64, Held>,
    /// Recently given-up ranges [from, to), to tell late packets from copies.
    given_up: VecDeque<(u64, u64)>,
    pending_loss: u64,
    /// (extended seq, digest) of the last [`RECENT`] released packets, in order.
    recent: VecDeque<(u64, u64)>,
    /// Packets in a row that were behind `next` and not copies of released ones.
    foreign_run: u32,
    stats: MergeStats,
}

/// Given-up ranges remembered.
const GIVEN_UP_MEMORY: usize = 64;

impl Merger {
    /// A merger of `paths` paths that waits at most `window` for a gap.
    pub fn new(paths: usize, window: Duration) -> Self {
        Self {
            window,
            max_reorder: None,
            next: None,
            held: BTreeMap::new(),
            given_up: VecDeque::new(),
            pending_loss: 0,
            recent: VecDeque::with_capacity(RECENT),
            foreign_run: 0,
            stats: MergeStats {
                from_path: vec![0; paths],
                ..MergeStats::default()
            },
        }
    }

    /// Also give up a gap once this many later packets have arrived (used
    /// once the FEC matrix is known: no repair can come after that).
    pub fn set_max_reorder(&mut self, packets: Option<u64>) {
        self.max_reorder = packets;
    }

    pub fn stats(&self) -> &MergeStats {
        &self.stats
    }

    pub fn push(&mut self, now: Duration, path: usize, seq: u16, payload: Bytes) -> Pushed {
        let next = *self.next.get_or_insert(ORIGIN + u64::from(seq));
        let highest = self.held.last_key_value().map_or(next, |(k, _)| *k);
        let ext = nearest(highest, seq);
        if ext.abs_diff(next) > RESYNC_DISTANCE && ext.abs_diff(highest) > RESYNC_DISTANCE {
            self.resync(ext);
        } else if ext < next {
            if self.given_up.iter().any(|(a, b)| (*a..*b).contains(&ext)) {
                self.stats.late += 1;
                return Pushed::Late;
            }
            if self.is_copy(ext, &payload) {
                self.foreign_run = 0;
                self.stats.duplicates += 1;
                return Pushed::Duplicate;
            }
            self.foreign_run += 1;
            if self.foreign_run < FOREIGN_RUN {
                self.stats.duplicates += 1;
                return Pushed::Duplicate;
            }
            self.resync(ext);
        }
        self.foreign_run = 0;
        if self.held.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        if let Some(slot) = self.stats.from_path.get_mut(path) {
            *slot += 1;
        }
        self.held.insert(
            ext,
            Held {
                payload,
                arrived: now,
            },
        );
        if self.held.len() > CAPACITY {
            if let Some((&first, _)) = self.held.first_key_value() {
                self.give_up_until(first);
            }
        }
        Pushed::Accepted
    }

    /// Whether `payload` is what was released as `ext` (unknown: assumed so,
    /// as a copy older than the memory is the likelier story).
    fn is_copy(&self, ext: u64, payload: &[u8]) -> bool {
        match self.recent.binary_search_by_key(&ext, |(seq, _)| *seq) {
            Ok(i) => self
                .recent
                .get(i)
                .is_some_and(|(_, d)| *d == digest(payload)),
            Err(0) => true,
            // Inside the remembered range but never released: not a copy.
            Err(_) => false,
        }
    }

    /// A new stream: what is held of the old one keeps its order and goes
    /// out first, then the new stream continues from `ext`.
    fn resync(&mut self, ext: u64) {
        self.stats.resyncs += 1;
        self.recent.clear();
        self.foreign_run = 0;
        let old = std::mem::take(&mut self.held);
        let count = old.len() as u64;
        let base = ext - count;
        for (i, h) in old.into_values().enumerate() {
            self.held.insert(base + i as u64, h);
        }
        self.given_up.clear();
        self.next = Some(base);
    }

    fn give_up_until(&mut self, first: u64) {
        if let Some(n) = self.next.filter(|n| first > *n) {
            self.stats.lost += first - n;
            self.pending_loss += first - n;
            self.given_up.push_back((n, first));
            if self.given_up.len() > GIVEN_UP_MEMORY {
                self.given_up.pop_front();
            }
            self.next = Some(first);
        }
    }

    /// The next packet ready to leave, if any.
    pub fn pop(&mut self, now: Duration) -> Option<Released> {
        let next = self.next?;
        let (&first, held) = self.held.first_key_value()?;
        if first != next {
            let waited = now.saturating_sub(held.arrived);
            let highest = self.held.last_key_value().map_or(first, |(k, _)| *k);
            let too_far = self.max_reorder.is_some_and(|m| highest - next > m);
            if waited < self.window && !too_far {
                return None;
            }
            self.give_up_until(first);
        }
        let (seq, held) = self.held.pop_first()?;
        self.next = Some(seq + 1);
        self.stats.released += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, digest(&held.payload)));
        Some(Released {
            seq: (seq & 0xFFFF) as u16,
            payload: held.payload,
            lost_before: std::mem::take(&mut self.pending_loss),
        })
    }

    /// When `pop` may next give up a gap (None: nothing is waiting).
    pub fn deadline(&self) -> Option<Duration> {
        let next = self.next?;
        let (&first, held) = self.held.first_key_value()?;
        (first != next).then_some(held.arrived + self.window)
    }

    /// Forgets everything (a source restarted).
    pub fn reset(&mut self) {
        self.next = None;
        self.held.clear();
        self.given_up.clear();
        self.pending_loss = 0;
        self.recent.clear();
        self.foreign_run = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::seq::SeqExtender;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn body(seq: u16) -> Bytes {
        Bytes::from(seq.to_be_bytes().to_vec())
    }

    fn drain(m: &mut Merger, now: Duration, out: &mut Vec<u16>, lost: &mut u64) {
        while let Some(r) = m.pop(now) {
            assert_eq!(r.payload, body(r.seq));
            *lost += r.lost_before;
            out.push(r.seq);
        }
    }

    /// Two paths, each losing packets independently at `loss`, with random
    /// extra delay up to `jitter_ms` and occasional duplicates; a packet
    /// every millisecond. Returns (released, lost, unique-loss-on-both).
    fn simulate(
        seed: u64,
        start: u16,
        count: u32,
        loss: f64,
        jitter_ms: u64,
        dead: Option<(usize, u32, u32)>,
    ) -> (Vec<u16>, u64, u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut arrivals: Vec<(u64, usize, u16)> = Vec::new();
        let mut both_lost = 0;
        for i in 0..count {
            let seq = start.wrapping_add(i as u16);
            let mut delivered = false;
            for path in 0..2 {
                // The first and last packets arrive cleanly on both paths, so
                // that every loss lies between packets the merger saw.
                let edge = i < 20 || i + 20 >= count;
                let killed = dead.is_some_and(|(p, a, b)| p == path && (a..b).contains(&i));
                if !edge && (killed || rng.gen_bool(loss)) {
                    continue;
                }
                delivered = true;
                let jitter = if edge {
                    0
                } else {
                    rng.gen_range(0..=jitter_ms)
                };
                let t = u64::from(i) + path as u64 * 3 + jitter;
                arrivals.push((t, path, seq));
                if rng.gen_bool(0.01) {
                    arrivals.push((t + 1, path, seq));
                }
            }
            if !delivered {
                both_lost += 1;
            }
        }
        arrivals.sort_by_key(|a| a.0);
        let mut m = Merger::new(2, ms(50));
        let mut out = Vec::new();
        let mut lost = 0;
        for (t, path, seq) in arrivals {
            drain(&mut m, ms(t), &mut out, &mut lost);
            m.push(ms(t), path, seq, body(seq));
            drain(&mut m, ms(t), &mut out, &mut lost);
        }
        drain(&mut m, ms(u64::from(count) + 1000), &mut out, &mut lost);
        (out, lost, both_lost)
    }

    fn assert_in_order_once(out: &[u16], start: u16) {
        let mut prev: Option<u64> = None;
        let mut ext = SeqExtender::new();
        ext.extend(start);
        for &s in out {
            let e = ext.extend(s);
            if let Some(p) = prev {
                assert!(e > p, "{s} released after {p} (out of order or duplicate)");
            }
            prev = Some(e);
        }
    }

    #[test]
    fn independent_loss_on_both_paths_loses_only_what_both_lost() {
        for seed in 0..20 {
            let (out, lost, both) = simulate(seed, 65000, 5000, 0.05, 10, None);
            assert_in_order_once(&out, 65000);
            assert_eq!(lost, both, "seed {seed}");
            assert_eq!(out.len() as u64 + lost, 5000);
        }
    }

    #[test]
    fn one_path_dead_for_a_while_loses_nothing() {
        let (out, lost, both) = simulate(7, 100, 4000, 0.0, 5, Some((0, 1000, 3000)));
        assert_eq!((lost, both), (0, 0));
        assert_eq!(out.len(), 4000);
        assert_in_order_once(&out, 100);
    }

    #[test]
    fn wraps_around_the_sequence_space() {
        let (out, lost, _) = simulate(3, 65530, 200, 0.0, 0, None);
        assert_eq!(lost, 0);
        assert_eq!(out.first(), Some(&65530));
        assert_eq!(out.get(6), Some(&0));
    }

    #[test]
    fn a_gap_is_given_up_after_the_window() {
        let mut m = Merger::new(1, ms(100));
        m.push(ms(0), 0, 10, body(10));
        assert_eq!(m.pop(ms(0)).map(|r| r.seq), Some(10));
        m.push(ms(5), 0, 12, body(12));
        assert_eq!(m.pop(ms(50)), None);
        assert_eq!(m.deadline(), Some(ms(105)));
        let r = m.pop(ms(105)).unwrap();
        assert_eq!((r.seq, r.lost_before), (12, 1));
        // The lost packet arriving afterwards is dropped as late.
        assert_eq!(m.push(ms(110), 0, 11, body(11)), Pushed::Late);
        assert_eq!(m.stats().lost, 1);
    }

    #[test]
    fn max_reorder_gives_up_before_the_window() {
        let mut m = Merger::new(1, ms(1000));
        m.set_max_reorder(Some(3));
        m.push(ms(0), 0, 1, body(1));
        m.pop(ms(0));
        for s in 3..6 {
            m.push(ms(1), 0, s, body(s));
        }
        assert_eq!(m.pop(ms(1)), None);
        m.push(ms(2), 0, 6, body(6));
        assert_eq!(m.pop(ms(2)).map(|r| (r.seq, r.lost_before)), Some((3, 1)));
    }

    #[test]
    fn a_restart_shortly_behind_the_old_sequence_resyncs_after_a_few_packets() {
        let mut m = Merger::new(1, ms(50));
        let mut out = Vec::new();
        let mut lost = 0;
        for seq in 1000..1200u16 {
            m.push(ms(u64::from(seq)), 0, seq, body(seq));
            drain(&mut m, ms(u64::from(seq)), &mut out, &mut lost);
        }
        // The new encoder starts 100 behind, with different packets.
        let restarted = |seq: u16| Bytes::from(vec![0xEE, (seq >> 8) as u8, seq as u8]);
        let mut accepted = 0;
        for seq in 1100..1300u16 {
            if m.push(ms(2000 + u64::from(seq)), 0, seq, restarted(seq)) == Pushed::Accepted {
                accepted += 1;
            }
        }
        assert_eq!(m.stats().resyncs, 1);
        assert_eq!(accepted, 200 - (FOREIGN_RUN as usize - 1));
        // Copies of released packets never resync.
        let mut copies = Merger::new(2, ms(50));
        for seq in 0..500u16 {
            copies.push(ms(u64::from(seq)), 0, seq, body(seq));
            while copies.pop(ms(u64::from(seq))).is_some() {}
        }
        for seq in 100..500u16 {
            assert_eq!(copies.push(ms(600), 1, seq, body(seq)), Pushed::Duplicate);
        }
        assert_eq!(copies.stats().resyncs, 0);
    }

    #[test]
    fn an_encoder_restart_is_a_resync_not_a_loss() {
        let mut m = Merger::new(1, ms(100));
        for s in 0..10 {
            m.push(ms(0), 0, s, body(s));
        }
        while m.pop(ms(0)).is_some() {}
        for s in 40_000..40_010 {
            m.push(ms(1), 0, s, body(s));
        }
        let mut got = Vec::new();
        while let Some(r) = m.pop(ms(1)) {
            got.push(r.seq);
        }
        assert_eq!(got, (40_000..40_010).collect::<Vec<_>>());
        assert_eq!((m.stats().lost, m.stats().resyncs), (0, 1));
    }
}
