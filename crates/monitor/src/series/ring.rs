//! A ring of statistic sets, one slot per time unit (a second or a minute
//! since the epoch), allocated in pages as it is written.
//!
//! Unit `u` lives in slot `u % capacity`; the slot remembers which unit it
//! holds (as its lap, `u / capacity`), so a write to `u + capacity` replaces
//! `u` and nothing else: no clearing pass, no dependence on writes arriving
//! in order. A slot is 36 bytes: the lap as a `u32` and the four `f64` of
//! the set, kept in two arrays per page so nothing is padded. Laps fit in a
//! `u32` for every unit below `capacity × 2³²`, far beyond the year 9999
//! the store accepts; a unit beyond is not stored.
//!
//! The slots are cut into pages of [`PAGE_SLOTS`] (the last page holds what
//! is left), and a page is allocated by the first write into it: a ring
//! costs its page table plus the pages that hold data, and at most its
//! `capacity` slots once every page has been written. A page that was never
//! allocated reads as empty slots, so paging changes no result.

use super::set::StatisticSet;

/// Slots per page: 64 seconds or 64 minutes. Small pages keep what a short
/// event leaves behind small (its metrics stay for 15 days).
pub const PAGE_SLOTS: usize = 64;

/// Up to [`PAGE_SLOTS`] slots: slot `i` holds unit
/// `laps[i] × capacity + page start + i` when `sets[i]` is not empty.
#[derive(Clone, Debug)]
struct Page {
    laps: Box<[u32]>,
    sets: Box<[StatisticSet]>,
}

impl Page {
    fn new(len: usize) -> Self {
        Self {
            laps: vec![0; len].into_boxed_slice(),
            sets: vec![StatisticSet::EMPTY; len].into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        self.sets.len()
    }
}

/// Size in bytes of one slot (lap and statistic set).
pub(crate) const SLOT_BYTES: usize =
    std::mem::size_of::<u32>() + std::mem::size_of::<StatisticSet>();

/// Size in bytes of one page table entry.
pub(crate) const PAGE_ENTRY_BYTES: usize = std::mem::size_of::<(usize, Box<Page>)>();

/// Size in bytes of an allocated page besides its slots.
pub(crate) const PAGE_HEADER_BYTES: usize = std::mem::size_of::<Page>();

#[derive(Clone, Debug)]
pub(crate) struct Ring {
    capacity: usize,
    /// The allocated pages by page number, in order: page `p` holds slots
    /// `p * PAGE_SLOTS ..`. Only written pages have an entry (16 bytes), so
    /// a metric that lived a few minutes costs a few entries, not a table
    /// for the whole ring.
    pages: Vec<(usize, Box<Page>)>,
}

/// Where a unit lives: its page, its offset in the page, and its lap.
#[derive(Clone, Copy)]
struct Place {
    page: usize,
    offset: usize,
    lap: u32,
}

impl Ring {
    /// A ring of `capacity` slots (at least one), none allocated yet.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            pages: Vec::new(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many pages are allocated.
    pub(crate) fn pages(&self) -> usize {
        self.pages.len()
    }

    /// How many slots the allocated pages hold.
    pub(crate) fn allocated_slots(&self) -> usize {
        self.pages.iter().map(|(_, p)| p.len()).sum()
    }

    /// Bytes of the page table and the allocated pages.
    pub(crate) fn bytes(&self) -> usize {
        self.pages.capacity() * PAGE_ENTRY_BYTES
            + self.pages() * PAGE_HEADER_BYTES
            + self.allocated_slots() * SLOT_BYTES
    }

    /// Where `unit` lives; `None` when its lap does not fit a `u32`.
    fn locate(&self, unit: u64) -> Option<Place> {
        let cap = u64::try_from(self.capacity).ok()?;
        let index = usize::try_from(unit.checked_rem(cap)?).ok()?;
        Some(Place {
            page: index / PAGE_SLOTS,
            offset: index % PAGE_SLOTS,
            lap: u32::try_from(unit.checked_div(cap)?).ok()?,
        })
    }

    /// The entry of page `page`, or where it would go.
    fn find(&self, page: usize) -> Result<usize, usize> {
        self.pages.binary_search_by_key(&page, |(p, _)| *p)
    }

    /// The set in `unit`'s slot and whether that slot holds `unit`.
    fn held(&self, unit: u64) -> Option<(StatisticSet, bool)> {
        let place = self.locate(unit)?;
        let i = self.find(place.page).ok()?;
        let (_, page) = self.pages.get(i)?;
        let set = *page.sets.get(place.offset)?;
        let lap = *page.laps.get(place.offset)?;
        Some((set, !set.is_empty() && lap == place.lap))
    }

    /// Store `set` as `unit`'s, allocating its page on first use.
    fn put(&mut self, unit: u64, set: StatisticSet) {
        let Some(place) = self.locate(unit) else {
            return;
        };
        let len = self
            .capacity
            .saturating_sub(place.page.saturating_mul(PAGE_SLOTS))
            .min(PAGE_SLOTS);
        let i = match self.find(place.page) {
            Ok(i) => i,
            Err(i) => {
                self.pages.insert(i, (place.page, Box::new(Page::new(len))));
                i
            }
        };
        let Some((_, page)) = self.pages.get_mut(i) else {
            return;
        };
        if let (Some(lap), Some(held)) = (
            page.laps.get_mut(place.offset),
            page.sets.get_mut(place.offset),
        ) {
            *lap = place.lap;
            *held = set;
        }
    }

