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
//!
//! Seams ([`crate::seam`]): an input switch ([`Pipeline::input_changed`], which the
//! [`Transcoder`] gets through its queue, in order with the datagrams) and a timeline jump
//! within one input (a stream's DTS going back or a second forward, the selected
//! program's PAT/PMT changing, data coming back after a loss) reset the decoders: what
//! they hold of the old input is drained, then they are flushed; a switch also starts a
//! new demuxer (the old input's partial PES packets are dropped). Video access units are
//! then dropped until a random access point (an IDR), and each video access unit is held
//! back until the next one shows that it was complete (a PES cut short by the new input
//! is never decoded). Until the new input's first good picture the fill repeats the last
//! good picture (or goes on with the loss phase it was in) with silence; that picture is
//! put on the next output slot and the new input's audio, held meanwhile, follows with the
//! same offset, placed sample-exactly ([`AudioRendition::realign`]): lip sync after a seam
//! is the input's own. Pictures the decoder flags corrupt are never shown.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ffmpeg_next::codec::{self, threading};
use ffmpeg_next::format::sample::{Sample, Type as SampleType};
use ffmpeg_next::{decoder, frame, ChannelLayout, Packet as AvPacket};

use crate::audio::AudioRendition;
use crate::demux::{Access, Demuxer, Selection, StreamKind};
use crate::loss::{FillPhase, InputLossConfig, LossImage, LossSchedule};
use crate::seam::{random_access, seam_slot, AudioHold, Step, Timeline};
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
    /// Fill pictures made during input loss and seams (at the fastest rendition's rate).
    pub fill_frames: u64,
    /// Seams: input switches and timeline jumps that reset the decoders.
    pub seams: u64,
    /// Video access units dropped while waiting for a random access point.
    pub skipped_access_units: u64,
    /// Decoded pictures not shown because the decoder flagged them corrupt.
    pub corrupt_pictures: u64,
}

/// The longest a seam holds the last picture waiting for the new input's random access
/// point; then the input loss phases apply again and any access unit is decoded.
pub const MAX_HOLD: Duration = Duration::from_secs(5);

/// Corrupt pictures in a row after which they are shown after all (a stream that never
/// recovers, for the decoder, still shows something).
const CORRUPT_LIMIT: u32 = 300;

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

/// One loss (or seam) being filled: output media time is `anchor + (now - since)`.
#[derive(Clone, Copy, Debug)]
struct FillRun {
    since: Instant,
    anchor: i64,
    /// Output PTS of the next fill picture / silent frame.
    video: i64,
    audio: i64,
    /// While a seam holds: the phase shown whatever the time (the last picture, or the
    /// loss phase the seam came in).
    frozen: Option<FillPhase>,
}

/// A seam in progress: the new input has not given its first good picture yet.
#[derive(Debug, Default)]
struct Seam {
    /// Video access units are dropped until a random access point.
    gate: bool,
    /// The new input's audio, until its first picture sets the offset.
    audio: AudioHold,
    /// When it started (the first tick after, when not known): the fill stops holding
    /// the last picture [`MAX_HOLD`] later.
    started: Option<Instant>,
    /// When the first video access unit was dropped waiting: after [`MAX_HOLD`] of that,
    /// any access unit is decoded.
    waiting: Option<Instant>,
}

