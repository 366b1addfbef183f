//! A real publisher on loopback: ffmpeg (libx264 + AAC, `-f flv rtmp://…`) pushes to a
//! `Session` driven over a std `TcpStream` in a thread; the media it hands out goes
//! through the `ts` adapter, and ffprobe must read the result as H.264 + AAC of about
//! the pushed duration. A second push with a wrong stream key must be refused.
//!
//! Skipped, with a message, when ffmpeg or ffprobe is not installed. Every wait is
//! bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rtmp::ts::TsAdapter;
use rtmp::{Event, Session};

/// What the server thread saw.
#[derive(Default, Debug)]
struct Seen {
    connect: Option<(String, String)>,
    publish: Option<(String, String)>,
    metadata: bool,
    video: usize,
    keyframes_with_parameter_sets: usize,
    /// Video frames with a non-zero composition time (B-frames reorder).
    reordered: usize,
    audio: usize,
    unpublish: bool,
    closed: bool,
    acks: u64,
    error: Option<String>,
    ts: Vec<u8>,
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Accepts one connection and runs a session on it until EOF, close or `limit`.
fn serve(listener: TcpListener, key: &'static str, limit: Duration) -> Seen {
    let deadline = Instant::now() + limit;
    let mut seen = Seen::default();
    listener.set_nonblocking(true).unwrap();
    let mut stream: TcpStream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                seen.error = Some(format!("accept: {e}"));
                return seen;
            }
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut session = Session::new();
    let mut adapter = TsAdapter::new();
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            // ffmpeg closes with our acknowledgements unread: a reset, not an error.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => {
                seen.error = Some(format!("read: {e}"));
                break;
            }
        };
        if let Err(e) = session.handle_input(&buf[..n]) {
            seen.error = Some(format!("session: {e}"));
            break;
        }
        while let Some(event) = session.poll_event() {
            if let Err(e) = adapter.push(&event, &mut seen.ts) {
                seen.error = Some(format!("mux: {e}"));
            }
            let decision = match event {
                Event::Connect { app, tc_url } => {
                    let ok = app == "live";
                    seen.connect = Some((app, tc_url));
                    Some(ok)
                }
                Event::Publish { app, stream_key } => {
                    let ok = stream_key == key;
                    seen.publish = Some((app, stream_key));
                    Some(ok)
                }
                Event::Metadata(_) => {
                    seen.metadata = true;
                    None
                }
                Event::Video(frame) => {
                    seen.video += 1;
                    if frame.composition_ms != 0 {
                        seen.reordered += 1;
                    }
                    let types = media::h264::nal_types(&frame.data);
                    if frame.keyframe && types.contains(&7) && types.contains(&8) {
                        seen.keyframes_with_parameter_sets += 1;
                    }
                    None
                }
                Event::Audio(frame) => {
                    assert_eq!(&frame.data[..2], &[0xFF, 0xF1], "ADTS sync word");
                    seen.audio += 1;
                    None
                }
                Event::Unpublish => {
                    seen.unpublish = true;
                    None
                }
                Event::Closed { .. } => {
                    seen.closed = true;
                    None
                }
            };
            if let Some(ok) = decision {
                if let Err(e) = session.accept(ok) {
                    seen.error = Some(format!("accept: {e}"));
                }
            }
        }
        while let Some(bytes) = session.poll_transmit() {
            if let Err(e) = stream.write_all(&bytes) {
                seen.error = Some(format!("write: {e}"));
            }
        }
        if session.is_closed() {
            break;
        }
    }
    seen.acks = session.stats().acks;
    seen
}

/// Runs ffmpeg pushing `seconds` of test signal to `url`; returns its exit success
/// and the end of its log.
fn push(url: &str, seconds: u32, preset: &str, limit: Duration) -> (bool, String) {
    let mut command = Command::new("ffmpeg");
    command
        .args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=f=1000"])
        .args(["-t", &seconds.to_string()])
        .args(["-c:v", "libx264", "-preset", preset, "-g", "25"])
        .args(["-c:a", "aac", "-f", "flv", url]);
    run(command, limit)
}

/// Runs `command` for at most `limit` (then kills it); returns its exit success and
/// the end of its standard error.
fn run(mut command: Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut log);
    }
    let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
    (status.is_some_and(|s| s.success()), tail)
}

