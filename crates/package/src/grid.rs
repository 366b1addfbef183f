//! Cut points shared by the renditions of one origin endpoint, so segment N of every
//! variant covers the same PTS range (RFC 8216 §6.2.4: players switch variants by
//! media sequence number).
//!
//! The model: every [`Segmenter`](crate::segmenter::Segmenter) of an endpoint asks the
//! endpoint's one [`CutGrid`] at each IDR whether to cut there ([`CutGrid::at_idr`]).
//! The grid keeps the recent cuts (PTS → sequence number, date-time, discontinuity).
//! An IDR within [`MATCH_TOLERANCE`] of a known cut is cut with that cut's number; an
//! IDR after the newest cut is a new cut when it lies in a later cell of a grid of
//! `target` ticks anchored on the first cut of the epoch, and at least half a target
//! after the newest cut; any other IDR is not a cut.
//!
//! Invariants:
//! - The cuts are a function of the IDR timestamps alone, never of which rendition's
//!   chunks arrived first: renditions with the same IDR timestamps that start at the
//!   same IDR get the same sequence → PTS map whatever the interleaving and chunking
//!   (tested by a property test). A rendition that joins later starts at the next
//!   known cut. The first cut anchors the grid: if a late rendition's chunks run ahead
//!   of the others before any cut exists, its first IDR anchors it and the others
//!   drop what comes before that; from there on they cut alike.
//! - Whatever happens, a sequence number means the same PTS in every rendition.
//! - Sequence numbers grow by one per cut across the life of the grid, through
//!   discontinuities.
//! - An epoch is one run of continuous timestamps. A rendition told of a
//!   discontinuity (failover) asks for the next epoch; the first to ask opens it,
//!   anchored on its IDR, and its first cut carries the discontinuity; a rendition
//!   that missed an epoch joins the newest. A rendition whose PTS jumps
//!   [`rejoin`](CutGrid::rejoin)s: landing on the current epoch's span (forward) it
//!   is a rendition catching up (it stopped while the others went on); elsewhere, a
//!   new epoch only once no other rendition still follows the current one (took a
//!   cut within [`ALIVE_FOR`] and has not jumped), so one rendition's restart never
//!   strands the others. Renditions are known by the id [`CutGrid::join`] gives and
//!   report their cuts with [`CutGrid::took`]; a [`Segmenter`] does both.
//! - Discontinuity sequence numbers come with the cuts, so they match too.
//! - Memory is bounded: the newest [`MAX_CUTS`] cuts and [`MAX_RENDITIONS`]
//!   renditions are kept. A rendition lagging further behind finds no cut and waits
//!   for one.
//! - Time is injected: wall-clock time is a parameter, for date-times and to tell
//!   whether a rendition still follows an epoch.
//!
//! [`Segmenter`]: crate::segmenter::Segmenter
//!
//! ```
//! use std::time::Duration;
//! use package::grid::CutGrid;
//!
//! let mut grid = CutGrid::new(Duration::from_secs(2));
//! let first = grid.at_idr(grid.epoch(), 90_000, None).unwrap();
//! assert_eq!(first.sequence, 0);
//! assert!(grid.at_idr(0, 90_000 + 90_000, None).is_none()); // same 2 s cell
//! assert_eq!(grid.at_idr(0, 90_000 + 180_000, None).unwrap().sequence, 1);
//! // Another rendition with the same IDRs gets the same cuts.
//! assert_eq!(grid.at_idr(0, 90_000, None).unwrap().sequence, 0);
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use time::OffsetDateTime;

use crate::timeline::{ticks_to_duration, MAX_PTS_JUMP};

/// Two IDRs this close (90 kHz ticks, 1/60 s) are the same cut point.
pub const MATCH_TOLERANCE: i64 = 1_500;
/// Cuts remembered for renditions that lag behind.
pub const MAX_CUTS: usize = 4_096;

