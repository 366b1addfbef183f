//! The plain configuration types of the channel engine: what `control` validates a
//! MediaLive channel document into and what `runtime` hands to the `live` engine. No I/O
//! and no FFmpeg here, so the control plane can share these types without linking it.

pub mod loss;
pub mod settings;

use media::ts::Pid;

pub use loss::{InputLossConfig, LossImage};
pub use settings::{AudioSettings, Profile, RateControl, VideoSettings};

/// What to take from the input (MediaLive `videoSelector` / `audioSelectors` by PID or
/// language).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// program_number to decode; `None` takes the first program of the PAT.
    pub program: Option<u16>,
    /// Audio PID; `None` takes the first AAC stream of the program (or the language's).
    pub audio_pid: Option<Pid>,
    /// Audio by ISO 639 language (`audioLanguageSelection`); ignored when `audio_pid` is
    /// set.
    pub audio_language: Option<LanguageSelection>,
}

/// MediaLive `audioLanguageSelection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanguageSelection {
    /// Three-letter ISO 639-2 code (`languageCode`), compared without ASCII case.
    pub code: [u8; 3],
    /// `languageSelectionPolicy` STRICT: no other language ever; LOOSE (false): fall back
    /// to another AAC stream.
    pub strict: bool,
}

/// What a channel encodes: the input selection and every rendition of the ladder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TranscodeConfig {
    /// Program and audio stream to take from the input.
    pub selection: Selection,
    /// Video renditions; packets carry `Track::Video(index into this list)`.
    pub video: Vec<VideoSettings>,
    /// Audio renditions; packets carry `Track::Audio(index into this list)`.
    pub audio: Vec<AudioSettings>,
}