#[test]
fn ffmpeg_push_to_ts() {
    if !have("ffmpeg") || !have("ffprobe") {
        eprintln!("skipping ffmpeg_push_to_ts: ffmpeg or ffprobe is not installed");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || serve(listener, "key", Duration::from_secs(40)));
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let (ok, log) = push(&url, 3, "ultrafast", Duration::from_secs(40));
    let seen = server.join().unwrap();
    eprintln!(
        "video {} (key frames with SPS/PPS {}), audio {}, ts {} bytes",
        seen.video,
        seen.keyframes_with_parameter_sets,
        seen.audio,
        seen.ts.len()
    );
    assert!(ok, "ffmpeg failed: {log}");
    assert_eq!(seen.error, None, "{log}");
    let (app, tc_url) = seen.connect.clone().expect("no connect");
    assert_eq!(app, "live");
    assert!(tc_url.starts_with("rtmp://127.0.0.1:"), "{tc_url}");
    assert_eq!(seen.publish, Some(("live".into(), "key".into())));
    assert!(seen.metadata, "no onMetaData");
    // 3 s at 25 fps with a key frame every 25 frames.
    assert!(
        (70..=80).contains(&seen.video),
        "video frames: {}",
        seen.video
    );
    assert!(
        seen.keyframes_with_parameter_sets >= 3,
        "key frames with SPS/PPS: {}",
        seen.keyframes_with_parameter_sets
    );
    // 3 s of 44.1 or 48 kHz AAC: about 130 to 141 frames of 1024 samples.
    assert!(
        (120..=150).contains(&seen.audio),
        "audio frames: {}",
        seen.audio
    );
    assert!(seen.unpublish, "no unpublish at the end");
    assert_eq!(seen.ts.len() % 188, 0);

    let duration = probe(&seen.ts, seen.video, "ffmpeg-push");
    assert!((2.7..=3.4).contains(&duration), "duration {duration}");
}

/// Writes `ts` to a temporary file and has ffprobe read it: H.264 and AAC streams,
/// every one of `video_frames` access units decoded without a complaint. Returns the
/// duration ffprobe gives.
fn probe(ts: &[u8], video_frames: usize, name: &str) -> f64 {
    let path = std::env::temp_dir().join(format!("rtmp-{name}-{}.ts", std::process::id()));
    std::fs::write(&path, ts).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames:format=duration",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&probe.stdout);
    let errors = String::from_utf8_lossy(&probe.stderr);
    eprintln!("ffprobe: {text}{errors}");
    assert!(probe.status.success(), "ffprobe: {text}{errors}");
    assert!(errors.trim().is_empty(), "ffprobe complains: {errors}");
    assert!(text.contains("codec_name=h264"), "{text}");
    // Every access unit decodes.
    assert!(
        text.contains(&format!("nb_read_frames={video_frames}")),
        "{text}"
    );
    let streams = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    let streams = String::from_utf8_lossy(&streams.stdout);
    assert!(streams.contains("codec_name=h264"), "{streams}");
    assert!(streams.contains("codec_name=aac"), "{streams}");
    let _ = std::fs::remove_file(&path);
    text.lines()
        .find_map(|l| l.strip_prefix("duration="))
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or_else(|| panic!("no duration: {text}"))
}

#[test]
fn ffmpeg_push_wrong_key_is_refused() {
    if !have("ffmpeg") {
        eprintln!("skipping ffmpeg_push_wrong_key_is_refused: ffmpeg is not installed");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || serve(listener, "key", Duration::from_secs(20)));
    let url = format!("rtmp://127.0.0.1:{port}/live/other");
    let (ok, log) = push(&url, 1, "ultrafast", Duration::from_secs(20));
    let seen = server.join().unwrap();
    assert!(!ok, "ffmpeg should fail: {log}");
    assert_eq!(seen.publish, Some(("live".into(), "other".into())));
    assert!(seen.closed);
    assert_eq!(seen.video, 0);
}

