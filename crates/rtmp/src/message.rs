//! Message types (§5.4, §7.1) and the bodies of protocol control (§5.4.1 to §5.4.5) and
//! user control (§6.2, §7.1.7) messages.

use crate::chunk::Message;

/// Message type ids.
pub mod kind {
    /// Set Chunk Size (§5.4.1).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message (§5.4.2).
    pub const ABORT: u8 = 2;
    /// Acknowledgement (§5.4.3).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control Message (§6.2).
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size (§5.4.4).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth (§5.4.5).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio (§7.1.4): an FLV audio tag body.
    pub const AUDIO: u8 = 8;
    /// Video (§7.1.5): an FLV video tag body.
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3 (§7.1.2).
    pub const DATA_AMF3: u8 = 15;
    /// Shared object, AMF3 (§7.1.3).
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// Command message, AMF3 (§7.1.1).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0 (§7.1.2): `@setDataFrame`, `onMetaData`.
    pub const DATA_AMF0: u8 = 18;
    /// Shared object, AMF0 (§7.1.3).
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// Command message, AMF0 (§7.1.1).
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate message (§7.1.6).
    pub const AGGREGATE: u8 = 22;
}

/// User control event types (§7.1.7).
pub mod user_control {
    /// The stream is ready (server to client, 4-byte stream id).
    pub const STREAM_BEGIN: u16 = 0;
    /// Playback ended.
    pub const STREAM_EOF: u16 = 1;
    /// No more data on the stream.
    pub const STREAM_DRY: u16 = 2;
    /// Client buffer length (stream id, milliseconds).
    pub const SET_BUFFER_LENGTH: u16 = 3;
    /// Recorded stream.
    pub const STREAM_IS_RECORDED: u16 = 4;
    /// Ping with a timestamp to echo.
    pub const PING_REQUEST: u16 = 6;
    /// Echo of a ping's timestamp.
    pub const PING_RESPONSE: u16 = 7;
}

/// Chunk stream of protocol control messages (§5.4).
pub const CONTROL_CSID: u32 = 2;

fn control(type_id: u8, payload: Vec<u8>) -> Message {
    Message {
        csid: CONTROL_CSID,
        timestamp: 0,
        type_id,
        stream_id: 0,
        payload,
    }
}

/// Set Chunk Size.
pub fn set_chunk_size(size: u32) -> Message {
    control(
        kind::SET_CHUNK_SIZE,
        (size & 0x7FFF_FFFF).to_be_bytes().to_vec(),
    )
}

/// Acknowledgement of `sequence` bytes received so far (wrapping at 2^32).
pub fn acknowledgement(sequence: u32) -> Message {
    control(kind::ACKNOWLEDGEMENT, sequence.to_be_bytes().to_vec())
}

/// Window Acknowledgement Size.
pub fn window_ack_size(size: u32) -> Message {
    control(kind::WINDOW_ACK_SIZE, size.to_be_bytes().to_vec())
}

/// Set Peer Bandwidth with limit type 2 (dynamic).
pub fn set_peer_bandwidth(size: u32) -> Message {
    let mut payload = size.to_be_bytes().to_vec();
    payload.push(2);
    control(kind::SET_PEER_BANDWIDTH, payload)
}

/// A user control message: event type and its 4-byte argument (stream id or
/// timestamp).
pub fn user_control(event: u16, value: u32) -> Message {
    let mut payload = event.to_be_bytes().to_vec();
    payload.extend_from_slice(&value.to_be_bytes());
    control(kind::USER_CONTROL, payload)
}

/// The first four bytes of a control message body as a big-endian number.
pub fn read_u32(payload: &[u8]) -> Option<u32> {
    payload.first_chunk::<4>().map(|b| u32::from_be_bytes(*b))
}

/// A user control message body: event type and its first 4-byte argument.
pub fn read_user_control(payload: &[u8]) -> Option<(u16, u32)> {
    let (event, rest) = payload.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*event), read_u32(rest)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(set_chunk_size(4096).payload, vec![0, 0, 0x10, 0]);
        assert_eq!(set_peer_bandwidth(1).payload, vec![0, 0, 0, 1, 2]);
        let ping = user_control(user_control::PING_REQUEST, 77);
        assert_eq!(
            read_user_control(&ping.payload),
            Some((user_control::PING_REQUEST, 77))
        );
        assert_eq!(read_user_control(&[0, 6, 1]), None);
        assert_eq!(read_u32(&acknowledgement(9).payload), Some(9));
    }
}
