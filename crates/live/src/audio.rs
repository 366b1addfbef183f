//! One audio rendition: resampling to the output rate and layout, and AAC-LC encoding with
//! FFmpeg's native `aac` encoder.

use ffmpeg_next::format::sample::{Sample, Type as SampleType};
use ffmpeg_next::software::resampling;
use ffmpeg_next::{codec, encoder, frame, ChannelLayout, Packet, Rational};

use crate::adts;
use crate::settings::AudioSettings;
use crate::{Error, Packet as OutPacket, Track, CLOCK};

const FLTP: Sample = Sample::F32(SampleType::Planar);

/// Resamples decoded audio and encodes it to AAC-LC in ADTS frames. Call
/// [`push`](Self::push) with every decoded frame in order.
pub struct AudioRendition {
    index: usize,
    settings: AudioSettings,
    layout: ChannelLayout,
    resampler: Option<(resampling::Context, (Sample, u64, u32))>,
    encoder: encoder::Audio,
    frame_size: usize,
    /// Planar samples waiting for a whole encoder frame, one Vec per channel.
    fifo: Vec<Vec<f32>>,
    /// 90 kHz time of output sample 0.
    origin: Option<i64>,
    /// Samples handed to the encoder so far.
    samples: i64,
    /// Input PTS the next decoded frame should have if nothing was lost.
    expected: Option<i64>,
    /// Samples of silence inserted for gaps in the input.
    silence: u64,
    /// The next frame is placed exactly at its PTS (see [`realign`](Self::realign)).
    align: bool,
    /// Samples dropped to place frames at their PTS.
    trimmed: u64,
}

/// A gap up to this long (90 kHz) is filled with silence; a longer one, or time going
/// backwards, is a jump of the input timeline and is bridged without a gap.
const MAX_GAP: i64 = 2 * CLOCK;
/// Timestamp jitter tolerated before a gap is filled (about 10 ms).
const GAP_TOLERANCE: i64 = CLOCK / 100;

impl AudioRendition {
    /// Opens the AAC encoder for `settings`; `index` tags this rendition's packets.
    pub fn new(index: usize, settings: AudioSettings) -> Result<Self, Error> {
        if adts::header(settings.sample_rate, settings.channels, 0).is_none() {
            return Err(Error::Settings("sample rate not signalable in ADTS"));
        }
        let layout = match settings.channels {
            1 => ChannelLayout::MONO,
            2 => ChannelLayout::STEREO,
            _ => return Err(Error::Settings("audio channels must be 1 or 2")),
        };
        let codec = encoder::find_by_name("aac").ok_or(Error::MissingCodec("aac"))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()?;
        enc.set_rate(settings.sample_rate as i32);
        enc.set_channel_layout(layout);
        enc.set_format(FLTP);
        enc.set_bit_rate(settings.bitrate as usize);
        enc.set_time_base(Rational(1, settings.sample_rate as i32));
        let encoder = enc.open()?;
        let frame_size = (encoder.frame_size() as usize).max(1);
        Ok(Self {
            index,
            settings,
            layout,
            resampler: None,
            encoder,
            frame_size,
            fifo: vec![Vec::new(); usize::from(settings.channels)],
            origin: None,
            samples: 0,
            expected: None,
            silence: 0,
            align: false,
            trimmed: 0,
        })
    }

