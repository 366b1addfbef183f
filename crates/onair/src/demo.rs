//! `onair demo`: the recipe's architecture on one box, with controls that
//! break it and mend it.
//!
//! Starts the server and, in it:
//! - two flows as the recipe's steps 1-3 make them (`demo-primary` on
//!   5000, `demo-backup` on 5001, each with an `rtp-fec` output for MediaLive
//!   and a plain UDP monitor output);
//! - two test encoders in-process ([`testsrc`]: a moving pattern with the
//!   source's name and timecode, 1 kHz on the primary, 600 Hz on the backup,
//!   720p25 over RTP) sending to them;
//! - a MediaPackage channel with an HLS endpoint, and a MediaLive channel that
//!   takes both flows with automatic input failover (input loss, black
//!   picture, silence) and encodes a two-rung ladder into it (steps 4-8, 10);
//! - the recipe's two alarms (step 9), and two that answer within seconds —
//!   the primary flow's `SourceBitRate` and the channel's
//!   `PrimaryInputActive` — whose actions go to an SNS topic with an `http`
//!   subscription: the demo's own subscriber, shown on the dashboard.
//!
//! The monitoring is set up through the server's own API, signed, as a user's
//! script would. The dashboard's Demo panel stops, blacks out, silences,
//! freezes and restores the primary encoder ([`api::demo`]). Ctrl-C or
//! SIGTERM stops it all: the encoders are threads of this process, so nothing
//! is left behind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};
use testsrc::{Config, Format, Impairments, TestSource};

use crate::client::{label, Client};
use crate::serve::{self, ServeArgs};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address of the HTTP port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the demo keeps its resources.
    #[arg(long, default_value = "onair-demo-data")]
    pub data_dir: PathBuf,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
}

struct DemoFlow {
    name: &'static str,
    label: &'static str,
    ingest: u16,
    fec_out: u16,
    monitor: u16,
    tone_hz: u32,
    zone: &'static str,
}

const FLOWS: [DemoFlow; 2] = [
    DemoFlow {
        name: "demo-primary",
        label: "PRIMARY",
        ingest: 5000,
        fec_out: 5002,
        monitor: 5020,
        tone_hz: 1000,
        zone: "us-east-1a",
    },
    DemoFlow {
        name: "demo-backup",
        label: "BACKUP",
        ingest: 5001,
        fec_out: 5003,
        monitor: 5021,
        tone_hz: 600,
        zone: "us-east-1b",
    },
];

const REGION: &str = "us-east-1";
const PACKAGE: &str = "demo-package";
const CHANNEL: &str = "demo-channel";
const TOPIC: &str = "demo-alerts";
/// The alarms that answer within seconds, with SNS actions.
const BITRATE_ALARM: &str = "demo-primary-bitrate";
const BACKUP_ALARM: &str = "demo-channel-on-backup";

/// The two encoders, as the dashboard's buttons drive them.
struct Encoders {
    primary: TestSource,
    backup: TestSource,
}

impl api::demo::Encoders for Encoders {
    fn apply(&self, action: api::demo::Action) -> Result<(), String> {
        use api::demo::Action;
        if !self.primary.is_running() {
            return Err("the primary encoder has stopped by itself (see the log)".into());
        }
        let mut i = Impairments::none();
        match action {
            Action::Stop => i.stop = true,
            Action::Black => i.black = true,
            Action::Silence => i.silence = true,
            Action::Freeze => i.freeze = true,
            Action::Restore => {}
        }
        self.primary.set(i);
        Ok(())
    }

    fn primary_state(&self) -> String {
        let i = self.primary.impairments();
        let state = if !self.primary.is_running() {
            "failed"
        } else if i.stop {
            "stop"
        } else if i.black {
            "black"
        } else if i.silence {
            "silence"
        } else if i.freeze {
            "freeze"
        } else {
            "sending"
        };
        state.into()
    }
}

fn start_encoder(f: &DemoFlow) -> anyhow::Result<TestSource> {
    let mut config = Config::new(f.label, SocketAddr::from(([127, 0, 0, 1], f.ingest)));
    config.format = Format::Hd720p25;
    config.tone_hz = f.tone_hz;
    TestSource::start(config).with_context(|| format!("cannot start the {} test encoder", f.label))
}

