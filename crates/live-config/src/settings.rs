//! Encoding settings of one rendition: MediaLive's `H264Settings` and `AacSettings` as the
//! encoder takes them. Every field here is honoured by `live::video` / `live::audio`;
//! settings onair does not implement are not representable, so the API layer refuses them
//! by name (`control::medialive::codec`). `docs/LIVE.md` has the table MediaLive member →
//! field → libx264 option.

/// H.264 rate control (`rateControlMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateControl {
    /// Constant bit rate: x264 `nal-hrd=cbr`, maxrate = bitrate, padding to a constant rate.
    Cbr,
    /// Variable bit rate: average `bitrate`, capped by `max_bitrate` / `buf_size`.
    Vbr,
    /// Quality-defined VBR: x264 constant rate factor [`crf_of_quality`]`(quality)`, capped
    /// by the VBV (`max_bitrate`, `buf_size`); `bitrate` is not used.
    Qvbr {
        /// `qvbrQualityLevel`, 1 (lowest) to 10 (nearly lossless).
        quality: u8,
    },
}

/// The x264 CRF of a MediaLive QVBR quality level (1–10): `crf = 37 - 2 * quality`, so
/// level 10 is CRF 17 (visually lossless for most content), 7 is CRF 23 (x264's default,
/// AWS's recommendation for PC and tablet screens), 1 is CRF 35. The VBV cap
/// (`max_bitrate`) still wins on complex content, which is what QVBR means.
pub fn crf_of_quality(quality: u8) -> u8 {
    37u8.saturating_sub(2 * quality.clamp(1, 10))
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

/// `adaptiveQuantization`: the strength of x264's spatial (variance) AQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdaptiveQuantization {
    /// No AQ at all: `aq-mode=0`, and no macroblock-tree either (`mbtree=0`).
    Off,
    /// x264's auto-variance AQ (`aq-mode=2`, strength 1.0), which scales per frame.
    Auto,
    /// `aq-mode=1`, strength 0.4.
    Low,
    /// `aq-mode=1`, strength 0.7.
    Medium,
    /// `aq-mode=1`, strength 1.0 (x264's default).
    High,
    /// `aq-mode=1`, strength 1.3.
    Higher,
    /// `aq-mode=1`, strength 1.6.
    Max,
}

impl AdaptiveQuantization {
    /// x264 (`aq-mode`, `aq-strength`).
    pub fn x264(self) -> (u8, f32) {
        match self {
            AdaptiveQuantization::Off => (0, 0.0),
            AdaptiveQuantization::Auto => (2, 1.0),
            AdaptiveQuantization::Low => (1, 0.4),
            AdaptiveQuantization::Medium => (1, 0.7),
            AdaptiveQuantization::High => (1, 1.0),
            AdaptiveQuantization::Higher => (1, 1.3),
            AdaptiveQuantization::Max => (1, 1.6),
        }
    }
}

/// `lookAheadRateControl`: frames of x264 rate-control lookahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookAhead {
    /// `rc-lookahead=10` (lowest latency and memory).
    Low,
    /// `rc-lookahead=20`.
    Medium,
    /// `rc-lookahead=40` (x264's default).
    High,
}

impl LookAhead {
    /// x264 `rc-lookahead`.
    pub fn frames(self) -> u32 {
        match self {
            LookAhead::Low => 10,
            LookAhead::Medium => 20,
            LookAhead::High => 40,
        }
    }
}

/// Where the output frame rate comes from (`framerateControl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramerateControl {
    /// `SPECIFIED`: [`VideoSettings::framerate`].
    Specified,
    /// `INITIALIZE_FROM_SOURCE`: the frame rate of the first input, measured from the first
    /// pictures' timestamps; `framerate` is the fallback when it cannot be measured.
    FromSource,
}

/// Sample (pixel) aspect ratio of the output (`parControl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Par {
    /// `INITIALIZE_FROM_SOURCE`: the first input picture's SAR (unsignalled stays 1:1).
    FromSource,
    /// `SPECIFIED`: `parNumerator:parDenominator`, x264 `sar`.
    Specified(u32, u32),
}

