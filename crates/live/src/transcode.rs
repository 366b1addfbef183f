//! The decode → ladder pipeline and the thread that runs it.
//!
//! [`Pipeline`] is the engine: fed TS datagrams, it demuxes ([`crate::demux`]), decodes
//! H.264 and AAC once, and hands every decoded picture to each [`VideoRendition`] (scale +
//! x264) and every decoded audio frame to each [`AudioRendition`] (resample + AAC), so one
//! decode feeds the whole ladder. It calls FFmpeg, which blocks, so it runs on its own OS
//! thread: [`Transcoder`] owns that thread and a bounded queue in front of it; a full queue
//! drops the datagram (counted) instead of blocking the network receiver.
//!
//! Input loss ([`crate::loss`]): with an [`InputLossConfig`], [`Pipeline::tick`] (called
//! with the time, by the thread every [`TICK`] and after every datagram) keeps the ladder
//! fed while the input delivers no picture — the last picture, black, then the loss image,
//! with silent audio — at the wall-clock pace of the fastest rendition, so the output
//! never stops. Decoded timestamps are mapped onto one output timeline
//! (`input PTS + offset`); when a picture returns after a loss, the offset is chosen so it
//! lands on the next fill slot: the output timeline has no jump and no gap.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ffmpeg_next::codec::{self, threading};
use ffmpeg_next::format::sample::{Sample, Type as SampleType};
use ffmpeg_next::{decoder, frame, ChannelLayout, Packet as AvPacket};

use crate::audio::AudioRendition;
use crate::demux::{Access, Demuxer, StreamKind};
use crate::loss::{FillPhase, InputLossConfig, LossImage, LossSchedule};
use crate::video::VideoRendition;
use crate::{adts, Error, Packet, CLOCK};

pub use live_config::TranscodeConfig;

/// Counters of a pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Input datagrams dropped because the transcoder queue was full.
    pub dropped_datagrams: u64,
    /// Demux errors (bad packets, continuity errors, unreadable PES).
    pub demux_errors: u64,
    /// Access units the decoders rejected.
    pub decode_errors: u64,
    /// Pictures decoded.
    pub video_frames: u64,
    /// Audio frames decoded.
    pub audio_frames: u64,
    /// Input losses started (see [`crate::loss`]).
    pub input_losses: u64,
    /// Fill pictures made during input loss (at the fastest rendition's rate).
    pub fill_frames: u64,
}

/// How often the transcoder thread calls [`Pipeline::tick`] when no datagram comes.
pub const TICK: Duration = Duration::from_millis(20);

/// Samples per silent fill frame, and their rate.
const SILENCE_SAMPLES: usize = 1024;
const SILENCE_RATE: u32 = 48_000;

/// The input loss state of a pipeline.
struct Fill {
    schedule: LossSchedule,
    black: frame::Video,
    image: frame::Video,
    silence: frame::Audio,
    /// The last decoded picture, for the repeat phase.
    last: Option<frame::Video>,
    /// 90 kHz duration of one fill picture: the fastest rendition's frame.
    frame: i64,
    /// Set while a loss is being filled.
    run: Option<FillRun>,
}

/// One loss being filled: output media time is `anchor + (now - since)`.
#[derive(Clone, Copy, Debug)]
struct FillRun {
    since: Instant,
    anchor: i64,
    /// Output PTS of the next fill picture / silent frame.
    video: i64,
    audio: i64,
}

/// Demux, decode once, encode every rendition. See the [module docs](self).
pub struct Pipeline {
    demux: Demuxer,
    video_decoder: decoder::Video,
    audio_decoder: decoder::Audio,
    video: Vec<VideoRendition>,
    audio: Vec<AudioRendition>,
    stats: Stats,
    fill: Option<Fill>,
    /// Added to every decoded timestamp: moved when the input returns after a loss.
    offset: i64,
    /// Output PTS one fill frame after the last picture, and the end of the last audio.
    video_next: Option<i64>,
    audio_next: Option<i64>,
    /// The time of the last [`tick`](Self::tick).
    now: Option<Instant>,
}

