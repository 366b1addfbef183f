//! RFC 6381 codec strings of an output from the settings its encoders were opened
//! with, so playlists name the codecs without parsing the muxed stream back.
//!
//! Video is `avc1.PPCCLL`: profile_idc, the constraint-flags byte and level_idc
//! as libx264 writes them in the SPS for these settings. The profile is the one
//! asked for, lowered where x264 lowers it (it signals the lowest profile whose
//! tools it uses: the `ultrafast` preset has no 8×8 transform, so High becomes
//! Main; Main without CABAC, B-frames or weighted prediction is Baseline). The
//! level is the configured one; with `H264_LEVEL_AUTO` it is the one x264 picks:
//! the lowest of H.264 Table A-1 whose frame size, macroblock rate, DPB and VBV
//! limits the rendition fits. Audio is AAC-LC, `mp4a.40.2` (the only AAC profile
//! the engine encodes).

use live::VideoSettings;
use live_config::settings::{Profile, RateControl};

/// AAC-LC (RFC 6381 §3.3: object type 0x40, audio object type 2).
pub const AAC_LC: &str = "mp4a.40.2";

const BASELINE: u8 = 66;
const MAIN: u8 = 77;
const HIGH: u8 = 100;
/// x264's level_idc of level 1b (signalled as 11 + constraint_set3 in
/// Baseline and Main).
const LEVEL_1B: u8 = 9;

/// One row of H.264 Table A-1 (with MaxBR and MaxCPB in 1000 bit/s and 1000
/// bits for Baseline / Main; High allows 1.25 times those).
struct Level {
    idc: u8,
    max_mbps: u64,
    max_fs: u64,
    max_dpb_mbs: u64,
    max_br: u64,
    max_cpb: u64,
}

const fn level(
    idc: u8,
    max_mbps: u64,
    max_fs: u64,
    max_dpb_mbs: u64,
    max_br: u64,
    max_cpb: u64,
) -> Level {
    Level {
        idc,
        max_mbps,
        max_fs,
        max_dpb_mbs,
        max_br,
        max_cpb,
    }
}

/// In the order x264 tries them.
const LEVELS: [Level; 20] = [
    level(10, 1_485, 99, 396, 64, 175),
    level(LEVEL_1B, 1_485, 99, 396, 128, 350),
    level(11, 3_000, 396, 900, 192, 500),
    level(12, 6_000, 396, 2_376, 384, 1_000),
    level(13, 11_880, 396, 2_376, 768, 2_000),
    level(20, 11_880, 396, 2_376, 2_000, 2_000),
    level(21, 19_800, 792, 4_752, 4_000, 4_000),
    level(22, 20_250, 1_620, 8_100, 4_000, 4_000),
    level(30, 40_500, 1_620, 8_100, 10_000, 10_000),
    level(31, 108_000, 3_600, 18_000, 14_000, 14_000),
    level(32, 216_000, 5_120, 20_480, 20_000, 20_000),
    level(40, 245_760, 8_192, 32_768, 20_000, 25_000),
    level(41, 245_760, 8_192, 32_768, 50_000, 62_500),
    level(42, 522_240, 8_704, 34_816, 50_000, 62_500),
    level(50, 589_824, 22_080, 110_400, 135_000, 135_000),
    level(51, 983_040, 36_864, 184_320, 240_000, 240_000),
    level(52, 2_073_600, 36_864, 184_320, 240_000, 240_000),
    level(60, 4_177_920, 139_264, 696_320, 240_000, 240_000),
    level(61, 8_355_840, 139_264, 696_320, 480_000, 480_000),
    level(62, 16_711_680, 139_264, 696_320, 800_000, 800_000),
];

/// The codec strings of an output muxing `video` and `audio_streams` AAC streams:
/// the video's, then `mp4a.40.2` once if there is audio.
pub fn output_codecs(video: &VideoSettings, audio_streams: usize) -> Vec<String> {
    let mut codecs = vec![avc1(video)];
    if audio_streams > 0 {
        codecs.push(AAC_LC.to_owned());
    }
    codecs
}