    /// Takes one decoded frame with its 90 kHz PTS; emits encoded ADTS frames to `out`.
    pub fn push(
        &mut self,
        decoded: &frame::Audio,
        pts: i64,
        out: &mut dyn FnMut(OutPacket),
    ) -> Result<(), Error> {
        self.origin.get_or_insert(pts);
        // Output samples to drop from the front of this frame.
        let mut skip = 0usize;
        if self.align {
            // Exactly at its PTS: silence up to it, or what the output already covers
            // dropped (a bridge, as below, when that is seconds away).
            let gap = pts - self.end();
            let rate = i64::from(self.settings.sample_rate);
            if gap > 0 && gap <= MAX_GAP {
                let n = (gap * rate + CLOCK / 2) / CLOCK;
                for fifo in &mut self.fifo {
                    fifo.extend(std::iter::repeat_n(0.0, n as usize));
                }
                self.silence += n as u64;
            } else if (-MAX_GAP..0).contains(&gap) {
                skip = ((-gap * rate + CLOCK / 2) / CLOCK) as usize;
            }
        } else if let Some(expected) = self.expected {
            let gap = pts - expected;
            if gap > GAP_TOLERANCE && gap <= MAX_GAP {
                // Lost input: keep audio in step with the video timeline.
                let n = gap * i64::from(self.settings.sample_rate) / CLOCK;
                for fifo in &mut self.fifo {
                    fifo.extend(std::iter::repeat_n(0.0, n as usize));
                }
                self.silence += n as u64;
            }
        }
        if decoded.rate() > 0 {
            self.expected =
                Some(pts + decoded.samples() as i64 * CLOCK / i64::from(decoded.rate()));
        }
        let mut layout = decoded.channel_layout();
        if layout.is_empty() {
            layout = ChannelLayout::default(i32::from(decoded.channels()));
        }
        let key = (decoded.format(), layout.bits(), decoded.rate());
        if self.resampler.as_ref().is_none_or(|(_, k)| *k != key) {
            let ctx = resampling::Context::get(
                key.0,
                layout,
                key.2,
                FLTP,
                self.layout,
                self.settings.sample_rate,
            )?;
            self.resampler = Some((ctx, key));
        }
        let capacity = decoded.samples() * self.settings.sample_rate as usize
            / (decoded.rate() as usize).max(1)
            + 256;
        let mut resampled = frame::Audio::new(FLTP, capacity, self.layout);
        if let Some((ctx, _)) = self.resampler.as_mut() {
            ctx.run(decoded, &mut resampled)?;
        }
        let produced = resampled.samples();
        let from = skip.min(produced);
        for (ch, fifo) in self.fifo.iter_mut().enumerate() {
            fifo.extend_from_slice(resampled.plane::<f32>(ch).get(from..).unwrap_or(&[]));
        }
        self.trimmed += from as u64;
        // A frame wholly covered already: the next one is placed exactly again.
        self.align = self.align && skip >= produced;
        self.encode_ready(false, out)
    }

    /// Places the next frame exactly at its PTS on the output timeline: the output gets
    /// silence up to it, or drops the part of it the output already covers. Called at a
    /// seam, when the pipeline moved its timestamp offset: audio stays where the video is.
    pub fn realign(&mut self) {
        self.align = true;
    }

    /// Samples dropped so far to place frames at their PTS.
    pub fn trimmed(&self) -> u64 {
        self.trimmed
    }

    /// The 90 kHz time just after the last sample taken (encoded or waiting).
    fn end(&self) -> i64 {
        let taken = self.samples + self.fifo.first().map_or(0, Vec::len) as i64;
        self.origin.unwrap_or(0) + taken * CLOCK / i64::from(self.settings.sample_rate)
    }

    /// (samples encoded, samples of silence inserted for input gaps).
    pub fn counts(&self) -> (i64, u64) {
        (self.samples, self.silence)
    }

    /// Encodes what is buffered and flushes the encoder at end of input.
    pub fn finish(&mut self, out: &mut dyn FnMut(OutPacket)) -> Result<(), Error> {
        self.encode_ready(true, out)?;
        self.encoder.send_eof()?;
        self.drain(out);
        Ok(())
    }

    fn encode_ready(&mut self, all: bool, out: &mut dyn FnMut(OutPacket)) -> Result<(), Error> {
        loop {
            let have = self.fifo.first().map_or(0, Vec::len);
            let n = if have >= self.frame_size {
                self.frame_size
            } else if all && have > 0 {
                have
            } else {
                return Ok(());
            };
            let mut f = frame::Audio::new(FLTP, n, self.layout);
            f.set_rate(self.settings.sample_rate);
            for (ch, fifo) in self.fifo.iter_mut().enumerate() {
                let take = n.min(fifo.len());
                for (dst, src) in f.plane_mut::<f32>(ch).iter_mut().zip(fifo.drain(..take)) {
                    *dst = src;
                }
            }
            f.set_pts(Some(self.samples));
            self.samples += n as i64;
            self.encoder.send_frame(&f)?;
            self.drain(out);
        }
    }