impl Pipeline {
    /// Opens the decoders and one encoder per rendition.
    pub fn new(config: &TranscodeConfig) -> Result<Self, Error> {
        crate::init()?;
        let h264 = decoder::find(codec::Id::H264).ok_or(Error::MissingCodec("h264"))?;
        let mut ctx = codec::context::Context::new_with_codec(h264);
        ctx.set_threading(threading::Config {
            kind: threading::Type::Frame,
            count: 0,
            ..threading::Config::default()
        });
        let video_decoder = ctx.decoder().video()?;
        let aac = decoder::find(codec::Id::AAC).ok_or(Error::MissingCodec("aac"))?;
        let audio_decoder = codec::context::Context::new_with_codec(aac)
            .decoder()
            .audio()?;
        let video = config
            .video
            .iter()
            .enumerate()
            .map(|(i, s)| VideoRendition::new(i, s.clone()))
            .collect::<Result<_, _>>()?;
        let audio = config
            .audio
            .iter()
            .enumerate()
            .map(|(i, s)| AudioRendition::new(i, *s))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            demux: Demuxer::new(config.selection),
            video_decoder,
            audio_decoder,
            video,
            audio,
            stats: Stats::default(),
            fill: None,
            offset: 0,
            video_next: None,
            audio_next: None,
            now: None,
        })
    }

    /// Like [`new`](Self::new), and keeps the output going on input loss as `loss` says
    /// (a slate that cannot be decoded is an error).
    pub fn with_input_loss(
        config: &TranscodeConfig,
        loss: &InputLossConfig,
    ) -> Result<Self, Error> {
        let mut pipeline = Self::new(config)?;
        let (width, height) = config
            .video
            .iter()
            .map(|v| (v.width, v.height))
            .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h))
            .unwrap_or((640, 360));
        let frame = config
            .video
            .iter()
            .map(|v| CLOCK * i64::from(v.framerate.1) / i64::from(v.framerate.0.max(1)))
            .filter(|d| *d > 0)
            .min()
            .unwrap_or(CLOCK / 25);
        let image = match &loss.image {
            LossImage::Color(rgb) => crate::loss::solid(width, height, *rgb),
            LossImage::Slate(path) => crate::loss::slate(path, width, height)?,
        };
        let mut silence = frame::Audio::new(
            Sample::F32(SampleType::Planar),
            SILENCE_SAMPLES,
            ChannelLayout::STEREO,
        );
        silence.set_rate(SILENCE_RATE);
        // (`data_mut` of a planar audio frame sees plane 0 only: zero each channel.)
        for ch in 0..usize::from(silence.channels()) {
            silence.plane_mut::<f32>(ch).fill(0.0);
        }
        pipeline.fill = Some(Fill {
            schedule: LossSchedule::new(loss),
            black: crate::loss::solid(width, height, [0, 0, 0]),
            image,
            silence,
            last: None,
            frame,
            run: None,
        });
        Ok(pipeline)
    }

    /// True while input loss is being filled.
    pub fn input_loss(&self) -> bool {
        self.fill.as_ref().is_some_and(|f| f.schedule.active())
    }

    /// Call with the time, often (every [`TICK`] and after pushes): keeps the output going
    /// while the input is lost. Does nothing without an input loss configuration.
    pub fn tick(&mut self, now: Instant, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.now = Some(now);
        let Some(fill) = self.fill.as_mut() else {
            return Ok(());
        };
        let Some(since) = fill.schedule.poll(now) else {
            return Ok(());
        };
        let run = match fill.run {
            Some(run) => run,
            None => {
                self.stats.input_losses += 1;
                let anchor = self.video_next.unwrap_or(0);
                let audio = self
                    .audio_next
                    .filter(|a| (anchor - a).abs() <= 2 * CLOCK)
                    .unwrap_or(anchor);
                FillRun {
                    since,
                    anchor,
                    video: anchor,
                    audio,
                }
            }
        };
        let elapsed = now.saturating_duration_since(run.since);
        let target = run.anchor + (elapsed.as_micros() as i64) * 9 / 100;
        let mut run = run;
        while run.video < target {
            let media = Duration::from_micros(((run.video - run.anchor).max(0) as u64) * 100 / 9);
            let picture = match fill.schedule.phase(media) {
                FillPhase::Repeat => fill.last.as_ref().unwrap_or(&fill.black),
                FillPhase::Black => &fill.black,
                FillPhase::Image => &fill.image,
            };
            for v in &mut self.video {
                v.push(picture, run.video, out)?;
            }
            run.video += fill.frame;
            self.stats.fill_frames += 1;
        }
        if !self.audio.is_empty() {
            let step = SILENCE_SAMPLES as i64 * CLOCK / i64::from(SILENCE_RATE);
            while run.audio < target {
                for a in &mut self.audio {
                    a.push(&fill.silence, run.audio, out)?;
                }
                run.audio += step;
            }
        }
        self.video_next = Some(run.video);
        self.audio_next = Some(run.audio);
        fill.run = Some(run);
        Ok(())
    }

    /// Feeds one datagram of TS packets; encoded packets go to `out` as they come.
    pub fn push(&mut self, datagram: &[u8], out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.demux.push(datagram);
        self.drain_demux(out)
    }

    /// Ends the input: flushes demuxer, decoders and encoders.
    pub fn finish(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.demux.flush();
        self.drain_demux(out)?;
        if self.video_decoder.send_eof().is_ok() {
            self.drain_video(out)?;
        }
        if self.audio_decoder.send_eof().is_ok() {
            self.drain_audio(out)?;
        }
        for v in &mut self.video {
            v.finish(out)?;
        }
        for a in &mut self.audio {
            a.finish(out)?;
        }
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            demux_errors: self.demux.errors(),
            ..self.stats
        }
    }

    fn drain_demux(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        while let Some(access) = self.demux.pop() {
            match access.kind {
                StreamKind::Video => self.decode_video(&access, out)?,
                StreamKind::Audio => self.decode_audio(&access, out)?,
            }
        }
        Ok(())
    }

    fn decode_video(&mut self, access: &Access, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        if self.video.is_empty() {
            return Ok(());
        }
        let mut packet = AvPacket::copy(&access.data);
        packet.set_pts(Some(access.pts));
        packet.set_dts(Some(access.dts));
        if self.video_decoder.send_packet(&packet).is_err() {
            self.stats.decode_errors += 1;
        }
        self.drain_video(out)
    }

    fn drain_video(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        let mut picture = frame::Video::empty();
        while self.video_decoder.receive_frame(&mut picture).is_ok() {
            self.stats.video_frames += 1;
            let Some(raw) = picture.timestamp().or(picture.pts()) else {
                continue;
            };
            if let (Some(fill), Some(now)) = (self.fill.as_mut(), self.now) {
                if fill.schedule.on_picture(now) {
                    if let Some(run) = fill.run.take() {
                        // The input is back: continue the output timeline where the
                        // fill left it.
                        self.offset = run.video - raw;
                    }
                }
            }
            let pts = raw + self.offset;
            for v in &mut self.video {
                v.push(&picture, pts, out)?;
            }
            if let Some(fill) = self.fill.as_mut() {
                self.video_next = Some(pts + fill.frame);
                fill.last = Some(std::mem::replace(&mut picture, frame::Video::empty()));
            }
        }
        Ok(())
    }

    fn decode_audio(&mut self, access: &Access, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        if self.audio.is_empty() {
            return Ok(());
        }
        let mut pts = access.pts;
        for adts_frame in adts::frames(&access.data) {
            let rate = i64::from(adts::sample_rate(adts_frame).unwrap_or(48_000));
            let mut packet = AvPacket::copy(adts_frame);
            packet.set_pts(Some(pts));
            packet.set_dts(Some(pts));
            pts += 1024 * CLOCK / rate;
            if self.audio_decoder.send_packet(&packet).is_err() {
                self.stats.decode_errors += 1;
            }
            self.drain_audio(out)?;
        }
        Ok(())
    }

    fn drain_audio(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        let mut decoded = frame::Audio::empty();
        while self.audio_decoder.receive_frame(&mut decoded).is_ok() {
            self.stats.audio_frames += 1;
            let Some(raw) = decoded.timestamp().or(decoded.pts()) else {
                continue;
            };
            if self.fill.as_ref().is_some_and(|f| f.run.is_some()) {
                continue; // the fill makes the audio until a picture returns
            }
            let pts = raw + self.offset;
            for a in &mut self.audio {
                a.push(&decoded, pts, out)?;
            }
            if decoded.rate() > 0 {
                self.audio_next =
                    Some(pts + decoded.samples() as i64 * CLOCK / i64::from(decoded.rate()));
            }
        }
        Ok(())
    }
}

