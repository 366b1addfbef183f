//! One video rendition: frame-rate conversion, software scaling and libx264 encoding.
//!
//! Invariants:
//! - Output is constant frame rate: input pictures are dropped or repeated to the cadence.
//! - Output frame `n` is an IDR exactly when `n % gop_size == 0`, in every rendition, so a
//!   ladder's segments cut at the same times. The IDRs are forced per frame; x264's own
//!   keyframe placement is pushed out of the way (`keyint = 2 × gop`, `min-keyint = gop + 1`),
//!   so a scene cut (when `scene_change_detect`) can only add a non-IDR I-frame.
//! - GOPs are closed (`open-gop=0`): every segment starts with an IDR.
//! - With [`FramerateControl::FromSource`] or [`Par::FromSource`] the encoder opens on
//!   the first pictures (the frame rate is measured from up to [`MEASURE`] pictures'
//!   timestamps); [`VideoRendition::new`] still opens a trial encoder so that bad settings
//!   fail at start-up, not at the first picture.

use ffmpeg_next::codec::{self, threading};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{encoder, frame, picture, Dictionary, Packet, Rational};

use crate::settings::{crf_of_quality, FramerateControl, Par, RateControl, VideoSettings};
use crate::{Error, Packet as OutPacket, Track, CLOCK};

/// Frames a jump in input time may fill with repeats before the timeline is re-anchored.
const MAX_REPEAT_SECONDS: i64 = 2;

/// Pictures held to measure the source frame rate ([`FramerateControl::FromSource`]).
pub const MEASURE: usize = 8;

/// Frame rates a measured one snaps to (within one 90 kHz tick per frame).
const STANDARD_RATES: [(u32, u32); 10] = [
    (24_000, 1001),
    (24, 1),
    (25, 1),
    (30_000, 1001),
    (30, 1),
    (48, 1),
    (50, 1),
    (60_000, 1001),
    (60, 1),
    (15, 1),
];

/// The encoder of a rendition and what it was opened with.
struct Open {
    encoder: encoder::Video,
    framerate: (u32, u32),
    gop: u32,
}

/// Scales decoded pictures to one size and encodes them with libx264 at a constant frame
/// rate. Call [`push`](Self::push) with every decoded picture in presentation order.
pub struct VideoRendition {
    index: usize,
    settings: VideoSettings,
    scaler: Option<(scaling::Context, (u32, u32, Pixel))>,
    open: Option<Open>,
    /// Scaled pictures (with input PTS) held until the encoder opens.
    pending: Vec<(frame::Video, i64)>,
    /// The last picture the encoder took, to scale the next one into: a
    /// frame of 720p is 1.4 MB, which would otherwise be mapped and
    /// unmapped for every frame (onair runs with `MALLOC_MMAP_THRESHOLD_`).
    spare: Option<frame::Video>,
    /// The first input picture's sample aspect ratio.
    source_sar: Option<(u32, u32)>,
    /// 90 kHz time of output frame 0: the first picture's PTS. The output timeline is
    /// `origin + n * frame duration`, whatever the input does later.
    origin: Option<i64>,
    /// Input PTS that maps to output frame 0; moved when the input timeline jumps.
    anchor: i64,
    /// Index of the next output frame.
    next: i64,
    frames_in: u64,
    frames_out: u64,
    jumps: u64,
}

impl VideoRendition {
    /// Checks `settings` and opens the x264 encoder (a trial one, when the encoder must
    /// wait for the source's frame rate or aspect ratio); `index` tags this rendition's
    /// packets.
    pub fn new(index: usize, settings: VideoSettings) -> Result<Self, Error> {
        let waits = settings.framerate_control == FramerateControl::FromSource
            || settings.par == Par::FromSource;
        let trial = open_x264(&settings, settings.framerate, None)?;
        Ok(Self {
            index,
            open: if waits { None } else { Some(trial) },
            settings,
            scaler: None,
            pending: Vec::new(),
            spare: None,
            source_sar: None,
            origin: None,
            anchor: 0,
            next: 0,
            frames_in: 0,
            frames_out: 0,
            jumps: 0,
        })
    }

    /// The frame rate and GOP (frames) the encoder runs at, once it is open.
    pub fn cadence(&self) -> Option<((u32, u32), u32)> {
        self.open.as_ref().map(|o| (o.framerate, o.gop))
    }