    fn drain(&mut self, out: &mut dyn FnMut(OutPacket)) {
        let origin = self.origin.unwrap_or(0);
        let rate = i64::from(self.settings.sample_rate);
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            let Some(data) = packet.data() else { continue };
            let Some(header) = adts::header(rate as u32, self.settings.channels, data.len()) else {
                continue;
            };
            let pts = origin + packet.pts().unwrap_or(0) * CLOCK / rate;
            let mut framed = Vec::with_capacity(data.len() + 7);
            framed.extend_from_slice(&header);
            framed.extend_from_slice(data);
            out(OutPacket {
                track: Track::Audio(self.index),
                pts,
                dts: pts,
                key: true,
                data: framed,
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn fills_input_gaps_with_silence_and_bridges_jumps() {
        crate::init().unwrap();
        let settings = AudioSettings {
            bitrate: 96_000,
            sample_rate: 48_000,
            channels: 2,
        };
        let mut rendition = AudioRendition::new(0, settings).unwrap();
        // Decoded input as the AAC decoder gives it: 1024 planar float samples at 48 kHz.
        let mut decoded = frame::Audio::new(FLTP, 1024, ChannelLayout::STEREO);
        decoded.set_rate(48_000);
        let mut packets = Vec::new();
        let mut sink = |p: OutPacket| packets.push(p);
        let frame = 1024 * CLOCK / 48_000; // 1920 ticks
        let mut pts = 900_000;
        for _ in 0..10 {
            rendition.push(&decoded, pts, &mut sink).unwrap();
            pts += frame;
        }
        pts += 5 * frame; // five frames lost: filled with silence
        for _ in 0..10 {
            rendition.push(&decoded, pts, &mut sink).unwrap();
            pts += frame;
        }
        pts -= 100 * frame; // the input jumps back: no silence, no gap
        for _ in 0..5 {
            rendition.push(&decoded, pts, &mut sink).unwrap();
            pts += frame;
        }
        rendition.finish(&mut sink).unwrap();
        assert_eq!(rendition.counts(), (30 * 1024, 5 * 1024));
        let pts: Vec<i64> = packets.iter().map(|p| p.pts).collect();
        // One priming frame before the first, then 30 frames on an unbroken cadence.
        assert_eq!(pts.len(), 31, "{pts:?}");
        assert!(pts.windows(2).all(|w| w[1] - w[0] == frame), "{pts:?}");
        assert_eq!(pts[1], 900_000);
        assert!(packets.iter().all(|p| p.data.starts_with(&[0xFF, 0xF1])));
    }

    #[test]
    fn realign_places_the_next_frame_at_its_pts() {
        crate::init().unwrap();
        let settings = AudioSettings {
            bitrate: 96_000,
            sample_rate: 48_000,
            channels: 2,
        };
        let mut r = AudioRendition::new(0, settings).unwrap();
        let mut decoded = frame::Audio::new(FLTP, 1024, ChannelLayout::STEREO);
        decoded.set_rate(48_000);
        let mut sink = |_: OutPacket| {};
        let frame = 1920;
        for i in 0..4 {
            r.push(&decoded, i * frame, &mut sink).unwrap();
        }
        let end = 4 * frame;
        // 5 ms (240 samples) of it already covered: dropped.
        r.realign();
        r.push(&decoded, end - 450, &mut sink).unwrap();
        assert_eq!(r.trimmed(), 240);
        let end = end - 450 + frame;
        // 10 ms after the end: silence first.
        r.realign();
        r.push(&decoded, end + 900, &mut sink).unwrap();
        assert_eq!(r.counts().1, 480);
        let end = end + 900 + frame;
        // Wholly covered: dropped, and the next frame is placed exactly too.
        r.realign();
        r.push(&decoded, end - 5000, &mut sink).unwrap();
        assert_eq!(r.trimmed(), 240 + 1024);
        r.push(&decoded, end - 900, &mut sink).unwrap();
        assert_eq!(r.trimmed(), 240 + 1024 + 480);
        // Not realigned: a small overlap is taken as jitter, as before.
        r.push(&decoded, end - 900 + frame - 100, &mut sink)
            .unwrap();
        assert_eq!(r.trimmed(), 240 + 1024 + 480);
        r.finish(&mut sink).unwrap();
        assert_eq!(r.counts(), (4 * 1024 + 784 + 480 + 1024 + 544 + 1024, 480));
    }
}
