//! The decode → ladder pipeline and the thread that runs it.
//!
//! [`Pipeline`] is the engine: fed TS datagrams, it demuxes ([`crate::demux`]), decodes
//! H.264 and AAC once, and hands every decoded picture to each [`VideoRendition`] (scale +
//! x264) and every decoded audio frame to each [`AudioRendition`] (resample + AAC), so one
//! decode feeds the whole ladder. It calls FFmpeg, which blocks, so it runs on its own OS
//! thread: [`Transcoder`] owns that thread and a bounded queue in front of it; a full queue
//! drops the datagram (counted) instead of blocking the network receiver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use ffmpeg_next::codec::{self, threading};
use ffmpeg_next::{decoder, frame, Packet as AvPacket};

use crate::audio::AudioRendition;
use crate::demux::{Access, Demuxer, Selection, StreamKind};
use crate::settings::{AudioSettings, VideoSettings};
use crate::video::VideoRendition;
use crate::{adts, Error, Packet, CLOCK};

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
}

/// Demux, decode once, encode every rendition. See the [module docs](self).
pub struct Pipeline {
    demux: Demuxer,
    video_decoder: decoder::Video,
    audio_decoder: decoder::Audio,
    video: Vec<VideoRendition>,
    audio: Vec<AudioRendition>,
    stats: Stats,
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
        })
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
            let Some(pts) = picture.timestamp().or(picture.pts()) else {
                continue;
            };
            for v in &mut self.video {
                v.push(&picture, pts, out)?;
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
            let Some(pts) = decoded.timestamp().or(decoded.pts()) else {
                continue;
            };
            for a in &mut self.audio {
                a.push(&decoded, pts, out)?;
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
    dropped: Arc<AtomicU64>,
    thread: JoinHandle<Result<Stats, Error>>,
}

impl Transcoder {
    /// Starts the pipeline for `config` on a new thread; `queue` datagrams may wait before
    /// new ones are dropped. `sink` is called on that thread with every encoded packet.
    /// Fails if an encoder or decoder cannot be opened.
    pub fn spawn(
        config: TranscodeConfig,
        queue: usize,
        mut sink: impl FnMut(Packet) + Send + 'static,
    ) -> Result<Self, Error> {
        let (input, rx): (SyncSender<Vec<u8>>, Receiver<Vec<u8>>) = mpsc::sync_channel(queue);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), Error>>(1);
        let dropped = Arc::new(AtomicU64::new(0));
        let thread = std::thread::Builder::new()
            .name("live-transcode".into())
            .spawn(move || {
                let mut pipeline = match Pipeline::new(&config) {
                    Ok(p) => {
                        let _ = ready_tx.send(Ok(()));
                        p
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                for datagram in rx {
                    pipeline.push(&datagram, &mut sink)?;
                }
                pipeline.finish(&mut sink)?;
                Ok(pipeline.stats())
            })
            .map_err(|e| Error::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                input,
                dropped,
                thread,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Thread("transcoder thread ended".into())),
        }
    }

    /// Queues one datagram without blocking; returns false (and counts it) when the queue
    /// is full or the thread has stopped.
    pub fn push(&self, datagram: Vec<u8>) -> bool {
        match self.input.try_send(datagram) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
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
            dropped_datagrams: self.dropped.load(Ordering::Relaxed),
            ..stats
        })
    }
}