    /// Takes one decoded picture with its 90 kHz PTS; emits encoded packets to `out`.
    pub fn push(
        &mut self,
        picture: &frame::Video,
        pts: i64,
        out: &mut dyn FnMut(OutPacket),
    ) -> Result<(), Error> {
        self.frames_in += 1;
        if self.open.is_some() {
            return self.place(picture, pts, out);
        }
        if self.source_sar.is_none() {
            let sar = picture.aspect_ratio();
            self.source_sar = u32::try_from(sar.numerator())
                .ok()
                .zip(u32::try_from(sar.denominator()).ok())
                .filter(|(n, d)| *n > 0 && *d > 0);
            // (0, 0) marks "seen, unsignalled" so later pictures are not asked again.
            self.source_sar.get_or_insert((0, 0));
        }
        let scaled = self.scale(picture)?;
        self.pending.push((scaled, pts));
        let measuring = self.settings.framerate_control == FramerateControl::FromSource;
        if !measuring || self.pending.len() >= MEASURE {
            self.open_now(out)?;
        }
        Ok(())
    }

    /// Flushes the encoder at end of input.
    pub fn finish(&mut self, out: &mut dyn FnMut(OutPacket)) -> Result<(), Error> {
        if self.open.is_none() && !self.pending.is_empty() {
            self.open_now(out)?;
        }
        if let Some(open) = self.open.as_mut() {
            open.encoder.send_eof()?;
        }
        self.drain(out);
        Ok(())
    }

    /// The input PTS the next output frame stands for, and the frame duration (90 kHz),
    /// once the encoder is open and the first picture came: where a picture lands on
    /// this rendition's cadence exactly.
    pub fn next_slot(&self) -> Option<(i64, i64)> {
        let open = self.open.as_ref()?;
        self.origin?;
        Some((
            self.anchor + Self::ticks(open.framerate, self.next),
            Self::ticks(open.framerate, 1),
        ))
    }