/// x264's `veryfast` preset codes B-frames: FLV composition times are not zero, and the
/// TS must carry PTS ahead of DTS for them (PTS = (timestamp + composition) × 90).
#[test]
fn ffmpeg_push_with_b_frames() {
    if !have("ffmpeg") || !have("ffprobe") {
        eprintln!("skipping ffmpeg_push_with_b_frames: ffmpeg or ffprobe is not installed");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || serve(listener, "key", Duration::from_secs(30)));
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let (ok, log) = push(&url, 2, "veryfast", Duration::from_secs(30));
    let seen = server.join().unwrap();
    assert!(ok, "ffmpeg failed: {log}");
    assert_eq!(seen.error, None);
    eprintln!(
        "video {} ({} with composition time), audio {}, acks {}",
        seen.video, seen.reordered, seen.audio, seen.acks
    );
    assert!(
        (45..=55).contains(&seen.video),
        "video frames: {}",
        seen.video
    );
    assert!(
        seen.reordered > 10,
        "frames with composition time: {}",
        seen.reordered
    );

    let path = std::env::temp_dir().join(format!("rtmp-ffmpeg-bframes-{}.ts", std::process::id()));
    std::fs::write(&path, &seen.ts).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts,dts",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&probe.stdout);
    let errors = String::from_utf8_lossy(&probe.stderr);
    assert!(
        probe.status.success() && errors.trim().is_empty(),
        "{errors}"
    );
    let packets: Vec<(i64, i64)> = text
        .lines()
        .filter_map(|l| {
            // "pts,dts," (ffprobe may add fields after them).
            let mut fields = l.trim().split(',');
            let pts = fields.next()?.parse().ok()?;
            let dts = fields.next()?.parse().ok()?;
            Some((pts, dts))
        })
        .collect();
    assert_eq!(packets.len(), seen.video, "{text}");
    assert!(packets.iter().all(|(pts, dts)| pts >= dts), "{text}");
    let ahead = packets.iter().filter(|(pts, dts)| pts > dts).count();
    assert_eq!(ahead, seen.reordered);
    assert!(
        packets.windows(2).all(|w| w[1].1 > w[0].1),
        "DTS increases: {text}"
    );
    let _ = std::fs::remove_file(&path);
}

/// librtmp (Debian's librtmp1), the library OBS Studio's RTMP output is a fork of, as
/// the publisher: `tests/librtmp_push.c` (built by hand, see its header) publishes an
/// FLV file that ffmpeg made. Runs only when `RTMP_LIBRTMP_PUSH` names that program.
#[test]
fn librtmp_push() {
    let Some(program) = std::env::var_os("RTMP_LIBRTMP_PUSH") else {
        eprintln!(
            "skipping librtmp_push: RTMP_LIBRTMP_PUSH does not name tests/librtmp_push.c built"
        );
        return;
    };
    if !have("ffmpeg") {
        eprintln!("skipping librtmp_push: ffmpeg is not installed");
        return;
    }
    let flv = std::env::temp_dir().join(format!("rtmp-librtmp-{}.flv", std::process::id()));
    let mut make = Command::new("ffmpeg");
    make.args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=f=1000", "-t", "3"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
        ])
        .arg(&flv);
    let (ok, log) = run(make, Duration::from_secs(60));
    assert!(ok, "ffmpeg: {log}");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || serve(listener, "key", Duration::from_secs(30)));
    let mut publish = Command::new(program);
    publish
        .arg(format!("rtmp://127.0.0.1:{port}/live/key"))
        .arg(&flv);
    let (ok, log) = run(publish, Duration::from_secs(30));
    let seen = server.join().unwrap();
    let _ = std::fs::remove_file(&flv);
    eprintln!(
        "librtmp: video {} (key frames with SPS/PPS {}), audio {}",
        seen.video, seen.keyframes_with_parameter_sets, seen.audio
    );
    assert!(ok, "librtmp_push failed: {log}");
    assert_eq!(seen.error, None, "{log}");
    assert_eq!(seen.publish, Some(("live".into(), "key".into())));
    assert_eq!(seen.video, 75);
    assert!(seen.keyframes_with_parameter_sets >= 3);
    assert!(
        (120..=150).contains(&seen.audio),
        "audio frames: {}",
        seen.audio
    );
    assert!(seen.unpublish, "no unpublish at the end");
    if have("ffprobe") {
        let duration = probe(&seen.ts, seen.video, "librtmp");
        assert!((2.7..=3.4).contains(&duration), "duration {duration}");
    }
}
