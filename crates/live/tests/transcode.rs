//! Transcodes an ffmpeg-made test signal and checks the output with ffprobe.
//! The ffmpeg CLI only makes the input and ffprobe only validates the output; both tests
//! skip (with a message) when they are not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use live::demux::{LanguageSelection, Selection};
use live::{
    AudioSettings, Packet, Profile, RateControl, Track, TranscodeConfig, Transcoder, VideoSettings,
};
use media::mux::{h264_aac_streams, TsMuxer};
use media::ts::Pid;

const SECONDS: f64 = 5.0;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onair-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A 5 s 1280x720p30 H.264 + 1 kHz AAC test signal in MPEG-TS.
fn fixture(name: &str) -> Option<Vec<u8>> {
    if !have("ffmpeg") || !have("ffprobe") {
        eprintln!("SKIP: ffmpeg/ffprobe not installed (scripts/setup.sh test installs them)");
        return None;
    }
    let path = tmp(&format!("{name}-input.ts"));
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args([
            "-t", "5", "-c:v", "libx264", "-g", "30", "-c:a", "aac", "-f", "mpegts",
        ])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not make the fixture");
    Some(std::fs::read(path).unwrap())
}

fn video(width: u32, height: u32, bitrate: u32, profile: Profile) -> VideoSettings {
    VideoSettings {
        buf_size: Some(bitrate),
        gop_size: 60,
        b_frames: 2,
        profile,
        scene_change_detect: false,
        ..VideoSettings::new(width, height, (30, 1), bitrate)
    }
}

const AAC: AudioSettings = AudioSettings {
    bitrate: 128_000,
    sample_rate: 48_000,
    channels: 2,
};

/// Runs the transcoder over `input` in 1316-byte datagrams; returns the packets and the
/// real-time factor.
fn transcode(input: &[u8], config: TranscodeConfig) -> (Vec<Packet>, f64) {
    let packets = Arc::new(Mutex::new(Vec::new()));
    let sink = packets.clone();
    let start = Instant::now();
    let transcoder = Transcoder::spawn(config, 64, move |p| sink.lock().unwrap().push(p)).unwrap();
    for chunk in input.chunks(1316) {
        assert!(transcoder.push_blocking(chunk.to_vec()));
    }
    let stats = transcoder.finish().unwrap();
    let rtf = SECONDS / start.elapsed().as_secs_f64();
    eprintln!("stats {stats:?}, real-time factor {rtf:.2}");
    assert_eq!(stats.dropped_datagrams, 0);
    assert_eq!(stats.decode_errors, 0);
    let packets = std::mem::take(&mut *packets.lock().unwrap());
    (packets, rtf)
}

/// Muxes video rendition `v` with audio rendition 0 into a TS file.
fn mux(packets: &[Packet], v: usize, path: &Path) {
    let streams = h264_aac_streams(Pid(0x100), &[Pid(0x101)]);
    let mut muxer = TsMuxer::new(&streams, 0);
    let mut out = Vec::new();
    for p in packets {
        let stream = match p.track {
            Track::Video(i) if i == v => 0,
            Track::Audio(0) => 1,
            _ => continue,
        };
        muxer
            .write(stream, p.pts, p.dts, p.key, &p.data, &mut out)
            .unwrap();
    }
    std::fs::write(path, out).unwrap();
}

fn probe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
            "-count_frames",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stream<'a>(probe: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} stream in {probe}"))
}

fn check(path: &Path, width: u64, height: u64, profile: &str) -> serde_json::Value {
    let p = probe(path);
    let v = stream(&p, "video");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["profile"], profile);
    assert_eq!(v["width"].as_u64(), Some(width));
    assert_eq!(v["height"].as_u64(), Some(height));
    assert_eq!(v["r_frame_rate"], "30/1");
    let frames: u64 = v["nb_read_frames"].as_str().unwrap().parse().unwrap();
    assert!((148..=152).contains(&frames), "{frames} frames");
    let a = stream(&p, "audio");
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["profile"], "LC");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!(a["channels"].as_u64(), Some(2));
    let duration: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - SECONDS).abs() < 0.3, "duration {duration}");
    p
}

