//! Input loss behaviour on a virtual clock: a real input stops for four seconds and comes
//! back; the output goes on at its cadence (black, then the loss colour, with audio) and
//! continues without a timestamp jump. ffmpeg makes the input and decodes the output;
//! the test skips (with a message) when it is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use live::loss::{InputLossConfig, LossImage};
use live::transcode::Pipeline;
use live::{AudioSettings, Packet, Track, TranscodeConfig, VideoSettings};
use media::mux::{h264_aac_streams, TsMuxer};
use media::ts::Pid;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onair-loss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn config() -> TranscodeConfig {
    TranscodeConfig {
        video: vec![VideoSettings {
            gop_size: 25,
            b_frames: 0,
            scene_change_detect: false,
            preset: "ultrafast".into(),
            ..VideoSettings::new(160, 90, (25, 1), 300_000)
        }],
        audio: vec![AudioSettings {
            bitrate: 96_000,
            sample_rate: 48_000,
            channels: 2,
        }],
        ..TranscodeConfig::default()
    }
}

/// Average luma of every output picture, in output order.
fn lumas(packets: &[Packet]) -> Vec<u8> {
    let streams = h264_aac_streams(Pid(0x100), &[Pid(0x101)]);
    let mut muxer = TsMuxer::new(&streams, 0);
    let mut ts = Vec::new();
    for p in packets {
        let stream = match p.track {
            Track::Video(0) => 0,
            _ => 1,
        };
        muxer
            .write(stream, p.pts, p.dts, p.key, &p.data, &mut ts)
            .unwrap();
    }
    let path = tmp("out.ts");
    std::fs::write(&path, ts).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-vf", "scale=1:1,format=gray", "-f", "rawvideo", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn output_goes_on_through_input_loss_and_continues_without_a_jump() {
    if !have("ffmpeg") {
        eprintln!("SKIP: ffmpeg not installed (scripts/setup.sh test installs it)");
        return;
    }
    let input = tmp("in.ts");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("color=white:size=320x180:rate=25")
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args(["-t", "2", "-c:v", "libx264", "-g", "25", "-bf", "0"])
        .args(["-c:a", "aac", "-f", "mpegts"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let ts = std::fs::read(&input).unwrap();
    let (first, second) = ts.split_at(ts.len() / 188 / 2 * 188);

    let loss = InputLossConfig {
        threshold: Duration::from_millis(1000),
        repeat: Duration::ZERO,
        black: Duration::from_millis(1000),
        image: LossImage::Color([255, 0, 0]),
    };
    let mut pipeline = Pipeline::with_input_loss(&config(), &loss).unwrap();
    let mut packets = Vec::new();
    let mut sink = |p: Packet| packets.push(p);
    let t0 = Instant::now();
    pipeline.tick(t0, &mut sink).unwrap();
    for chunk in first.chunks(1316) {
        pipeline.push(chunk, &mut sink).unwrap();
        pipeline.tick(t0, &mut sink).unwrap();
    }
    assert!(!pipeline.input_loss());
    // Four seconds without input.
    let mut t = t0;
    while t < t0 + Duration::from_secs(4) {
        t += Duration::from_millis(20);
        pipeline.tick(t, &mut sink).unwrap();
    }
    assert!(pipeline.input_loss());
    // The input returns.
    for chunk in second.chunks(1316) {
        pipeline.push(chunk, &mut sink).unwrap();
        pipeline.tick(t, &mut sink).unwrap();
    }
    assert!(!pipeline.input_loss());
    pipeline.finish(&mut sink).unwrap();
    let stats = pipeline.stats();
    assert_eq!(stats.input_losses, 1);
    assert!(
        (95..=105).contains(&stats.fill_frames),
        "fill frames {stats:?}"
    );

    // One unbroken 25 fps video timeline, and audio on an unbroken AAC cadence.
    let mut video: Vec<i64> = packets
        .iter()
        .filter(|p| p.track == Track::Video(0))
        .map(|p| p.pts)
        .collect();
    video.sort_unstable();
    assert!(video.windows(2).all(|w| w[1] - w[0] == 3600), "{video:?}");
    let audio: Vec<i64> = packets
        .iter()
        .filter(|p| p.track == Track::Audio(0))
        .map(|p| p.pts)
        .collect();
    assert!(audio.windows(2).all(|w| w[1] - w[0] == 1920), "{audio:?}");
    let span = (video.last().unwrap() - video.first().unwrap()) as f64 / 90_000.0;
    let audio_span = (audio.last().unwrap() - audio.first().unwrap()) as f64 / 90_000.0;
    assert!(
        (audio_span - span).abs() < 0.3,
        "audio {audio_span} video {span}"
    );

    // White input, black for a second, red, white again.
    let y = lumas(&packets);
    let n = y.len();
    assert!(n >= 140, "{n} pictures");
    let first_fill = y.iter().position(|&v| v < 100).unwrap();
    assert!((20..=30).contains(&first_fill), "{y:?}");
    let black = &y[first_fill..first_fill + 20];
    assert!(black.iter().all(|&v| v <= 20), "black {y:?}");
    let red = &y[first_fill + 30..first_fill + 90];
    assert!(red.iter().all(|&v| (55..=75).contains(&v)), "red {y:?}");
    assert!(y[n - 10..].iter().all(|&v| v > 200), "white again {y:?}");
}

#[test]
fn slates_are_decoded_once_and_scaled_and_bad_files_are_errors() {
    if !have("ffmpeg") {
        eprintln!("SKIP: ffmpeg not installed (scripts/setup.sh test installs it)");
        return;
    }
    for ext in ["png", "jpg"] {
        let path = tmp(&format!("slate.{ext}"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("color=0x00FF00:size=200x100")
            .args(["-frames:v", "1"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let picture = live::loss::slate(&path, 64, 36).unwrap();
        assert_eq!((picture.width(), picture.height()), (64, 36));
        // Green: limited-range luma 145 (swscale converts with BT.601) to 173 (BT.709).
        let y = picture.data(0)[64 * 18 + 32];
        assert!((140..=180).contains(&y), "{ext}: luma {y}");
    }
    let missing = tmp("no-such-slate.png");
    assert!(live::loss::slate(&missing, 64, 36).is_err());
    let not_image = tmp("not-an-image.png");
    std::fs::write(&not_image, b"hello").unwrap();
    assert!(live::loss::slate(&not_image, 64, 36).is_err());
}
