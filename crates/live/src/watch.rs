//! Watching an input for the failover conditions black video and silent audio
//! (MediaLive `videoBlackSettings`, `audioSilenceSettings`), active or standby.
//!
//! [`BlackDetector`] and [`SilenceDetector`] are sans-IO: fed per-picture /
//! per-frame measurements ([`max_luma`], [`peak_dbfs`]) and the time, they say
//! whether the condition holds. [`Watcher`] runs them on its own OS thread
//! behind a bounded queue that drops datagrams instead of blocking the network
//! receiver: it demuxes the input ([`crate::demux`], a selection layer over
//! [`media::demux`], so a duplicate packet is never decoded twice), decodes only the
//! IDR pictures (enough for a
//! condition measured over a second or more, and cheap) and the selected AAC
//! stream, and publishes the two flags.
//!
//! Invariants: a picture is black when every luma sample is at most
//! `threshold × 255`; the input is black once every picture for `after` was
//! black. Audio is silent when its peak is below −50 dBFS, or when no audio
//! frame came, for `after`. A non-black picture / a loud frame clears the
//! condition at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ffmpeg_next::codec;
use ffmpeg_next::format::sample::{Sample, Type as SampleType};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{decoder, frame, Packet as AvPacket};

use crate::demux::{Demuxer, Selection, StreamKind};
use crate::{adts, Error, CLOCK};

/// Audio below this peak level is silence (MediaLive: "quieter than −50 dBFS").
pub const SILENCE_DBFS: f64 = -50.0;

/// Black video for `after` (sans-IO; see the [module docs](self)).
#[derive(Debug)]
pub struct BlackDetector {
    after: Duration,
    black_since: Option<Instant>,
}

impl BlackDetector {
    pub fn new(after: Duration) -> Self {
        Self {
            after,
            black_since: None,
        }
    }

    /// Call with each measured picture.
    pub fn on_picture(&mut self, black: bool, now: Instant) {
        if !black {
            self.black_since = None;
        } else if self.black_since.is_none() {
            self.black_since = Some(now);
        }
    }

    /// True once the pictures have been black for `after`.
    pub fn black(&self, now: Instant) -> bool {
        self.black_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.after)
    }
}

/// Silent or absent audio for `after` (sans-IO; see the [module docs](self)).
#[derive(Debug)]
pub struct SilenceDetector {
    after: Duration,
    quiet_since: Option<Instant>,
    last_audio: Option<Instant>,
    started: Instant,
}

impl SilenceDetector {
    pub fn new(after: Duration, now: Instant) -> Self {
        Self {
            after,
            quiet_since: None,
            last_audio: None,
            started: now,
        }
    }

    /// Call with the peak level (dBFS) of each decoded audio frame.
    pub fn on_audio(&mut self, peak_dbfs: f64, now: Instant) {
        self.last_audio = Some(now);
        if peak_dbfs >= SILENCE_DBFS {
            self.quiet_since = None;
        } else if self.quiet_since.is_none() {
            self.quiet_since = Some(now);
        }
    }

    /// True once the audio has been quiet, or absent, for `after`.
    pub fn silent(&self, now: Instant) -> bool {
        let absent_since = self.last_audio.unwrap_or(self.started);
        let quiet = self
            .quiet_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.after);
        quiet || now.saturating_duration_since(absent_since) >= self.after
    }
}

/// The largest luma sample of a picture (8-bit planar / semi-planar YUV read
/// directly, anything else through swscale to GRAY8); `None` if it cannot be
/// measured.
pub fn max_luma(picture: &frame::Video) -> Option<u8> {
    let direct = matches!(
        picture.format(),
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::NV12
            | Pixel::GRAY8
    );
    if direct {
        return rows_max(picture);
    }
    let mut gray = frame::Video::new(Pixel::GRAY8, picture.width(), picture.height());
    let mut ctx = scaling::Context::get(
        picture.format(),
        picture.width(),
        picture.height(),
        Pixel::GRAY8,
        picture.width(),
        picture.height(),
        scaling::Flags::POINT,
    )
    .ok()?;
    ctx.run(picture, &mut gray).ok()?;
    rows_max(&gray)
}

fn rows_max(picture: &frame::Video) -> Option<u8> {
    if picture.planes() == 0 {
        return None;
    }
    let stride = picture.stride(0);
    let width = picture.width() as usize;
    let data = picture.data(0);
    (0..picture.height() as usize)
        .filter_map(|row| data.get(row * stride..row * stride + width))
        .flat_map(|row| row.iter().copied())
        .max()
}

/// The peak level of a decoded audio frame in dBFS (−∞ for digital silence);
/// `None` for a sample format not measured (anything but f32 / s16).
pub fn peak_dbfs(audio: &frame::Audio) -> Option<f64> {
    let channels = usize::from(audio.channels()).max(1);
    let peak = match audio.format() {
        Sample::F32(SampleType::Planar) => (0..channels.min(audio.planes()))
            .flat_map(|ch| audio.plane::<f32>(ch).iter().map(|s| f64::from(s.abs())))
            .fold(0.0, f64::max),
        Sample::I16(SampleType::Planar) => {
            (0..channels.min(audio.planes()))
                .flat_map(|ch| audio.plane::<i16>(ch).iter().map(|s| f64::from(*s).abs()))
                .fold(0.0, f64::max)
                / 32768.0
        }
        _ => return None,
    };
    Some(20.0 * peak.log10())
}