#[test]
fn transcodes_720p_to_360p_cbr() {
    let Some(input) = fixture("single") else {
        return;
    };
    let config = TranscodeConfig {
        video: vec![video(640, 360, 1_500_000, Profile::Main)],
        audio: vec![AAC],
        ..TranscodeConfig::default()
    };
    let (packets, rtf) = transcode(&input, config);
    eprintln!("640x360: real-time factor {rtf:.2}");
    let keys: Vec<i64> = packets
        .iter()
        .filter(|p| p.track == Track::Video(0) && p.key)
        .map(|p| p.pts)
        .collect();
    // gop 60 at 30 fps, no scene cuts: an IDR every 2 s.
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.windows(2).all(|w| w[1] - w[0] == 180_000), "{keys:?}");
    // CBR: the video bytes (filler included) over 5 s within 10 % of 1.5 Mb/s.
    let bytes: usize = packets
        .iter()
        .filter(|p| p.track == Track::Video(0))
        .map(|p| p.data.len())
        .sum();
    let bps = bytes as f64 * 8.0 / SECONDS;
    eprintln!("640x360 CBR video bit rate {bps:.0} b/s");
    assert!((bps / 1_500_000.0 - 1.0).abs() < 0.10, "{bps} b/s");
    let path = tmp("360p.ts");
    mux(&packets, 0, &path);
    check(&path, 640, 360, "Main");
}

#[test]
fn a_stalled_sink_drops_input_instead_of_blocking() {
    let Some(input) = fixture("stall") else {
        return;
    };
    let config = TranscodeConfig {
        video: vec![video(640, 360, 1_500_000, Profile::Main)],
        audio: vec![AAC],
        ..TranscodeConfig::default()
    };
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let mut gate = Some(gate);
    let transcoder = Transcoder::spawn(config, 4, move |_packet| {
        // The first encoded packet stalls the pipeline thread until the test releases it.
        if let Some(gate) = gate.take() {
            let _ = entered_tx.send(());
            let _ = gate.recv();
        }
    })
    .unwrap();
    let mut chunks = input.chunks(1316);
    // Feed (retrying when full) until the sink is stalled inside its first packet.
    let mut retries = 0;
    let mut pending = None;
    while entered.try_recv().is_err() {
        let chunk = match pending.take() {
            Some(c) => c,
            None => chunks.next().expect("the encoder emitted nothing"),
        };
        if !transcoder.push(chunk.to_vec()) {
            retries += 1;
            pending = Some(chunk);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    // Now the thread is stuck: pushes must return at once, fill the 4-slot queue and drop
    // the rest.
    let rest: Vec<&[u8]> = pending.into_iter().chain(chunks).collect();
    let accepted = rest.iter().filter(|c| transcoder.push(c.to_vec())).count();
    release.send(()).unwrap();
    let stats = transcoder.finish().unwrap();
    eprintln!(
        "stalled sink: {accepted} of {} datagrams accepted, {stats:?}",
        rest.len()
    );
    assert!(accepted <= 4);
    assert_eq!(
        stats.dropped_datagrams as usize,
        retries + rest.len() - accepted
    );
    assert!(
        rest.len() > 1000,
        "the stall came late: {} left",
        rest.len()
    );
    assert!(stats.dropped_datagrams > 0);
}

#[test]
fn one_decode_feeds_a_two_rung_ladder() {
    let Some(input) = fixture("ladder") else {
        return;
    };
    let config = TranscodeConfig {
        video: vec![
            VideoSettings {
                level: Some("3.1".into()),
                b_reference: true,
                ..video(1280, 720, 3_000_000, Profile::High)
            },
            VideoSettings {
                rate_control: RateControl::Vbr,
                max_bitrate: Some(1_200_000),
                // Without B-pyramid the SPS carries exactly numRefFrames.
                ref_frames: Some(2),
                b_frames: 0,
                buf_size: Some(2_400_000),
                ..video(640, 360, 800_000, Profile::Main)
            },
        ],
        audio: vec![AAC],
        ..TranscodeConfig::default()
    };
    let (packets, rtf) = transcode(&input, config);
    eprintln!("720p+360p ladder: real-time factor {rtf:.2}");
    for (v, (w, h, profile)) in [(1280, 720, "High"), (640, 360, "Main")]
        .into_iter()
        .enumerate()
    {
        let path = tmp(&format!("rung{v}.ts"));
        mux(&packets, v, &path);
        let p = check(&path, w, h, profile);
        if v == 0 {
            assert_eq!(stream(&p, "video")["level"].as_u64(), Some(31));
            assert_eq!(stream(&p, "video")["has_b_frames"].as_u64(), Some(2));
        } else {
            assert_eq!(stream(&p, "video")["refs"].as_u64(), Some(2));
            assert_eq!(stream(&p, "video")["has_b_frames"].as_u64(), Some(0));
        }
    }
}

/// Runs ffmpeg with `args` (inputs, filters, codecs) into a TS file; returns its bytes.
fn make(name: &str, args: &[&str]) -> Option<Vec<u8>> {
    if !have("ffmpeg") || !have("ffprobe") {
        eprintln!("SKIP: ffmpeg/ffprobe not installed (scripts/setup.sh test installs them)");
        return None;
    }
    let path = tmp(&format!("{name}-input.ts"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .args(["-f", "mpegts"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not make {name}");
    Some(std::fs::read(path).unwrap())
}

/// 5 s of 640x360p30 cutting between testsrc2 and smptebars every 0.6 / 0.7 s (off the
/// GOP cadence), with a 1 kHz tone.
fn scene_cuts(name: &str) -> Option<Vec<u8>> {
    make(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30[a];smptebars=size=640x360:rate=30[b];\
             [a][b]overlay=enable='lt(mod(t,1.3),0.6)'",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=48000",
            "-t",
            "5",
            "-c:v",
            "libx264",
            "-g",
            "30",
            "-c:a",
            "aac",
        ],
    )
}

/// (pict_type, key_frame) of every video frame, in presentation order.
fn frame_types(path: &Path) -> Vec<(String, bool)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_frames",
            "-of",
            "json",
        ])
        .args(["-show_entries", "frame=pict_type,key_frame"])
        .arg(path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["pict_type"].as_str().unwrap_or("?").to_string(),
                f["key_frame"].as_u64() == Some(1),
            )
        })
        .collect()
}

