//! A fixed ring of statistic sets, one slot per time unit (a second or a
//! minute since the epoch).
//!
//! Unit `u` lives in slot `u % capacity`; the slot remembers which unit it
//! holds, so a write to `u + capacity` replaces `u` and nothing else: no
//! clearing pass, no dependence on writes arriving in order, and the memory
//! is the `capacity` slots allocated once, for ever.

use super::set::StatisticSet;

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

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ring {
    slots: Box<[Slot]>,
}

impl Ring {
    /// A ring of `capacity` slots (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: vec![EMPTY_SLOT; capacity.max(1)].into_boxed_slice(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn slot_mut(&mut self, unit: u64) -> Option<&mut Slot> {
        let cap = u64::try_from(self.slots.len()).ok()?;
        let index = usize::try_from(unit.checked_rem(cap)?).ok()?;
        self.slots.get_mut(index)
    }

    fn slot(&self, unit: u64) -> Option<&Slot> {
        let cap = u64::try_from(self.slots.len()).ok()?;
        let index = usize::try_from(unit.checked_rem(cap)?).ok()?;
        self.slots.get(index)
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
        self.slots
            .iter()
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

#[cfg(test)]
mod tests {
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
}
