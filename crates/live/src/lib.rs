//! The channel engine: from an MPEG-TS input to a ladder of encoded renditions.
//!
//! ```text
//! TS datagrams ─▶ Demuxer ─▶ H.264 decode ─┬─▶ VideoRendition 0 (scale + x264) ─┐
//!  (a flow tap)   (PAT/PMT,  (once)        ├─▶ VideoRendition 1 …               ├─▶ Packet
//!                  PES, 33-bit             │                                    │   (90 kHz
//!                  unwrap)   AAC decode ───┴─▶ AudioRendition 0 (resample+AAC) ─┘    PTS/DTS)
//! ```
//!
//! [`transcode::Pipeline`] is the engine; [`transcode::Transcoder`] runs it on a dedicated
//! OS thread behind a bounded queue, because FFmpeg calls block and a slow encoder must
//! never stall network receive. Output [`Packet`]s carry their [`Track`] and 90 kHz
//! timestamps on the input's unwrapped timeline; [`media::mux::TsMuxer`] turns a video and
//! an audio track into a transport stream.
//!
//! Invariants: video output is constant frame rate (input pictures are dropped or repeated
//! to the output cadence); every GOP is `gop_size` frames when scene-change detection is
//! off, so renditions cut at the same times; audio is AAC-LC in ADTS frames.
//!
//! FFmpeg comes in through `ffmpeg-next`'s safe API only (this crate has no `unsafe`).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing
)]

pub mod adts;
pub mod audio;
pub mod demux;
pub mod loss;
pub mod seam;
pub use live_config::settings;
pub mod transcode;
pub mod video;
pub mod watch;

pub use loss::{InputLossConfig, LossImage};
pub use settings::{AudioSettings, Profile, RateControl, VideoSettings};
pub use transcode::{Progress, Stats, TranscodeConfig, Transcoder};

/// The 90 kHz media clock.
pub const CLOCK: i64 = 90_000;

/// Which rendition a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    /// Index into [`TranscodeConfig::video`].
    Video(usize),
    /// Index into [`TranscodeConfig::audio`].
    Audio(usize),
}

/// One encoded access unit: an H.264 Annex B access unit or one AAC ADTS frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The rendition.
    pub track: Track,
    /// Presentation time, 90 kHz.
    pub pts: i64,
    /// Decoding time, 90 kHz.
    pub dts: i64,
    /// IDR picture (always true for audio).
    pub key: bool,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What went wrong in the channel engine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// FFmpeg reported an error.
    #[error("ffmpeg: {0}")]
    Ffmpeg(#[from] ffmpeg_next::Error),
    /// The FFmpeg build lacks a codec.
    #[error("codec not available: {0}")]
    MissingCodec(&'static str),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Settings(&'static str),
    /// The transcoder thread could not start or died.
    #[error("transcoder thread: {0}")]
    Thread(String),
}

/// Initialises FFmpeg (idempotent) and silences its own logging below fatal
/// errors: a live decoder joining a stream mid-GOP logs an error per slice
/// until the next IDR, which is expected and would flood the server's log.
/// Failures that matter come back as `Result`s and counters instead.
pub fn init() -> Result<(), Error> {
    ffmpeg_next::init()?;
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    Ok(())
}
