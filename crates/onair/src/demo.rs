//! `onair demo`: the recipe's media path on one box.
//!
//! Starts the server, creates a primary and a backup flow (recipe steps 1-3:
//! RTP sources on 5000/5001, rtp-fec outputs on 5002/5003, plus a plain UDP
//! monitor output each), starts two test encoders (ffmpeg test patterns with a
//! 1 kHz tone on the primary, 600 Hz on the backup), then a MediaPackage
//! channel with an HLS endpoint and a MediaLive channel that takes both flows
//! with automatic input failover (steps 4-8, 10), and prints where to watch.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::serve::{self, ServeArgs};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address of the HTTP port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Where the demo keeps its resources.
    #[arg(long, default_value = "onair-demo-data")]
    pub data_dir: PathBuf,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
}

struct DemoFlow {
    name: &'static str,
    ingest: u16,
    fec_out: u16,
    monitor: u16,
    tone_hz: u32,
    pattern: &'static str,
}

const FLOWS: [DemoFlow; 2] = [
    DemoFlow {
        name: "demo-primary",
        ingest: 5000,
        fec_out: 5002,
        monitor: 5020,
        tone_hz: 1000,
        pattern: "testsrc2",
    },
    DemoFlow {
        name: "demo-backup",
        ingest: 5001,
        fec_out: 5003,
        monitor: 5021,
        tone_hz: 600,
        pattern: "smptehdbars",
    },
];

/// A test encoder for `f`. With a run time, the encoder stops by itself a
/// little after it, so it cannot outlive the demo even if the demo is killed
/// without a chance to clean up.
fn encoder(f: &DemoFlow, seconds: Option<u64>) -> anyhow::Result<Child> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-re"]);
    if let Some(s) = seconds {
        cmd.args(["-t", &s.saturating_add(5).to_string()]);
    }
    cmd.args([
        "-f",
        "lavfi",
        "-i",
        &format!("{}=size=640x360:rate=25", f.pattern),
    ])
    .args([
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency={}:sample_rate=48000", f.tone_hz),
    ])
    .args([
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-b:v",
        "1500k",
    ])
    .args([
        "-g",
        "50",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-f",
        "rtp_mpegts",
    ])
    .arg(format!("rtp://127.0.0.1:{}", f.ingest))
    .kill_on_drop(true)
    .stdin(std::process::Stdio::null())
    .spawn()
    .context("cannot start ffmpeg as the test encoder (install ffmpeg; `make demo` does)")
}

