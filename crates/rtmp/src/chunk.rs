//! Chunk streams (RTMP spec §5.3): messages cut into chunks, interleaved over one
//! connection.
//!
//! A chunk is a basic header (fmt and chunk stream id, 1 to 3 bytes, §5.3.1.1), a
//! message header of 11, 7, 3 or 0 bytes for fmt 0 to 3 (§5.3.1.2), an extended
//! timestamp of 4 bytes when the header's 24-bit timestamp field is 0xFFFFFF
//! (§5.3.1.3), then at most chunk-size bytes of the message.
//!
//! [`ChunkReader::read`] takes the front of the caller's input buffer and parses at most
//! one chunk: it returns how many bytes it used (0 when the chunk is not all there yet;
//! its state is then unchanged) and the message that chunk completed, if any. The caller
//! applies Set Chunk Size and Abort ([`ChunkReader::set_chunk_size`],
//! [`ChunkReader::abort`]) between messages, in order. [`ChunkWriter::write`] cuts a
//! message into chunks, compressing headers against the previous message on the same
//! chunk stream.
//!
//! Conventions where the spec is loose, as ffmpeg and librtmp do them:
//! - a fmt 3 chunk carries the extended timestamp again when the chunk stream's last
//!   header had one, both inside a message and at the start of a new one;
//! - a fmt 3 chunk that starts a new message adds the last timestamp field of that
//!   chunk stream (an fmt 1/2 delta, or an fmt 0 absolute timestamp) to its timestamp.
//!   The writer only starts a message with fmt 3 after an fmt 1 or 2 header, where every
//!   reader agrees. (librtmp, and so OBS, starts a message with fmt 3 only when its
//!   timestamp equals the previous one on that chunk stream, meaning a delta of 0;
//!   read by this rule it gets the previous delta added. That takes two messages of
//!   one type and size with one timestamp on one chunk stream in a row, which audio
//!   and video do not produce.)
//!
//! Bounds: a message is at most the reader's `max_message_len` (default
//! [`MAX_MESSAGE_LEN`]), at most [`MAX_CHUNK_STREAMS`] chunk streams are tracked, and
//! at most [`MAX_PARTIAL_BYTES`] (or twice a lowered message limit) of unfinished
//! messages are held; beyond that the reader returns an error instead of growing.

use std::collections::BTreeMap;

use crate::Error;

/// Chunk size before either side sends Set Chunk Size (§5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest chunk size Set Chunk Size may announce (31 bits, §5.4.1).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Longest message the reader takes by default: 16 MiB, the most the 24-bit length
/// field can say.
pub const MAX_MESSAGE_LEN: u32 = 0x00FF_FFFF;
/// Chunk streams the reader tracks at once.
pub const MAX_CHUNK_STREAMS: usize = 64;
/// Bytes of unfinished messages the reader holds across all chunk streams.
pub const MAX_PARTIAL_BYTES: usize = 32 << 20;
/// Lowest and highest chunk stream ids (§5.3.1.1; 0 and 1 select the longer forms).
pub const CSID_MIN: u32 = 2;
/// See [`CSID_MIN`].
pub const CSID_MAX: u32 = 65_599;
/// Timestamp field value that announces an extended timestamp (§5.3.1.3).
const EXTENDED: u32 = 0x00FF_FFFF;

/// One message, as read or to be written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Chunk stream it travels on.
    pub csid: u32,
    /// Timestamp in milliseconds (32 bits, wrapping).
    pub timestamp: u32,
    /// Message type id (§5.4, §7.1).
    pub type_id: u8,
    /// Message stream id (0 for the connection's control and command messages).
    pub stream_id: u32,
    /// The message body.
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
struct ReadState {
    /// A header has been seen on this chunk stream.
    started: bool,
    timestamp: u32,
    /// Last timestamp field (delta for fmt 1/2, absolute for fmt 0), extended value
    /// when the field was 0xFFFFFF.
    ts_field: u32,
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// Bytes of the message being reassembled.
    partial: Vec<u8>,
    in_message: bool,
}

/// Reassembles messages from chunks. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ChunkReader {
    chunk_size: u32,
    max_message_len: u32,
    /// Cap on `partial_bytes`: two of the longest messages, at most
    /// [`MAX_PARTIAL_BYTES`].
    max_partial: usize,
    streams: BTreeMap<u32, ReadState>,
    partial_bytes: usize,
}

