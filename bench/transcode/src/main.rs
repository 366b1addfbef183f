//! `onair-transcode-bench`: runs onair's channel engine (`live::transcode::Pipeline`) over
//! an MPEG-TS file as fast as it can, muxes every video rendition with the audio rendition
//! (`media::mux::TsMuxer`) into memory (or files), and prints one JSON report.
//!
//! `bench/transcode.py` runs it against the ffmpeg CLI doing the same job; `--describe`
//! prints a case's renditions so that script builds the ffmpeg command from the very
//! settings onair encodes with.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use live::transcode::Pipeline;
use live::{AudioSettings, Packet, Profile, Track, TranscodeConfig, VideoSettings};
use media::mux::{h264_aac_streams, TsMuxer};
use media::ts::Pid;
use serde_json::{json, Value};

/// What the benchmark transcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// The recipe's one rendition: 1280x720p30 CBR 2 Mb/s Main 4.1, GOP 90, 2 B, 3 refs.
    Single,
    /// A 4-rung ladder from one decode: 1080p 6M High, 720p 3M, 480p 1.2M, 360p 0.8M Main.
    Ladder,
}

#[derive(Parser, Debug)]
#[command(about = "Transcode a TS file with onair's channel engine as fast as possible")]
struct Args {
    /// Which job.
    #[arg(long, value_enum)]
    case: Case,
    /// Input MPEG-TS file (H.264 + AAC).
    #[arg(long)]
    input: Option<PathBuf>,
    /// x264 preset of every rendition.
    #[arg(long, default_value = "veryfast")]
    preset: String,
    /// Write each rendition's TS to DIR/onair-<name>.ts instead of dropping it.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Bytes of TS handed to the engine per call (a datagram: 7 × 188).
    #[arg(long, default_value_t = 1316)]
    datagram: usize,
    /// Print the case's renditions as JSON and exit.
    #[arg(long)]
    describe: bool,
}

/// A rendition and the name its output file gets.
struct Rung {
    name: &'static str,
    settings: VideoSettings,
}

fn rung(
    name: &'static str,
    (width, height): (u32, u32),
    bitrate: u32,
    gop_size: u32,
    profile: Profile,
    preset: &str,
) -> Rung {
    Rung {
        name,
        settings: VideoSettings {
            max_bitrate: Some(bitrate),
            buf_size: Some(bitrate),
            gop_size,
            b_frames: 2,
            profile,
            scene_change_detect: false,
            // The bench's ffmpeg command line mirrors x264's preset defaults.
            b_reference: true,
            b_adaptive: true,
            look_ahead: live::settings::LookAhead::Low,
            adaptive_quantization: live::settings::AdaptiveQuantization::High,
            preset: preset.to_string(),
            ..VideoSettings::new(width, height, (30, 1), bitrate)
        },
    }
}

fn rungs(case: Case, preset: &str) -> Vec<Rung> {
    match case {
        Case::Single => {
            let mut r = rung("720p", (1280, 720), 2_000_000, 90, Profile::Main, preset);
            r.settings.ref_frames = Some(3);
            r.settings.level = Some("4.1".into());
            vec![r]
        }
        Case::Ladder => vec![
            rung("1080p", (1920, 1080), 6_000_000, 60, Profile::High, preset),
            rung("720p", (1280, 720), 3_000_000, 60, Profile::Main, preset),
            rung("480p", (854, 480), 1_200_000, 60, Profile::Main, preset),
            rung("360p", (640, 360), 800_000, 60, Profile::Main, preset),
        ],
    }
}

const AAC: AudioSettings = AudioSettings {
    bitrate: 128_000,
    sample_rate: 48_000,
    channels: 2,
};

fn describe(rungs: &[Rung]) -> Value {
    let video: Vec<Value> = rungs
        .iter()
        .map(|r| {
            let s = &r.settings;
            json!({
                "name": r.name,
                "width": s.width,
                "height": s.height,
                "framerate": [s.framerate.0, s.framerate.1],
                "bitrate": s.bitrate,
                "max_bitrate": s.max_bitrate,
                "buf_size": s.buf_size,
                "rate_control": format!("{:?}", s.rate_control).to_lowercase(),
                "gop_size": s.gop_size,
                "b_frames": s.b_frames,
                "ref_frames": s.ref_frames,
                "profile": s.profile.x264_name(),
                "level": s.level,
                "scene_change_detect": s.scene_change_detect,
                "preset": s.preset,
            })
        })
        .collect();
    json!({
        "video": video,
        "audio": {"bitrate": AAC.bitrate, "sample_rate": AAC.sample_rate, "channels": AAC.channels},
        "scaler": "swscale bicubic to yuv420p",
    })
}

