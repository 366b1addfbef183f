//! A sans-IO RTMP server for publishers (OBS, vMix, ffmpeg `-f flv rtmp://…`).
//!
//! The model: a [`Session`] is one TCP connection's protocol state and owns no socket,
//! task or clock. The driver reads bytes from the socket into
//! [`Session::handle_input`], writes whatever [`Session::poll_transmit`] hands back, and
//! takes [`Event`]s from [`Session::poll_event`]. Two events wait for a decision:
//! [`Event::Connect`] and [`Event::Publish`]; the session answers the peer only after
//! [`Session::accept`] (a refusal sends an error status and ends with
//! [`Event::Closed`]). Media arrives as [`Event::Video`] (H.264 Annex B access units,
//! SPS/PPS in front of every key frame) and [`Event::Audio`] (AAC in ADTS), ready for
//! [`ts::TsAdapter`] to make MPEG-TS that the channel engine takes like any TS input.
//!
//! Invariants: no input makes the session panic or grow without bound (a message is at
//! most [`chunk::MAX_MESSAGE_LEN`] bytes, unconsumed input at most
//! [`session::MAX_BUFFERED`]); an [`Error`] from `handle_input` is fatal for the
//! connection (flush `poll_transmit`, then close). Idle and handshake timeouts are the
//! driver's: the session has no clock.
//!
//! Layers, each usable alone: [`handshake`] (simple handshake, spec §5.2), [`chunk`]
//! (chunk streams, §5.3), [`amf0`] (command values), [`message`] (protocol control and
//! user control messages, §5.4, §6.2), [`flv`] (FLV tag bodies, FLV spec v10.1 §E.4.2,
//! §E.4.3) and [`ts`].
//!
//! ```
//! use rtmp::{Event, Session};
//!
//! let mut session = Session::new();
//! // C0 + C1 from the client: version 3, 1536 bytes.
//! session.handle_input(&[3u8; 1537]).unwrap();
//! let s0s1s2 = session.poll_transmit().unwrap();
//! assert_eq!(s0s1s2.len(), 1 + 2 * 1536);
//! // The driver loop, after every read:
//! while let Some(event) = session.poll_event() {
//!     let decision = match event {
//!         Event::Connect { app, .. } => Some(app == "live"),
//!         Event::Publish { stream_key, .. } => Some(stream_key == "key"),
//!         _ => None, // media to rtmp::ts::TsAdapter::push, Closed: close the socket
//!     };
//!     if let Some(ok) = decision {
//!         session.accept(ok).unwrap();
//!     }
//! }
//! ```
//!
//! Spec: Adobe "Real-Time Messaging Protocol (RTMP) specification" 1.0 (2012); section
//! numbers in the module docs refer to it.

// Nothing a peer sends may panic the server: no unwrap, no indexing, no unchecked
// arithmetic outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod amf0;
pub mod chunk;
pub mod flv;
pub mod handshake;
pub mod message;
pub mod session;
pub mod ts;

pub use session::{Event, Session, Stats};

/// Why input was refused. Every variant is fatal for the connection it came on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A value or message ended before its announced length.
    #[error("unexpected end of data")]
    Short,
    /// AMF0 structure that cannot be decoded.
    #[error("amf0: {0}")]
    Amf0(&'static str),
    /// An AMF0 marker this decoder does not take (reference, movie clip, AVM+ …).
    #[error("amf0 marker {0:#04x} not supported")]
    Amf0Marker(u8),
    /// AMF0 nesting deeper than [`amf0::MAX_DEPTH`].
    #[error("amf0 nesting too deep")]
    TooDeep,
    /// The client asked for an RTMP version other than 3 (or encryption).
    #[error("handshake: unsupported rtmp version {0}")]
    Version(u8),
    /// Chunk stream framing that cannot be followed.
    #[error("chunk: {0}")]
    Chunk(&'static str),
    /// A message longer than [`chunk::MAX_MESSAGE_LEN`].
    #[error("message of {0} bytes is too long")]
    MessageTooLong(u32),
    /// An FLV tag body that cannot be read.
    #[error("flv: {0}")]
    Flv(&'static str),
    /// A message that breaks the command sequence.
    #[error("protocol: {0}")]
    Protocol(&'static str),
    /// The peer sent more than the session buffers while waiting for a decision.
    #[error("too much unconsumed input")]
    Overflow,
    /// The TS multiplexer refused an access unit.
    #[error("ts mux: {0}")]
    Mux(#[from] media::mux::MuxError),
}
