//! The RTMP chunk stream reader on arbitrary bytes, cut at arbitrary points: no panic,
//! the same messages however the input is cut, and every message read writes back
//! (ChunkWriter) into chunks that read back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp::chunk::{ChunkReader, ChunkWriter, Message};
use rtmp::message::{self, kind};

/// Reads `data` delivered in pieces of `step` bytes; Set Chunk Size and Abort applied
/// as a session does. Stops at the first error.
fn read(data: &[u8], step: usize) -> (Vec<Message>, bool) {
    let mut reader = ChunkReader::new();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in data.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match reader.read(&buf) {
                Ok((0, _)) => break,
                Ok((used, msg)) => {
                    assert!(used <= buf.len());
                    buf.drain(..used);
                    if let Some(m) = msg {
                        match m.type_id {
                            kind::SET_CHUNK_SIZE => {
                                let size = message::read_u32(&m.payload).unwrap_or(0);
                                if reader.set_chunk_size(size & 0x7FFF_FFFF).is_err() {
                                    out.push(m);
                                    return (out, true);
                                }
                            }
                            kind::ABORT => {
                                reader.abort(message::read_u32(&m.payload).unwrap_or(0));
                            }
                            _ => {}
                        }
                        out.push(m);
                    }
                }
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let (whole, whole_err) = read(data, data.len());
    let (cut_up, cut_err) = read(data, usize::from(cut % 64) + 1);
    assert_eq!(whole, cut_up, "messages depend on how the input is cut");
    assert_eq!(whole_err, cut_err);

    let mut writer = ChunkWriter::new();
    writer.set_chunk_size(u32::from(cut) + 1).unwrap();
    let mut bytes = Vec::new();
    let written: Vec<&Message> = whole
        .iter()
        .filter(|m| m.type_id != kind::SET_CHUNK_SIZE && m.type_id != kind::ABORT)
        .filter(|m| (2..=65_599).contains(&m.csid))
        .collect();
    for m in &written {
        writer.write(m, &mut bytes).unwrap();
    }
    let mut reader = ChunkReader::new();
    reader.set_chunk_size(u32::from(cut) + 1).unwrap();
    let mut rest = &bytes[..];
    let mut back = Vec::new();
    while !rest.is_empty() {
        let (used, msg) = reader.read(rest).unwrap();
        assert!(used > 0, "writer output is whole chunks");
        rest = &rest[used..];
        back.extend(msg);
    }
    assert_eq!(back.len(), written.len());
    for (a, b) in back.iter().zip(written) {
        assert_eq!(a, b);
    }
});
