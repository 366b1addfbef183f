//! Per-PID continuity_counter checking (ISO/IEC 13818-1 §2.4.3.3).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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

/// What is remembered of the last packet of a PID.
#[derive(Clone, Copy, Debug)]
struct Slot {
    cc: u8,
    /// The last packet was already repeated once.
    repeated: bool,
    /// Digest of its payload, to tell a duplicate from a new packet with a stale counter.
    digest: u64,
}

/// A digest of a payload, to tell a duplicate (which repeats every payload byte,
/// §2.4.3.3) from a new packet with a stale counter. It runs on every packet of a
/// flow's analyzers, so it takes the payload 32 bytes at a time in four lanes, then
/// the tail bytes, rather than byte by byte.
fn digest(payload: &[u8]) -> u64 {
    // Four independent lanes of 8-byte words, so the multiplications overlap
    // instead of waiting for each other; the last bytes fill one more word.
    fn mix(lane: &mut u64, word: &[u8]) {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(word) {
            *d = *s;
        }
        *lane = (*lane ^ u64::from_le_bytes(w)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    let mut lanes: [u64; 4] = [payload.len() as u64, 1, 2, 3];
    let mut blocks = payload.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            mix(lane, word);
        }
    }
    for (lane, word) in lanes.iter_mut().zip(blocks.remainder().chunks(8)) {
        mix(lane, word);
    }
    lanes.iter().fold(0xCBF2_9CE4_8422_2325, |h, l| {
        (h ^ l).rotate_left(23).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A hasher for 13-bit PIDs: the tracker runs on every packet of every flow, and
/// SipHash costs more than the rest of the check. A PID is spread over the word
/// by one multiplication (Fibonacci hashing); nothing here is keyed by a value a
/// peer can choose to collide, beyond the 8192 PIDs a stream can have.
#[derive(Default)]
struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Continuity state of every PID of one stream.
///
/// Rules (§2.4.3.3): the counter of a PID increments by one, modulo 16, with every packet
/// that has a payload; packets without payload and null packets are not checked. A
/// duplicate repeats every byte of the packet before it (the PCR aside) with the same
/// counter: one duplicate is reported as [`Verdict::Duplicate`], a second repeat is an
/// error, and so is a packet with the previous counter but another payload (it is not a
/// duplicate: a source restarted, or 16 packets were lost). A packet with
/// discontinuity_indicator set (§2.4.3.5) starts the count afresh. After an error the
/// count continues from the packet that broke it.
#[derive(Clone, Debug, Default)]
pub struct ContinuityTracker {
    slots: HashMap<Pid, Slot, BuildHasherDefault<PidHasher>>,
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
        let cc = h.cc & 0x0F;
        let digest = digest(packet.payload.unwrap_or_default());
        let fresh = Slot {
            cc,
            repeated: false,
            digest,
        };
        let previous = self.slots.insert(h.pid, fresh);
        if packet.discontinuity {
            return Verdict::Discontinuity;
        }
        let Some(last) = previous else {
            return Verdict::InOrder;
        };
        let expected = (last.cc + 1) & 0x0F;
        if cc == expected {
            Verdict::InOrder
        } else if cc == last.cc && !last.repeated && digest == last.digest {
            self.slots.insert(
                h.pid,
                Slot {
                    repeated: true,
                    ..fresh
                },
            );
            Verdict::Duplicate
        } else {
            Verdict::Error {
                expected,
                found: cc,
            }
        }
    }

    /// Forgets one PID: its next packet is in order whatever its counter.
    pub fn forget(&mut self, pid: Pid) {
        self.slots.remove(&pid);
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
        packet_with(pid, cc, payload, discontinuity, &[1, 2, 3])
    }

    fn packet_with(
        pid: u16,
        cc: u8,
        payload: bool,
        discontinuity: bool,
        bytes: &[u8],
    ) -> [u8; PACKET_SIZE] {
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
        let body: &[u8] = if payload { bytes } else { &[] };
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

    #[test]
    fn the_same_counter_with_another_payload_is_no_duplicate() {
        let mut t = ContinuityTracker::new();
        assert_eq!(
            check(&mut t, &packet(0x100, 5, true, false)),
            Verdict::InOrder
        );
        // A restarted source whose first packet happens to reuse the counter.
        assert_eq!(
            check(&mut t, &packet_with(0x100, 5, true, false, &[9, 9])),
            Verdict::Error {
                expected: 6,
                found: 5
            }
        );
        assert_eq!(
            check(&mut t, &packet_with(0x100, 5, true, false, &[9, 9])),
            Verdict::Duplicate
        );
    }
}