/// One cut: where a segment starts in every rendition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The run of continuous timestamps the cut belongs to.
    pub epoch: u32,
    /// Unwrapped PTS of the IDR the segment starts with.
    pub pts: i64,
    /// Media sequence number of the segment.
    pub sequence: u64,
    /// The segment follows a discontinuity (first cut of an epoch after the first).
    pub discontinuity: bool,
    /// Discontinuities before this segment (its own not counted): its discontinuity
    /// sequence number (RFC 8216 §4.3.3.3), the same in every rendition.
    pub discontinuity_sequence: u64,
    /// Wall-clock time of the first sample, when known.
    pub program_date_time: Option<OffsetDateTime>,
}

/// The shared cut points of one endpoint's renditions; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct CutGrid {
    target: i64,
    epoch: u32,
    /// PTS of the first cut of `epoch`.
    anchor: Option<i64>,
    cuts: VecDeque<Cut>,
    next_sequence: u64,
    discontinuities: u64,
    /// The renditions that cut on this grid, newest last (bounded).
    renditions: Vec<Participant>,
    next_id: u32,
}

/// What the grid knows of one rendition: the epoch of its last cut, when it took
/// it, and whether its PTS jumped away from that epoch since.
#[derive(Clone, Copy, Debug)]
struct Participant {
    id: u32,
    epoch: u32,
    seen: Option<OffsetDateTime>,
    jumped: bool,
}

/// Renditions a grid remembers; the least recently seen is forgotten first.
pub const MAX_RENDITIONS: usize = 64;
/// A rendition that took a cut this recently (wall clock) still follows its epoch.
pub const ALIVE_FOR: Duration = Duration::from_secs(10);

impl CutGrid {
    /// An empty grid with cells of `target` (at least one tick).
    pub fn new(target: Duration) -> Self {
        let ticks = target.as_nanos().saturating_mul(90_000) / 1_000_000_000;
        Self {
            target: i64::try_from(ticks).unwrap_or(i64::MAX).max(1),
            epoch: 0,
            anchor: None,
            cuts: VecDeque::new(),
            next_sequence: 0,
            discontinuities: 0,
            renditions: Vec::new(),
            next_id: 0,
        }
    }