/// Steps 4-8 and 10 in-process: a MediaPackage channel with an HLS endpoint,
/// a MEDIACONNECT input per flow and a channel with automatic input failover
/// from the primary to the backup. Returns the HLS URL.
async fn pipeline(rt: &runtime::Runtime, flows: &[String]) -> anyhow::Result<String> {
    let cp = &**rt.control();
    const PACKAGE: &str = "demo-package";
    const CHANNEL: &str = "demo-channel";
    // Leftovers of an earlier run go first.
    if let Ok(list) = cp.list_channels(None, None) {
        for ch in list
            .get("channels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if text(ch, "/name") == CHANNEL {
                let id = text(ch, "/id");
                let _ = cp.stop_channel(id);
                rt.reconcile().await;
                let _ = cp.delete_channel(id);
                rt.reconcile().await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(1200)).await; // DELETING -> DELETED detaches inputs
    if let Ok(list) = cp.list_inputs(None, None) {
        for i in list
            .get("inputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if text(i, "/name").starts_with("demo-") {
                let _ = cp.delete_input(text(i, "/id"));
            }
        }
    }
    let _ = cp.delete_origin_endpoint("demo-hls");
    let _ = cp.delete_package_channel(PACKAGE);

    api(cp.create_package_channel(
        "us-east-1",
        &json!({"id": PACKAGE, "description": "onair demo"}),
    ))?;
    let endpoint = api(cp.create_origin_endpoint(
        "us-east-1",
        &json!({
            "channelId": PACKAGE,
            "id": "demo-hls",
            "hlsPackage": {"segmentDurationSeconds": 2, "playlistWindowSeconds": 30, "playlistType": "NONE"}
        }),
    ))?;
    let mut inputs = Vec::new();
    for (f, arn) in FLOWS.iter().zip(flows) {
        let input = api(cp.create_input(
            "us-east-1",
            &json!({"name": format!("{}-input", f.name), "type": "MEDIACONNECT", "mediaConnectFlows": [{"flowArn": arn}]}),
        ))?;
        inputs.push(text(&input, "/input/id").to_string());
    }
    let (primary, backup) = match inputs.as_slice() {
        [p, b] => (p.clone(), b.clone()),
        _ => bail!("the demo needs two inputs"),
    };
    let audio = json!({"audioSelectors": [{"name": "default"}]});
    let body = json!({
        "name": CHANNEL,
        "channelClass": "SINGLE_PIPELINE",
        "inputAttachments": [
            {
                "inputAttachmentName": "primary",
                "inputId": primary,
                "inputSettings": audio,
                "automaticInputFailoverSettings": {
                    "secondaryInputId": backup,
                    "inputPreference": "PRIMARY_INPUT_PREFERRED",
                    "errorClearTimeMsec": 3000,
                    "failoverConditions": [{"failoverConditionSettings": {"inputLossSettings": {"inputLossThresholdMsec": 1000}}}]
                }
            },
            {"inputAttachmentName": "backup", "inputId": backup, "inputSettings": audio}
        ],
        "destinations": [{"id": "mp", "mediaPackageSettings": [{"channelId": PACKAGE}]}],
        "encoderSettings": {
            "timecodeConfig": {"source": "SYSTEMCLOCK"},
            "audioDescriptions": [{
                "name": "audio", "audioSelectorName": "default",
                "codecSettings": {"aacSettings": {"bitrate": 128000, "sampleRate": 48000, "codingMode": "CODING_MODE_2_0", "profile": "LC"}}
            }],
            "videoDescriptions": [{
                "name": "video", "width": 640, "height": 360,
                "codecSettings": {"h264Settings": {
                    "bitrate": 1200000, "rateControlMode": "CBR", "framerateControl": "SPECIFIED",
                    "framerateNumerator": 25, "framerateDenominator": 1, "gopSize": 2, "gopSizeUnits": "SECONDS",
                    "gopNumBFrames": 0, "profile": "MAIN", "level": "H264_LEVEL_3_1"
                }}
            }, {
                "name": "video-low", "width": 320, "height": 180,
                "codecSettings": {"h264Settings": {
                    "bitrate": 400000, "rateControlMode": "CBR", "framerateControl": "SPECIFIED",
                    "framerateNumerator": 25, "framerateDenominator": 1, "gopSize": 2, "gopSizeUnits": "SECONDS",
                    "gopNumBFrames": 0, "profile": "MAIN", "level": "H264_LEVEL_3_1"
                }}
            }],
            "outputGroups": [{
                "outputGroupSettings": {"mediaPackageGroupSettings": {"destination": {"destinationRefId": "mp"}}},
                "outputs": [{
                    "outputName": "main", "videoDescriptionName": "video", "audioDescriptionNames": ["audio"],
                    "outputSettings": {"mediaPackageOutputSettings": {}}
                }, {
                    "outputName": "low", "videoDescriptionName": "video-low", "audioDescriptionNames": ["audio"],
                    "outputSettings": {"mediaPackageOutputSettings": {}}
                }]
            }]
        }
    });
    let created = cp
        .create_channel("us-east-1", &body)
        .map_err(|e| anyhow::anyhow!("demo channel: {e:?}"))?;
    let id = text(&created, "/channel/id").to_string();
    tokio::time::sleep(Duration::from_millis(1200)).await; // CREATING -> IDLE
    api(cp.start_channel(&id))?;
    rt.reconcile().await;
    Ok(text(&endpoint, "/url").to_string())
}

/// The string at `pointer` (RFC 6901) in an answer, or "" if there is none.
fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// SIGTERM (`kill`, `timeout`, a supervisor): stop like Ctrl-C, so that the
/// encoders are stopped with the demo instead of feeding the next run.
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

