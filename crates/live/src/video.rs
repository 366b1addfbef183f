//! One video rendition: frame-rate conversion, software scaling and libx264 encoding.

use ffmpeg_next::codec::{self, threading};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{encoder, frame, Dictionary, Packet, Rational};

use crate::settings::{RateControl, VideoSettings};
use crate::{Error, Packet as OutPacket, Track, CLOCK};

/// Frames a jump in input time may fill with repeats before the timeline is re-anchored.
const MAX_REPEAT_SECONDS: i64 = 2;

/// Scales decoded pictures to one size and encodes them with libx264 at a constant frame
/// rate. Call [`push`](Self::push) with every decoded picture in presentation order.
pub struct VideoRendition {
    index: usize,
    settings: VideoSettings,
    scaler: Option<(scaling::Context, (u32, u32, Pixel))>,
    encoder: encoder::Video,
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
    /// Opens the x264 encoder for `settings`; `index` tags this rendition's packets.
    pub fn new(index: usize, settings: VideoSettings) -> Result<Self, Error> {
        let encoder = open_x264(&settings)?;
        Ok(Self {
            index,
            settings,
            scaler: None,
            encoder,
            origin: None,
            anchor: 0,
            next: 0,
            frames_in: 0,
            frames_out: 0,
            jumps: 0,
        })
    }

    /// Frame duration in 90 kHz ticks, as a fraction (num, den).
    fn ticks(&self, frames: i64) -> i64 {
        let (num, den) = self.settings.framerate;
        frames * CLOCK * i64::from(den) / i64::from(num)
    }

    /// Takes one decoded picture with its 90 kHz PTS; emits encoded packets to `out`.
    pub fn push(
        &mut self,
        picture: &frame::Video,
        pts: i64,
        out: &mut dyn FnMut(OutPacket),
    ) -> Result<(), Error> {
        self.frames_in += 1;
        if self.origin.is_none() {
            self.origin = Some(pts);
            self.anchor = pts;
        }
        let (num, den) = self.settings.framerate;
        let per_second = i64::from(num) / i64::from(den).max(1);
        let limit = MAX_REPEAT_SECONDS * per_second.max(1);
        // Output slot for this picture: nearest frame index of the output cadence.
        let scale = CLOCK * i64::from(den);
        let mut slot = ((pts - self.anchor) * i64::from(num) + scale / 2).div_euclid(scale);
        if slot - self.next > limit || self.next - slot > limit {
            // A jump in the input timeline (either way): re-anchor so the output timeline
            // goes on without a gap instead of repeating or dropping for seconds.
            self.anchor = pts - self.ticks(self.next);
            self.jumps += 1;
            slot = self.next;
        }
        if slot < self.next {
            return Ok(()); // faster input than output: drop
        }
        let scaled = self.scale(picture)?;
        let mut scaled = scaled;
        while self.next <= slot {
            scaled.set_pts(Some(self.next));
            self.next += 1;
            self.frames_out += 1;
            self.encoder.send_frame(&scaled)?;
            self.drain(out);
        }
        Ok(())
    }

    /// Flushes the encoder at end of input.
    pub fn finish(&mut self, out: &mut dyn FnMut(OutPacket)) -> Result<(), Error> {
        self.encoder.send_eof()?;
        self.drain(out);
        Ok(())
    }

    /// (pictures received, frames encoded, input timeline jumps re-anchored).
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.frames_in, self.frames_out, self.jumps)
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
        let mut scaled = frame::Video::new(Pixel::YUV420P, w, h);
        if let Some((ctx, _)) = self.scaler.as_mut() {
            ctx.run(picture, &mut scaled)?;
        }
        Ok(scaled)
    }

    fn drain(&mut self, out: &mut dyn FnMut(OutPacket)) {
        let origin = self.origin.unwrap_or(0);
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            let Some(data) = packet.data() else { continue };
            let pts = packet.pts().unwrap_or(0);
            let dts = packet.dts().unwrap_or(pts);
            out(OutPacket {
                track: Track::Video(self.index),
                pts: origin + self.ticks(pts),
                dts: origin + self.ticks(dts),
                key: packet.is_key(),
                data: data.to_vec(),
            });
        }
    }
}

fn open_x264(s: &VideoSettings) -> Result<encoder::Video, Error> {
    if s.width == 0 || s.height == 0 || s.width & 1 != 0 || s.height & 1 != 0 {
        return Err(Error::Settings(
            "width and height must be even and non-zero",
        ));
    }
    if s.framerate.0 == 0 || s.framerate.1 == 0 {
        return Err(Error::Settings("framerate must be non-zero"));
    }
    if s.gop_size == 0 {
        return Err(Error::Settings("gop size must be at least one frame"));
    }
    let codec = encoder::find_by_name("libx264").ok_or(Error::MissingCodec("libx264"))?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    ctx.set_threading(threading::Config {
        kind: threading::Type::Frame,
        count: 0,
        ..threading::Config::default()
    });
    let mut enc = ctx.encoder().video()?;
    let (num, den) = s.framerate;
    enc.set_width(s.width);
    enc.set_height(s.height);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(Rational(den as i32, num as i32));
    enc.set_frame_rate(Some(Rational(num as i32, den as i32)));
    enc.set_gop(s.gop_size);
    enc.set_max_b_frames(s.b_frames as usize);
    enc.set_bit_rate(s.bitrate as usize);
    let max = match s.rate_control {
        RateControl::Cbr => s.bitrate,
        RateControl::Vbr => s.max_bitrate.unwrap_or(s.bitrate),
    };
    enc.set_max_bit_rate(max as usize);
    let buf = s.buf_size.unwrap_or(max);

    let mut params = vec![
        format!("keyint={}", s.gop_size),
        format!("bframes={}", s.b_frames),
        format!("vbv-maxrate={}", max.div_ceil(1000)),
        format!("vbv-bufsize={}", buf.div_ceil(1000)),
        "aud=1".to_string(),
        "force-cfr=1".to_string(),
    ];
    if let Some(refs) = s.ref_frames {
        params.push(format!("ref={refs}"));
    }
    if !s.scene_change_detect {
        params.push(format!("min-keyint={}", s.gop_size));
        params.push("scenecut=0".to_string());
    }
    if s.rate_control == RateControl::Cbr {
        params.push("nal-hrd=cbr".to_string());
    }
    let mut options = Dictionary::new();
    options.set("preset", &s.preset);
    options.set("profile", s.profile.x264_name());
    if let Some(level) = &s.level {
        options.set("level", level);
    }
    options.set("x264-params", &params.join(":"));
    Ok(enc.open_with(options)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::settings::Profile;

    fn settings() -> VideoSettings {
        VideoSettings {
            width: 64,
            height: 36,
            framerate: (30, 1),
            bitrate: 200_000,
            max_bitrate: None,
            buf_size: None,
            rate_control: RateControl::Cbr,
            gop_size: 30,
            b_frames: 0,
            ref_frames: None,
            profile: Profile::Main,
            level: None,
            scene_change_detect: false,
            preset: "ultrafast".into(),
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
}