/// A [`Pipeline`] on a dedicated thread behind a bounded, drop-newest queue.
///
/// ```no_run
/// # use live::transcode::{Transcoder, TranscodeConfig};
/// let transcoder = Transcoder::spawn(TranscodeConfig::default(), 1024, |packet| {
///     // hand `packet` to a muxer / packager
///     let _ = packet;
/// })?;
/// transcoder.push(vec![0x47; 188]); // from the network task: never blocks
/// let stats = transcoder.finish()?;
/// # Ok::<(), live::Error>(())
/// ```
pub struct Transcoder {
    input: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
    thread: JoinHandle<Result<Stats, Error>>,
}

/// What the transcoder thread tells the handle while it runs.
#[derive(Default)]
struct Shared {
    dropped: AtomicU64,
    input_loss: AtomicBool,
    /// Why the thread stopped, if it failed.
    error: OnceLock<String>,
}

impl Transcoder {
    /// Starts the pipeline for `config` on a new thread; `queue` datagrams may wait before
    /// new ones are dropped. `sink` is called on that thread with every encoded packet.
    /// Fails if an encoder or decoder cannot be opened.
    pub fn spawn(
        config: TranscodeConfig,
        queue: usize,
        sink: impl FnMut(Packet) + Send + 'static,
    ) -> Result<Self, Error> {
        Self::spawn_with(config, None, queue, sink)
    }