fn api<T>(r: control::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn main(args: DemoArgs) -> anyhow::Result<()> {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_err()
    {
        bail!(
            "the demo needs ffmpeg as its test encoder: run `make demo`, or apt-get install ffmpeg"
        );
    }
    let serve_args = ServeArgs {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        segment_dir: None,
        ingest_ip: Some("127.0.0.1".parse()?),
        ingest_bind: "127.0.0.1".parse()?,
        access_key_id: None,
        secret_access_key: None,
        public_url: None,
        max_metrics: 2000,
        region: "us-east-1".into(),
        network: Default::default(),
    };
    let server = serve::start(&serve_args).await?;
    let cp = server.cp.clone();
    let rt = server.runtime.clone();
    // Unlike `onair serve`, the demo prints the secret key every run: it is a
    // throwaway key in the demo's own data dir, the server listens on
    // loopback unless told otherwise, and pasting these lines is the next step.
    let exports = serve::exports(&server, "us-east-1");
    let endpoint = server.endpoint.clone();
    let serving = tokio::spawn(serve::run(server));

    // A fresh pair of flows each run.
    for rec in api(cp.flow_records())? {
        if FLOWS.iter().any(|f| f.name == rec.flow.name) {
            let _ = cp.stop_flow(&rec.flow.flow_arn);
            rt.reconcile().await;
            api(cp.delete_flow(&rec.flow.flow_arn))?;
        }
    }
    rt.reconcile().await;
    let mut arns = Vec::new();
    for f in &FLOWS {
        let body = json!({
            "name": f.name,
            "availabilityZone": if f.ingest == 5000 { "us-east-1a" } else { "us-east-1b" },
            "source": { "name": format!("{}-source", f.name), "protocol": "rtp", "ingestPort": f.ingest, "whitelistCidr": "127.0.0.0/8" },
            "outputs": [
                { "name": "MediaLiveOutput", "protocol": "rtp-fec", "destination": "127.0.0.1", "port": f.fec_out },
                { "name": "monitor", "protocol": "udp", "destination": "127.0.0.1", "port": f.monitor }
            ]
        });
        let created = api(cp.create_flow("us-east-1", &body))?;
        let arn = text(&created, "/flow/flowArn").to_string();
        api(cp.start_flow(&arn))?;
        arns.push(arn);
    }
    rt.reconcile().await;
    let mut encoders = Vec::new();
    for f in &FLOWS {
        encoders.push(encoder(f, args.seconds)?);
    }
    let hls_url = pipeline(&rt, &arns).await?;

    println!("\nonair demo is running: API at {endpoint}");
    println!("  dashboard: {endpoint}/   (flows, channel, player, alarms, events; live)\n");
    for (f, arn) in FLOWS.iter().zip(&arns) {
        println!(
            "  {:<13} ingest rtp://127.0.0.1:{}  ({} Hz tone)  {arn}",
            f.name, f.ingest, f.tone_hz
        );
        println!(
            "  {:<13} watch: ffplay udp://127.0.0.1:{}   (rtp-fec output on 127.0.0.1:{})",
            "", f.monitor, f.fec_out
        );
    }
    println!("\n  HLS (channel with input failover, 640x360 + 320x180): {hls_url}");
    println!("  browser: {endpoint}/player?src={hls_url}");
    println!("  watch: ffplay {hls_url}   (or VLC, Safari; the first segments take ~10 s)");
    println!("  failover: stop the primary encoder (1000 Hz) and the tone turns to 600 Hz");
    println!("\nDrive it with the aws CLI after pasting:\n\n{exports}");
    println!("  aws mediaconnect list-flows");
    println!(
        "  onair flows status --data-dir {}\n",
        args.data_dir.display()
    );

    let deadline = args
        .seconds
        .and_then(|s| tokio::time::Instant::now().checked_add(Duration::from_secs(s)));
    loop {
        let tick = tokio::time::sleep(Duration::from_secs(10));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminated() => break,
            _ = tick => {}
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
        for arn in &arns {
            if let Some(stats) = cp.reports.flow(arn) {
                for s in &stats.sources {
                    println!(
                        "{:<26} {:>6.2} Mb/s  {:>8} packets  {} CC errors",
                        s.name,
                        s.bitrate_bps as f64 / 1e6,
                        s.packets,
                        s.ts.continuity_errors
                    );
                }
            }
        }
    }
    for mut e in encoders {
        let _ = e.kill().await;
    }
    for arn in &arns {
        let _ = cp.stop_flow(arn);
    }
    rt.reconcile().await;
    serving.abort();
    println!("demo stopped");
    Ok(())
}