/// Which conditions to watch for.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchConfig {
    /// The program and audio stream (the silence condition's selector).
    pub selection: Selection,
    /// `blackDetectThreshold` (fraction of white) and `videoBlackThresholdMsec`.
    pub black: Option<(f64, Duration)>,
    /// `audioSilenceThresholdMsec`.
    pub silence: Option<Duration>,
}

#[derive(Default)]
struct Flags {
    black: AtomicBool,
    silent: AtomicBool,
    dropped: AtomicU64,
}

/// A watcher thread for one input. See the [module docs](self).
pub struct Watcher {
    input: SyncSender<Vec<u8>>,
    flags: Arc<Flags>,
    _thread: JoinHandle<()>,
}

/// How often the watcher re-evaluates its conditions without input.
const TICK: Duration = Duration::from_millis(100);

impl Watcher {
    /// Opens the decoders and starts the thread; `queue` datagrams may wait
    /// before new ones are dropped. The thread ends when the watcher is dropped.
    pub fn spawn(config: WatchConfig, queue: usize) -> Result<Self, Error> {
        crate::init()?;
        let (input, rx) = mpsc::sync_channel(queue);
        let flags = Arc::new(Flags::default());
        let state = flags.clone();
        let mut watch = Watch::new(config, Instant::now())?;
        let thread = std::thread::Builder::new()
            .name("live-watch".into())
            .spawn(move || watch.run(&rx, &state))
            .map_err(|e| Error::Thread(e.to_string()))?;
        Ok(Self {
            input,
            flags,
            _thread: thread,
        })
    }

    /// Queues one datagram without blocking; false (counted) when full.
    pub fn push(&self, datagram: Vec<u8>) -> bool {
        match self.input.try_send(datagram) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.flags.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The black-video condition holds.
    pub fn black(&self) -> bool {
        self.flags.black.load(Ordering::Relaxed)
    }

    /// The audio-silence condition holds.
    pub fn silent(&self) -> bool {
        self.flags.silent.load(Ordering::Relaxed)
    }

    /// Datagrams dropped because the watcher was behind.
    pub fn dropped(&self) -> u64 {
        self.flags.dropped.load(Ordering::Relaxed)
    }
}

/// The watcher thread's state: demuxer, decoders, detectors.
struct Watch {
    demux: Demuxer,
    video: Option<(decoder::Video, f64, BlackDetector)>,
    audio: Option<(decoder::Audio, SilenceDetector)>,
}

impl Watch {
    fn new(config: WatchConfig, now: Instant) -> Result<Self, Error> {
        let video = match config.black {
            None => None,
            Some((threshold, after)) => {
                let h264 = decoder::find(codec::Id::H264).ok_or(Error::MissingCodec("h264"))?;
                let dec = codec::context::Context::new_with_codec(h264)
                    .decoder()
                    .video()?;
                Some((dec, threshold, BlackDetector::new(after)))
            }
        };
        let audio = match config.silence {
            None => None,
            Some(after) => {
                let aac = decoder::find(codec::Id::AAC).ok_or(Error::MissingCodec("aac"))?;
                let dec = codec::context::Context::new_with_codec(aac)
                    .decoder()
                    .audio()?;
                Some((dec, SilenceDetector::new(after, now)))
            }
        };
        Ok(Self {
            demux: Demuxer::new(config.selection),
            video,
            audio,
        })
    }

