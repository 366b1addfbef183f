//! The encoding side: pattern and tone → libx264 and AAC → MPEG-TS, one chunk per frame.
//!
//! [`Generator`] is driven one *tick* (a video frame period) at a time and owns no thread
//! or clock: [`Generator::tick`] draws the frame (or repeats the last one, or black),
//! makes the tick's audio (1600 samples at 30 fps, 1920 at 25), encodes both and muxes
//! what came out in decoding order. [`run`] is the loop on the encoder's own OS thread
//! (FFmpeg calls block): a tick, then a wait for room in the bounded queue to the sender,
//! which takes chunks at the pace of real time. The queue is what paces the encoder; it
//! stays at most [`QUEUE`] ticks ahead of the network.
//!
//! Timestamps: frame `n` has PTS = DTS = [`ORIGIN`] + n × 90 000 / fps (no B-frames); the
//! audio runs on the same 90 kHz timeline from the same origin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ffmpeg_next::format::sample::{Sample, Type as SampleType};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::color;
use ffmpeg_next::{codec, encoder, frame, ChannelLayout, Dictionary, Packet, Rational};
use live::audio::AudioRendition;
use live::{AudioSettings, Packet as AccessUnit, Track};
use media::mux::{h264_aac_streams, TsMuxer};
use media::ts::Pid;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, AUDIO_BITRATE, CHANNELS, SAMPLE_RATE};
use crate::impair::Impairments;
use crate::picture::{Pattern, Plane};
use crate::timecode::Timecode;
use crate::tone::Tone;
use crate::Error;

/// The 90 kHz clock.
const CLOCK: i64 = 90_000;
/// PTS of frame 0: ten seconds, so that nothing (the AAC encoder's priming frame included)
/// has a negative timestamp.
pub const ORIGIN: i64 = 10 * CLOCK;
/// Chunks the encoder may be ahead of the sender: impairments take effect within this
/// many frames plus one.
pub const QUEUE: usize = 3;
/// PIDs of the program.
const VIDEO_PID: Pid = Pid(0x100);
const AUDIO_PID: Pid = Pid(0x101);

/// What one tick produced.
#[derive(Debug)]
pub struct Chunk {
    /// Media time of the tick's start (frame `n` starts at n / fps).
    pub start: Duration,
    /// The tick's length, 1 / fps.
    pub len: Duration,
    /// Whole TS packets.
    pub ts: Vec<u8>,
    /// Video frames encoded so far, this one included.
    pub frames: u64,
    /// Time spent making this chunk.
    pub busy: Duration,
}

/// Draws, encodes and muxes one tick at a time. See the [module docs](self).
pub struct Generator {
    fps: u32,
    size: (u32, u32),
    pattern: Pattern,
    video: encoder::Video,
    audio: AudioRendition,
    tone: Tone,
    mux: TsMuxer,
    /// The next tick, which is also the next frame's index.
    tick: u64,
    /// Timecode (frames since midnight) of frame 0.
    timecode_start: u64,
    samples_per_tick: usize,
    last: Option<frame::Video>,
    black: Option<frame::Video>,
}

const FLTP: Sample = Sample::F32(SampleType::Planar);

impl Generator {
    /// Opens the encoders for `config` (libx264 and FFmpeg's AAC must be available).
    pub fn open(config: &Config) -> Result<Self, Error> {
        live::init()?;
        let format = config.format;
        let fps = format.fps();
        let (width, height) = format.size();
        let samples_per_tick = SAMPLE_RATE.checked_div(fps).unwrap_or(0);
        let audio = AudioRendition::new(
            0,
            AudioSettings {
                bitrate: AUDIO_BITRATE,
                sample_rate: SAMPLE_RATE,
                channels: CHANNELS,
            },
        )?;
        Ok(Self {
            fps,
            size: (width, height),
            pattern: Pattern::new(width, height, fps, &config.name, &config.caption()),
            video: open_x264(config)?,
            audio,
            tone: Tone::new(config.tone_hz, SAMPLE_RATE),
            mux: TsMuxer::new(&h264_aac_streams(VIDEO_PID, &[AUDIO_PID]), 0),
            tick: 0,
            timecode_start: Timecode::frames_now_utc(fps),
            samples_per_tick: usize::try_from(samples_per_tick).unwrap_or(0),
            last: None,
            black: None,
        })
    }