/// One output: a video rendition muxed with the audio rendition.
struct Output {
    muxer: TsMuxer,
    buf: Vec<u8>,
    file: Option<File>,
    bytes: u64,
    video_packets: u64,
    video_bytes: u64,
    key_frames: u64,
}

impl Output {
    fn new(file: Option<File>) -> Self {
        let streams = h264_aac_streams(Pid(0x100), &[Pid(0x101)]);
        Self {
            muxer: TsMuxer::new(&streams, 0),
            buf: Vec::with_capacity(1 << 20),
            file,
            bytes: 0,
            video_packets: 0,
            video_bytes: 0,
            key_frames: 0,
        }
    }

    fn write(&mut self, stream: usize, p: &Packet) -> Result<()> {
        self.muxer
            .write(stream, p.pts, p.dts, p.key, &p.data, &mut self.buf)?;
        if stream == 0 {
            self.video_packets += 1;
            self.video_bytes += p.data.len() as u64;
            self.key_frames += u64::from(p.key);
        }
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the muxed bytes to the file, or drops them (the `/dev/null` of the ffmpeg run).
    fn flush(&mut self) -> Result<()> {
        self.bytes += self.buf.len() as u64;
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.buf)?;
        }
        self.buf.clear();
        Ok(())
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rungs = rungs(args.case, &args.preset);
    if args.describe {
        println!("{}", describe(&rungs));
        return Ok(());
    }
    let Some(input) = args.input.as_ref() else {
        bail!("--input is required");
    };
    if args.datagram == 0 {
        bail!("--datagram must be at least 1");
    }
    let data = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;

    let mut outputs = Vec::new();
    for r in &rungs {
        let file = match &args.out_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Some(File::create(dir.join(format!("onair-{}.ts", r.name)))?)
            }
            None => None,
        };
        outputs.push(Output::new(file));
    }

    let start = Instant::now();
    let config = TranscodeConfig {
        selection: live::demux::Selection::default(),
        video: rungs.iter().map(|r| r.settings.clone()).collect(),
        audio: vec![AAC],
    };
    let mut pipeline = Pipeline::new(&config).context("opening the pipeline")?;
    let setup = start.elapsed();

    let mut audio_packets = 0u64;
    let mut error: Option<anyhow::Error> = None;
    let mut sink = |p: Packet| {
        if error.is_some() {
            return;
        }
        let result = match p.track {
            Track::Video(i) => match outputs.get_mut(i) {
                Some(o) => o.write(0, &p),
                None => Ok(()),
            },
            Track::Audio(_) => {
                audio_packets += 1;
                // Every output carries the audio, as each ffmpeg output does.
                outputs.iter_mut().try_for_each(|o| o.write(1, &p))
            }
        };
        if let Err(e) = result {
            error = Some(e);
        }
    };
    for chunk in data.chunks(args.datagram) {
        pipeline.push(chunk, &mut sink)?;
    }
    pipeline.finish(&mut sink)?;
    if let Some(e) = error {
        return Err(e);
    }
    for o in &mut outputs {
        o.flush()?;
    }
    let wall = start.elapsed();
    let stats = pipeline.stats();

    let renditions: Vec<Value> = rungs
        .iter()
        .zip(&outputs)
        .map(|(r, o)| {
            json!({
                "name": r.name,
                "ts_bytes": o.bytes,
                "video_packets": o.video_packets,
                "video_bytes": o.video_bytes,
                "key_frames": o.key_frames,
            })
        })
        .collect();
    let report = json!({
        "case": format!("{:?}", args.case).to_lowercase(),
        "input_bytes": data.len(),
        "setup_s": setup.as_secs_f64(),
        "wall_s": wall.as_secs_f64(),
        "video_frames_decoded": stats.video_frames,
        "audio_frames_decoded": stats.audio_frames,
        "demux_errors": stats.demux_errors,
        "decode_errors": stats.decode_errors,
        "audio_packets": audio_packets,
        "renditions": renditions,
    });
    println!("{report}");
    Ok(())
}