    /// Merge `set` into unit `unit`, replacing whatever older (or newer)
    /// unit shared its slot.
    pub(crate) fn merge(&mut self, unit: u64, set: StatisticSet) {
        let merged = match self.held(unit) {
            Some((held, true)) => held.merge(set),
            _ => set,
        };
        self.put(unit, merged);
    }

    /// The set stored for `unit`, if its slot still holds it.
    pub(crate) fn get(&self, unit: u64) -> Option<StatisticSet> {
        match self.held(unit)? {
            (set, true) => Some(set),
            _ => None,
        }
    }

    /// Every non-empty slot, in slot order (not time order).
    pub(crate) fn occupied(&self) -> impl Iterator<Item = (u64, StatisticSet)> + '_ {
        let cap = self.capacity as u64;
        self.pages
            .iter()
            .map(|(p, page)| (p * PAGE_SLOTS, page))
            .flat_map(move |(start, page)| {
                page.laps
                    .iter()
                    .zip(page.sets.iter())
                    .enumerate()
                    .filter(|(_, (_, set))| !set.is_empty())
                    .map(move |(i, (lap, set))| {
                        let index = (start + i) as u64;
                        (u64::from(*lap) * cap + index, *set)
                    })
            })
    }

    /// Free every page whose points are all older than `oldest` (or that
    /// holds none), returning how many were freed. Only the points freed
    /// change: any unit `>= oldest` reads as before.
    pub(crate) fn release_before(&mut self, oldest: u64) -> usize {
        let cap = self.capacity as u64;
        let before = self.pages.len();
        self.pages.retain(|(p, page)| {
            let start = (p * PAGE_SLOTS) as u64;
            !page
                .laps
                .iter()
                .zip(page.sets.iter())
                .zip(start..)
                .all(|((lap, set), index)| set.is_empty() || u64::from(*lap) * cap + index < oldest)
        });
        if self.pages.len() < self.pages.capacity() / 2 {
            self.pages.shrink_to_fit();
        }
        before - self.pages.len()
    }

    /// Put `set` into an empty slot (restoring a snapshot). `false` when the
    /// slot is already taken (two snapshot points cannot share a slot) or
    /// the unit is beyond what a lap can tag.
    pub(crate) fn fill(&mut self, unit: u64, set: StatisticSet) -> bool {
        if self.locate(unit).is_none() || self.held(unit).is_some_and(|(s, _)| !s.is_empty()) {
            return false;
        }
        self.put(unit, set);
        true
    }
}

/// Two rings are equal when they have the same capacity and hold the same
/// points in the same slots, whichever pages happen to be allocated.
impl PartialEq for Ring {
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity && self.occupied().eq(other.occupied())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn v(x: f64) -> StatisticSet {
        StatisticSet::value(x).unwrap_or(StatisticSet::EMPTY)
    }

    #[test]
    fn a_unit_replaces_only_the_unit_one_capacity_earlier() {
        let mut ring = Ring::new(4);
        ring.merge(1, v(1.0));
        ring.merge(2, v(2.0));
        ring.merge(2, v(4.0));
        assert_eq!(ring.get(2).map(|s| s.sample_count), Some(2.0));
        ring.merge(5, v(5.0));
        assert_eq!(ring.get(1), None);
        assert_eq!(ring.get(5), Some(v(5.0)));
        assert_eq!(ring.get(2).map(|s| s.sum), Some(6.0));
        // A late write for an evicted unit evicts the newer one in turn.
        ring.merge(1, v(1.0));
        assert_eq!(ring.get(5), None);
        assert_eq!(ring.occupied().count(), 2);
        assert_eq!(ring.capacity(), 4);
        assert!(!ring.fill(9, v(9.0)));
        assert!(ring.fill(3, v(3.0)));
    }

    #[test]
    fn pages_are_allocated_by_the_first_write_into_them() {
        let cap = 2 * PAGE_SLOTS + 10;
        let mut ring = Ring::new(cap);
        assert_eq!((ring.pages(), ring.allocated_slots()), (0, 0));
        assert_eq!(ring.bytes(), 0, "an empty ring has no page table");
        assert_eq!((PAGE_ENTRY_BYTES, PAGE_HEADER_BYTES), (16, 32));
        // Reads allocate nothing.
        assert_eq!(ring.get(7), None);
        assert_eq!(ring.pages(), 0);
        ring.merge(7, v(1.0));
        ring.merge(PAGE_SLOTS as u64 - 1, v(1.0));
        assert_eq!((ring.pages(), ring.allocated_slots()), (1, PAGE_SLOTS));
        // The last page holds only what is left of the capacity.
        ring.merge(cap as u64 - 1, v(1.0));
        assert_eq!(ring.pages(), 2);
        assert_eq!(ring.allocated_slots(), PAGE_SLOTS + 10);
        // The unit one capacity later lands in the same page.
        ring.merge(cap as u64 + 7, v(2.0));
        assert_eq!(ring.pages(), 2);
        assert_eq!(ring.get(7), None);
        assert_eq!(ring.get(cap as u64 + 7), Some(v(2.0)));
        assert_eq!(
            ring.bytes(),
            ring.pages.capacity() * PAGE_ENTRY_BYTES
                + 2 * PAGE_HEADER_BYTES
                + (PAGE_SLOTS + 10) * SLOT_BYTES
        );
        assert!(ring.pages.capacity() <= 4);
    }