    /// Makes the next tick's chunk with `impairments` applied to picture and sound.
    pub fn tick(&mut self, impairments: &Impairments) -> Result<Chunk, Error> {
        let started = Instant::now();
        let n = self.tick;
        let index = i64::try_from(n).map_err(|_| Error::Settings("ran out of frames".into()))?;
        let pts = ORIGIN.saturating_add(self.to_90k(index));
        let mut units = Vec::new();
        self.video_frame(n, index, impairments)?;
        self.drain_video(&mut units);
        self.audio_frame(pts, impairments.silence, &mut units)?;
        units.sort_by_key(|u| u.dts);
        let mut ts = Vec::new();
        for u in &units {
            let (stream, key) = match u.track {
                Track::Video(_) => (0, u.key),
                Track::Audio(_) => (1, false),
            };
            self.mux
                .write(stream, u.pts, u.dts, key, &u.data, &mut ts)?;
        }
        self.tick = n.saturating_add(1);
        Ok(Chunk {
            start: self.tick_time(n),
            len: self.tick_time(1),
            ts,
            frames: self.tick,
            busy: started.elapsed(),
        })
    }

    /// Media time of `ticks` frame periods.
    fn tick_time(&self, ticks: u64) -> Duration {
        let nanos = u128::from(ticks)
            .saturating_mul(1_000_000_000)
            .checked_div(u128::from(self.fps))
            .unwrap_or(0);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Frame periods (in the encoder's 1/fps time base) to 90 kHz ticks.
    fn to_90k(&self, frames: i64) -> i64 {
        frames
            .saturating_mul(CLOCK)
            .checked_div(i64::from(self.fps))
            .unwrap_or(0)
    }

    fn video_frame(&mut self, n: u64, index: i64, imp: &Impairments) -> Result<(), Error> {
        let (width, height) = self.size;
        if imp.black {
            let pattern = &self.pattern;
            let black = self.black.get_or_insert_with(|| {
                let mut f = frame::Video::new(Pixel::YUV420P, width, height);
                for (i, plane) in Plane::ALL.into_iter().enumerate() {
                    let stride = f.stride(i);
                    pattern.draw_black(plane, f.data_mut(i), stride);
                }
                f
            });
            black.set_pts(Some(index));
            self.video.send_frame(black)?;
            return Ok(());
        }
        if imp.freeze {
            if let Some(last) = self.last.as_mut() {
                last.set_pts(Some(index));
                self.video.send_frame(last)?;
                return Ok(());
            }
        }
        let timecode = Timecode::from_frames(self.timecode_start.saturating_add(n), self.fps);
        let text = timecode.to_string();
        let mut picture = frame::Video::new(Pixel::YUV420P, width, height);
        for (i, plane) in Plane::ALL.into_iter().enumerate() {
            let stride = picture.stride(i);
            self.pattern
                .draw(plane, n, &text, picture.data_mut(i), stride);
        }
        picture.set_pts(Some(index));
        self.video.send_frame(&picture)?;
        self.last = Some(picture);
        Ok(())
    }

    fn drain_video(&mut self, out: &mut Vec<AccessUnit>) {
        let mut packet = Packet::empty();
        while self.video.receive_packet(&mut packet).is_ok() {
            let Some(data) = packet.data() else { continue };
            let pts = packet.pts().unwrap_or(0);
            let dts = packet.dts().unwrap_or(pts);
            out.push(AccessUnit {
                track: Track::Video(0),
                pts: ORIGIN.saturating_add(self.to_90k(pts)),
                dts: ORIGIN.saturating_add(self.to_90k(dts)),
                key: packet.is_key(),
                data: data.to_vec(),
            });
        }
    }

    fn audio_frame(
        &mut self,
        pts: i64,
        silence: bool,
        out: &mut Vec<AccessUnit>,
    ) -> Result<(), Error> {
        let samples = self.samples_per_tick;
        let mut audio = frame::Audio::new(FLTP, samples, ChannelLayout::STEREO);
        audio.set_rate(SAMPLE_RATE);
        if silence {
            self.tone.skip(u64::try_from(samples).unwrap_or(0));
            audio.plane_mut::<f32>(0).fill(0.0);
        } else {
            self.tone.fill(audio.plane_mut::<f32>(0));
        }
        let left: Vec<f32> = audio.plane::<f32>(0).to_vec();
        audio.plane_mut::<f32>(1).copy_from_slice(&left);
        self.audio.push(&audio, pts, &mut |u| out.push(u))?;
        Ok(())
    }
}

/// libx264 for `config`'s format: `tune=zerolatency` (no B-frames, no lookahead: each
/// frame comes out as it goes in), `preset=veryfast`, one thread, CBR with filler data, an
/// IDR every second (closed GOPs, no scene-cut IDRs), BT.709 signalled in the VUI.
fn open_x264(config: &Config) -> Result<encoder::Video, Error> {
    let format = config.format;
    let (width, height) = format.size();
    let fps = i32::try_from(format.fps()).unwrap_or(30);
    let bitrate = format.video_bitrate();
    let kbps = bitrate.checked_div(1000).unwrap_or(0);
    let gop = format.gop();
    let codec = encoder::find_by_name("libx264").ok_or(live::Error::MissingCodec("libx264"))?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    ctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Slice,
        count: 1,
        ..codec::threading::Config::default()
    });
    let mut enc = ctx.encoder().video()?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(Rational(1, fps));
    enc.set_frame_rate(Some(Rational(fps, 1)));
    enc.set_gop(gop);
    enc.set_max_b_frames(0);
    enc.set_bit_rate(usize::try_from(bitrate).unwrap_or(0));
    enc.set_max_bit_rate(usize::try_from(bitrate).unwrap_or(0));
    enc.set_colorspace(color::Space::BT709);
    enc.set_color_range(color::Range::MPEG);
    let mut options = Dictionary::new();
    options.set("preset", "veryfast");
    options.set("tune", "zerolatency");
    options.set("profile", "high");
    let params = [
        format!("keyint={gop}"),
        format!("min-keyint={gop}"),
        "scenecut=0".to_string(),
        "open-gop=0".to_string(),
        format!("vbv-maxrate={kbps}"),
        format!("vbv-bufsize={kbps}"),
        "nal-hrd=cbr".to_string(),
        "force-cfr=1".to_string(),
        "aud=1".to_string(),
        "colorprim=bt709".to_string(),
        "transfer=bt709".to_string(),
        "colormatrix=bt709".to_string(),
    ];
    options.set("x264-params", &params.join(":"));
    Ok(enc.open_with(options)?)
}