/// Steps 4-8 and 10 in-process: a MediaPackage channel with an HLS endpoint,
/// a MEDIACONNECT input per flow and a channel with automatic input failover
/// from the primary to the backup. Returns the HLS URL and the channel id.
async fn pipeline(rt: &runtime::Runtime, flows: &[String]) -> anyhow::Result<(String, String)> {
    let cp = &**rt.control();
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

    api(cp.create_package_channel(REGION, &json!({"id": PACKAGE, "description": "onair demo"})))?;
    let endpoint = api(cp.create_origin_endpoint(
        REGION,
        &json!({
            "channelId": PACKAGE,
            "id": "demo-hls",
            "hlsPackage": {"segmentDurationSeconds": 2, "playlistWindowSeconds": 30, "playlistType": "NONE"}
        }),
    ))?;
    let mut inputs = Vec::new();
    for (f, arn) in FLOWS.iter().zip(flows) {
        let input = api(cp.create_input(
            REGION,
            &json!({"name": format!("{}-input", f.name), "type": "MEDIACONNECT", "mediaConnectFlows": [{"flowArn": arn}]}),
        ))?;
        inputs.push(text(&input, "/input/id").to_string());
    }
    let (primary, backup) = match inputs.as_slice() {
        [p, b] => (p.clone(), b.clone()),
        _ => bail!("the demo needs two inputs"),
    };
    let audio = json!({"audioSelectors": [{"name": "default"}]});
    let video = |name: &str, width: u32, height: u32, bitrate: u32| {
        json!({
            "name": name, "width": width, "height": height,
            "codecSettings": {"h264Settings": {
                "bitrate": bitrate, "rateControlMode": "CBR", "framerateControl": "SPECIFIED",
                "framerateNumerator": 25, "framerateDenominator": 1, "gopSize": 2, "gopSizeUnits": "SECONDS",
                "gopNumBFrames": 0, "profile": "MAIN", "level": "H264_LEVEL_3_1"
            }}
        })
    };
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
                    "failoverConditions": [
                        {"failoverConditionSettings": {"inputLossSettings": {"inputLossThresholdMsec": 1000}}},
                        {"failoverConditionSettings": {"videoBlackSettings": {"blackDetectThreshold": 0.1, "videoBlackThresholdMsec": 2000}}},
                        {"failoverConditionSettings": {"audioSilenceSettings": {"audioSelectorName": "default", "audioSilenceThresholdMsec": 2000}}}
                    ]
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
            "videoDescriptions": [video("video", 640, 360, 1_200_000), video("video-low", 320, 180, 400_000)],
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
        .create_channel(REGION, &body)
        .map_err(|e| anyhow::anyhow!("demo channel: {e:?}"))?;
    let id = text(&created, "/channel/id").to_string();
    tokio::time::sleep(Duration::from_millis(1200)).await; // CREATING -> IDLE
    api(cp.start_channel(&id))?;
    rt.reconcile().await;
    Ok((text(&endpoint, "/url").to_string(), id))
}

