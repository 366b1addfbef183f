//! Input loss behaviour (MediaLive `globalConfiguration.inputLossBehavior`): the output
//! never stops.
//!
//! [`InputLossConfig`] says what to show; [`LossSchedule`] is the sans-IO clock that says
//! *when* and *what*: fed "a picture was decoded" and the time, it reports whether input
//! loss is active and, for a moment of the loss, which [`FillPhase`] applies. The
//! [`crate::transcode::Pipeline`] turns that into synthetic decoded pictures and silent
//! audio on the output timeline; this module also makes those pictures ([`solid`],
//! [`slate`]).
//!
//! Invariants: loss starts `threshold` after the last decoded picture (or after the start,
//! when nothing came yet) and ends with the next decoded picture; during a loss the phases
//! run repeat (`repeat` long, the last picture) → black (`black` long) → image (the
//! colour or slate) for ever; a phase of [`INFINITE_MS`] never ends. Phase times count
//! from the last picture, so the threshold wait is part of the repeat phase.

use std::path::Path;
use std::time::{Duration, Instant};

use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{codec, frame, media};

use crate::Error;

pub use live_config::loss::{InputLossConfig, LossImage, INFINITE_MS};

/// What a fill picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillPhase {
    /// The last decoded picture (black if there never was one).
    Repeat,
    /// Black.
    Black,
    /// The configured colour or slate.
    Image,
}

/// When input loss starts and ends, and which phase a moment of it is in. Sans-IO: time
/// comes in as arguments. See the [module docs](self).
#[derive(Debug)]
pub struct LossSchedule {
    threshold: Duration,
    repeat: Duration,
    black: Duration,
    /// The last decoded picture, or the first time seen.
    last_input: Option<Instant>,
    active: bool,
    losses: u64,
}

impl LossSchedule {
    /// A schedule for `config`; nothing has been seen yet.
    pub fn new(config: &InputLossConfig) -> Self {
        Self {
            threshold: config.threshold,
            repeat: config.repeat,
            black: config.black,
            last_input: None,
            active: false,
            losses: 0,
        }
    }

    /// Call when a picture was decoded at `now`. Returns true when this ends a loss.
    pub fn on_picture(&mut self, now: Instant) -> bool {
        self.last_input = Some(now);
        std::mem::replace(&mut self.active, false)
    }

    /// Call periodically. Returns `Some(since)` (the last picture, or the start) while
    /// input loss is active; the first call past the threshold starts the loss.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        let last = *self.last_input.get_or_insert(now);
        if !self.active && now.saturating_duration_since(last) >= self.threshold {
            self.active = true;
            self.losses += 1;
        }
        self.active.then_some(last)
    }

    /// When the last picture was decoded (or the first poll, before any picture).
    pub fn last_input(&self) -> Option<Instant> {
        self.last_input
    }

    /// True while input loss is active.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Losses started so far.
    pub fn losses(&self) -> u64 {
        self.losses
    }

    /// The phase at `elapsed` after the last picture.
    pub fn phase(&self, elapsed: Duration) -> FillPhase {
        let infinite = Duration::from_millis(INFINITE_MS);
        if self.repeat >= infinite || elapsed < self.repeat {
            FillPhase::Repeat
        } else if self.black >= infinite || elapsed < self.repeat + self.black {
            FillPhase::Black
        } else {
            FillPhase::Image
        }
    }
}

pub use live_config::loss::parse_color;