#[test]
fn scene_cuts_add_i_frames_but_never_move_idrs() {
    let Some(input) = scene_cuts("scenes") else {
        return;
    };
    let rung = |w, h, bitrate| VideoSettings {
        gop_size: 30,
        b_frames: 2,
        scene_change_detect: true,
        ..VideoSettings::new(w, h, (30, 1), bitrate)
    };
    let config = TranscodeConfig {
        video: vec![rung(640, 360, 1_200_000), rung(320, 180, 400_000)],
        audio: vec![AAC],
        ..TranscodeConfig::default()
    };
    let (packets, _) = transcode(&input, config);
    let mut scene_i_frames = 0;
    for v in 0..2 {
        let path = tmp(&format!("scenes{v}.ts"));
        mux(&packets, v, &path);
        let frames = frame_types(&path);
        assert!(frames.len() >= 148, "{} frames", frames.len());
        for (n, (kind, key)) in frames.iter().enumerate() {
            // An IDR exactly on every 30th frame, in every rendition.
            assert_eq!(
                *key,
                n % 30 == 0,
                "rendition {v} frame {n}: {kind} key={key}"
            );
            if !key && kind == "I" {
                scene_i_frames += 1;
            }
        }
    }
    eprintln!("{scene_i_frames} scene-cut I-frames");
    assert!(scene_i_frames > 0, "no scene cut was detected");
}

