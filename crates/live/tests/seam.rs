//! Seams on a virtual clock: input A, a switch to input B joined mid-GOP, then an encoder
//! restart behind B (input C: a new timeline, no switch said). The inputs are made here
//! with the crate's own encoders (moving pictures that differ per input, a white flash and
//! a beep on the same timestamp every second); the output is decoded in-process.
//!
//! Checked: one unbroken output timeline; every output picture is a source picture (the
//! last good one held, or the new input's from its IDR on — never a damaged one); the
//! flash and the beep come out together, before and after each seam.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use ffmpeg_next::codec;
use ffmpeg_next::format::sample::{Sample, Type as SampleType};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{decoder, frame, ChannelLayout, Packet as AvPacket};
use live::audio::AudioRendition;
use live::loss::InputLossConfig;
use live::transcode::Pipeline;
use live::video::VideoRendition;
use live::{AudioSettings, Packet, Track, TranscodeConfig, VideoSettings, CLOCK};
use media::mux::{h264_aac_streams, TsMuxer};
use media::ts::{Pid, TsPacket};

const W: usize = 64;
const H: usize = 36;
const FRAME: i64 = 3600; // 25 fps
const RATE: i64 = 48_000;

fn video_settings() -> VideoSettings {
    VideoSettings {
        gop_size: 25,
        b_frames: 0,
        scene_change_detect: false,
        preset: "ultrafast".into(),
        ..VideoSettings::new(W as u32, H as u32, (25, 1), 600_000)
    }
}

fn audio_settings() -> AudioSettings {
    AudioSettings {
        bitrate: 128_000,
        sample_rate: 48_000,
        channels: 2,
    }
}

/// Frame `i` of input `which` is a flash (white) every second, mid-GOP.
fn flash(i: i64) -> bool {
    i % 25 == 12
}

/// The luma of frame `i` of input `which`: moving ramps, a different one per input.
fn luma(which: u8, i: i64) -> Vec<u8> {
    let mut y = vec![0u8; W * H];
    for row in 0..H {
        for col in 0..W {
            let v = match which {
                0 => (col as i64 * 4 + i * 3) % 200,
                1 => (row as i64 * 6 + i * 3) % 200,
                _ => ((col + row) as i64 * 3 + i * 7) % 200,
            };
            y[row * W + col] = if flash(i) { 235 } else { 20 + v as u8 };
        }
    }
    y
}

struct Source {
    ts: Vec<u8>,
    pictures: Vec<Vec<u8>>,
}

/// `frames` pictures of input `which` from input time `start`, with a beep (a 1 kHz
/// square wave, 40 ms) starting on every flash, encoded and muxed like an encoder would.
fn source(which: u8, start: i64, frames: i64) -> Source {
    live::init().unwrap();
    let mut packets = Vec::new();
    let mut sink = |p: Packet| packets.push(p);
    let mut video = VideoRendition::new(0, video_settings()).unwrap();
    let mut pictures = Vec::new();
    for i in 0..frames {
        let y = luma(which, i);
        let mut picture = frame::Video::new(Pixel::YUV420P, W as u32, H as u32);
        let stride = picture.stride(0);
        for row in 0..H {
            picture.data_mut(0)[row * stride..row * stride + W]
                .copy_from_slice(&y[row * W..(row + 1) * W]);
        }
        picture.data_mut(1).fill(128);
        picture.data_mut(2).fill(128);
        video.push(&picture, start + i * FRAME, &mut sink).unwrap();
        pictures.push(y);
    }
    video.finish(&mut sink).unwrap();
    let mut audio = AudioRendition::new(0, audio_settings()).unwrap();
    let samples = frames * FRAME * RATE / CLOCK;
    let beep = |s: i64| {
        let t = s * CLOCK / RATE; // input time from start
        let i = t / FRAME;
        let into = t - i * FRAME;
        if flash(i) && into < 3600 {
            if (s / 24) % 2 == 0 {
                0.5
            } else {
                -0.5
            }
        } else {
            0.0
        }
    };
    let mut s = 0;
    while s + 1024 <= samples {
        let mut f = frame::Audio::new(Sample::F32(SampleType::Planar), 1024, ChannelLayout::STEREO);
        f.set_rate(RATE as u32);
        for ch in 0..2 {
            for (k, v) in f.plane_mut::<f32>(ch).iter_mut().enumerate() {
                *v = beep(s + k as i64);
            }
        }
        audio.push(&f, start + s * CLOCK / RATE, &mut sink).unwrap();
        s += 1024;
    }
    audio.finish(&mut sink).unwrap();
    packets.sort_by_key(|p| p.dts);
    let mut mux = TsMuxer::new(&h264_aac_streams(Pid(0x100), &[Pid(0x101)]), 0);
    let mut ts = Vec::new();
    for p in &packets {
        let stream = usize::from(!matches!(p.track, Track::Video(_)));
        mux.write(stream, p.pts, p.dts, p.key, &p.data, &mut ts)
            .unwrap();
    }
    Source { ts, pictures }
}