    /// Like [`spawn`](Self::spawn); with `loss`, the output goes on while the input is
    /// lost (see [`crate::loss`]), paced by this machine's clock.
    pub fn spawn_with(
        config: TranscodeConfig,
        loss: Option<InputLossConfig>,
        queue: usize,
        mut sink: impl FnMut(Packet) + Send + 'static,
    ) -> Result<Self, Error> {
        let (input, rx): (SyncSender<Vec<u8>>, Receiver<Vec<u8>>) = mpsc::sync_channel(queue);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), Error>>(1);
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("live-transcode".into())
            .spawn(move || {
                let opened = match &loss {
                    Some(loss) => Pipeline::with_input_loss(&config, loss),
                    None => Pipeline::new(&config),
                };
                let mut pipeline = match opened {
                    Ok(p) => {
                        let _ = ready_tx.send(Ok(()));
                        p
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                // A panic (in FFmpeg glue or the sink) ends the engine like an
                // error does, with its message kept for the supervisor's log.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(&mut pipeline, &rx, &state, &mut sink)
                }))
                .unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(Error::Thread(format!("transcoder panicked: {what}")))
                });
                if let Err(e) = &result {
                    let _ = state.error.set(e.to_string());
                }
                result
            })
            .map_err(|e| Error::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                input,
                shared,
                thread,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Thread("transcoder thread ended".into())),
        }
    }

    /// False once the thread has ended: an error ([`error`](Self::error)), a panic, or the
    /// end of the input.
    pub fn is_alive(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Why the thread stopped, if it stopped on an error.
    pub fn error(&self) -> Option<String> {
        self.shared.error.get().cloned()
    }

    /// True while the pipeline is filling an input loss.
    pub fn input_loss(&self) -> bool {
        self.shared.input_loss.load(Ordering::Relaxed)
    }

    /// Datagrams dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Queues one datagram without blocking; returns false (and counts it) when the queue
    /// is full or the thread has stopped.
    pub fn push(&self, datagram: Vec<u8>) -> bool {
        match self.input.try_send(datagram) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Queues one datagram, waiting for room (for file input and tests, not network input).
    pub fn push_blocking(&self, datagram: Vec<u8>) -> bool {
        self.input.send(datagram).is_ok()
    }

    /// Ends the input, waits for the pipeline to flush, and returns its counters.
    pub fn finish(self) -> Result<Stats, Error> {
        drop(self.input);
        let stats = self
            .thread
            .join()
            .map_err(|_| Error::Thread("transcoder thread panicked".into()))??;
        Ok(Stats {
            dropped_datagrams: self.shared.dropped.load(Ordering::Relaxed),
            ..stats
        })
    }
}

/// The transcoder thread's loop: datagrams as they come, a tick at least every [`TICK`].
fn run(
    pipeline: &mut Pipeline,
    rx: &Receiver<Vec<u8>>,
    state: &Shared,
    sink: &mut dyn FnMut(Packet),
) -> Result<Stats, Error> {
    loop {
        match rx.recv_timeout(TICK) {
            Ok(datagram) => pipeline.push(&datagram, sink)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        pipeline.tick(Instant::now(), sink)?;
        state
            .input_loss
            .store(pipeline.input_loss(), Ordering::Relaxed);
    }
    pipeline.finish(sink)?;
    Ok(pipeline.stats())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::settings::{AudioSettings, VideoSettings};
    use crate::Track;

    fn config(audio: bool) -> TranscodeConfig {
        TranscodeConfig {
            video: vec![VideoSettings {
                gop_size: 25,
                b_frames: 0,
                scene_change_detect: false,
                preset: "ultrafast".into(),
                ..VideoSettings::new(64, 36, (25, 1), 100_000)
            }],
            audio: if audio {
                vec![AudioSettings {
                    bitrate: 64_000,
                    sample_rate: 48_000,
                    channels: 2,
                }]
            } else {
                Vec::new()
            },
            ..TranscodeConfig::default()
        }
    }

    #[test]
    fn no_input_at_all_still_makes_output_at_the_cadence() {
        for audio in [false, true] {
            let mut p =
                Pipeline::with_input_loss(&config(audio), &InputLossConfig::default()).unwrap();
            let mut out = Vec::new();
            let mut sink = |pk: Packet| out.push(pk);
            let t0 = Instant::now();
            let mut t = t0;
            while t < t0 + Duration::from_secs(3) {
                p.tick(t, &mut sink).unwrap();
                t += Duration::from_millis(20);
            }
            assert!(p.input_loss());
            p.finish(&mut sink).unwrap();
            // Loss from 1 s: two seconds of fill at 25 fps, from output time 0.
            let video: Vec<i64> = out
                .iter()
                .filter(|pk| pk.track == Track::Video(0))
                .map(|pk| pk.pts)
                .collect();
            assert_eq!(p.stats().fill_frames, 75, "audio {audio}");
            assert_eq!(video.len(), 75);
            let audio_frames = out.iter().filter(|pk| pk.track == Track::Audio(0)).count();
            assert_eq!(audio_frames > 100, audio, "{audio_frames}");
        }
    }
}