    /// (pictures received, frames encoded, input timeline jumps re-anchored).
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.frames_in, self.frames_out, self.jumps)
    }

    /// Opens the encoder with what the held pictures tell, then encodes them.
    fn open_now(&mut self, out: &mut dyn FnMut(OutPacket)) -> Result<(), Error> {
        let framerate = match self.settings.framerate_control {
            FramerateControl::Specified => self.settings.framerate,
            FramerateControl::FromSource => {
                let pts: Vec<i64> = self.pending.iter().map(|(_, t)| *t).collect();
                measure_framerate(&pts).unwrap_or(self.settings.framerate)
            }
        };
        let sar = match self.settings.par {
            Par::Specified(n, d) => Some((n, d)),
            Par::FromSource => self.source_sar.filter(|(n, d)| *n > 0 && *d > 0),
        };
        self.open = Some(open_x264(&self.settings, framerate, sar)?);
        for (scaled, pts) in std::mem::take(&mut self.pending) {
            self.place_scaled(scaled, pts, out)?;
        }
        Ok(())
    }

    /// Frame duration in 90 kHz ticks, as a fraction (num, den).
    fn ticks(framerate: (u32, u32), frames: i64) -> i64 {
        let (num, den) = framerate;
        frames * CLOCK * i64::from(den) / i64::from(num.max(1))
    }

    /// Output slot of an input PTS, re-anchoring on jumps; `None` drops the picture.
    fn slot(&mut self, framerate: (u32, u32), pts: i64) -> Option<i64> {
        if self.origin.is_none() {
            self.origin = Some(pts);
            self.anchor = pts;
        }
        let (num, den) = framerate;
        let per_second = i64::from(num) / i64::from(den).max(1);
        let limit = MAX_REPEAT_SECONDS * per_second.max(1);
        // Output slot for this picture: nearest frame index of the output cadence.
        let scale = CLOCK * i64::from(den);
        let mut slot = ((pts - self.anchor) * i64::from(num) + scale / 2).div_euclid(scale);
        if slot - self.next > limit || self.next - slot > limit {
            // A jump in the input timeline (either way): re-anchor so the output timeline
            // goes on without a gap instead of repeating or dropping for seconds.
            self.anchor = pts - Self::ticks(framerate, self.next);
            self.jumps += 1;
            slot = self.next;
        }
        (slot >= self.next).then_some(slot) // faster input than output: drop
    }

    fn place(
        &mut self,
        picture: &frame::Video,
        pts: i64,
        out: &mut dyn FnMut(OutPacket),
    ) -> Result<(), Error> {
        let Some(framerate) = self.open.as_ref().map(|o| o.framerate) else {
            return Ok(());
        };
        let Some(slot) = self.slot(framerate, pts) else {
            return Ok(());
        };
        let scaled = self.scale(picture)?;
        self.encode_until(scaled, slot, out)
    }

    fn place_scaled(
        &mut self,
        scaled: frame::Video,
        pts: i64,
        out: &mut dyn FnMut(OutPacket),
    ) -> Result<(), Error> {
        let Some(framerate) = self.open.as_ref().map(|o| o.framerate) else {
            return Ok(());
        };
        match self.slot(framerate, pts) {
            Some(slot) => self.encode_until(scaled, slot, out),
            None => Ok(()),
        }
    }

    /// Encodes `scaled` into every output slot up to and including `slot`.
    fn encode_until(
        &mut self,
        mut scaled: frame::Video,
        slot: i64,
        out: &mut dyn FnMut(OutPacket),
    ) -> Result<(), Error> {
        while self.next <= slot {
            let Some(open) = self.open.as_mut() else {
                return Ok(());
            };
            let idr = self.next % i64::from(open.gop.max(1)) == 0;
            scaled.set_kind(if idr {
                picture::Type::I
            } else {
                picture::Type::None
            });
            scaled.set_pts(Some(self.next));
            self.next += 1;
            self.frames_out += 1;
            open.encoder.send_frame(&scaled)?;
            self.drain(out);
        }
        // The encoder holds nothing of `scaled` now: avcodec_send_frame takes a
        // reference that the encode call drops once libx264 has copied the picture
        // (x264_encoder_encode copies its input), and drain() received until the
        // encoder asked for more. So the next picture can be scaled into it.
        self.spare = Some(scaled);
        Ok(())
    }

    fn scale(&mut self, picture: &frame::Video) -> Result<frame::Video, Error> {
        let key = (picture.width(), picture.height(), picture.format());
        let (w, h) = (self.settings.width, self.settings.height);
        let stale = self.scaler.as_ref().is_none_or(|(_, k)| *k != key);
        if stale {
            let ctx = scaling::Context::get(
                key.2,
                key.0,
                key.1,
                Pixel::YUV420P,
                w,
                h,
                scaling::Flags::BICUBIC,
            )?;
            self.scaler = Some((ctx, key));
        }
        let mut scaled = self
            .spare
            .take()
            .filter(|f| (f.width(), f.height(), f.format()) == (w, h, Pixel::YUV420P))
            .unwrap_or_else(|| frame::Video::new(Pixel::YUV420P, w, h));
        if let Some((ctx, _)) = self.scaler.as_mut() {
            ctx.run(picture, &mut scaled)?;
        }
        Ok(scaled)
    }

    fn drain(&mut self, out: &mut dyn FnMut(OutPacket)) {
        let origin = self.origin.unwrap_or(0);
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let framerate = open.framerate;
        let mut packet = Packet::empty();
        while open.encoder.receive_packet(&mut packet).is_ok() {
            let Some(data) = packet.data() else { continue };
            let pts = packet.pts().unwrap_or(0);
            let dts = packet.dts().unwrap_or(pts);
            out(OutPacket {
                track: Track::Video(self.index),
                pts: origin + Self::ticks(framerate, pts),
                dts: origin + Self::ticks(framerate, dts),
                key: packet.is_key(),
                data: data.to_vec(),
            });
        }
    }
}

