use std::collections::VecDeque;

use crate::ts::TsPacket;

/// Largest section on the wire: 3 header bytes plus a 12-bit section_length (private
/// sections reach 4093; PSI tables stop at 1021).
const MAX_SECTION_SIZE: usize = 3 + 4093;
/// Sections kept for the caller before the oldest is dropped.
const MAX_READY: usize = 64;

/// Rebuilds PSI sections from the TS payloads of one PID (§2.4.4.1, §2.4.4.2).
///
/// Push every payload of the PID in order with [`push`](Self::push), then take finished
/// sections with [`pop`](Self::pop). A section starts after the pointer_field of a
/// packet with payload_unit_start_indicator set and may span any number of packets;
/// one packet may end a section and start several more. The bytes returned are whole
/// sections (header to CRC) whose CRC has not been checked: pass them to
/// [`Section::parse`](super::Section::parse). Call [`reset`](Self::reset) when packets
/// were lost (a continuity error) so a torn section is dropped rather than glued.
#[derive(Clone, Debug, Default)]
pub struct SectionAssembler {
    /// Bytes of the section being collected; empty when waiting for the next start.
    partial: Vec<u8>,
    /// Whether `partial` is collecting a section (it may still be empty).
    collecting: bool,
    ready: VecDeque<Vec<u8>>,
}

impl SectionAssembler {
    /// An assembler waiting for the first payload unit start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the payload of one packet of this PID; `pusi` is its payload_unit_start_indicator.
    pub fn push(&mut self, pusi: bool, payload: &[u8]) {
        if !pusi {
            if self.collecting {
                self.partial.extend_from_slice(payload);
                self.drain();
            }
            return;
        }
        let Some((&pointer, rest)) = payload.split_first() else {
            self.reset_partial();
            return;
        };
        let Some((tail, starts)) = rest.split_at_checked(usize::from(pointer)) else {
            // pointer_field beyond the packet: nothing here can be trusted.
            self.reset_partial();
            return;
        };
        if self.collecting {
            self.partial.extend_from_slice(tail);
            self.drain();
        }
        // Whatever is left of an unfinished section is torn: a new one starts here.
        self.reset_partial();
        self.collecting = true;
        self.partial.extend_from_slice(starts);
        self.drain();
    }

    /// Adds one packet (of this PID); packets without payload are ignored.
    pub fn push_packet(&mut self, packet: &TsPacket<'_>) {
        if let Some(payload) = packet.payload {
            self.push(packet.header.pusi, payload);
        }
    }

    /// Takes the oldest complete section, if any.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// Drops any partly collected section and waits for the next payload unit start.
    /// Sections already complete stay available to [`pop`](Self::pop).
    pub fn reset(&mut self) {
        self.reset_partial();
    }

    fn reset_partial(&mut self) {
        self.partial.clear();
        self.collecting = false;
    }

    /// Moves every complete section out of `partial`.
    fn drain(&mut self) {
        while self.collecting {
            let Some(&[table_id, b1, b2]) = self.partial.first_chunk::<3>() else {
                if self.partial.first() == Some(&0xFF) {
                    self.reset_partial();
                }
                return;
            };
            if table_id == 0xFF {
                // Stuffing: the rest of the packet carries no section.
                self.reset_partial();
                return;
            }
            let total = 3 + usize::from(u16::from(b1 & 0x0F) << 8 | u16::from(b2));
            if self.partial.len() < total {
                if total > MAX_SECTION_SIZE {
                    self.reset_partial();
                }
                return;
            }
            let rest = self.partial.split_off(total);
            let section = std::mem::replace(&mut self.partial, rest);
            if self.ready.len() == MAX_READY {
                self.ready.pop_front();
            }
            self.ready.push_back(section);
            if self.partial.is_empty() {
                // A section that starts in a later packet comes with its own pointer_field.
                self.collecting = false;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::psi::{Pat, Pmt, PmtStream, Section};
    use crate::ts::Pid;
    use proptest::prelude::*;

    fn pat_bytes(n: u16) -> Vec<u8> {
        Pat {
            transport_stream_id: n,
            version: 1,
            programs: vec![(1, Pid(0x100))],
        }
        .to_section_bytes()
    }

    fn drain(a: &mut SectionAssembler) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| a.pop()).collect()
    }

    #[test]
    fn single_packet_section_with_stuffing() {
        let mut payload = vec![0];
        payload.extend(pat_bytes(1));
        payload.resize(184, 0xFF);
        let mut a = SectionAssembler::new();
        a.push(true, &payload);
        assert_eq!(drain(&mut a), vec![pat_bytes(1)]);
        // A continuation without a start is ignored.
        a.push(false, &payload);
        assert!(a.pop().is_none());
    }

    #[test]
    fn section_spanning_packets_and_two_in_one() {
        let pmt = Pmt {
            program_number: 1,
            pcr_pid: Pid(0x100),
            streams: (0..80)
                .map(|i| PmtStream {
                    stream_type: crate::psi::stream_type::PRIVATE_PES,
                    pid: Pid(0x100 + i),
                    es_info: vec![],
                })
                .collect(),
            ..Pmt::default()
        }
        .to_section_bytes();
        assert!(pmt.len() > 184 * 2);
        let mut stream = pmt.clone();
        // A second section starts right after the first, in the same packet.
        stream.extend(pat_bytes(7));
        let mut a = SectionAssembler::new();
        let mut first = true;
        for chunk in stream.chunks(183) {
            let mut payload = Vec::new();
            if first {
                payload.push(0);
            }
            payload.extend_from_slice(chunk);
            a.push(first, &payload);
            first = false;
        }
        let got = drain(&mut a);
        assert_eq!(got, vec![pmt, pat_bytes(7)]);
        assert!(Section::parse(&got[0]).is_ok());
    }

    #[test]
    fn pointer_field_finishes_previous_section() {
        let s1 = pat_bytes(1);
        let s2 = pat_bytes(2);
        let mut a = SectionAssembler::new();
        let mut p1 = vec![0];
        p1.extend_from_slice(&s1[..10]);
        a.push(true, &p1);
        let mut p2 = vec![(s1.len() - 10) as u8];
        p2.extend_from_slice(&s1[10..]);
        p2.extend_from_slice(&s2);
        a.push(true, &p2);
        assert_eq!(drain(&mut a), vec![s1, s2]);
    }

    #[test]
    fn bad_pointer_and_reset_drop_partial() {
        let s1 = pat_bytes(1);
        let mut a = SectionAssembler::new();
        a.push(true, &[200, 1, 2]);
        a.push(true, &[]);
        let mut p1 = vec![0];
        p1.extend_from_slice(&s1[..10]);
        a.push(true, &p1);
        a.reset();
        a.push(false, &s1[10..]);
        assert!(a.pop().is_none());
    }

    proptest! {
        #[test]
        fn never_panics(payloads in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)), 0..20)) {
            let mut a = SectionAssembler::new();
            for (pusi, p) in &payloads {
                a.push(*pusi, p);
                while let Some(s) = a.pop() {
                    prop_assert!(s.len() >= 3 && s.len() <= MAX_SECTION_SIZE);
                }
            }
        }
    }
}
