//! Server side of the simple handshake (§5.2).
//!
//! The client sends C0 (the version, 3) and C1 (1536 bytes: time, four zero bytes,
//! random); the server answers S0 (3), S1 (time 0, four zero bytes, filler) and S2 (an
//! echo of C1), then waits for C2 (1536 bytes, an echo of S1; not checked, as nginx-rtmp
//! does not either). S1's zero version bytes (4..8) tell clients that know the Flash
//! Player 9 digest handshake (ffmpeg, librtmp in OBS) that this server does the simple
//! one: ffmpeg checks digests only when it plays from a server that announces a version,
//! and librtmp falls back to the simple handshake when those bytes are zero. S2 echoes
//! C1 byte for byte, which librtmp compares. Both are checked against the real
//! clients in `tests/ffmpeg_push.rs` (Debian's ffmpeg 5.1 and librtmp 2.4).
//!
//! S1's filler needs no secrecy (the simple handshake authenticates nothing); it is
//! derived from C1 so the server needs no random source.

use crate::Error;

/// RTMP version in C0/S0.
pub const VERSION: u8 = 3;
/// Size of C1, C2, S1 and S2.
pub const PACKET_SIZE: usize = 1536;

/// Where the handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for C0 and C1.
    AwaitC0C1,
    /// S0, S1 and S2 are out; waiting for C2.
    AwaitC2,
    /// Done: what follows is chunk streams.
    Done,
}

/// The server handshake. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Handshake {
    state: State,
}

impl Default for Handshake {
    fn default() -> Self {
        Self::new()
    }
}

impl Handshake {
    /// Waiting for C0 and C1.
    pub fn new() -> Self {
        Self {
            state: State::AwaitC0C1,
        }
    }

    /// Where the handshake stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// Takes the front of `input`. Returns the bytes used (0 while the next packet is
    /// incomplete); S0+S1+S2 are appended to `out` once C0 and C1 are in.
    pub fn read(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        match self.state {
            State::AwaitC0C1 => {
                let Some((&version, rest)) = input.split_first() else {
                    return Ok(0);
                };
                if version != VERSION {
                    return Err(Error::Version(version));
                }
                let Some(c1) = rest.first_chunk::<PACKET_SIZE>() else {
                    return Ok(0);
                };
                out.push(VERSION);
                out.extend_from_slice(&s1(c1));
                out.extend_from_slice(c1);
                self.state = State::AwaitC2;
                Ok(PACKET_SIZE.saturating_add(1))
            }
            State::AwaitC2 => {
                if input.len() < PACKET_SIZE {
                    return Ok(0);
                }
                self.state = State::Done;
                Ok(PACKET_SIZE)
            }
            State::Done => Ok(0),
        }
    }
}

/// S1: time 0, version 0, then filler from a xorshift generator seeded by C1.
fn s1(c1: &[u8; PACKET_SIZE]) -> [u8; PACKET_SIZE] {
    let mut s1 = [0u8; PACKET_SIZE];
    let mut seed = c1.iter().fold(0x9E37_79B9_7F4A_7C15u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    }) | 1;
    for chunk in s1.get_mut(8..).unwrap_or_default().chunks_mut(8) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for (byte, value) in chunk.iter_mut().zip(seed.to_be_bytes()) {
            *byte = value;
        }
    }
    s1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn simple_handshake() {
        let mut hs = Handshake::new();
        let mut out = Vec::new();
        let mut c0c1 = vec![VERSION];
        c0c1.extend((0..PACKET_SIZE).map(|i| i as u8));
        assert_eq!(hs.read(&c0c1[..100], &mut out).unwrap(), 0);
        assert_eq!(hs.read(&c0c1, &mut out).unwrap(), 1537);
        assert_eq!(out.len(), 1 + 2 * PACKET_SIZE);
        assert_eq!(out[0], VERSION);
        assert_eq!(&out[1..9], &[0; 8]);
        assert!(out[9..1537].iter().any(|&b| b != 0));
        assert_eq!(&out[1537..], &c0c1[1..]);
        assert_eq!(hs.state(), State::AwaitC2);
        assert_eq!(hs.read(&out[1..1000], &mut Vec::new()).unwrap(), 0);
        assert_eq!(hs.read(&out[1..1537], &mut Vec::new()).unwrap(), 1536);
        assert_eq!(hs.state(), State::Done);
    }

    #[test]
    fn refuses_other_versions() {
        assert_eq!(
            Handshake::new().read(&[6; 1537], &mut Vec::new()),
            Err(Error::Version(6))
        );
    }
}
