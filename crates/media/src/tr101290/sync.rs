//! Finding packet boundaries in a byte stream (TR 101 290 §5.2.1, check 1.1).

use crate::ts::{PACKET_SIZE, SYNC_BYTE};

/// Consecutive sync bytes, one packet apart, that establish sync.
const SYNC_ACQUIRE: usize = 5;
/// Consecutive bad sync bytes that lose it.
const SYNC_LOSE: u8 = 2;

/// What the framer found in the bytes it was given.
pub(super) enum Framed<'a> {
    /// Sync established; packets follow.
    Acquired,
    /// One packet with a good sync byte.
    Packet(&'a [u8]),
    /// A packet slot whose first byte is not 0x47 (check 1.2).
    SyncByteError,
    /// Sync lost after consecutive bad sync bytes (check 1.1).
    Lost,
}

/// Splits an arbitrary byte stream into packets, with TR 101 290 sync hysteresis.
#[derive(Debug, Default)]
pub(super) struct Framer {
    buf: Vec<u8>,
    in_sync: bool,
    bad_run: u8,
}

impl Framer {
    pub(super) fn in_sync(&self) -> bool {
        self.in_sync
    }

    /// Appends `data` and reports what it completes, in stream order.
    pub(super) fn push(&mut self, data: &[u8], mut on: impl FnMut(Framed<'_>)) {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        loop {
            if self.in_sync {
                let Some(packet) = self.buf.get(pos..pos + PACKET_SIZE) else {
                    break;
                };
                pos += PACKET_SIZE;
                if packet.first() == Some(&SYNC_BYTE) {
                    self.bad_run = 0;
                    on(Framed::Packet(packet));
                    continue;
                }
                on(Framed::SyncByteError);
                self.bad_run += 1;
                if self.bad_run >= SYNC_LOSE {
                    self.in_sync = false;
                    on(Framed::Lost);
                    // Hunt again from just after the last bad sync byte.
                    pos = pos - PACKET_SIZE + 1;
                }
            } else {
                let rest = self.buf.get(pos..).unwrap_or_default();
                let Some(offset) = rest.iter().position(|&b| b == SYNC_BYTE) else {
                    pos = self.buf.len();
                    break;
                };
                pos += offset;
                match confirm(self.buf.get(pos..).unwrap_or_default()) {
                    Some(true) => {
                        self.in_sync = true;
                        self.bad_run = 0;
                        on(Framed::Acquired);
                    }
                    Some(false) => pos += 1,
                    // Not enough bytes to tell yet: keep them for the next call.
                    None => break,
                }
            }
        }
        self.buf.drain(..pos.min(self.buf.len()));
    }
}

/// Whether `candidate` starts a run of [`SYNC_ACQUIRE`] sync bytes one packet apart;
/// `None` when it is too short to tell.
fn confirm(candidate: &[u8]) -> Option<bool> {
    for k in 0..SYNC_ACQUIRE {
        match candidate.get(k * PACKET_SIZE) {
            Some(&SYNC_BYTE) => {}
            Some(_) => return Some(false),
            None => return None,
        }
    }
    Some(true)
}