/// The frame rate of pictures with these 90 kHz timestamps, in presentation (decode output)
/// order: the mean of the forward intervals within two ticks of the shortest one (so
/// dropped pictures and timeline jumps do not count), snapped to a standard rate when
/// within one tick, else as measured (to 1/1000 fps). `None` without a forward interval.
pub fn measure_framerate(pts: &[i64]) -> Option<(u32, u32)> {
    let deltas: Vec<i64> = pts
        .iter()
        .zip(pts.iter().skip(1))
        .map(|(a, b)| b - a)
        .filter(|d| *d > 0)
        .collect();
    let min = deltas.iter().copied().min()?;
    let frames: Vec<i64> = deltas.iter().copied().filter(|d| *d <= min + 2).collect();
    let mean = frames.iter().sum::<i64>() as f64 / frames.len().max(1) as f64;
    let snapped = STANDARD_RATES.iter().copied().find(|(n, d)| {
        let ticks = CLOCK as f64 * f64::from(*d) / f64::from(*n);
        (ticks - mean).abs() <= 1.0
    });
    if snapped.is_some() {
        return snapped;
    }
    let milli_fps = (CLOCK as f64 * 1000.0 / mean).round() as u32;
    if milli_fps == 0 {
        return None;
    }
    let g = gcd(milli_fps, 1000);
    Some((milli_fps / g, 1000 / g))
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// The GOP in frames at `framerate`: `gop_ms` converted when given (SECONDS with a frame
/// rate from the source), else `gop_size`.
fn gop_frames(s: &VideoSettings, framerate: (u32, u32)) -> u32 {
    match (s.framerate_control, s.gop_ms) {
        (FramerateControl::FromSource, Some(ms)) => {
            let frames =
                u64::from(ms) * u64::from(framerate.0) / (1000 * u64::from(framerate.1.max(1)));
            (frames as u32).max(1)
        }
        _ => s.gop_size.max(1),
    }
}

/// The `x264-params` of a rendition at `framerate` with sample aspect ratio `sar`.
pub fn x264_params(s: &VideoSettings, gop: u32, sar: Option<(u32, u32)>) -> Vec<String> {
    let max = match s.rate_control {
        RateControl::Cbr => s.bitrate,
        RateControl::Vbr | RateControl::Qvbr { .. } => s.max_bitrate.unwrap_or(s.bitrate),
    };
    let buf = s.buf_size.unwrap_or(max);
    let b_frames = if s.profile == crate::Profile::Baseline {
        0
    } else {
        s.b_frames
    };
    let mut params = vec![
        // x264 would place IDRs itself at keyint and at scene cuts past min-keyint; both
        // are beyond the forced cadence, so scene cuts only make non-IDR I-frames.
        format!("keyint={}", 2 * gop),
        format!("min-keyint={}", gop + 1),
        format!("scenecut={}", if s.scene_change_detect { 40 } else { 0 }),
        "open-gop=0".to_string(),
        format!("bframes={b_frames}"),
        format!(
            "b-pyramid={}",
            if s.b_reference && b_frames >= 2 {
                "normal"
            } else {
                "none"
            }
        ),
        format!("b-adapt={}", u8::from(s.b_adaptive)),
        format!("vbv-maxrate={}", max.div_ceil(1000)),
        format!("vbv-bufsize={}", buf.div_ceil(1000)),
        format!("rc-lookahead={}", s.look_ahead.frames()),
        "aud=1".to_string(),
        "force-cfr=1".to_string(),
    ];
    let (aq_mode, aq_strength) = s.adaptive_quantization.x264();
    let aq_mode = if s.spatial_aq { aq_mode } else { 0 };
    params.push(format!("aq-mode={aq_mode}"));
    if aq_mode > 0 {
        params.push(format!("aq-strength={aq_strength:.2}"));
    }
    let off = s.adaptive_quantization == crate::settings::AdaptiveQuantization::Off;
    params.push(format!("mbtree={}", u8::from(s.temporal_aq && !off)));
    if let Some(pct) = s.buf_fill_pct {
        params.push(format!("vbv-init={:.2}", f64::from(pct.min(100)) / 100.0));
    }
    let cabac = s.cabac && s.profile != crate::Profile::Baseline;
    params.push(format!("cabac={}", u8::from(cabac)));
    if let Some(n) = s.slices {
        params.push(format!("slices={n}"));
    }
    if let Some(refs) = s.ref_frames {
        params.push(format!("ref={refs}"));
    }
    if let Some((n, d)) = sar {
        params.push(format!("sar={n}/{d}"));
    }
    match s.rate_control {
        RateControl::Cbr => params.push("nal-hrd=cbr".to_string()),
        RateControl::Vbr => {}
        RateControl::Qvbr { quality } => params.push(format!("crf={}", crf_of_quality(quality))),
    }
    params
}

fn open_x264(
    s: &VideoSettings,
    framerate: (u32, u32),
    sar: Option<(u32, u32)>,
) -> Result<Open, Error> {
    if s.width == 0 || s.height == 0 || s.width & 1 != 0 || s.height & 1 != 0 {
        return Err(Error::Settings(
            "width and height must be even and non-zero",
        ));
    }
    let (Ok(num), Ok(den)) = (i32::try_from(framerate.0), i32::try_from(framerate.1)) else {
        return Err(Error::Settings("framerate out of range"));
    };
    if num == 0 || den == 0 {
        return Err(Error::Settings("framerate must be non-zero"));
    }
    if s.gop_size == 0 {
        return Err(Error::Settings("gop size must be at least one frame"));
    }
    if let Par::Specified(0, _) | Par::Specified(_, 0) = s.par {
        return Err(Error::Settings("pixel aspect ratio must be non-zero"));
    }
    if s.slices
        .is_some_and(|n| n == 0 || n > s.height.div_ceil(16))
    {
        return Err(Error::Settings(
            "slices must be between 1 and the picture's macroblock rows",
        ));
    }
    let gop = gop_frames(s, framerate);
    let codec = encoder::find_by_name("libx264").ok_or(Error::MissingCodec("libx264"))?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    ctx.set_threading(threading::Config {
        kind: threading::Type::Frame,
        count: 0,
        ..threading::Config::default()
    });
    let mut enc = ctx.encoder().video()?;
    enc.set_width(s.width);
    enc.set_height(s.height);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(Rational(den, num));
    enc.set_frame_rate(Some(Rational(num, den)));
    enc.set_gop(gop);
    enc.set_max_b_frames(s.b_frames as usize);
    if let Some((n, d)) = sar {
        enc.set_aspect_ratio(Rational(n as i32, d as i32));
    }
    match s.rate_control {
        RateControl::Cbr => {
            enc.set_bit_rate(s.bitrate as usize);
            enc.set_max_bit_rate(s.bitrate as usize);
        }
        RateControl::Vbr => {
            enc.set_bit_rate(s.bitrate as usize);
            enc.set_max_bit_rate(s.max_bitrate.unwrap_or(s.bitrate) as usize);
        }
        // No bit_rate: libx264 then runs CRF (from x264-params) under the VBV cap.
        RateControl::Qvbr { .. } => {
            enc.set_max_bit_rate(s.max_bitrate.unwrap_or(s.bitrate) as usize);
        }
    }
    let mut options = Dictionary::new();
    options.set("preset", &s.preset);
    options.set("profile", s.profile.x264_name());
    // A frame marked I is an IDR (closed GOPs), not a recovery-point I-frame.
    options.set("forced-idr", "1");
    if let Some(level) = &s.level {
        options.set("level", level);
    }
    options.set("x264-params", &x264_params(s, gop, sar).join(":"));
    Ok(Open {
        encoder: enc.open_with(options)?,
        framerate,
        gop,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::settings::{AdaptiveQuantization, LookAhead, Profile};

    fn settings() -> VideoSettings {
        VideoSettings {
            gop_size: 30,
            b_frames: 0,
            scene_change_detect: false,
            par: Par::Specified(1, 1),
            preset: "ultrafast".into(),
            ..VideoSettings::new(64, 36, (30, 1), 200_000)
        }
    }

    #[test]
    fn converts_frame_rate_and_bridges_timeline_jumps() {
        crate::init().unwrap();
        let mut rendition = VideoRendition::new(0, settings()).unwrap();
        let picture = frame::Video::new(Pixel::YUV420P, 128, 72);
        let mut packets = Vec::new();
        let mut sink = |p: OutPacket| packets.push(p);
        // 60 fps in for 1 s (slots 0..=30): every other picture is dropped.
        for i in 0..60 {
            rendition
                .push(&picture, 1_000 + i * 1_500, &mut sink)
                .unwrap();
        }
        // The input jumps 10 hours ahead, then back to 0: the output just goes on.
        for i in 0..30 {
            rendition
                .push(&picture, 3_240_000_000 + i * 3_000, &mut sink)
                .unwrap();
        }
        for i in 0..30 {
            rendition.push(&picture, i * 3_000, &mut sink).unwrap();
        }
        // A 100 ms gap: three repeats of the picture, then the picture itself.
        rendition
            .push(&picture, 30 * 3_000 + 9_000, &mut sink)
            .unwrap();
        rendition.finish(&mut sink).unwrap();
        assert_eq!(rendition.counts(), (121, 95, 2));
        let mut pts: Vec<i64> = packets.iter().map(|p| p.pts).collect();
        pts.sort_unstable();
        let expect: Vec<i64> = (0..95).map(|i| 1_000 + i * 3_000).collect();
        assert_eq!(pts, expect);
        assert!(packets[0].key);
        assert_eq!(packets.iter().filter(|p| p.key).count(), 4);
    }

    #[test]
    fn measures_source_frame_rates() {
        let at = |step: f64, n: usize| -> Vec<i64> {
            (0..n).map(|i| 7_000 + (i as f64 * step) as i64).collect()
        };
        assert_eq!(measure_framerate(&at(3600.0, 8)), Some((25, 1)));
        assert_eq!(measure_framerate(&at(3003.0, 8)), Some((30_000, 1001)));
        assert_eq!(measure_framerate(&at(3000.0, 8)), Some((30, 1)));
        assert_eq!(measure_framerate(&at(3753.75, 8)), Some((24_000, 1001)));
        assert_eq!(measure_framerate(&at(1501.5, 8)), Some((60_000, 1001)));
        // A dropped picture and a jump back in time: still 50 fps.
        let mut pts = at(1800.0, 8);
        pts.remove(3);
        pts[5] -= 900_000;
        pts[6] -= 900_000;
        assert_eq!(measure_framerate(&pts), Some((50, 1)));
        // Not a standard rate: as measured, to 1/1000 fps (12.5 fps).
        assert_eq!(measure_framerate(&at(7200.0, 4)), Some((25, 2)));
        assert_eq!(measure_framerate(&[5, 5]), None);
        assert_eq!(measure_framerate(&[]), None);
    }

    /// Encodes `frames` pictures of a moving gradient; returns the packets.
    fn encode(s: VideoSettings, frames: i64, step: i64) -> (Vec<OutPacket>, VideoRendition) {
        crate::init().unwrap();
        let mut rendition = VideoRendition::new(0, s).unwrap();
        let mut packets = Vec::new();
        let mut sink = |p: OutPacket| packets.push(p);
        for i in 0..frames {
            let mut picture = frame::Video::new(Pixel::YUV420P, 64, 36);
            for plane in 0..3 {
                let stride = picture.stride(plane);
                for (j, b) in picture.data_mut(plane).iter_mut().enumerate() {
                    *b = ((j % stride) as i64 * 3 + i * 7 + (j / stride) as i64) as u8;
                }
            }
            rendition.push(&picture, i * step, &mut sink).unwrap();
        }
        rendition.finish(&mut sink).unwrap();
        (packets, rendition)
    }

    /// The options string x264 writes into its user-data SEI.
    fn x264_options(packets: &[OutPacket]) -> String {
        let bytes: Vec<u8> = packets.iter().flat_map(|p| p.data.clone()).collect();
        let text = String::from_utf8_lossy(&bytes);
        let start = text.find("options: ").expect("no x264 SEI");
        let rest = &text[start + 9..];
        rest[..rest.find('\0').unwrap_or(rest.len())].to_string()
    }

    fn has(options: &str, want: &[&str]) {
        for w in want {
            assert!(
                options.split(' ').any(|o| o == *w),
                "{w} not in x264 options: {options}"
            );
        }
    }

    #[test]
    fn every_setting_reaches_x264() {
        // MediaLive's defaults.
        let (p, _) = encode(settings_default(), 4, 3000);
        has(
            &x264_options(&p),
            &[
                "cabac=1",
                "bframes=2",
                "b_pyramid=0",
                "b_adapt=0",
                "open_gop=0",
                "keyint=120",
                "keyint_min=61",
                "scenecut=40",
                "rc_lookahead=20",
                "mbtree=1",
                "aq=2:1.00",
                "nal_hrd=cbr",
            ],
        );
        // Everything turned the other way.
        let s = VideoSettings {
            b_frames: 3,
            b_reference: true,
            b_adaptive: true,
            cabac: false,
            slices: Some(2),
            look_ahead: LookAhead::High,
            adaptive_quantization: AdaptiveQuantization::Higher,
            temporal_aq: false,
            scene_change_detect: false,
            ref_frames: Some(2),
            profile: Profile::High,
            ..settings_default()
        };
        let (p, _) = encode(s, 4, 3000);
        has(
            &x264_options(&p),
            &[
                "cabac=0",
                "bframes=3",
                "b_pyramid=2",
                "b_adapt=1",
                "slices=2",
                "rc_lookahead=40",
                "aq=1:1.30",
                "mbtree=0",
                "scenecut=0",
                "ref=2",
            ],
        );
        for (aq, spatial, want) in [
            (AdaptiveQuantization::Off, true, "aq=0"),
            // x264 keeps AQ mode 1 at strength 0 for the macroblock tree: no spatial AQ.
            (AdaptiveQuantization::Max, false, "aq=1:0.00"),
            (AdaptiveQuantization::Low, true, "aq=1:0.40"),
            (AdaptiveQuantization::Medium, true, "aq=1:0.70"),
            (AdaptiveQuantization::High, true, "aq=1:1.00"),
            (AdaptiveQuantization::Max, true, "aq=1:1.60"),
        ] {
            let s = VideoSettings {
                adaptive_quantization: aq,
                spatial_aq: spatial,
                look_ahead: LookAhead::Low,
                ..settings_default()
            };
            let (p, _) = encode(s, 2, 3000);
            let o = x264_options(&p);
            has(&o, &[want, "rc_lookahead=10"]);
            if aq == AdaptiveQuantization::Off {
                has(&o, &["mbtree=0"]);
            }
        }
        // QVBR: CRF under the VBV cap; VBR: ABR under it.
        let s = VideoSettings {
            rate_control: RateControl::Qvbr { quality: 8 },
            max_bitrate: Some(300_000),
            buf_size: Some(600_000),
            ..settings_default()
        };
        has(
            &x264_options(&encode(s, 2, 3000).0),
            &[
                "rc=crf",
                "crf=21.0",
                "vbv_maxrate=300",
                "vbv_bufsize=600",
                "nal_hrd=none",
            ],
        );
        let s = VideoSettings {
            rate_control: RateControl::Vbr,
            max_bitrate: Some(400_000),
            ..settings_default()
        };
        has(
            &x264_options(&encode(s, 2, 3000).0),
            &["rc=abr", "bitrate=200", "vbv_maxrate=400"],
        );
    }

    fn settings_default() -> VideoSettings {
        VideoSettings {
            preset: "ultrafast".into(),
            ..VideoSettings::new(64, 36, (30, 1), 200_000)
        }
    }

    #[test]
    fn buffer_fill_and_aspect_ratio_reach_the_parameters() {
        let s = VideoSettings {
            buf_fill_pct: Some(50),
            ..settings_default()
        };
        let params = x264_params(&s, 60, Some((16, 11)));
        assert!(params.contains(&"vbv-init=0.50".to_string()), "{params:?}");
        assert!(params.contains(&"sar=16/11".to_string()), "{params:?}");
        assert_eq!(crf_of_quality(10), 17);
        assert_eq!(crf_of_quality(7), 23);
        assert_eq!(crf_of_quality(1), 35);
    }

    #[test]
    fn frame_rate_and_aspect_ratio_from_the_source() {
        // 25 fps in, frame rate from source, GOP 2 s: 50-frame GOPs at 25 fps.
        let s = VideoSettings {
            framerate_control: FramerateControl::FromSource,
            gop_ms: Some(2000),
            gop_size: 60,
            par: Par::FromSource,
            ..settings_default()
        };
        let (p, r) = encode(s, 120, 3600);
        assert_eq!(r.cadence(), Some(((25, 1), 50)));
        assert_eq!(r.counts(), (120, 120, 0));
        let keys: Vec<i64> = p.iter().filter(|p| p.key).map(|p| p.pts).collect();
        assert_eq!(keys, vec![0, 180_000, 360_000]);
        let mut pts: Vec<i64> = p.iter().map(|p| p.pts).collect();
        pts.sort_unstable();
        assert!(pts.windows(2).all(|w| w[1] - w[0] == 3600));
        // Fewer pictures than the measurement needs: measured at finish.
        let s = VideoSettings {
            framerate_control: FramerateControl::FromSource,
            ..settings_default()
        };
        let (p, r) = encode(s, 3, 1800);
        assert_eq!(r.cadence(), Some(((50, 1), 60)));
        assert_eq!(p.len(), 3);
        // A bad setting fails at new(), not at the first picture.
        let s = VideoSettings {
            preset: "no-such-preset".into(),
            framerate_control: FramerateControl::FromSource,
            ..settings_default()
        };
        assert!(VideoRendition::new(0, s).is_err());
    }
}