/// The TS from the start of the `n`th video PES on (PAT/PMT come again within 100 ms).
fn from_video_pes(ts: &[u8], n: usize) -> &[u8] {
    let mut seen = 0;
    for (k, p) in ts.chunks(188).enumerate() {
        let packet = TsPacket::parse(p).unwrap();
        if packet.header.pid == Pid(0x100) && packet.header.pusi {
            if seen == n {
                return &ts[k * 188..];
            }
            seen += 1;
        }
    }
    panic!("no video PES {n}");
}

/// Pushes `ts` in datagrams of seven packets, the clock moving over `span` meanwhile.
fn feed(
    p: &mut Pipeline,
    ts: &[u8],
    t: &mut Instant,
    span: Duration,
    sink: &mut dyn FnMut(Packet),
) {
    let chunks: Vec<&[u8]> = ts.chunks(1316).collect();
    let start = *t;
    for (k, chunk) in chunks.iter().enumerate() {
        *t = start + span.mul_f64(k as f64 / chunks.len() as f64);
        p.push(chunk, sink).unwrap();
        p.tick(*t, sink).unwrap();
    }
    *t = start + span;
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn switch_and_restart_hold_the_last_picture_and_keep_lip_sync() {
    let a = source(0, 900_000, 100);
    let b = source(1, 126_000, 100);
    let c = source(2, 171_000, 60);
    let config = TranscodeConfig {
        video: vec![video_settings()],
        audio: vec![audio_settings()],
        ..TranscodeConfig::default()
    };
    let mut p = Pipeline::with_input_loss(&config, &InputLossConfig::default()).unwrap();
    let mut out = Vec::new();
    let mut sink = |pk: Packet| out.push(pk);
    let mut t = Instant::now();
    p.tick(t, &mut sink).unwrap();
    feed(&mut p, &a.ts, &mut t, Duration::from_secs(4), &mut sink);
    // The switch: B joined at its 6th picture, 0.76 s before its next IDR; the output
    // holds A's last picture meanwhile.
    p.input_changed(&mut sink).unwrap();
    assert!(p.holding());
    for _ in 0..10 {
        t += Duration::from_millis(20);
        p.tick(t, &mut sink).unwrap();
    }
    // B from its 6th picture, cut inside its 75th (an IDR) by the encoder restart.
    let at = |n: usize| b.ts.len() - from_video_pes(&b.ts, n).len();
    let b_part = &b.ts[at(6)..at(75) + 188];
    feed(
        &mut p,
        b_part,
        &mut t,
        Duration::from_millis(2760),
        &mut sink,
    );
    assert!(!p.holding());
    // The encoder behind B restarts: C's timeline starts before B's end. No switch is
    // said: the jump is found, and B's last access unit, cut short, is not decoded.
    feed(
        &mut p,
        &c.ts,
        &mut t,
        Duration::from_millis(2400),
        &mut sink,
    );
    p.finish(&mut sink).unwrap();
    let stats = p.stats();
    assert!(stats.seams >= 2, "{stats:?}");
    assert!(stats.skipped_access_units >= 15, "{stats:?}");

    // One unbroken timeline.
    let mut vpts: Vec<i64> = out
        .iter()
        .filter(|p| p.track == Track::Video(0))
        .map(|p| p.pts)
        .collect();
    vpts.sort_unstable();
    assert!(vpts.windows(2).all(|w| w[1] - w[0] == FRAME), "{vpts:?}");
    let apts: Vec<i64> = out
        .iter()
        .filter(|p| p.track == Track::Audio(0))
        .map(|p| p.pts)
        .collect();
    assert!(apts.windows(2).all(|w| w[1] - w[0] == 1920), "{apts:?}");

    // Decode the output.
    let pictures = decode_video(&out);
    let audio = decode_audio(&out);

    // Every picture is a source picture: which input and which picture.
    let sources = [&a.pictures, &b.pictures, &c.pictures];
    let mut matched = Vec::new();
    for (pts, y) in &pictures {
        let best = sources
            .iter()
            .enumerate()
            .flat_map(|(s, pics)| pics.iter().enumerate().map(move |(i, p)| (s, i, p)))
            .map(|(s, i, p)| (psnr(y, p), s, i))
            .max_by(|x, y| x.0.total_cmp(&y.0))
            .unwrap();
        assert!(
            best.0 >= 30.0,
            "damaged picture at {pts}: best match {best:?}; so far {matched:?}"
        );
        matched.push((best.1, best.2, mean(y) > 200.0));
    }
    // (Flashes look alike in every input: left out of the order checks.)
    let matched: Vec<(usize, usize)> = matched
        .into_iter()
        .filter(|m| !m.2)
        .map(|m| (m.0, m.1))
        .collect();
    let first_b = matched.iter().position(|m| m.0 == 1).unwrap();
    let first_c = matched.iter().position(|m| m.0 == 2).unwrap();
    assert_eq!(matched[first_b], (1, 25), "B from its IDR: {matched:?}");
    assert_eq!(
        matched[first_c],
        (2, 0),
        "C from its first picture: {matched:?}"
    );
    // Before B: A in order, then A's last picture held.
    let held = &matched[..first_b];
    let last_a = held.iter().rposition(|m| m.0 == 0).unwrap();
    assert!(held[..=last_a].windows(2).all(|w| w[1].1 >= w[0].1));
    assert!(
        held.iter().rev().take(10).all(|m| *m == held[last_a]),
        "held {held:?}"
    );

    // Lip sync: each flash with the beep that starts with it.
    let flashes: Vec<i64> = pictures
        .iter()
        .zip(pictures.iter().skip(1))
        .filter(|(p0, p1)| mean(&p1.1) > 200.0 && mean(&p0.1) < 200.0)
        .map(|(_, p1)| p1.0)
        .collect();
    let beeps = onsets(&audio);
    assert!(flashes.len() >= 8, "flashes {flashes:?}");
    let offsets: Vec<i64> = flashes
        .iter()
        .filter_map(|f| beeps.iter().find(|b| (*b - f).abs() < 9000).map(|b| b - f))
        .collect();
    eprintln!("flashes {flashes:?}\nbeeps {beeps:?}\noffsets (90 kHz) {offsets:?}");
    assert!(offsets.len() >= 8, "flashes {flashes:?} beeps {beeps:?}");
    assert!(
        offsets.iter().all(|o| o.abs() <= 1920),
        "A/V offsets {offsets:?}"
    );
}

fn mean(y: &[u8]) -> f64 {
    y.iter().map(|v| f64::from(*v)).sum::<f64>() / y.len() as f64
}

/// (pts, tight luma) of every output picture, in presentation order.
fn decode_video(out: &[Packet]) -> Vec<(i64, Vec<u8>)> {
    let h264 = decoder::find(codec::Id::H264).unwrap();
    let mut dec = codec::context::Context::new_with_codec(h264)
        .decoder()
        .video()
        .unwrap();
    let mut pictures = Vec::new();
    let take = |dec: &mut decoder::Video, pictures: &mut Vec<(i64, Vec<u8>)>| {
        let mut f = frame::Video::empty();
        while dec.receive_frame(&mut f).is_ok() {
            let stride = f.stride(0);
            let mut y = Vec::with_capacity(W * H);
            for row in 0..H {
                y.extend_from_slice(&f.data(0)[row * stride..row * stride + W]);
            }
            pictures.push((f.pts().unwrap(), y));
        }
    };
    for p in out.iter().filter(|p| p.track == Track::Video(0)) {
        let mut packet = AvPacket::copy(&p.data);
        packet.set_pts(Some(p.pts));
        packet.set_dts(Some(p.dts));
        dec.send_packet(&packet).unwrap();
        take(&mut dec, &mut pictures);
    }
    dec.send_eof().unwrap();
    take(&mut dec, &mut pictures);
    pictures.sort_by_key(|p| p.0);
    pictures
}

/// (pts of each sample, left channel) of the output audio.
fn decode_audio(out: &[Packet]) -> Vec<(i64, f32)> {
    let aac = decoder::find(codec::Id::AAC).unwrap();
    let mut dec = codec::context::Context::new_with_codec(aac)
        .decoder()
        .audio()
        .unwrap();
    let mut samples = Vec::new();
    for p in out.iter().filter(|p| p.track == Track::Audio(0)) {
        let mut packet = AvPacket::copy(&p.data);
        packet.set_pts(Some(p.pts));
        dec.send_packet(&packet).unwrap();
        let mut f = frame::Audio::empty();
        while dec.receive_frame(&mut f).is_ok() {
            let pts = f.pts().unwrap();
            for (k, v) in f.plane::<f32>(0).iter().enumerate() {
                samples.push((pts + k as i64 * CLOCK / RATE, *v));
            }
        }
    }
    samples
}

/// Times where the audio gets loud after 20 ms of quiet.
fn onsets(samples: &[(i64, f32)]) -> Vec<i64> {
    let mut found = Vec::new();
    let mut quiet = 0;
    for (t, v) in samples {
        if v.abs() > 0.2 {
            if quiet >= 960 {
                found.push(*t);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    found
}