/// One video rendition (`videoDescription` with `H264Settings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoSettings {
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Output frame rate as numerator / denominator (`framerateNumerator` / `…Denominator`);
    /// with [`FramerateControl::FromSource`] only the fallback.
    pub framerate: (u32, u32),
    /// `framerateControl`.
    pub framerate_control: FramerateControl,
    /// Average bit rate in bit/s (`bitrate`); unused by QVBR.
    pub bitrate: u32,
    /// Peak bit rate in bit/s for VBR and QVBR (`maxBitrate`); CBR uses `bitrate`.
    pub max_bitrate: Option<u32>,
    /// VBV buffer in bits (`bufSize`); defaults to one second of `max_bitrate`/`bitrate`.
    pub buf_size: Option<u32>,
    /// Initial VBV fullness in percent (`bufFillPct`), x264 `vbv-init`; `None` keeps
    /// x264's 90 %.
    pub buf_fill_pct: Option<u32>,
    /// `rateControlMode`.
    pub rate_control: RateControl,
    /// GOP length in frames (`gopSize` with `gopSizeUnits` FRAMES, or SECONDS converted
    /// with `framerate`). Every `gop_size`-th frame is an IDR, in every rendition.
    pub gop_size: u32,
    /// `gopSize` in milliseconds when `gopSizeUnits` is SECONDS: with
    /// [`FramerateControl::FromSource`] the GOP in frames is computed from the measured
    /// frame rate instead of `gop_size`.
    pub gop_ms: Option<u32>,
    /// B-frames between reference frames (`gopNumBFrames`).
    pub b_frames: u32,
    /// B-frames used as references, x264 `b-pyramid=normal` (`gopBReference` ENABLED);
    /// false is `b-pyramid=none`.
    pub b_reference: bool,
    /// x264 chooses how many B-frames each sub-GOP gets, `b-adapt=1` (`subgopLength`
    /// DYNAMIC); false is `b-adapt=0`, always `b_frames` (FIXED).
    pub b_adaptive: bool,
    /// Reference frames (`numRefFrames`); `None` keeps the preset's.
    pub ref_frames: Option<u32>,
    /// `profile`.
    pub profile: Profile,
    /// `level` as x264 takes it ("3.1", "4.0"); `None` lets x264 choose (H264_LEVEL_AUTO).
    pub level: Option<String>,
    /// `sceneChangeDetect`: when true x264 may insert (non-IDR) I-frames at scene cuts;
    /// IDRs stay on the `gop_size` cadence either way.
    pub scene_change_detect: bool,
    /// `adaptiveQuantization`.
    pub adaptive_quantization: AdaptiveQuantization,
    /// `spatialAq`: false turns x264's (spatial) AQ off whatever the strength.
    pub spatial_aq: bool,
    /// `temporalAq`: x264's macroblock-tree (`mbtree`), which moves bits to what later
    /// frames reference.
    pub temporal_aq: bool,
    /// `lookAheadRateControl`.
    pub look_ahead: LookAhead,
    /// CABAC entropy coding (`entropyEncoding` CABAC); false is CAVLC (`cabac=0`).
    pub cabac: bool,
    /// Slices per picture (`slices`); `None` lets x264 choose (one).
    pub slices: Option<u32>,
    /// `parControl` with `parNumerator` / `parDenominator`.
    pub par: Par,
    /// x264 preset (speed / quality trade-off); MediaLive has no such field, "veryfast" is
    /// the default here.
    pub preset: String,
}

impl VideoSettings {
    /// A rendition with MediaLive's defaults for everything but the size, rate and bit
    /// rate: CBR, GOP 60 frames, 2 fixed B-frames without B-references, Main, level auto,
    /// scene-change detection on, AUTO adaptive quantization with spatial and temporal AQ,
    /// MEDIUM lookahead, CABAC, PAR from source, frame rate as given.
    pub fn new(width: u32, height: u32, framerate: (u32, u32), bitrate: u32) -> Self {
        VideoSettings {
            width,
            height,
            framerate,
            framerate_control: FramerateControl::Specified,
            bitrate,
            max_bitrate: None,
            buf_size: None,
            buf_fill_pct: None,
            rate_control: RateControl::Cbr,
            gop_size: 60,
            gop_ms: None,
            b_frames: 2,
            b_reference: false,
            b_adaptive: false,
            ref_frames: None,
            profile: Profile::Main,
            level: None,
            scene_change_detect: true,
            adaptive_quantization: AdaptiveQuantization::Auto,
            spatial_aq: true,
            temporal_aq: true,
            look_ahead: LookAhead::Medium,
            cabac: true,
            slices: None,
            par: Par::FromSource,
            preset: "veryfast".into(),
        }
    }
}

/// One audio rendition (`audioDescription` with `AacSettings`: profile LC, CBR, MPEG-4
/// ADTS, NORMAL input type — the other values are refused by the API layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioSettings {
    /// Bit rate in bit/s (`bitrate`).
    pub bitrate: u32,
    /// Sample rate in Hz (`sampleRate`).
    pub sample_rate: u32,
    /// Channels: 1 (CODING_MODE_1_0) or 2 (CODING_MODE_2_0).
    pub channels: u16,
}

/// Sample rates FFmpeg's native AAC encoder accepts (and ADTS can signal).
pub const AAC_SAMPLE_RATES: [u32; 12] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
];

/// The AAC bit rates onair accepts for `channels` at `sample_rate`: at least 8 kb/s per
/// channel, at most 6144 bit per channel per 1024-sample frame (ISO/IEC 14496-3's
/// per-channel buffer limit, which FFmpeg's encoder also clamps to).
pub fn aac_bitrate_range(sample_rate: u32, channels: u16) -> (u32, u32) {
    let ch = u32::from(channels.max(1));
    let max = (6144u64 * u64::from(sample_rate) / 1024) as u32 * ch;
    (8_000 * ch, max)
}