/// Step 9 and the demo's own alarms, through the server's API as a script
/// would: an SNS topic whose `http` subscriber is the demo's, the recipe's
/// two alarms, and two that answer within seconds with the topic as their
/// ALARM and OK actions.
async fn monitoring(
    client: &Client,
    subscriber: &str,
    primary_flow_arn: &str,
    channel_id: &str,
) -> anyhow::Result<()> {
    let created = sns(client, &[("Action", "CreateTopic"), ("Name", TOPIC)]).await?;
    let topic = created
        .split_once("<TopicArn>")
        .and_then(|(_, rest)| rest.split_once("</TopicArn>"))
        .map(|(arn, _)| arn.to_string())
        .with_context(|| format!("CreateTopic answered no TopicArn: {created}"))?;
    sns(
        client,
        &[
            ("Action", "Subscribe"),
            ("TopicArn", &topic),
            ("Protocol", "http"),
            ("Endpoint", subscriber),
        ],
    )
    .await?;
    let flow = |name: &str, value: &str| json!([{"Name": name, "Value": value}]);
    let alarms = [
        // The recipe's step 9, as it writes them.
        json!({
            "AlarmName": "demo-primary-source-errors",
            "AlarmDescription": "Alert on MediaConnect primary flow source errors",
            "MetricName": "SourceConnectionErrors", "Namespace": "AWS/MediaConnect",
            "Statistic": "Sum", "Period": 300, "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "EvaluationPeriods": 1,
            "Dimensions": flow("FlowName", "demo-primary")
        }),
        json!({
            "AlarmName": "demo-channel-input-errors",
            "AlarmDescription": "Alert on MediaLive channel input errors",
            "MetricName": "InputVideoFrameRate", "Namespace": "AWS/MediaLive",
            "Statistic": "Average", "Period": 300, "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold", "EvaluationPeriods": 2,
            "Dimensions": flow("ChannelId", channel_id)
        }),
        // Within seconds, with SNS actions.
        json!({
            "AlarmName": BITRATE_ALARM,
            "AlarmDescription": "The primary encoder's signal is gone from its flow",
            "MetricName": "SourceBitRate", "Namespace": "AWS/MediaConnect",
            "Statistic": "Average", "Period": 10, "Threshold": 100000,
            "ComparisonOperator": "LessThanThreshold", "EvaluationPeriods": 1,
            "TreatMissingData": "breaching",
            "Dimensions": flow("FlowARN", primary_flow_arn),
            "AlarmActions": [topic], "OKActions": [topic]
        }),
        json!({
            "AlarmName": BACKUP_ALARM,
            "AlarmDescription": "The channel plays its backup input",
            "MetricName": "PrimaryInputActive", "Namespace": "AWS/MediaLive",
            "Statistic": "Minimum", "Period": 10, "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold", "EvaluationPeriods": 1,
            "Dimensions": [{"Name": "ChannelId", "Value": channel_id}, {"Name": "Pipeline", "Value": "0"}],
            "AlarmActions": [topic], "OKActions": [topic]
        }),
    ];
    for alarm in alarms {
        let (status, body) = client
            .send(
                "POST",
                "/",
                "monitoring",
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    (
                        "x-amz-target",
                        "GraniteServiceVersion20100801.PutMetricAlarm",
                    ),
                ],
                alarm.to_string().as_bytes(),
            )
            .await?;
        if status != 200 {
            bail!(
                "PutMetricAlarm {}: HTTP {status}: {body}",
                text(&alarm, "/AlarmName")
            );
        }
    }
    Ok(())
}

