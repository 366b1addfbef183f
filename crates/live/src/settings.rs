//! Encoding settings of one rendition, a subset of MediaLive's `H264Settings` and
//! `AacSettings`. Every field here is honoured; settings onair does not implement are not
//! representable, so the API layer must reject them by name.

/// H.264 rate control (`rateControlMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateControl {
    /// Constant bit rate: x264 `nal-hrd=cbr`, maxrate = bitrate, padding to a constant rate.
    Cbr,
    /// Variable bit rate: average `bitrate`, capped by `max_bitrate` / `buf_size`.
    Vbr,
}

/// H.264 profile (`profile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Baseline (no B-frames).
    Baseline,
    /// Main.
    Main,
    /// High.
    High,
}

impl Profile {
    /// The name libx264 takes.
    pub fn x264_name(self) -> &'static str {
        match self {
            Profile::Baseline => "baseline",
            Profile::Main => "main",
            Profile::High => "high",
        }
    }
}

/// One video rendition (`videoDescription` with `H264Settings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoSettings {
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Output frame rate as numerator / denominator (`framerateNumerator` / `…Denominator`).
    pub framerate: (u32, u32),
    /// Average bit rate in bit/s (`bitrate`).
    pub bitrate: u32,
    /// Peak bit rate in bit/s for VBR (`maxBitrate`); CBR uses `bitrate`.
    pub max_bitrate: Option<u32>,
    /// VBV buffer in bits (`bufSize`); defaults to one second of `max_bitrate`/`bitrate`.
    pub buf_size: Option<u32>,
    /// `rateControlMode`.
    pub rate_control: RateControl,
    /// GOP length in frames (`gopSize` with `gopSizeUnits` FRAMES; convert SECONDS before).
    pub gop_size: u32,
    /// B-frames between reference frames (`gopNumBFrames`).
    pub b_frames: u32,
    /// Reference frames (`numRefFrames`); `None` keeps the preset's.
    pub ref_frames: Option<u32>,
    /// `profile`.
    pub profile: Profile,
    /// `level` as x264 takes it ("3.1", "4.0"); `None` lets x264 choose (H264_LEVEL_AUTO).
    pub level: Option<String>,
    /// `sceneChangeDetect`: when false, I-frames come only at GOP boundaries (fixed GOPs,
    /// aligned across renditions, which segmenters want).
    pub scene_change_detect: bool,
    /// x264 preset (speed / quality trade-off); MediaLive has no such field, "veryfast" is
    /// the default here.
    pub preset: String,
}

/// One audio rendition (`audioDescription` with `AacSettings`, profile LC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioSettings {
    /// Bit rate in bit/s (`bitrate`).
    pub bitrate: u32,
    /// Sample rate in Hz (`sampleRate`).
    pub sample_rate: u32,
    /// Channels: 1 (CODING_MODE_1_0) or 2 (CODING_MODE_2_0).
    pub channels: u16,
}