/// `avc1.PPCCLL` of a rendition; see the [module docs](self).
pub fn avc1(v: &VideoSettings) -> String {
    let profile = profile_idc(v);
    let level = v
        .level
        .as_deref()
        .and_then(parse_level)
        .unwrap_or_else(|| auto_level(v, profile));
    let mut constraints = 0u8;
    if profile == BASELINE {
        constraints |= 0x80; // constraint_set0
    }
    if profile <= MAIN {
        constraints |= 0x40; // constraint_set1: x264 uses no Baseline-only tools
    }
    let level = if level == LEVEL_1B && profile <= MAIN {
        constraints |= 0x10; // constraint_set3 with level_idc 11 is 1b
        11
    } else {
        level
    };
    format!("avc1.{profile:02X}{constraints:02X}{level:02X}")
}

/// x264's weighted P-frame prediction of a preset (0 is off).
fn weightp(preset: &str) -> u8 {
    match preset {
        "ultrafast" => 0,
        "superfast" | "veryfast" | "faster" => 1,
        _ => 2,
    }
}

/// x264's reference frames of a preset.
fn preset_refs(preset: &str) -> u32 {
    match preset {
        "ultrafast" | "superfast" | "veryfast" => 1,
        "faster" | "fast" => 2,
        "slow" => 5,
        "slower" => 8,
        "veryslow" | "placebo" => 16,
        _ => 3,
    }
}

/// The profile_idc x264 writes for `v`.
fn profile_idc(v: &VideoSettings) -> u8 {
    // Main's tools: CABAC, B-frames, weighted prediction (Baseline turns all off).
    let main_tools = v.cabac || v.b_frames > 0 || weightp(&v.preset) > 0;
    match v.profile {
        Profile::Baseline => BASELINE,
        Profile::High if v.preset != "ultrafast" => HIGH,
        Profile::Main | Profile::High if main_tools => MAIN,
        Profile::Main | Profile::High => BASELINE,
    }
}

/// level_idc of a level as x264 takes it: "3.1", "4.0", "4", "1b", "31".
fn parse_level(s: &str) -> Option<u8> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("1b") {
        return Some(LEVEL_1B);
    }
    let idc = match s.split_once('.') {
        Some((major, minor)) => major.parse::<u8>().ok()? * 10 + minor.parse::<u8>().ok()?,
        None => match s.parse::<u8>().ok()? {
            n if n < 10 => n * 10,
            n => n,
        },
    };
    LEVELS.iter().any(|l| l.idc == idc).then_some(idc)
}