/// One SNS call (awsQuery: a form POST).
async fn sns(client: &Client, params: &[(&str, &str)]) -> anyhow::Result<String> {
    let body = params
        .iter()
        .chain(&[("Version", "2010-03-31")])
        .map(|(k, v)| format!("{}={}", label(k), label(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (status, answer) = client
        .send(
            "POST",
            "/",
            "sns",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body.as_bytes(),
        )
        .await?;
    if status != 200 {
        bail!("SNS {body}: HTTP {status}: {answer}");
    }
    Ok(answer)
}

/// Waits (3 s at most) for a started flow to be ACTIVE; a flow in ERROR (its
/// ingest port taken, most often by another demo) stops the demo with the
/// flow's own words.
async fn flow_active(cp: &control::ControlPlane, f: &DemoFlow, arn: &str) -> anyhow::Result<()> {
    for _ in 0..30 {
        let flow = api(cp.describe_flow(arn))?;
        match text(&flow, "/flow/status") {
            "ACTIVE" => return Ok(()),
            "ERROR" => {
                let why = flow
                    .pointer("/messages/errors")
                    .and_then(Value::as_array)
                    .map(|e| {
                        e.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                bail!(
                    "flow {} cannot start: {why}\n(is another `onair demo`, or anything else, using UDP port {}?)",
                    f.name,
                    f.ingest
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    bail!("flow {} did not become ACTIVE within 3 s", f.name)
}

/// The string at `pointer` (RFC 6901) in an answer, or "" if there is none.
fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// SIGTERM (`kill`, `timeout`, a supervisor): stop like Ctrl-C.
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
    let serve_args = ServeArgs {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        segment_dir: None,
        ingest_ip: Some("127.0.0.1".parse()?),
        ingest_bind: "127.0.0.1".parse()?,
        rtmp_port: control::DEFAULT_RTMP_PORT,
        input_ports: control::medialive::PUSH_PORTS,
        flow_batching: transport::Batching::Auto,
        access_key_id: None,
        secret_access_key: None,
        public_url: None,
        max_metrics: 2000,
        region: REGION.into(),
        network: Default::default(),
    };
    let server = serve::start(&serve_args).await?;
    let cp = server.cp.clone();
    let rt = server.runtime.clone();
    let hooks = server.demo.clone();
    // Unlike `onair serve`, the demo prints the secret key every run: it is a
    // throwaway key in the demo's own data dir, the server listens on
    // loopback unless told otherwise, and pasting these lines is the next step.
    let exports = serve::exports(&server, REGION);
    let endpoint = server.endpoint.clone();
    let client = Client::new(
        &endpoint,
        server.creds.access_key_id.clone(),
        server.creds.secret_access_key.clone(),
        REGION.into(),
    )?;
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
            "availabilityZone": f.zone,
            "source": { "name": format!("{}-source", f.name), "protocol": "rtp", "ingestPort": f.ingest, "whitelistCidr": "127.0.0.0/8" },
            "outputs": [
                { "name": "MediaLiveOutput", "protocol": "rtp-fec", "destination": "127.0.0.1", "port": f.fec_out },
                { "name": "monitor", "protocol": "udp", "destination": "127.0.0.1", "port": f.monitor }
            ]
        });
        let created = api(cp.create_flow(REGION, &body))?;
        let arn = text(&created, "/flow/flowArn").to_string();
        api(cp.start_flow(&arn))?;
        arns.push(arn);
    }
    rt.reconcile().await;
    for (f, arn) in FLOWS.iter().zip(&arns) {
        flow_active(&cp, f, arn).await?;
    }
    let [primary_flow, backup_flow] = &FLOWS;
    let (primary, backup) = (start_encoder(primary_flow)?, start_encoder(backup_flow)?);
    let encoders = Arc::new(Encoders { primary, backup });
    let demo = Arc::new(api::demo::Demo::new(encoders.clone(), &endpoint));
    let subscriber = demo.subscriber_url().to_string();
    if hooks.set(demo).is_err() {
        bail!("the demo's controls were registered twice");
    }
    let (hls_url, channel_id) = pipeline(&rt, &arns).await?;
    let primary_arn = arns.first().map(String::as_str).unwrap_or_default();
    monitoring(&client, &subscriber, primary_arn, &channel_id)
        .await
        .context("cannot set up the demo's alarms")?;

    println!("\nonair demo is running: API at {endpoint}");
    println!("  dashboard: {endpoint}/   (flows, channel, player, alarms, events; live)");
    println!("  break it there: the Demo panel stops, blacks out, silences or freezes the primary encoder\n");
    for (f, arn) in FLOWS.iter().zip(&arns) {
        println!(
            "  {:<13} ingest rtp://127.0.0.1:{}  (test signal {}, {} Hz tone)  {arn}",
            f.name, f.ingest, f.label, f.tone_hz
        );
        println!(
            "  {:<13} watch: ffplay udp://127.0.0.1:{}   (rtp-fec output on 127.0.0.1:{})",
            "", f.monitor, f.fec_out
        );
    }
    println!("\n  HLS (channel with input failover, 640x360 + 320x180): {hls_url}");
    println!("  browser: {endpoint}/player?src={hls_url}");
    println!("  watch: ffplay {hls_url}   (or VLC, Safari; the first segments take ~10 s)");
    println!(
        "  alarms: {BITRATE_ALARM} and {BACKUP_ALARM} notify the SNS topic {TOPIC}, whose subscriber is the dashboard's"
    );
    println!("\nDrive it with the aws CLI after pasting:\n\n{exports}");
    println!("  aws mediaconnect list-flows");
    println!("  aws cloudwatch describe-alarms --query 'MetricAlarms[*].[AlarmName,StateValue]' --output table");
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
        for (label, source) in [("primary", &encoders.primary), ("backup", &encoders.backup)] {
            if !source.is_running() {
                tracing::error!("the {label} test encoder stopped by itself");
            }
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
    for arn in &arns {
        let _ = cp.stop_flow(arn);
    }
    rt.reconcile().await;
    serving.abort();
    println!("demo stopped");
    Ok(())
}