#[test]
fn qvbr_stays_under_max_bitrate_and_spends_less_when_it_can() {
    let Some(input) = scene_cuts("qvbr") else {
        return;
    };
    let qvbr = |quality, max: u32| VideoSettings {
        rate_control: RateControl::Qvbr { quality },
        max_bitrate: Some(max),
        buf_size: Some(max),
        gop_size: 30,
        ..VideoSettings::new(640, 360, (30, 1), 0)
    };
    let config = TranscodeConfig {
        video: vec![qvbr(10, 600_000), qvbr(1, 4_000_000)],
        audio: vec![],
        ..TranscodeConfig::default()
    };
    let (packets, _) = transcode(&input, config);
    let bits = |v: usize, from: i64, to: i64| -> f64 {
        let first = packets.iter().map(|p| p.dts).min().unwrap();
        packets
            .iter()
            .filter(|p| p.track == Track::Video(v) && (from..to).contains(&(p.dts - first)))
            .map(|p| p.data.len() as f64 * 8.0)
            .sum()
    };
    // Quality 10 wants far more than 600 kb/s: the VBV caps it. Over any 1 s window the
    // bits are at most one second of maxrate plus the buffer (1 s here).
    let total = bits(0, 0, 5 * 90_000) / SECONDS;
    eprintln!("QVBR 10 capped at 600 kb/s: {total:.0} b/s");
    assert!(total <= 600_000.0 * 1.05, "{total} b/s");
    assert!(total >= 600_000.0 * 0.6, "{total} b/s: the cap should bind");
    for s in 0..4 {
        let w = bits(0, s * 90_000, (s + 1) * 90_000);
        assert!(w <= 2.0 * 600_000.0, "second {s}: {w} bits");
    }
    // Quality 1 on the same picture needs a fraction of its 4 Mb/s cap.
    let low = bits(1, 0, 5 * 90_000) / SECONDS;
    eprintln!("QVBR 1 under 4 Mb/s: {low:.0} b/s");
    assert!(low < 4_000_000.0 * 0.5, "{low} b/s");
}

#[test]
fn frame_rate_and_aspect_ratio_come_from_the_source() {
    let Some(input) = make(
        "source25",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=720x576:rate=25,setsar=16/11",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=48000",
            "-t",
            "5",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-c:a",
            "aac",
        ],
    ) else {
        return;
    };
    let config = TranscodeConfig {
        video: vec![VideoSettings {
            framerate_control: live::settings::FramerateControl::FromSource,
            par: live::settings::Par::FromSource,
            gop_ms: Some(2000),
            ..VideoSettings::new(360, 288, (30, 1), 500_000)
        }],
        audio: vec![AAC],
        ..TranscodeConfig::default()
    };
    let (packets, _) = transcode(&input, config);
    let path = tmp("source25.ts");
    mux(&packets, 0, &path);
    let p = probe(&path);
    let v = stream(&p, "video");
    assert_eq!(v["r_frame_rate"], "25/1");
    assert_eq!(v["sample_aspect_ratio"], "16:11");
    let frames: u64 = v["nb_read_frames"].as_str().unwrap().parse().unwrap();
    assert!((123..=127).contains(&frames), "{frames} frames");
    let keys: Vec<bool> = frame_types(&path).iter().map(|f| f.1).collect();
    assert!(keys.iter().enumerate().all(|(n, k)| *k == (n % 50 == 0)));
}

/// The dominant frequency of an ADTS stream, by zero crossings of its decoded samples.
fn tone_hz(adts: &[u8]) -> f64 {
    let path = tmp("tone.aac");
    std::fs::write(&path, adts).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "f32le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .unwrap();
    let samples: Vec<f32> = out
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .skip(4800) // the encoder's start-up
        .collect();
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 48_000.0)
}

#[test]
fn selects_the_audio_stream_by_language() {
    let Some(input) = make(
        "languages",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=48000",
            "-map",
            "0",
            "-map",
            "1",
            "-map",
            "2",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=spa",
        ],
    ) else {
        return;
    };
    let audio = |code: &[u8; 3], strict: bool| -> Vec<u8> {
        let config = TranscodeConfig {
            selection: Selection {
                audio_language: Some(LanguageSelection {
                    code: *code,
                    strict,
                }),
                ..Selection::default()
            },
            video: vec![],
            audio: vec![AAC],
        };
        let (packets, _) = transcode(&input, config);
        packets
            .iter()
            .filter(|p| p.track == Track::Audio(0))
            .flat_map(|p| p.data.clone())
            .collect()
    };
    let spa = tone_hz(&audio(b"spa", true));
    let eng = tone_hz(&audio(b"eng", false));
    let loose = tone_hz(&audio(b"fre", false));
    eprintln!("spa {spa:.0} Hz, eng {eng:.0} Hz, fre LOOSE {loose:.0} Hz");
    assert!((spa - 1000.0).abs() < 20.0, "spa: {spa} Hz");
    assert!((eng - 440.0).abs() < 20.0, "eng: {eng} Hz");
    assert!((loose - 440.0).abs() < 20.0, "LOOSE fallback: {loose} Hz");
    assert!(
        audio(b"fre", true).is_empty(),
        "STRICT without French: no audio"
    );
}