/// BT.709 limited-range Y'CbCr of an RGB colour.
pub fn rgb_to_yuv([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
    let y = 16.0 + 0.1826 * r + 0.6142 * g + 0.0620 * b;
    let u = 128.0 - 0.1006 * r - 0.3386 * g + 0.4392 * b;
    let v = 128.0 + 0.4392 * r - 0.3989 * g - 0.0403 * b;
    let clamp = |x: f64| x.round().clamp(0.0, 255.0) as u8;
    [clamp(y), clamp(u), clamp(v)]
}

/// A `width`×`height` YUV 4:2:0 picture of one RGB colour.
pub fn solid(width: u32, height: u32, rgb: [u8; 3]) -> frame::Video {
    let mut picture = frame::Video::new(Pixel::YUV420P, width, height);
    let yuv = rgb_to_yuv(rgb);
    for (plane, value) in yuv.iter().enumerate().take(picture.planes()) {
        picture.data_mut(plane).fill(*value);
    }
    picture
}

/// Decodes the first picture of an image file (PNG, JPEG, anything libavformat's image
/// demuxers open) and scales it to a `width`×`height` YUV 4:2:0 picture.
pub fn slate(path: &Path, width: u32, height: u32) -> Result<frame::Video, Error> {
    crate::init()?;
    let mut input = ffmpeg_next::format::input(&path)?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or(Error::Settings("slate: the file has no picture"))?;
    let index = stream.index();
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())?
        .decoder()
        .video()?;
    let mut decoded = frame::Video::empty();
    let mut got = false;
    for (s, packet) in input.packets() {
        if s.index() != index {
            continue;
        }
        decoder.send_packet(&packet)?;
        if decoder.receive_frame(&mut decoded).is_ok() {
            got = true;
            break;
        }
    }
    if !got {
        decoder.send_eof()?;
        got = decoder.receive_frame(&mut decoded).is_ok();
    }
    if !got {
        return Err(Error::Settings("slate: no picture could be decoded"));
    }
    let mut scaler = scaling::Context::get(
        decoded.format(),
        decoded.width(),
        decoded.height(),
        Pixel::YUV420P,
        width,
        height,
        scaling::Flags::BICUBIC,
    )?;
    let mut out = frame::Video::new(Pixel::YUV420P, width, height);
    scaler.run(&decoded, &mut out)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn loss_starts_after_the_threshold_and_ends_with_a_picture() {
        let t0 = Instant::now();
        let mut s = LossSchedule::new(&InputLossConfig::default());
        // Nothing since the start: loss after 1 s.
        assert_eq!(s.poll(t0), None);
        assert_eq!(s.poll(ms(t0, 999)), None);
        assert_eq!(s.poll(ms(t0, 1000)), Some(t0));
        assert!(s.active());
        assert!(s.on_picture(ms(t0, 1500)));
        assert!(!s.on_picture(ms(t0, 1540)));
        assert_eq!(s.poll(ms(t0, 2000)), None);
        assert_eq!(s.poll(ms(t0, 2540)), Some(ms(t0, 1540)));
        assert_eq!(s.losses(), 2);
    }

    #[test]
    fn phases_repeat_then_black_then_image() {
        let s = LossSchedule::new(&InputLossConfig::default());
        assert_eq!(s.phase(Duration::from_millis(999)), FillPhase::Repeat);
        assert_eq!(s.phase(Duration::from_millis(1000)), FillPhase::Black);
        assert_eq!(s.phase(Duration::from_millis(10_999)), FillPhase::Black);
        assert_eq!(s.phase(Duration::from_millis(11_000)), FillPhase::Image);
        let forever = LossSchedule::new(&InputLossConfig {
            black: Duration::from_millis(INFINITE_MS),
            repeat: Duration::ZERO,
            ..InputLossConfig::default()
        });
        assert_eq!(forever.phase(Duration::ZERO), FillPhase::Black);
        assert_eq!(forever.phase(Duration::from_secs(86_400)), FillPhase::Black);
    }

    #[test]
    fn colours() {
        assert_eq!(parse_color("FF8000"), Some([255, 128, 0]));
        assert_eq!(parse_color("ff800"), None);
        assert_eq!(parse_color("GG0000"), None);
        assert_eq!(rgb_to_yuv([0, 0, 0]), [16, 128, 128]);
        assert_eq!(rgb_to_yuv([255, 255, 255]), [235, 128, 128]);
        let p = solid(64, 36, [0, 0, 0]);
        assert!(p.data(0).iter().all(|&y| y == 16));
        assert!(p.data(1).iter().all(|&u| u == 128));
    }
}
