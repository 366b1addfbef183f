//! A ring of statistic sets, one slot per time unit (a second or a minute
//! since the epoch), allocated in pages as it is written.
//!
//! Unit `u` lives in slot `u % capacity`; the slot remembers which unit it
//! holds, so a write to `u + capacity` replaces `u` and nothing else: no
//! clearing pass, no dependence on writes arriving in order.
//!
//! The slots are cut into pages of [`PAGE_SLOTS`] (the last page holds what
//! is left), and a page is allocated by the first write into it: a ring
//! costs its page table plus the pages that hold data, and at most its
//! `capacity` slots once every page has been written. A page that was never
//! allocated reads as empty slots, so paging changes no result.

use super::set::StatisticSet;

/// Slots per page: 256 seconds (about 4 minutes) or 256 minutes (about
/// 4 hours).
pub const PAGE_SLOTS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Slot {
    unit: u64,
    set: StatisticSet,
}

const EMPTY_SLOT: Slot = Slot {
    unit: 0,
    set: StatisticSet::EMPTY,
};

/// Size in bytes of one slot (unit tag and statistic set).
pub(crate) const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

type Page = Box<[Slot]>;

/// Size in bytes of one page table entry (allocated or not).
pub(crate) const PAGE_ENTRY_BYTES: usize = std::mem::size_of::<Option<Page>>();

#[derive(Clone, Debug)]
pub(crate) struct Ring {
    capacity: usize,
    /// Page `p` holds slots `p * PAGE_SLOTS ..`; `None` until written.
    pages: Box<[Option<Page>]>,
}

impl Ring {
    /// A ring of `capacity` slots (at least one), none allocated yet.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            pages: vec![None; capacity.div_ceil(PAGE_SLOTS)].into_boxed_slice(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many pages are allocated.
    pub(crate) fn pages(&self) -> usize {
        self.pages.iter().flatten().count()
    }

    /// How many slots the allocated pages hold.
    pub(crate) fn allocated_slots(&self) -> usize {
        self.pages.iter().flatten().map(|p| p.len()).sum()
    }

    /// Bytes of the page table and the allocated pages.
    pub(crate) fn bytes(&self) -> usize {
        self.pages.len() * PAGE_ENTRY_BYTES + self.allocated_slots() * SLOT_BYTES
    }

    /// `(page, offset in page)` of `unit`'s slot.
    fn locate(&self, unit: u64) -> Option<(usize, usize)> {
        let cap = u64::try_from(self.capacity).ok()?;
        let index = usize::try_from(unit.checked_rem(cap)?).ok()?;
        Some((index / PAGE_SLOTS, index % PAGE_SLOTS))
    }

    fn slot(&self, unit: u64) -> Option<&Slot> {
        let (page, offset) = self.locate(unit)?;
        self.pages.get(page)?.as_ref()?.get(offset)
    }

    /// `unit`'s slot, allocating its page on first use.
    fn slot_mut(&mut self, unit: u64) -> Option<&mut Slot> {
        let (page, offset) = self.locate(unit)?;
        let len = self
            .capacity
            .saturating_sub(page.saturating_mul(PAGE_SLOTS))
            .min(PAGE_SLOTS);
        self.pages
            .get_mut(page)?
            .get_or_insert_with(|| vec![EMPTY_SLOT; len].into_boxed_slice())
            .get_mut(offset)
    }

    /// Merge `set` into unit `unit`, replacing whatever older (or newer)
    /// unit shared its slot.
    pub(crate) fn merge(&mut self, unit: u64, set: StatisticSet) {
        if let Some(slot) = self.slot_mut(unit) {
            if slot.unit == unit && !slot.set.is_empty() {
                slot.set = slot.set.merge(set);
            } else {
                *slot = Slot { unit, set };
            }
        }
    }

    /// The set stored for `unit`, if its slot still holds it.
    pub(crate) fn get(&self, unit: u64) -> Option<StatisticSet> {
        self.slot(unit)
            .filter(|s| s.unit == unit && !s.set.is_empty())
            .map(|s| s.set)
    }

    /// Every non-empty slot, in slot order (not time order).
    pub(crate) fn occupied(&self) -> impl Iterator<Item = (u64, StatisticSet)> + '_ {
        self.pages
            .iter()
            .flatten()
            .flat_map(|page| page.iter())
            .filter(|s| !s.set.is_empty())
            .map(|s| (s.unit, s.set))
    }

    /// Put `set` into an empty slot (restoring a snapshot). `false` when the
    /// slot is already taken: two snapshot points cannot share a slot.
    pub(crate) fn fill(&mut self, unit: u64, set: StatisticSet) -> bool {
        match self.slot_mut(unit) {
            Some(slot) if slot.set.is_empty() => {
                *slot = Slot { unit, set };
                true
            }
            _ => false,
        }
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
        assert_eq!(ring.bytes(), 3 * PAGE_ENTRY_BYTES);
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
            3 * PAGE_ENTRY_BYTES + (PAGE_SLOTS + 10) * SLOT_BYTES
        );
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