/// Demux, decode once, encode every rendition. See the [module docs](self).
pub struct Pipeline {
    selection: Selection,
    demux: Demuxer,
    /// Demux errors of the demuxers replaced at input switches.
    demux_errors: u64,
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
    /// The last video access unit, decoded once the next one shows it was whole.
    lookahead: Option<Access>,
    timeline: Timeline,
    seam: Option<Seam>,
    /// After a seam: audio ending before this output time is the old side of it.
    audio_floor: Option<i64>,
    /// Corrupt pictures in a row.
    corrupt_run: u32,
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
        let video: Vec<VideoRendition> = config
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
        let seam = (!video.is_empty()).then(|| Seam {
            gate: true,
            ..Seam::default()
        });
        Ok(Self {
            selection: config.selection,
            demux: Demuxer::new(config.selection),
            demux_errors: 0,
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
            lookahead: None,
            timeline: Timeline::default(),
            seam,
            audio_floor: None,
            corrupt_run: 0,
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

    /// True while a seam waits for the new input's first good picture.
    pub fn holding(&self) -> bool {
        self.seam.is_some()
    }

    /// Call with the time, often (every [`TICK`] and after pushes): keeps the output going
    /// while the input is lost or a seam holds. Does nothing without an input loss
    /// configuration.
    pub fn tick(&mut self, now: Instant, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.now = Some(now);
        let mut expired = false;
        if let Some(seam) = self.seam.as_mut() {
            let started = *seam.started.get_or_insert(now);
            expired = now.saturating_duration_since(started) >= MAX_HOLD;
            if seam
                .waiting
                .is_some_and(|w| now.saturating_duration_since(w) >= MAX_HOLD)
            {
                // Video comes, but no random access point: decode what comes.
                seam.gate = false;
            }
        }
        let slot = self.next_slot();
        let Some(fill) = self.fill.as_mut() else {
            return Ok(());
        };
        let was_lost = fill.schedule.active();
        let loss = fill.schedule.poll(now);
        if loss.is_some() && !was_lost {
            self.stats.input_losses += 1;
        }
        let mut run = match (fill.run, loss) {
            (Some(run), _) => run,
            (None, Some(since)) => {
                let anchor = slot.unwrap_or(0);
                let audio = self
                    .audio_next
                    .filter(|a| (anchor - a).abs() <= 2 * CLOCK)
                    .unwrap_or(anchor);
                FillRun {
                    since,
                    anchor,
                    video: anchor,
                    audio,
                    frozen: None,
                }
            }
            (None, None) => return Ok(()),
        };
        if expired {
            run.frozen = None;
        }
        let elapsed = now.saturating_duration_since(run.since);
        let target = run.anchor + (elapsed.as_micros() as i64) * 9 / 100;
        while run.video < target {
            let media = Duration::from_micros(((run.video - run.anchor).max(0) as u64) * 100 / 9);
            let phase = run.frozen.unwrap_or_else(|| fill.schedule.phase(media));
            let picture = match phase {
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
            // Silence never runs ahead of the fill's pictures: the audio of the picture
            // that ends the fill is placed from that picture on, not cut to what the
            // silence already covered.
            while run.audio + step <= target {
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

    /// The input was switched to another source: what comes next is a new stream. The
    /// old input's whole access units are decoded and shown, its partial ones dropped,
    /// and the output holds the last good picture until the new input's first random
    /// access point (see the [module docs](self)).
    pub fn input_changed(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.reset(true, out)
    }

    /// Ends the input: flushes demuxer, decoders and encoders.
    pub fn finish(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.demux.flush();
        self.drain_demux(out)?;
        if let Some(last) = self.lookahead.take() {
            self.decode_video(&last, out)?;
        }
        if self.video_decoder.send_eof().is_ok() {
            self.drain_video(out, false)?;
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
            demux_errors: self.demux_errors + self.demux.errors(),
            ..self.stats
        }
    }

    /// Where the next picture goes on the output timeline: the next slot of the fastest
    /// rendition's cadence, else one fill frame after the last picture.
    fn next_slot(&self) -> Option<i64> {
        let grid = self
            .video
            .iter()
            .filter_map(VideoRendition::next_slot)
            .min_by_key(|(_, frame)| *frame)
            .map(|(pts, _)| pts);
        seam_slot(None, grid, self.video_next)
    }

    /// A seam: drains and flushes the decoders, starts dropping video until a random
    /// access point and holding audio, and keeps the output on the last good picture.
    /// `switch`: another input follows (the held access unit was whole; the demuxer
    /// starts again); else the timeline jumped within the input (the held access unit
    /// may have been cut short by the new stream, and is dropped).
    fn reset(&mut self, switch: bool, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        self.stats.seams += 1;
        // While a loss is being filled the old input's last pictures are stale: the
        // fill goes on instead of them.
        let stale = self.fill.as_ref().is_some_and(|f| f.run.is_some());
        // When the input last gave a picture, before the drain below gives more.
        let last_input = self.fill.as_ref().and_then(|f| f.schedule.last_input());
        let held = self.lookahead.take();
        if let Some(last) = held.filter(|_| switch && !stale) {
            self.decode_video(&last, out)?;
        }
        if self.video_decoder.send_eof().is_ok() {
            self.drain_video(out, stale)?;
        }
        self.video_decoder.flush();
        if self.audio_decoder.send_eof().is_ok() {
            self.drain_audio(out)?;
        }
        self.audio_decoder.flush();
        self.timeline.clear();
        if switch {
            self.demux_errors += self.demux.errors();
            self.demux = Demuxer::new(self.selection);
        }
        if self.video.is_empty() {
            return Ok(());
        }
        self.seam = Some(Seam {
            gate: true,
            audio: AudioHold::default(),
            started: self.now,
            waiting: None,
        });
        self.audio_floor = None;
        let slot = self.next_slot();
        let Some(fill) = self.fill.as_mut() else {
            return Ok(());
        };
        match fill.run.as_mut() {
            Some(run) => {
                if run.frozen.is_none() {
                    let media =
                        Duration::from_micros(((run.video - run.anchor).max(0) as u64) * 100 / 9);
                    run.frozen = Some(fill.schedule.phase(media));
                }
            }
            None => {
                // Hold the last picture, when something was output, from when the
                // input last gave one (about now while it delivers; a second ago when
                // it died and the feed failed over): the output keeps its pace.
                if let (Some(now), Some(anchor)) = (self.now, slot) {
                    let since = last_input.unwrap_or(now).min(now);
                    let audio = self
                        .audio_next
                        .filter(|a| (anchor - a).abs() <= 2 * CLOCK)
                        .unwrap_or(anchor);
                    fill.run = Some(FillRun {
                        since,
                        anchor,
                        video: anchor,
                        audio,
                        frozen: Some(FillPhase::Repeat),
                    });
                }
            }
        }
        Ok(())
    }

    fn drain_demux(&mut self, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        while let Some(access) = self.demux.pop() {
            self.access(access, out)?;
        }
        Ok(())
    }

    /// One access unit from the demuxer: checked for a seam, then decoded (video one
    /// step behind) or held.
    fn access(&mut self, access: Access, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        let step = self.timeline.step(access.kind, access.dts);
        if step == Step::Stale {
            // The old input's last access unit, after the new one showed up: its side of
            // the seam is over.
            return Ok(());
        }
        // Data again while a loss is filled: the stream goes on from where it is now.
        let resumed = self.seam.is_none() && self.fill.as_ref().is_some_and(|f| f.run.is_some());
        if access.discontinuity || step == Step::Jumped || resumed {
            self.reset(false, out)?;
            self.timeline.restart(access.kind, access.dts);
        }
        match access.kind {
            StreamKind::Video => {
                if self.video.is_empty() {
                    return Ok(());
                }
                if let Some(seam) = self.seam.as_mut() {
                    if seam.gate {
                        if !random_access(&access.data) {
                            self.stats.skipped_access_units += 1;
                            if let Some(now) = self.now {
                                seam.waiting.get_or_insert(now);
                            }
                            return Ok(());
                        }
                        seam.gate = false;
                    }
                }
                if let Some(previous) = self.lookahead.replace(access) {
                    self.decode_video(&previous, out)?;
                }
                Ok(())
            }
            StreamKind::Audio => {
                if self.audio.is_empty() {
                    return Ok(());
                }
                if let Some(seam) = self.seam.as_mut() {
                    seam.audio.push(access);
                    return Ok(());
                }
                self.decode_audio(&access, out)
            }
        }
    }

    fn decode_video(&mut self, access: &Access, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        let mut packet = AvPacket::copy(&access.data);
        packet.set_pts(Some(access.pts));
        packet.set_dts(Some(access.dts));
        if self.video_decoder.send_packet(&packet).is_err() {
            self.stats.decode_errors += 1;
        }
        self.drain_video(out, false)
    }

    /// Takes the decoded pictures to the renditions (`discard`: drops them).
    fn drain_video(&mut self, out: &mut dyn FnMut(Packet), discard: bool) -> Result<(), Error> {
        let mut picture = frame::Video::empty();
        while self.video_decoder.receive_frame(&mut picture).is_ok() {
            self.stats.video_frames += 1;
            if discard {
                continue;
            }
            if picture.is_corrupt() && self.corrupt_run < CORRUPT_LIMIT {
                self.corrupt_run += 1;
                self.stats.corrupt_pictures += 1;
                continue;
            }
            self.corrupt_run = 0;
            let Some(raw) = picture.timestamp().or(picture.pts()) else {
                continue;
            };
            if let (Some(fill), Some(now)) = (self.fill.as_mut(), self.now) {
                fill.schedule.on_picture(now);
            }
            let filling = self.fill.as_ref().is_some_and(|f| f.run.is_some());
            if self.seam.is_some() || filling {
                self.seam_picture(raw, out)?;
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

    /// The first good picture after a seam or a loss, at input time `raw`: the output
    /// timeline continues at the next slot (the fill's, or the cadence's), audio and video
    /// with one offset, and the new input's held audio follows.
    fn seam_picture(&mut self, raw: i64, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
        let run = self.fill.as_mut().and_then(|f| f.run.take());
        let seam = self.seam.take();
        let slot = match seam {
            Some(_) => seam_slot(run.map(|r| r.video), self.next_slot(), None),
            None => run.map(|r| r.video),
        };
        if let Some(slot) = slot {
            self.offset = slot - raw;
            for a in &mut self.audio {
                a.realign();
            }
        }
        if let Some(mut seam) = seam {
            self.audio_floor = Some(raw + self.offset);
            for access in seam.audio.take() {
                self.decode_audio(&access, out)?;
            }
        }
        Ok(())
    }

    fn decode_audio(&mut self, access: &Access, out: &mut dyn FnMut(Packet)) -> Result<(), Error> {
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
            let end = if decoded.rate() > 0 {
                pts + decoded.samples() as i64 * CLOCK / i64::from(decoded.rate())
            } else {
                pts
            };
            if let Some(floor) = self.audio_floor {
                if end <= floor {
                    continue; // before the seam: the old side of it
                }
                self.audio_floor = None;
            }
            for a in &mut self.audio {
                a.push(&decoded, pts, out)?;
            }
            if decoded.rate() > 0 {
                self.audio_next = Some(end);
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
    input: SyncSender<Input>,
    shared: Arc<Shared>,
    thread: JoinHandle<Result<Stats, Error>>,
}

/// What goes through the transcoder's queue.
enum Input {
    /// TS packets.
    Datagram(Vec<u8>),
    /// The input changed here ([`Pipeline::input_changed`]).
    Changed,
}

/// What the transcoder thread tells the handle while it runs.
#[derive(Default)]
struct Shared {
    dropped: AtomicU64,
    input_loss: AtomicBool,
    /// An input change not queued yet (the queue was full): it goes before the next
    /// datagram.
    change_pending: AtomicBool,
    /// Why the thread stopped, if it failed.
    error: OnceLock<String>,
    /// The pipeline's counters as of its last pass.
    stats: Mutex<Stats>,
    /// Time the thread spent working (not waiting for input), in nanoseconds.
    busy_nanos: AtomicU64,
    /// Input bytes taken from the queue.
    input_bytes: AtomicU64,
}

/// What a running transcoder has done so far ([`Transcoder::progress`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub stats: Stats,
    /// Time the engine thread spent working, not waiting for input.
    pub busy: Duration,
    /// Input bytes the engine took.
    pub input_bytes: u64,
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
        let (input, rx): (SyncSender<Input>, Receiver<Input>) = mpsc::sync_channel(queue);
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

    /// The pipeline's counters, its working time and its input so far.
    pub fn progress(&self) -> Progress {
        let stats = *self.shared.stats.lock().unwrap_or_else(|e| e.into_inner());
        Progress {
            stats: Stats {
                dropped_datagrams: self.dropped(),
                ..stats
            },
            busy: Duration::from_nanos(self.shared.busy_nanos.load(Ordering::Relaxed)),
            input_bytes: self.shared.input_bytes.load(Ordering::Relaxed),
        }
    }

    /// Datagrams dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Says that the datagrams pushed from now on come from another input (a switch, or
    /// a new source behind the input): the pipeline resets its decoders there and holds
    /// the last picture until the new input's first IDR. Never blocks; kept in order with
    /// the datagrams even when the queue is full.
    pub fn input_changed(&self) {
        self.shared.change_pending.store(true, Ordering::Relaxed);
        self.queue_change();
    }

    /// Queues a pending input change; false if it is still pending (queue full).
    fn queue_change(&self) -> bool {
        if !self.shared.change_pending.load(Ordering::Relaxed) {
            return true;
        }
        match self.input.try_send(Input::Changed) {
            Ok(()) => {
                self.shared.change_pending.store(false, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// Queues one datagram without blocking; returns false (and counts it) when the queue
    /// is full or the thread has stopped.
    pub fn push(&self, datagram: Vec<u8>) -> bool {
        if !self.queue_change() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match self.input.try_send(Input::Datagram(datagram)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Queues one datagram, waiting for room (for file input and tests, not network input).
    pub fn push_blocking(&self, datagram: Vec<u8>) -> bool {
        if self.shared.change_pending.swap(false, Ordering::Relaxed)
            && self.input.send(Input::Changed).is_err()
        {
            return false;
        }
        self.input.send(Input::Datagram(datagram)).is_ok()
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
    rx: &Receiver<Input>,
    state: &Shared,
    sink: &mut dyn FnMut(Packet),
) -> Result<Stats, Error> {
    let mut published = Instant::now();
    loop {
        let input = rx.recv_timeout(TICK);
        let started = Instant::now();
        match input {
            Ok(Input::Datagram(datagram)) => {
                state
                    .input_bytes
                    .fetch_add(datagram.len() as u64, Ordering::Relaxed);
                pipeline.push(&datagram, sink)?
            }
            Ok(Input::Changed) => pipeline.input_changed(sink)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        pipeline.tick(Instant::now(), sink)?;
        state
            .input_loss
            .store(pipeline.input_loss(), Ordering::Relaxed);
        let now = Instant::now();
        let spent = u64::try_from(now.duration_since(started).as_nanos()).unwrap_or(u64::MAX);
        state.busy_nanos.fetch_add(spent, Ordering::Relaxed);
        // Counters for readers, a few times a second.
        if now.duration_since(published) >= Duration::from_millis(100) {
            published = now;
            *state.stats.lock().unwrap_or_else(|e| e.into_inner()) = pipeline.stats();
        }
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
