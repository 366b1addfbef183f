//! Per-PID continuity_counter checking (ISO/IEC 13818-1 §2.4.3.3).

use crate::ts::{Pid, TsPacket};

/// What a packet's continuity_counter says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The next packet of its PID, the first one seen, or a packet whose counter is not
    /// checked (the null PID, adaptation field only).
    InOrder,
    /// discontinuity_indicator is set: the counter restarts from this packet.
    Discontinuity,
    /// The first repeat of the previous packet of the PID (same counter, payload): a
    /// duplicate that must be dropped, not processed twice.
    Duplicate,
    /// Packets were lost, reordered or repeated more than once: `expected` was due.
    Error {
        /// The counter that would have been in order.
        expected: u8,
        /// The counter of this packet.
        found: u8,
    },
}

/// Bit set in a slot once the PID has been seen.
const SEEN: u8 = 0x80;
/// Bit set in a slot when its last packet was already repeated once.
const REPEATED: u8 = 0x40;
/// Number of PIDs.
const PIDS: usize = 0x2000;

/// Continuity state of every PID of one stream.
///
/// Rules (§2.4.3.3): the counter of a PID increments by one, modulo 16, with every packet
/// that has a payload; packets without payload and null packets are not checked. One
/// duplicate of a packet (same counter) may follow it and is reported as
/// [`Verdict::Duplicate`]; a second repeat is an error. A packet with
/// discontinuity_indicator set (§2.4.3.5) starts the count afresh. After an error the
/// count continues from the packet that broke it.
#[derive(Clone, Debug, Default)]
pub struct ContinuityTracker {
    /// One slot per PID: `SEEN | REPEATED | counter`; empty until the first packet.
    slots: Vec<u8>,
}

impl ContinuityTracker {
    /// A tracker that has seen no packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one packet and records its counter.
    pub fn check(&mut self, packet: &TsPacket<'_>) -> Verdict {
        let h = &packet.header;
        if h.pid == Pid::NULL || !h.has_payload {
            return Verdict::InOrder;
        }
        if self.slots.is_empty() {
            self.slots = vec![0; PIDS];
        }
        let Some(slot) = self.slots.get_mut(usize::from(h.pid.0)) else {
            return Verdict::InOrder;
        };
        let cc = h.cc & 0x0F;
        let previous = *slot;
        if packet.discontinuity {
            *slot = SEEN | cc;
            return Verdict::Discontinuity;
        }
        if previous & SEEN == 0 {
            *slot = SEEN | cc;
            return Verdict::InOrder;
        }
        let last = previous & 0x0F;
        let expected = (last + 1) & 0x0F;
        if cc == expected {
            *slot = SEEN | cc;
            Verdict::InOrder
        } else if cc == last && previous & REPEATED == 0 {
            *slot = SEEN | REPEATED | cc;
            Verdict::Duplicate
        } else {
            *slot = SEEN | cc;
            Verdict::Error {
                expected,
                found: cc,
            }
        }
    }

    /// Forgets one PID: its next packet is in order whatever its counter.
    pub fn forget(&mut self, pid: Pid) {
        if let Some(slot) = self.slots.get_mut(usize::from(pid.0)) {
            *slot = 0;
        }
    }

    /// Forgets every PID (after sync was lost and bytes may be missing).
    pub fn reset(&mut self) {
        self.slots.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::ts::{write_packet, TsHeader, PACKET_SIZE};

    fn packet(pid: u16, cc: u8, payload: bool, discontinuity: bool) -> [u8; PACKET_SIZE] {
        let h = TsHeader {
            pid: Pid(pid),
            cc,
            has_payload: payload,
            has_adaptation: discontinuity || !payload,
            ..TsHeader::default()
        };
        let field = [if discontinuity { 0x80 } else { 0x00 }];
        let mut out = [0u8; PACKET_SIZE];
        let adaptation = h.has_adaptation.then_some(&field[..]);
        let body: &[u8] = if payload { &[1, 2, 3] } else { &[] };
        write_packet(&h, adaptation, body, &mut out).unwrap();
        out
    }

    fn check(t: &mut ContinuityTracker, p: &[u8; PACKET_SIZE]) -> Verdict {
        t.check(&TsPacket::parse(p).unwrap())
    }

    #[test]
    fn one_duplicate_allowed_second_is_an_error() {
        let mut t = ContinuityTracker::new();
        assert_eq!(
            check(&mut t, &packet(0x100, 14, true, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x100, 15, true, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x100, 15, true, false)),
            Verdict::Duplicate
        );
        assert_eq!(
            check(&mut t, &packet(0x100, 15, true, false)),
            Verdict::Error {
                expected: 0,
                found: 15
            }
        );
        // Wraps 15 -> 0; another PID is independent.
        assert_eq!(
            check(&mut t, &packet(0x100, 0, true, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x101, 9, true, false)),
            Verdict::InOrder
        );
    }

    #[test]
    fn exemptions_and_discontinuity() {
        let mut t = ContinuityTracker::new();
        assert_eq!(
            check(&mut t, &packet(0x100, 3, true, false)),
            Verdict::InOrder
        );
        // Adaptation-only packets do not advance or check the counter.
        assert_eq!(
            check(&mut t, &packet(0x100, 9, false, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x100, 4, true, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x100, 9, true, true)),
            Verdict::Discontinuity
        );
        assert_eq!(
            check(&mut t, &packet(0x100, 10, true, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x1FFF, 0, true, false)),
            Verdict::InOrder
        );
        assert_eq!(
            check(&mut t, &packet(0x1FFF, 7, true, false)),
            Verdict::InOrder
        );
        t.forget(Pid(0x100));
        assert_eq!(
            check(&mut t, &packet(0x100, 2, true, false)),
            Verdict::InOrder
        );
        t.reset();
        assert_eq!(
            check(&mut t, &packet(0x100, 8, true, false)),
            Verdict::InOrder
        );
    }
}
