//! RTP sequence numbers: 16 bits on the wire, extended to 64 bits so that
//! ordering survives wrap-around (65535 → 0).

/// Extends 16-bit sequence numbers to a monotonic 64-bit space, choosing for
/// each number the candidate nearest to the highest one seen so far.
#[derive(Clone, Debug, Default)]
pub struct SeqExtender {
    highest: Option<u64>,
}

/// Where the first number lands, so that numbers slightly before it (late
/// packets) still extend to positive values.
const ORIGIN: u64 = 1 << 32;

impl SeqExtender {
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended value of `seq`.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            None => ORIGIN + u64::from(seq),
            Some(h) => nearest(h, seq),
        };
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        ext
    }

    /// The extended value `seq` would get, without recording it.
    pub fn peek(&self, seq: u16) -> u64 {
        self.highest
            .map_or(ORIGIN + u64::from(seq), |h| nearest(h, seq))
    }

    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    pub fn reset(&mut self) {
        self.highest = None;
    }
}

/// The 64-bit value congruent to `seq` mod 2^16 nearest to `reference`.
pub fn nearest(reference: u64, seq: u16) -> u64 {
    let cand = (reference & !0xFFFF) | u64::from(seq);
    if cand > reference.saturating_add(0x8000) && cand >= 0x10000 {
        cand - 0x10000
    } else if cand.saturating_add(0x8000) < reference {
        cand + 0x10000
    } else {
        cand
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn wraps_forward_and_tolerates_late_packets() {
        let mut x = SeqExtender::new();
        let a = x.extend(65534);
        assert_eq!(x.extend(65535), a + 1);
        assert_eq!(x.extend(0), a + 2);
        assert_eq!(x.extend(1), a + 3);
        // A late packet from before the wrap stays before it.
        assert_eq!(x.extend(65533), a - 1);
        assert_eq!(x.highest(), Some(a + 3));
    }

    proptest::proptest! {
        #[test]
        fn consecutive_numbers_stay_consecutive(start: u16, steps in 1usize..200_000) {
            let mut x = SeqExtender::new();
            let first = x.extend(start);
            let mut last = first;
            for i in 1..steps.min(70_000) {
                let e = x.extend(start.wrapping_add(i as u16));
                proptest::prop_assert_eq!(e, last + 1);
                last = e;
            }
        }
    }
}