impl Default for ChunkReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads big-endian bytes from a cursor.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn be(&mut self, n: usize) -> Option<u32> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
        )
    }

    fn le32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }
}

impl ChunkReader {
    /// A reader at the default chunk size (128) and message limit.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_message_len: MAX_MESSAGE_LEN,
            max_partial: MAX_PARTIAL_BYTES,
            streams: BTreeMap::new(),
            partial_bytes: 0,
        }
    }

    /// Lowers (or restores) the longest message accepted; unfinished messages may
    /// then hold twice that at most.
    pub fn set_max_message_len(&mut self, len: u32) {
        self.max_message_len = len.min(MAX_MESSAGE_LEN);
        let len = usize::try_from(self.max_message_len).unwrap_or(usize::MAX);
        self.max_partial = len.saturating_mul(2).min(MAX_PARTIAL_BYTES);
    }

    /// The peer's chunk size in effect.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Applies the peer's Set Chunk Size (§5.4.1): 1 to 2^31-1.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), Error> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(Error::Chunk("chunk size out of range"));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Applies Abort Message (§5.4.2): drops the partial message of `csid`.
    pub fn abort(&mut self, csid: u32) {
        if let Some(state) = self.streams.get_mut(&csid) {
            self.partial_bytes = self.partial_bytes.saturating_sub(state.partial.len());
            state.partial = Vec::new();
            state.in_message = false;
        }
    }

    /// Parses at most one chunk from the front of `input`. Returns the bytes used (0:
    /// the chunk is incomplete, nothing changed) and the message it completed.
    pub fn read(&mut self, input: &[u8]) -> Result<(usize, Option<Message>), Error> {
        let mut cur = Cursor {
            data: input,
            pos: 0,
        };
        let Some(b0) = cur.u8() else {
            return Ok((0, None));
        };
        let fmt = b0 >> 6;
        let csid = match b0 & 0x3F {
            0 => match cur.u8() {
                Some(b) => 64u32.saturating_add(u32::from(b)),
                None => return Ok((0, None)),
            },
            1 => match (cur.u8(), cur.u8()) {
                (Some(lo), Some(hi)) => 64u32
                    .saturating_add(u32::from(lo))
                    .saturating_add(u32::from(hi) << 8),
                _ => return Ok((0, None)),
            },
            n => u32::from(n),
        };
        let header_len = match fmt {
            0 => 11,
            1 => 7,
            2 => 3,
            _ => 0,
        };
        let Some(mut header) = cur.take(header_len).map(|h| Cursor { data: h, pos: 0 }) else {
            return Ok((0, None));
        };
        let known = self.streams.get(&csid);
        if known.is_none() && self.streams.len() >= MAX_CHUNK_STREAMS {
            return Err(Error::Chunk("too many chunk streams"));
        }
        let prev = known.cloned().unwrap_or_default();
        // A chunk stream starts with fmt 0 (§5.3.1.2.1), but librtmp starts one with
        // fmt 1 when its first message has a non-zero timestamp: taken as a delta from
        // 0 on message stream 0, as ffmpeg and nginx-rtmp read it. Without a length
        // (fmt 2, 3) there is nothing to go on.
        if fmt >= 2 && !prev.started {
            return Err(Error::Chunk("compressed header on a new chunk stream"));
        }
        let field = if fmt < 3 { header.be(3) } else { None };
        let (length, type_id, stream_id) = match fmt {
            0 => (header.be(3), header.u8(), header.le32()),
            1 => (header.be(3), header.u8(), Some(prev.stream_id)),
            _ => (Some(prev.length), Some(prev.type_id), Some(prev.stream_id)),
        };
        let (Some(length), Some(type_id), Some(stream_id)) = (length, type_id, stream_id) else {
            return Err(Error::Chunk("header"));
        };
        let extended = match field {
            Some(f) => f == EXTENDED,
            None => prev.extended,
        };
        let ext_value = if extended {
            match cur.be(4) {
                Some(v) => Some(v),
                None => return Ok((0, None)),
            }
        } else {
            None
        };
        let mut state = prev;
        // A fmt 3 chunk continues the message in progress; any other header (or a fmt 3
        // after a finished message) starts a new one. A new header in the middle of a
        // message drops the unfinished part, as ffmpeg does.
        let continuing = fmt == 3 && state.in_message;
        let dropped = if continuing { 0 } else { state.partial.len() };
        if !continuing {
            let ts_field = match (field, ext_value) {
                (_, Some(v)) => v,
                (Some(f), None) => f,
                (None, None) => state.ts_field,
            };
            state.timestamp = if fmt == 0 {
                ts_field
            } else {
                state.timestamp.wrapping_add(ts_field)
            };
            state.ts_field = ts_field;
            state.extended = extended;
            if length > self.max_message_len {
                return Err(Error::MessageTooLong(length));
            }
            state.length = length;
            state.type_id = type_id;
            state.stream_id = stream_id;
            state.partial = Vec::new();
            state.in_message = true;
            state.started = true;
        }
        let have = state.partial.len();
        let remaining = usize::try_from(state.length)
            .unwrap_or(usize::MAX)
            .saturating_sub(have);
        let size = remaining.min(usize::try_from(self.chunk_size).unwrap_or(usize::MAX));
        let Some(body) = cur.take(size) else {
            return Ok((0, None));
        };
        let partial_bytes = self
            .partial_bytes
            .saturating_sub(dropped)
            .saturating_add(size);
        if partial_bytes > self.max_partial {
            return Err(Error::Chunk("too many bytes in unfinished messages"));
        }
        state.partial.extend_from_slice(body);
        let message = if size == remaining {
            self.partial_bytes = partial_bytes.saturating_sub(state.partial.len());
            state.in_message = false;
            Some(Message {
                csid,
                timestamp: state.timestamp,
                type_id: state.type_id,
                stream_id: state.stream_id,
                payload: std::mem::take(&mut state.partial),
            })
        } else {
            self.partial_bytes = partial_bytes;
            None
        };
        self.streams.insert(csid, state);
        Ok((cur.pos, message))
    }
}