/// The encoder thread: ticks with the latest impairments until `stop` is set or the
/// sender is gone (its receiver dropped), each chunk handed over as soon as there is room.
pub fn run(
    mut generator: Generator,
    impairments: watch::Receiver<Impairments>,
    chunks: mpsc::Sender<Chunk>,
    stop: Arc<AtomicBool>,
) -> Result<(), Error> {
    while !stop.load(Ordering::Relaxed) {
        let now = *impairments.borrow();
        let chunk = generator.tick(&now)?;
        if chunks.blocking_send(chunk).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use crate::config::Format;
    use media::demux::{Demuxer, Event, Pes};

    fn demux(ts: &[u8]) -> Vec<Pes> {
        let mut d = Demuxer::new();
        d.push(ts);
        d.flush();
        let mut pes = Vec::new();
        while let Some(event) = d.poll() {
            match event {
                Event::Pmt { .. } => {
                    for pid in [VIDEO_PID, AUDIO_PID] {
                        d.select(pid);
                    }
                }
                Event::Pes(p) => pes.push(p),
                _ => {}
            }
        }
        pes
    }

    #[test]
    fn ticks_make_h264_and_aac_on_one_timeline() {
        let mut config = Config::new("unit", "127.0.0.1:9".parse().unwrap());
        config.format = Format::Hd720p25;
        let mut g = Generator::open(&config).unwrap();
        let mut ts = Vec::new();
        let mut frames = 0;
        for n in 0..30u64 {
            let imp = Impairments {
                silence: n >= 20,
                black: (10..15).contains(&n),
                freeze: (15..20).contains(&n),
                ..Impairments::none()
            };
            let chunk = g.tick(&imp).unwrap();
            assert_eq!(chunk.start, Duration::from_millis(40 * n));
            assert_eq!(chunk.len, Duration::from_millis(40));
            assert_eq!(chunk.ts.len() % 188, 0);
            frames = chunk.frames;
            ts.extend(chunk.ts);
        }
        assert_eq!(frames, 30);
        let pes = demux(&ts);
        let video: Vec<&Pes> = pes.iter().filter(|p| p.pid == VIDEO_PID).collect();
        let audio: Vec<&Pes> = pes.iter().filter(|p| p.pid == AUDIO_PID).collect();
        // Every frame, at 25 fps from the origin, the first and the 26th are IDRs.
        assert_eq!(video.len(), 30);
        for (i, v) in video.iter().enumerate() {
            assert_eq!(v.pts, Some(ORIGIN + 3600 * i as i64), "frame {i}");
            assert_eq!(media::h264::is_idr(&v.payload), i % 25 == 0, "frame {i}");
        }
        // 1.2 s of AAC frames (1024 samples, 1920 ticks) from about the origin on.
        assert!(audio.len() >= 54, "{}", audio.len());
        let first = audio[0].pts.unwrap();
        assert!((ORIGIN - 1920..=ORIGIN).contains(&first), "{first}");
        for w in audio.windows(2) {
            assert_eq!(w[1].pts.unwrap() - w[0].pts.unwrap(), 1920);
        }
        assert!(audio.iter().all(|a| a.payload.starts_with(&[0xFF, 0xF1])));
    }

    #[test]
    fn every_format_opens() {
        for format in Format::ALL {
            let mut config = Config::new("unit", "127.0.0.1:9".parse().unwrap());
            config.format = format;
            let mut g = Generator::open(&config).unwrap();
            let chunk = g.tick(&Impairments::none()).unwrap();
            assert!(!chunk.ts.is_empty(), "{format}");
        }
    }
}