    #[test]
    fn release_frees_only_pages_whose_points_are_all_older() {
        let page = PAGE_SLOTS as u64;
        let mut ring = Ring::new(3 * PAGE_SLOTS);
        ring.merge(5, v(1.0)); // page 0
        ring.merge(page + 5, v(2.0)); // page 1 ...
        ring.merge(3 * page + 2 * page - 1, v(3.0)); // ... with a later lap
        ring.merge(3 * page + 2 * page + 1, v(4.0)); // page 2, later lap
        let before: Vec<_> = ring.occupied().collect();
        assert_eq!(ring.release_before(5), 0);
        assert_eq!(ring.release_before(page + 6), 1);
        assert_eq!(ring.pages(), 2);
        assert_eq!(ring.get(5), None);
        let kept: Vec<_> = before.iter().filter(|(u, _)| *u > 5).copied().collect();
        assert_eq!(ring.occupied().collect::<Vec<_>>(), kept);
        // Page 1's newest point keeps it whole.
        assert_eq!(ring.release_before(5 * page - 1), 0);
        assert_eq!(ring.get(page + 5), Some(v(2.0)));
        assert_eq!(ring.release_before(u64::MAX), 2);
        assert_eq!((ring.pages(), ring.occupied().count()), (0, 0));
    }

    #[test]
    fn units_beyond_a_u32_lap_are_not_stored() {
        let mut ring = Ring::new(2);
        let last = u64::from(u32::MAX) * 2 + 1;
        ring.merge(last, v(1.0));
        assert_eq!(ring.get(last), Some(v(1.0)));
        assert_eq!(ring.occupied().collect::<Vec<_>>(), vec![(last, v(1.0))]);
        ring.merge(last + 1, v(2.0));
        assert_eq!(ring.get(last + 1), None);
        assert!(!ring.fill(u64::MAX, v(3.0)));
        assert_eq!(ring.occupied().count(), 1);
    }

    #[test]
    fn equality_ignores_which_pages_are_allocated() {
        let mut a = Ring::new(3 * PAGE_SLOTS);
        let mut b = Ring::new(3 * PAGE_SLOTS);
        a.merge(1, v(1.0));
        b.merge(1, v(1.0));
        assert_eq!(a, b);
        // Filling a slot with the empty set allocates a page holding nothing.
        assert!(b.fill(2 * PAGE_SLOTS as u64, StatisticSet::EMPTY));
        assert_eq!(b.pages(), 2);
        assert_eq!(a, b);
        a.merge(2, v(1.0));
        assert_ne!(a, b);
        assert_ne!(Ring::new(4), Ring::new(5));
    }

    proptest! {
        /// The model: what a ring promises, without pages. Unit `u` is kept
        /// in slot `u % capacity` until another unit takes that slot.
        #[test]
        fn a_paged_ring_behaves_as_one_slot_per_unit_modulo_capacity(
            cap in 1usize..(4 * PAGE_SLOTS),
            ops in proptest::collection::vec((0u64..(10 * PAGE_SLOTS as u64), -1e3f64..1e3), 0..200),
        ) {
            let mut ring = Ring::new(cap);
            let cap64 = cap as u64;
            let mut model: HashMap<u64, (u64, StatisticSet)> = HashMap::new();
            for (unit, x) in ops {
                let set = v(x);
                ring.merge(unit, set);
                let entry = model.entry(unit % cap64).or_insert((unit, StatisticSet::EMPTY));
                *entry = if entry.0 == unit {
                    (unit, entry.1.merge(set))
                } else {
                    (unit, set)
                };
            }
            for (slot, (unit, set)) in &model {
                prop_assert_eq!(ring.get(*unit), Some(*set));
                // Every other unit of that slot reads as empty.
                prop_assert_eq!(ring.get(unit + cap64), None);
                prop_assert!(*slot < cap64);
            }
            let mut got: Vec<(u64, StatisticSet)> = ring.occupied().collect();
            let mut want: Vec<(u64, StatisticSet)> = model.into_values().collect();
            got.sort_by_key(|(u, _)| *u);
            want.sort_by_key(|(u, _)| *u);
            prop_assert_eq!(&got, &want);
            // Only pages holding a point are allocated.
            let pages: std::collections::HashSet<usize> =
                got.iter().map(|(u, _)| (*u % cap64) as usize / PAGE_SLOTS).collect();
            prop_assert_eq!(ring.pages(), pages.len());
            prop_assert!(ring.allocated_slots() <= cap);
        }
    }
}