#[derive(Clone, Copy, Debug)]
struct WriteState {
    timestamp: u32,
    /// Delta of the last fmt 1/2 header; None after fmt 0.
    delta: Option<u32>,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

/// Cuts messages into chunks. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ChunkWriter {
    chunk_size: u32,
    streams: BTreeMap<u32, WriteState>,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkWriter {
    /// A writer at the default chunk size (128).
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: BTreeMap::new(),
        }
    }

    /// Our chunk size in effect.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Changes our chunk size; write the Set Chunk Size message first (with the old
    /// size), then call this.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), Error> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(Error::Chunk("chunk size out of range"));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Appends the chunks of `message` to `out`.
    pub fn write(&mut self, message: &Message, out: &mut Vec<u8>) -> Result<(), Error> {
        let csid = message.csid;
        if !(CSID_MIN..=CSID_MAX).contains(&csid) {
            return Err(Error::Chunk("chunk stream id out of range"));
        }
        let length = u32::try_from(message.payload.len())
            .ok()
            .filter(|&l| l <= MAX_MESSAGE_LEN)
            .ok_or(Error::MessageTooLong(u32::MAX))?;
        let prev = self.streams.get(&csid).copied();
        let (fmt, field) = match prev {
            Some(p) if p.stream_id == message.stream_id && message.timestamp >= p.timestamp => {
                let delta = message.timestamp.wrapping_sub(p.timestamp);
                if p.length == length && p.type_id == message.type_id {
                    if p.delta == Some(delta) {
                        (3, delta)
                    } else {
                        (2, delta)
                    }
                } else {
                    (1, delta)
                }
            }
            _ => (0, message.timestamp),
        };
        let extended = field >= EXTENDED;
        let basic = |fmt: u8, out: &mut Vec<u8>| {
            let fmt = fmt << 6;
            if csid < 64 {
                out.push(fmt | u8::try_from(csid).unwrap_or(0));
            } else {
                let rest = csid.saturating_sub(64);
                if rest < 256 {
                    out.push(fmt);
                    out.push(u8::try_from(rest).unwrap_or(0));
                } else {
                    out.push(fmt | 1);
                    out.extend_from_slice(&u16::try_from(rest).unwrap_or(0).to_le_bytes());
                }
            }
        };
        basic(fmt, out);
        let field24 = field.min(EXTENDED).to_be_bytes();
        let len24 = length.to_be_bytes();
        if fmt <= 2 {
            out.extend_from_slice(field24.get(1..).unwrap_or_default());
        }
        if fmt <= 1 {
            out.extend_from_slice(len24.get(1..).unwrap_or_default());
            out.push(message.type_id);
        }
        if fmt == 0 {
            out.extend_from_slice(&message.stream_id.to_le_bytes());
        }
        if extended {
            out.extend_from_slice(&field.to_be_bytes());
        }
        let size = usize::try_from(self.chunk_size).unwrap_or(usize::MAX);
        let mut chunks = message.payload.chunks(size);
        if let Some(first) = chunks.next() {
            out.extend_from_slice(first);
        }
        for chunk in chunks {
            basic(3, out);
            if extended {
                out.extend_from_slice(&field.to_be_bytes());
            }
            out.extend_from_slice(chunk);
        }
        self.streams.insert(
            csid,
            WriteState {
                timestamp: message.timestamp,
                delta: match fmt {
                    0 => None,
                    3 => prev.and_then(|p| p.delta),
                    _ => Some(field),
                },
                length,
                type_id: message.type_id,
                stream_id: message.stream_id,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` to `reader` cut at `splits`, returning every message.
    fn read_all(reader: &mut ChunkReader, input: &[u8], step: usize) -> Vec<Message> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (used, msg) = reader.read(&buf).unwrap();
                if used == 0 {
                    break;
                }
                buf.drain(..used);
                out.extend(msg);
            }
        }
        assert!(buf.is_empty());
        out
    }

    #[test]
    fn spec_example_headers() {
        // §5.3.2.1: audio on one stream, fmt 0 then fmt 2 then fmt 3.
        let mut bytes = vec![0x04, 0, 0x03, 0xE8, 0, 0, 32, 8, 1, 0, 0, 0];
        bytes.extend_from_slice(&[0xAA; 32]);
        bytes.extend_from_slice(&[0x84, 0, 0, 20]);
        bytes.extend_from_slice(&[0xBB; 32]);
        bytes.push(0xC4);
        bytes.extend_from_slice(&[0xCC; 32]);
        let mut reader = ChunkReader::new();
        let msgs = read_all(&mut reader, &bytes, 5);
        assert_eq!(msgs.len(), 3);
        assert_eq!(
            msgs.iter().map(|m| m.timestamp).collect::<Vec<_>>(),
            vec![1000, 1020, 1040]
        );
        assert!(msgs.iter().all(|m| m.stream_id == 1 && m.type_id == 8));
    }

    #[test]
    fn long_message_interleaved_and_extended() {
        // Two messages on csid 3 and 4, chunks interleaved, the first with an extended
        // timestamp repeated in its fmt 3 continuation.
        let mut bytes = vec![0x03, 0xFF, 0xFF, 0xFF, 0, 0, 200, 9, 1, 0, 0, 0];
        bytes.extend_from_slice(&0x0123_4567u32.to_be_bytes());
        bytes.extend_from_slice(&[1; 128]);
        bytes.extend_from_slice(&[0x04, 0, 0, 5, 0, 0, 3, 8, 1, 0, 0, 0, 7, 7, 7]);
        bytes.push(0xC3);
        bytes.extend_from_slice(&0x0123_4567u32.to_be_bytes());
        bytes.extend_from_slice(&[2; 72]);
        let mut reader = ChunkReader::new();
        let msgs = read_all(&mut reader, &bytes, 1);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].csid, 4);
        assert_eq!(msgs[0].payload, vec![7, 7, 7]);
        assert_eq!(msgs[1].timestamp, 0x0123_4567);
        assert_eq!(msgs[1].payload.len(), 200);
        assert_eq!(msgs[1].payload[199], 2);
    }

    #[test]
    fn refusals() {
        let mut reader = ChunkReader::new();
        assert!(reader.read(&[0x83, 0, 0, 0]).is_err());
        assert!(reader.read(&[0xC3]).is_err());
        // fmt 1 on a new chunk stream: timestamp from 0, message stream 0.
        let (used, msg) = reader.read(&[0x44, 0, 0, 40, 0, 0, 1, 8, 0xAF]).unwrap();
        assert_eq!(used, 9);
        let msg = msg.unwrap();
        assert_eq!((msg.timestamp, msg.stream_id, msg.type_id), (40, 0, 8));
        let mut big = vec![0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 9, 1, 0, 0, 0];
        reader.set_max_message_len(1 << 20);
        assert_eq!(reader.read(&big), Err(Error::MessageTooLong(0x00FF_FFFF)));
        big[4] = 0;
        assert_eq!(reader.read(&big).unwrap(), (0, None));
        assert!(reader.set_chunk_size(0).is_err());
        assert!(reader.set_chunk_size(0x8000_0000).is_err());
        assert!(reader.set_chunk_size(0x7FFF_FFFF).is_ok());
        let mut reader = ChunkReader::new();
        for n in 0..MAX_CHUNK_STREAMS as u8 {
            let (used, _) = reader
                .read(&[0, n, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0])
                .unwrap();
            assert_eq!(used, 13);
        }
        assert!(reader
            .read(&[0x00, 200, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0])
            .is_err());
    }

    #[test]
    fn abort_drops_partial() {
        let mut reader = ChunkReader::new();
        let mut bytes = vec![0x03, 0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0];
        bytes.extend_from_slice(&[0; 128]);
        assert_eq!(reader.read(&bytes).unwrap(), (140, None));
        reader.abort(3);
        assert_eq!(reader.partial_bytes, 0);
        // A fmt 3 now starts a new 256-byte message with the same header.
        let mut next = vec![0xC3];
        next.extend_from_slice(&[5; 128]);
        assert_eq!(reader.read(&next).unwrap(), (129, None));
        let (used, msg) = reader.read(&next).unwrap();
        assert_eq!(used, 129);
        assert_eq!(msg.unwrap().payload, vec![5; 256]);
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            prop_oneof![2u32..8, 60u32..70, 318u32..322, Just(CSID_MAX)],
            prop_oneof![0u32..2000, 0xFF_FFF0u32..0x100_0010, any::<u32>()],
            prop_oneof![Just(8u8), Just(9u8), Just(20u8), any::<u8>()],
            prop_oneof![Just(0u32), Just(1u32), any::<u32>()],
            prop::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(|(csid, timestamp, type_id, stream_id, payload)| Message {
                csid,
                timestamp,
                type_id,
                stream_id,
                payload,
            })
    }

    /// Messages that often share csid, type and length, with steady steps, so that
    /// every header format is used.
    fn steady() -> impl Strategy<Value = Vec<Message>> {
        (
            prop::collection::vec((0u32..3, 0u32..3, 0usize..3), 1..30),
            prop_oneof![Just(0u32), Just(0xFF_FF00), Just(u32::MAX - 100)],
        )
            .prop_map(|(steps, start)| {
                let mut ts = start;
                steps
                    .into_iter()
                    .map(|(c, step, len)| {
                        ts = ts.wrapping_add(step * 20);
                        Message {
                            csid: 3 + c,
                            timestamp: ts,
                            type_id: 8 + (c as u8),
                            stream_id: 1,
                            payload: vec![c as u8; len * 150],
                        }
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn writer_reader_round_trip(
            messages in prop::collection::vec(message(), 1..12),
            chunk_size in prop_oneof![1u32..20, 100u32..300, Just(4096u32)],
            step in 1usize..400,
        ) {
            let mut writer = ChunkWriter::new();
            writer.set_chunk_size(chunk_size).unwrap();
            let mut bytes = Vec::new();
            for m in &messages {
                writer.write(m, &mut bytes).unwrap();
            }
            let mut reader = ChunkReader::new();
            reader.set_chunk_size(chunk_size).unwrap();
            prop_assert_eq!(read_all(&mut reader, &bytes, step), messages);
        }

        #[test]
        fn compressed_headers_round_trip(
            messages in steady(),
            chunk_size in prop_oneof![1u32..20, 100u32..300],
            step in 1usize..400,
        ) {
            let mut writer = ChunkWriter::new();
            writer.set_chunk_size(chunk_size).unwrap();
            let mut bytes = Vec::new();
            for m in &messages {
                writer.write(m, &mut bytes).unwrap();
            }
            let mut reader = ChunkReader::new();
            reader.set_chunk_size(chunk_size).unwrap();
            prop_assert_eq!(read_all(&mut reader, &bytes, step), messages);
        }

        #[test]
        fn reader_never_panics(data in prop::collection::vec(any::<u8>(), 0..2000), size in 1u32..300) {
            let mut reader = ChunkReader::new();
            reader.set_chunk_size(size).unwrap();
            let mut rest = &data[..];
            while let Ok((used, _)) = reader.read(rest) {
                if used == 0 { break; }
                rest = &rest[used..];
            }
        }
    }
}