/// The level x264 chooses for `v` at `profile` (level auto): the first of
/// [`LEVELS`] it fits, else the highest.
fn auto_level(v: &VideoSettings, profile: u8) -> u8 {
    let mb_w = u64::from(v.width.div_ceil(16));
    let mb_h = u64::from(v.height.div_ceil(16));
    let mbs = mb_w * mb_h;
    let b_frames = if profile == BASELINE { 0 } else { v.b_frames };
    let pyramid = v.b_reference && b_frames >= 2;
    let reorder = if pyramid { 2 } else { u32::from(b_frames > 0) };
    let refs = v.ref_frames.unwrap_or_else(|| preset_refs(&v.preset));
    let dpb_frames = u64::from(
        refs.max(1 + reorder)
            .max(if pyramid { 4 } else { 1 })
            .min(16),
    );
    let max_rate = match v.rate_control {
        RateControl::Cbr => v.bitrate,
        RateControl::Vbr | RateControl::Qvbr { .. } => v.max_bitrate.unwrap_or(v.bitrate),
    };
    let vbv_rate = u64::from(max_rate.div_ceil(1000));
    let vbv_buffer = u64::from(v.buf_size.unwrap_or(max_rate).div_ceil(1000));
    let factor = if profile == HIGH { 5 } else { 4 };
    let (num, den) = (u64::from(v.framerate.0), u64::from(v.framerate.1.max(1)));
    let fits = |l: &Level| {
        l.max_fs >= mbs
            && l.max_fs * 8 >= mb_w * mb_w
            && l.max_fs * 8 >= mb_h * mb_h
            && mbs * dpb_frames <= l.max_dpb_mbs
            && vbv_rate <= l.max_br * factor / 4
            && vbv_buffer <= l.max_cpb * factor / 4
            && mbs * num / den <= l.max_mbps
    };
    LEVELS
        .iter()
        .find(|l| fits(l))
        .or(LEVELS.last())
        .map_or(51, |l| l.idc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn video(width: u32, height: u32, fps: u32, bitrate: u32) -> VideoSettings {
        VideoSettings::new(width, height, (fps, 1), bitrate)
    }

    #[test]
    fn configured_profile_and_level() {
        let mut v = video(1280, 720, 30, 3_000_000);
        v.profile = Profile::High;
        v.level = Some("3.1".into());
        assert_eq!(avc1(&v), "avc1.64001F");
        v.profile = Profile::Main;
        v.level = Some("4.0".into());
        assert_eq!(avc1(&v), "avc1.4D4028");
        v.profile = Profile::Baseline;
        v.cabac = false;
        v.level = Some("3.0".into());
        assert_eq!(avc1(&v), "avc1.42C01E");
    }

    #[test]
    fn level_1b_is_constraint_set3_below_high() {
        let mut v = video(176, 144, 15, 100_000);
        v.level = Some("1b".into());
        assert_eq!(avc1(&v), "avc1.4D500B");
        v.profile = Profile::High;
        assert_eq!(avc1(&v), "avc1.640009");
    }

    #[test]
    fn auto_level_is_the_lowest_that_fits() {
        // 720p30 at 3 Mb/s: 3600 macroblocks, 108 000 per second: level 3.1.
        assert_eq!(avc1(&video(1280, 720, 30, 3_000_000)), "avc1.4D401F");
        // 720p60 needs 216 000 MB/s: 3.2.
        assert_eq!(avc1(&video(1280, 720, 60, 6_000_000)), "avc1.4D4020");
        // 1080p30: 8160 macroblocks: 4.0, or 4.1 above 20 Mb/s (Main).
        assert_eq!(avc1(&video(1920, 1080, 30, 6_000_000)), "avc1.4D4028");
        assert_eq!(avc1(&video(1920, 1080, 30, 24_000_000)), "avc1.4D4029");
        // High may go 1.25 times over MaxBR: 24 Mb/s still fits 4.0.
        let mut high = video(1920, 1080, 30, 24_000_000);
        high.profile = Profile::High;
        assert_eq!(avc1(&high), "avc1.640028");
        // The e2e ladder's renditions: 480x270 and 320x180 at 30 fps.
        assert_eq!(avc1(&video(480, 270, 30, 700_000)), "avc1.4D4015");
        assert_eq!(avc1(&video(320, 180, 30, 300_000)), "avc1.4D400D");
    }

    #[test]
    fn auto_level_counts_the_decoded_picture_buffer() {
        // 1080p at 5 reference frames needs 5 × 8160 MBs of DPB: more than 4.x.
        let mut v = video(1920, 1080, 25, 5_000_000);
        v.ref_frames = Some(5);
        assert_eq!(avc1(&v), "avc1.4D4032");
        v.ref_frames = Some(4);
        assert_eq!(avc1(&v), "avc1.4D4028");
    }

    #[test]
    fn x264_lowers_the_profile_to_the_tools_it_uses() {
        let mut v = video(640, 360, 25, 1_000_000);
        v.profile = Profile::High;
        v.preset = "ultrafast".into();
        assert!(avc1(&v).starts_with("avc1.4D40"), "{}", avc1(&v));
        v.cabac = false;
        v.b_frames = 0;
        assert!(avc1(&v).starts_with("avc1.42C0"), "{}", avc1(&v));
        v.preset = "veryfast".into();
        assert!(avc1(&v).starts_with("avc1.6400"), "{}", avc1(&v));
    }

    #[test]
    fn audio_is_listed_once() {
        let v = video(640, 360, 25, 1_000_000);
        assert_eq!(output_codecs(&v, 0), vec![avc1(&v)]);
        assert_eq!(output_codecs(&v, 2), vec![avc1(&v), AAC_LC.to_owned()]);
    }

    #[test]
    fn levels_parse_as_x264_takes_them() {
        assert_eq!(parse_level("3.1"), Some(31));
        assert_eq!(parse_level("4.0"), Some(40));
        assert_eq!(parse_level("4"), Some(40));
        assert_eq!(parse_level("1b"), Some(LEVEL_1B));
        assert_eq!(parse_level("51"), Some(51));
        assert_eq!(parse_level("3.7"), None);
        assert_eq!(parse_level("x"), None);
    }
}