    /// A new rendition's id, for [`took`](Self::took) and [`rejoin`](Self::rejoin).
    pub fn join(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Rendition `id` started a segment at a cut of `epoch` (wall clock `wall`).
    pub fn took(&mut self, id: u32, epoch: u32, wall: Option<OffsetDateTime>) {
        self.set(id, |p| {
            p.epoch = epoch;
            p.seen = wall;
            p.jumped = false;
        });
    }

    fn set(&mut self, id: u32, change: impl FnOnce(&mut Participant)) {
        let index = self.renditions.iter().position(|p| p.id == id);
        let mut p = match index {
            Some(i) => self.renditions.remove(i),
            None => Participant {
                id,
                epoch: self.epoch,
                seen: None,
                jumped: false,
            },
        };
        change(&mut p);
        if self.renditions.len() >= MAX_RENDITIONS {
            self.renditions.remove(0);
        }
        self.renditions.push(p);
    }

    /// The current epoch: the one a rendition that has not cut yet joins.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The newest cut.
    pub fn last(&self) -> Option<&Cut> {
        self.cuts.back()
    }

    fn cell(&self, pts: i64) -> i64 {
        let anchor = self.anchor.unwrap_or(pts);
        pts.saturating_sub(anchor).div_euclid(self.target)
    }

    fn find(&self, epoch: u32, pts: i64) -> Option<Cut> {
        self.cuts
            .iter()
            .rev()
            .find(|c| c.epoch == epoch && (c.pts - pts).abs() <= MATCH_TOLERANCE)
            .copied()
    }

    fn register(
        &mut self,
        epoch: u32,
        pts: i64,
        discontinuity: bool,
        wall: Option<OffsetDateTime>,
    ) -> Cut {
        let program_date_time = match self.cuts.back() {
            Some(last) if last.epoch == epoch && !discontinuity => {
                let ticks = u64::try_from(pts.saturating_sub(last.pts)).unwrap_or(0);
                last.program_date_time
                    .map(|t| t + ticks_to_duration(ticks))
                    .or(wall)
            }
            _ => wall,
        };
        let cut = Cut {
            epoch,
            pts,
            sequence: self.next_sequence,
            discontinuity,
            discontinuity_sequence: self.discontinuities,
            program_date_time,
        };
        self.next_sequence += 1;
        self.discontinuities += u64::from(discontinuity);
        if self.cuts.len() >= MAX_CUTS {
            self.cuts.pop_front();
        }
        self.cuts.push_back(cut);
        cut
    }

    /// A rendition in `epoch` reached an IDR at `pts`: the cut to start a segment
    /// with there, or `None` to keep the IDR inside the open segment (or, before the
    /// rendition's first cut, to drop it). `epoch` above the grid's opens that epoch.
    /// `wall` is the wall-clock time of the IDR, for the first cut of an epoch.
    pub fn at_idr(&mut self, epoch: u32, pts: i64, wall: Option<OffsetDateTime>) -> Option<Cut> {
        if self.cuts.is_empty() || epoch > self.epoch {
            let discontinuity = self.next_sequence > 0;
            self.epoch = epoch.max(self.epoch);
            self.anchor = Some(pts);
            return Some(self.register(self.epoch, pts, discontinuity, wall));
        }
        if let Some(cut) = self.find(epoch, pts) {
            return Some(cut);
        }
        let last = *self.cuts.back()?;
        if epoch < self.epoch || pts <= last.pts {
            return None;
        }
        let new_cell = self.cell(pts) > self.cell(last.pts);
        let long_enough = pts - last.pts >= self.target / 2;
        (new_cell && long_enough).then(|| self.register(epoch, pts, false, wall))
    }

    /// Rendition `id`, whose PTS jumped from `from` (it stopped, or its source
    /// restarted), reached an IDR at `pts`. Landing within [`MAX_PTS_JUMP`] of the
    /// current epoch's cuts (first to newest) — forward, if it was on that epoch — it
    /// is catching up and rejoins the current epoch (as [`at_idr`](Self::at_idr) there). Farther, it opens the next
    /// epoch once no other rendition still follows the current one (took a cut there
    /// within [`ALIVE_FOR`] and has not jumped): when the source of every rendition
    /// restarted, the last to notice opens it and the others join; when one
    /// rendition's source restarted alone, it waits (`None`) and the others go on.
    pub fn rejoin(
        &mut self,
        id: u32,
        pts: i64,
        from: i64,
        wall: Option<OffsetDateTime>,
    ) -> Option<Cut> {
        let Some(newest) = self.cuts.back().copied() else {
            return self.at_idr(self.epoch, pts, wall);
        };
        // Near the current epoch's span: from its first cut to its newest.
        let first = self.anchor.unwrap_or(newest.pts);
        let span = first.saturating_sub(MAX_PTS_JUMP)..=newest.pts.saturating_add(MAX_PTS_JUMP);
        // `from` only says which way it jumped when it was on the current timeline.
        let on_current = self
            .renditions
            .iter()
            .any(|p| p.id == id && p.epoch == self.epoch);
        if (pts > from || !on_current) && span.contains(&pts) {
            return self.at_idr(self.epoch, pts, wall);
        }
        self.set(id, |p| p.jumped = true);
        let epoch = self.epoch;
        let others_follow = self.renditions.iter().any(|p| {
            p.id != id
                && !p.jumped
                && p.epoch == epoch
                && match (p.seen, wall) {
                    (Some(seen), Some(now)) => now - seen <= ALIVE_FOR,
                    _ => false,
                }
        });
        if others_follow {
            return None;
        }
        self.at_idr(epoch.saturating_add(1), pts, wall)
    }

    /// A rendition in `epoch` must cut at `pts` without an IDR (its segment grew past
    /// its bounds): a cut when `pts` is a known cut or after the newest one.
    pub fn forced(&mut self, epoch: u32, pts: i64, wall: Option<OffsetDateTime>) -> Option<Cut> {
        if let Some(cut) = self.find(epoch, pts) {
            return Some(cut);
        }
        let last = *self.cuts.back()?;
        (epoch == self.epoch && pts > last.pts).then(|| self.register(epoch, pts, false, wall))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SEC: i64 = 90_000;

    #[test]
    fn grid_cells_and_minimum() {
        let mut g = CutGrid::new(Duration::from_secs(2));
        assert_eq!(g.at_idr(0, 0, None).unwrap().sequence, 0);
        // IDRs at 3.9 s (cell 1) and 4.1 s (cell 2, but only 0.2 s later).
        assert_eq!(g.at_idr(0, 39 * SEC / 10, None).unwrap().sequence, 1);
        assert!(g.at_idr(0, 41 * SEC / 10, None).is_none());
        assert_eq!(g.at_idr(0, 6 * SEC, None).unwrap().sequence, 2);
        // A lagging rendition: known cuts match within tolerance, others are not cuts.
        assert_eq!(g.at_idr(0, 39 * SEC / 10 + 10, None).unwrap().sequence, 1);
        assert!(g.at_idr(0, 5 * SEC, None).is_none());
    }

    #[test]
    fn epochs_open_once_and_carry_the_discontinuity() {
        let mut g = CutGrid::new(Duration::from_secs(2));
        g.at_idr(0, 0, None);
        g.at_idr(0, 2 * SEC, None);
        let a = g.at_idr(1, 777, None).unwrap();
        assert!(a.discontinuity);
        assert_eq!((a.sequence, g.epoch()), (2, 1));
        // The second rendition to meet the discontinuity joins the same cut.
        assert_eq!(g.at_idr(1, 777, None), Some(a));
        // A rendition still in epoch 0 finds only epoch-0 cuts.
        assert!(g.at_idr(0, 4 * SEC, None).is_none());
        assert_eq!(g.at_idr(0, 2 * SEC, None).unwrap().sequence, 1);
    }

    #[test]
    fn a_jump_near_the_newest_cut_rejoins() {
        let mut g = CutGrid::new(Duration::from_secs(2));
        for i in 0..20 {
            g.at_idr(0, i * 2 * SEC, None);
        }
        let t = |s| Some(OffsetDateTime::UNIX_EPOCH + Duration::from_secs(s));
        let (a, b) = (g.join(), g.join());
        g.took(a, 0, t(38));
        g.took(b, 0, t(38));
        // A rendition that stopped at 4 s comes back at 38 s: same epoch.
        assert_eq!(g.rejoin(b, 38 * SEC, 4 * SEC, t(38)).unwrap().sequence, 19);
        assert_eq!(g.epoch(), 0);
        // Its source restarted alone while `a` goes on: it waits, even when the new
        // timestamps fall inside the ones already cut (backwards).
        assert_eq!(g.rejoin(b, 5, 38 * SEC, t(39)), None);
        assert_eq!(g.rejoin(b, 10 * SEC, 38 * SEC, t(39)), None);
        assert_eq!(g.epoch(), 0);
        // `a` jumps alike: the last to notice opens the next epoch, the other joins.
        let c = g.rejoin(a, 5, 38 * SEC, t(40)).unwrap();
        assert!(c.discontinuity);
        assert_eq!(
            (g.epoch(), c.sequence, c.discontinuity_sequence),
            (1, 20, 0)
        );
        assert_eq!(g.rejoin(b, 5, 38 * SEC, t(40)), Some(c));
        // A rendition nobody followed for ALIVE_FOR does not hold a jump back.
        g.took(a, 1, t(40));
        g.took(b, 1, t(40));
        assert_eq!(g.rejoin(b, 50 * 60 * SEC, 5, t(41)), None);
        let d = g.rejoin(b, 50 * 60 * SEC, 5, t(51)).unwrap();
        assert_eq!((d.epoch, d.discontinuity_sequence), (2, 1));
    }

    #[test]
    fn date_times_follow_pts() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let mut g = CutGrid::new(Duration::from_secs(2));
        g.at_idr(0, 0, Some(t0));
        let later = t0 + Duration::from_secs(100);
        let c = g.at_idr(0, 2 * SEC, Some(later)).unwrap();
        assert_eq!(c.program_date_time, Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn bounded() {
        let mut g = CutGrid::new(Duration::from_secs(1));
        for i in 0..(MAX_CUTS as i64 + 10) {
            g.at_idr(0, i * SEC, None);
        }
        assert_eq!(g.cuts.len(), MAX_CUTS);
        assert!(g.at_idr(0, 0, None).is_none());
    }
}