    fn run(&mut self, rx: &Receiver<Vec<u8>>, flags: &Flags) {
        loop {
            match rx.recv_timeout(TICK) {
                Ok(datagram) => self.push(&datagram, Instant::now()),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            if let Some((_, _, d)) = &self.video {
                flags.black.store(d.black(now), Ordering::Relaxed);
            }
            if let Some((_, d)) = &self.audio {
                flags.silent.store(d.silent(now), Ordering::Relaxed);
            }
        }
    }

    fn push(&mut self, datagram: &[u8], now: Instant) {
        self.demux.push(datagram);
        while let Some(access) = self.demux.pop() {
            match access.kind {
                StreamKind::Video => {
                    let Some((dec, threshold, detector)) = self.video.as_mut() else {
                        continue;
                    };
                    if !has_idr_or_parameter_sets(&access.data) {
                        continue;
                    }
                    let mut packet = AvPacket::copy(&access.data);
                    packet.set_pts(Some(access.pts));
                    packet.set_dts(Some(access.dts));
                    let _ = dec.send_packet(&packet);
                    let mut picture = frame::Video::empty();
                    while dec.receive_frame(&mut picture).is_ok() {
                        if let Some(max) = max_luma(&picture) {
                            let black = f64::from(max) <= *threshold * 255.0;
                            detector.on_picture(black, now);
                        }
                    }
                }
                StreamKind::Audio => {
                    let Some((dec, detector)) = self.audio.as_mut() else {
                        continue;
                    };
                    let mut pts = access.pts;
                    for adts_frame in adts::frames(&access.data) {
                        let rate = i64::from(adts::sample_rate(adts_frame).unwrap_or(48_000));
                        let mut packet = AvPacket::copy(adts_frame);
                        packet.set_pts(Some(pts));
                        pts += 1024 * CLOCK / rate;
                        let _ = dec.send_packet(&packet);
                        let mut decoded = frame::Audio::empty();
                        while dec.receive_frame(&mut decoded).is_ok() {
                            if let Some(level) = peak_dbfs(&decoded) {
                                detector.on_audio(level, now);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// True if an H.264 Annex B access unit holds an IDR slice (NAL type 5) or a
/// sequence / picture parameter set (7, 8).
pub fn has_idr_or_parameter_sets(au: &[u8]) -> bool {
    let mut zeros = 0;
    let mut iter = au.iter();
    while let Some(&b) = iter.next() {
        if b == 1 && zeros >= 2 {
            if let Some(&header) = iter.next() {
                if matches!(header & 0x1F, 5 | 7 | 8) {
                    return true;
                }
            }
            zeros = 0;
        } else if b == 0 {
            zeros += 1;
        } else {
            zeros = 0;
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ffmpeg_next::ChannelLayout;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    fn picture(luma: u8, spot: Option<u8>) -> frame::Video {
        let mut p = crate::loss::solid(64, 36, [0, 0, 0]);
        p.data_mut(0).fill(luma);
        if let Some(v) = spot {
            let stride = p.stride(0);
            p.data_mut(0)[stride * 20 + 40] = v;
        }
        p
    }

    #[test]
    fn black_needs_every_pixel_dark_for_the_whole_time() {
        crate::init().unwrap();
        assert_eq!(max_luma(&picture(16, None)), Some(16));
        assert_eq!(max_luma(&picture(16, Some(200))), Some(200));
        let black = |p: &frame::Video| f64::from(max_luma(p).unwrap()) <= 0.1 * 255.0;
        assert!(black(&picture(16, None)));
        assert!(black(&picture(16, Some(25))));
        assert!(
            !black(&picture(16, Some(26))),
            "one bright pixel is not black"
        );
        let rgb = frame::Video::new(Pixel::RGB24, 32, 18);
        assert!(max_luma(&rgb).is_some(), "other formats via swscale");

        let t0 = Instant::now();
        let mut d = BlackDetector::new(Duration::from_millis(1000));
        d.on_picture(true, t0);
        d.on_picture(true, ms(t0, 960));
        assert!(!d.black(ms(t0, 999)));
        assert!(d.black(ms(t0, 1000)));
        d.on_picture(false, ms(t0, 1040));
        assert!(!d.black(ms(t0, 1040)));
        d.on_picture(true, ms(t0, 1080));
        assert!(!d.black(ms(t0, 2000)));
        assert!(d.black(ms(t0, 2080)));
    }

    fn tone(amplitude: f32) -> frame::Audio {
        let mut a = frame::Audio::new(Sample::F32(SampleType::Planar), 1024, ChannelLayout::STEREO);
        a.set_rate(48_000);
        for ch in 0..2 {
            for (i, s) in a.plane_mut::<f32>(ch).iter_mut().enumerate() {
                *s = amplitude * (i as f32 * 0.13).sin();
            }
        }
        a
    }

    #[test]
    fn silence_is_quiet_or_absent_audio() {
        let quiet = peak_dbfs(&tone(0.001)).unwrap(); // about −60 dBFS
        let loud = peak_dbfs(&tone(0.5)).unwrap(); // about −6 dBFS
        assert!(quiet < SILENCE_DBFS && quiet > -61.0, "{quiet}");
        assert!(loud > -7.0, "{loud}");
        assert_eq!(peak_dbfs(&tone(0.0)), Some(f64::NEG_INFINITY));

        let t0 = Instant::now();
        let mut d = SilenceDetector::new(Duration::from_millis(1000), t0);
        // Absent audio from the start counts.
        assert!(!d.silent(ms(t0, 999)));
        assert!(d.silent(ms(t0, 1000)));
        // A tone clears it; quiet audio for a second sets it again.
        d.on_audio(loud, ms(t0, 1100));
        assert!(!d.silent(ms(t0, 1100)));
        let mut t = 1120;
        while t < 2200 {
            d.on_audio(quiet, ms(t0, t));
            t += 20;
        }
        assert!(!d.silent(ms(t0, 2119)));
        assert!(d.silent(ms(t0, 2120)));
    }

    #[test]
    fn idr_scan() {
        assert!(has_idr_or_parameter_sets(&[
            0, 0, 0, 1, 9, 0xF0, 0, 0, 1, 0x65, 0x88
        ]));
        assert!(has_idr_or_parameter_sets(&[0, 0, 1, 0x67, 0x42]));
        assert!(!has_idr_or_parameter_sets(&[
            0, 0, 0, 1, 9, 0xF0, 0, 0, 1, 0x41, 0x9a
        ]));
        assert!(!has_idr_or_parameter_sets(&[0x65, 0, 1, 0x65]));
    }
}
