//! Numbering the messages of sources that have no sequence numbers (SRT)
//! on one shared timeline, by their content, so that a MERGE flow can merge
//! them as SMPTE 2022-7 merges RTP ([`crate::merge::Merger`]).
//!
//! Model: every source carries the same MPEG-TS, cut into the same
//! messages (an encoder, or one UDP feed, relayed over two paths). A source
//! that is *aligned* has an offset from its own message count to the
//! timeline; its next message gets `count + offset`. Alignment is found by
//! content: a message whose digest is already on the timeline (delivered
//! by another path) fixes the offset; a message that comes first on a path
//! ahead of the aligned ones is remembered, and aligned as soon as the
//! timeline reaches it. While no source is aligned the first to deliver
//! becomes the reference, continuing the timeline where it stopped.
//!
//! Invariants: a message is numbered only if it is consistent with what
//! the timeline holds under that number; a source whose message differs
//! from the timeline (it lost messages, or reconnected further on) loses
//! its alignment and is aligned again by content. Messages whose digest is
//! not unique in the window (null padding, repeated tables) never fix an
//! offset. Nothing here reads a clock or panics on input.
//!
//! ```
//! use transport::align::Aligner;
//! let msg = |n: u8| vec![0x47, 0x01, 0x00, 0x10, n];
//! let mut a = Aligner::new(2);
//! assert_eq!(a.number(0, &msg(1)), Some(0)); // source 0 is the reference
//! assert_eq!(a.number(0, &msg(2)), Some(1));
//! assert_eq!(a.number(1, &msg(2)), Some(1)); // source 1 found by content
//! assert_eq!(a.number(1, &msg(3)), Some(2));
//! ```

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Timeline numbers (and a path's own early messages) remembered: about
/// four seconds at 20 Mb/s, more than any two SRT paths drift apart.
pub const WINDOW: usize = 8192;

fn digest(payload: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    payload.hash(&mut h);
    h.finish()
}

/// One source's place on the timeline.
#[derive(Debug, Default)]
struct Path {
    /// Messages this source delivered.
    count: u64,
    /// Timeline number minus `count`, once aligned.
    offset: Option<i128>,
    /// Digest -> own count of messages that arrived while unaligned.
    early: HashMap<u64, u64>,
    early_order: VecDeque<u64>,
}

impl Path {
    fn remember_early(&mut self, digest: u64, index: u64) {
        if self.early.insert(digest, index).is_none() {
            self.early_order.push_back(digest);
        }
        while self.early_order.len() > WINDOW {
            if let Some(old) = self.early_order.pop_front() {
                self.early.remove(&old);
            }
        }
    }

    fn align(&mut self, timeline_number: u64, own_index: u64) {
        self.offset = Some(i128::from(timeline_number) - i128::from(own_index));
        self.early.clear();
        self.early_order.clear();
    }
}

/// See the [module docs](self).
#[derive(Debug)]
pub struct Aligner {
    paths: Vec<Path>,
    /// Number -> digest, for the last [`WINDOW`] numbers.
    by_number: HashMap<u64, u64>,
    /// Digest -> number; `None` when the digest is not unique.
    by_digest: HashMap<u64, Option<u64>>,
    order: VecDeque<u64>,
    /// The number after the highest one given.
    next: u64,
    realignments: u64,
}

impl Aligner {
    pub fn new(paths: usize) -> Self {
        Self {
            paths: (0..paths).map(|_| Path::default()).collect(),
            by_number: HashMap::new(),
            by_digest: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            realignments: 0,
        }
    }

    /// Times a source lost its alignment (it lost messages, or came back
    /// from a reconnection further on).
    pub fn realignments(&self) -> u64 {
        self.realignments
    }

    /// The timeline number of the next message of `path`, or `None` when it
    /// cannot be placed yet (it is ahead of every aligned path, or unknown
    /// content from a path that lost its place); such a message is for the
    /// other path to deliver.
    pub fn number(&mut self, path: usize, payload: &[u8]) -> Option<u64> {
        let d = digest(payload);
        let others_aligned = self.aligned_besides(path);
        let p = self.paths.get_mut(path)?;
        let index = p.count;
        p.count = p.count.saturating_add(1);
        // Numbers older than the window can no longer be checked against
        // the timeline: a path that lands there (back from a long outage)
        // has lost its place.
        let floor = self.next.saturating_sub(WINDOW as u64);
        if let Some(offset) = p.offset {
            let n = u64::try_from(i128::from(index) + offset)
                .ok()
                .filter(|n| *n >= floor);
            match n.map(|n| (n, self.by_number.get(&n))) {
                Some((n, None)) => {
                    self.record(n, d);
                    return Some(n);
                }
                Some((n, Some(&held))) if held == d => return Some(n),
                _ => {
                    // Differs from the timeline: this path lost its place.
                    p.offset = None;
                    self.realignments = self.realignments.saturating_add(1);
                }
            }
        }
        let p = self.paths.get_mut(path)?;
        if let Some(&Some(n)) = self.by_digest.get(&d) {
            p.align(n, index);
            return Some(n);
        }
        if others_aligned {
            p.remember_early(d, index);
            return None;
        }
        // Nobody is aligned: this path carries the timeline on.
        let n = self.next;
        p.align(n, index);
        self.record(n, d);
        Some(n)
    }

    fn aligned_besides(&self, path: usize) -> bool {
        self.paths
            .iter()
            .enumerate()
            .any(|(i, p)| i != path && p.offset.is_some())
    }

    /// Puts digest `d` on the timeline at `n`, and aligns any path that had
    /// delivered it early.
    fn record(&mut self, n: u64, d: u64) {
        self.by_number.insert(n, d);
        self.order.push_back(n);
        self.next = self.next.max(n.saturating_add(1));
        match self.by_digest.get_mut(&d) {
            Some(slot) => *slot = None,
            None => {
                self.by_digest.insert(d, Some(n));
            }
        }
        for p in self.paths.iter_mut().filter(|p| p.offset.is_none()) {
            if let Some(&index) = p.early.get(&d) {
                p.align(n, index);
            }
        }
        while self.order.len() > WINDOW {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(od) = self.by_number.remove(&old) {
                if self.by_digest.get(&od) == Some(&Some(old)) {
                    self.by_digest.remove(&od);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    /// A distinct message per `n`.
    fn msg(n: u64) -> Vec<u8> {
        let mut m = vec![0x47, 0x01, 0x00, 0x10];
        m.extend_from_slice(&n.to_be_bytes());
        m
    }

    /// Seven null packets: the same bytes every time.
    fn null() -> Vec<u8> {
        vec![0x47, 0x1F, 0xFF, 0x10, 0xFF]
    }

    #[test]
    fn two_paths_agree_whichever_leads() {
        let mut a = Aligner::new(2);
        // Path 0 leads by 3 messages.
        for n in 0..3 {
            assert_eq!(a.number(0, &msg(n)), Some(n));
        }
        for n in 3..100 {
            assert_eq!(a.number(0, &msg(n)), Some(n));
            assert_eq!(a.number(1, &msg(n - 3)), Some(n - 3));
        }
        // Path 0 goes silent; path 1 catches up and carries on.
        for n in 97..150 {
            assert_eq!(a.number(1, &msg(n)), Some(n));
        }
    }

    #[test]
    fn a_path_ahead_is_held_back_until_the_timeline_reaches_it() {
        let mut a = Aligner::new(2);
        assert_eq!(a.number(0, &msg(0)), Some(0));
        // Path 1 starts 5 messages ahead: unknown yet.
        for n in 5..8 {
            assert_eq!(a.number(1, &msg(n)), None);
        }
        for n in 1..6 {
            assert_eq!(a.number(0, &msg(n)), Some(n));
        }
        // The timeline reached message 5: path 1 is aligned from then on.
        assert_eq!(a.number(1, &msg(8)), Some(8));
        assert_eq!(a.number(0, &msg(6)), Some(6));
    }

    #[test]
    fn repeated_messages_never_align_and_a_lost_message_realigns() {
        let mut a = Aligner::new(2);
        assert_eq!(a.number(0, &null()), Some(0));
        assert_eq!(a.number(0, &null()), Some(1));
        // Path 1's null message matches two numbers: not a place.
        assert_eq!(a.number(1, &null()), None);
        assert_eq!(a.number(0, &msg(2)), Some(2));
        assert_eq!(a.number(1, &msg(2)), Some(2));
        assert_eq!(a.number(0, &msg(3)), Some(3));
        assert_eq!(a.number(0, &msg(4)), Some(4));
        // Path 1 lost message 3: its next one is found again by content.
        assert_eq!(a.number(1, &msg(4)), Some(4));
        assert_eq!(a.realignments(), 1);
        assert_eq!(a.number(1, &msg(5)), Some(5));
    }

    #[test]
    fn a_lone_path_that_comes_back_further_on_continues_the_timeline() {
        let mut a = Aligner::new(2);
        for n in 0..10 {
            assert_eq!(a.number(0, &msg(n)), Some(n));
        }
        // The same path after an outage: numbers go on, no gap to wait for.
        assert_eq!(a.number(0, &msg(500)), Some(10));
        // The other path arrives later and is placed by content.
        assert_eq!(a.number(1, &msg(500)), Some(10));
    }

    #[test]
    fn a_path_back_from_a_long_outage_is_placed_by_content() {
        let mut a = Aligner::new(2);
        for n in 0..10 {
            assert_eq!(a.number(0, &msg(n)), Some(n));
            assert_eq!(a.number(1, &msg(n)), Some(n));
        }
        // Path 1 is gone for longer than the window; path 0 carries on.
        let far = 10 + 2 * WINDOW as u64;
        for n in 10..far {
            assert_eq!(a.number(0, &msg(n)), Some(n));
        }
        // Back, behind path 0: its own count would put it long ago.
        assert_eq!(a.number(1, &msg(far - 2)), Some(far - 2));
        assert_eq!(a.number(1, &msg(far - 1)), Some(far - 1));
        assert_eq!(a.number(1, &msg(far)), Some(far));
        assert_eq!(a.number(0, &msg(far)), Some(far));
    }

    #[test]
    fn the_window_is_bounded() {
        let mut a = Aligner::new(2);
        for n in 0..(WINDOW as u64 * 3) {
            a.number(0, &msg(n));
            a.number(1, &msg(n + 1_000_000)); // never on the timeline
        }
        assert!(a.by_number.len() <= WINDOW && a.by_digest.len() <= WINDOW);
        assert!(a.paths[1].early.len() <= WINDOW);
    }
}
