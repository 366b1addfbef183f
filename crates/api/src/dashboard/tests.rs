use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use control::flow::model::FlowStatus;
use control::medialive::ChannelState;
use control::reports::{ChannelReport, InputReport, InputState};
use control::{ControlPlane, Settings, Store};
use monitor::hub::feed::Severity;
use monitor::{AlarmDefinition, AlarmState, ComparisonOperator, Dimension, MetricStatistic};
use monitor::{Statistic, StatisticSet};
use serde_json::{json, Value};
use tokio::sync::watch;
use tower::ServiceExt;
use transport::{FlowStats, SourceStats};

use super::snapshot::{self, Health};
use super::*;
use crate::{router, Credentials};

fn state() -> AppState {
    let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
    AppState {
        sns: crate::sns::Notifier::new(cp.clone()),
        front: Default::default(),
        demo: Default::default(),
        cp,
        credentials: Credentials {
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
        },
        origin: crate::origin::OriginStore::default(),
        dashboard: Default::default(),
        monitor: Arc::new(monitor::Hub::new(
            monitor::Identity {
                account_id: "000000000000".into(),
                region: "us-west-2".into(),
            },
            monitor::series::StoreConfig::default(),
        )),
    }
}

async fn get(state: &AppState, method: &str, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    get_with(state, Request::builder().method(method).uri(path)).await
}

async fn get_with(
    state: &AppState,
    req: axum::http::request::Builder,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let resp = router(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 4 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

// ------------------------------------------------------------------ routes

#[tokio::test]
async fn the_page_is_at_the_root_without_auth() {
    let s = state();
    let (status, headers, body) = get(&s, "GET", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(headers.contains_key(header::ETAG));
    // Relative URLs: the page works behind a proxy that adds a path prefix.
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("\"dashboard/assets/main.js\""));
    assert!(!page.contains("\"/dashboard"));
    let (status, headers, body) = get(&s, "HEAD", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.is_empty());
}

#[tokio::test]
async fn aws_calls_to_the_root_still_reach_the_api() {
    let s = state();
    // An unsigned POST (CloudWatch and SNS post to `/`) and a GET carrying
    // an Authorization header are API calls: SigV4 refuses them.
    let (status, headers, _) = get(&s, "POST", "/").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("json"));
    let signed = Request::builder()
        .method("GET")
        .uri("/")
        .header(header::AUTHORIZATION, "AWS4-HMAC-SHA256 Credential=x");
    assert_eq!(get_with(&s, signed).await.0, StatusCode::FORBIDDEN);
    let target = Request::builder()
        .method("GET")
        .uri("/")
        .header("x-amz-target", "GraniteServiceVersion20100801.ListMetrics");
    assert_eq!(get_with(&s, target).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&s, "GET", "/?Action=ListTopics").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn assets_have_their_content_types() {
    let s = state();
    for (name, ty) in [
        ("main.js", "text/javascript; charset=utf-8"),
        ("player.js", "text/javascript; charset=utf-8"),
        ("hls.min.js", "text/javascript; charset=utf-8"),
        ("uPlot.iife.min.js", "text/javascript; charset=utf-8"),
        ("dashboard.css", "text/css; charset=utf-8"),
        ("uPlot.min.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, body) = get(&s, "GET", &format!("/dashboard/assets/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(headers[header::CONTENT_TYPE], ty, "{name}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{name}");
        assert_eq!(body, assets::find(name).unwrap().body, "{name}");
    }
    let (status, headers, body) = get(&s, "HEAD", "/dashboard/assets/main.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(body.is_empty());
}

#[tokio::test]
async fn every_module_the_page_imports_is_served() {
    let s = state();
    for asset in assets::ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        let text = std::str::from_utf8(asset.body).unwrap();
        for line in text.lines().filter(|l| l.starts_with("import ")) {
            let module = line.rsplit(['\'', '"']).nth(1).unwrap();
            let name = module.trim_start_matches("./");
            let (status, ..) = get(&s, "GET", &format!("/dashboard/assets/{name}")).await;
            assert_eq!(status, StatusCode::OK, "{} imports {module}", asset.name);
        }
    }
}

#[tokio::test]
async fn unknown_assets_are_404() {
    let s = state();
    for path in [
        "/dashboard/assets/nothing.js",
        "/dashboard/assets/index.html",
        "/dashboard/",
        "/dashboard/assets/",
        "/dashboard/assets/../../Cargo.toml",
        "/dashboard/assets/%2e%2e%2fCargo.toml",
        "/dashboard/elsewhere",
        "/dashboard/api/nothing",
    ] {
        let (status, headers, _) = get(&s, "GET", path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }
}

#[tokio::test]
async fn revalidation_answers_304() {
    let s = state();
    let (_, headers, _) = get(&s, "GET", "/dashboard/assets/main.js").await;
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let again = Request::builder()
        .uri("/dashboard/assets/main.js")
        .header(header::IF_NONE_MATCH, &etag);
    let (status, headers, body) = get_with(&s, again).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG], etag.as_str());
    assert!(body.is_empty());
}

#[tokio::test]
async fn data_routes_are_get_only() {
    let s = state();
    for path in ["/dashboard/api/snapshot", "/dashboard/api/stream"] {
        assert_eq!(
            get(&s, "POST", path).await.0,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_stream_sends_a_snapshot_at_once() {
    let s = state();
    let resp = router(s.clone())
        .oneshot(
            Request::builder()
                .uri("/dashboard/api/stream")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        futures_util::StreamExt::next(&mut body),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let text = String::from_utf8(first.to_vec()).unwrap();
    assert!(text.starts_with("event: snapshot\n"), "{text}");
    assert!(text.contains("retry: 1000\n"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let doc: Value = serde_json::from_str(data).unwrap();
    assert!(doc["at"].as_u64().unwrap() > 0);
    assert_eq!(doc["flows"], json!([]));
}

// ---------------------------------------------------------------- snapshot

fn source(name: &str, connected: bool, selected: bool, bitrate: u64) -> SourceStats {
    let mut s = SourceStats {
        name: name.into(),
        connected,
        selected,
        bitrate_bps: bitrate,
        packets: 1000,
        fec_recovered: 3,
        not_recovered: 2,
        ..Default::default()
    };
    s.ts.in_sync = connected;
    s.ts.pat_present = connected;
    s.ts.pmt_present = connected;
    s.ts.continuity_errors = 1;
    s
}

/// A running two-source FAILOVER flow whose engine reports `sources`.
fn running_flow(s: &AppState, sources: Vec<SourceStats>) -> (String, watch::Sender<FlowStats>) {
    let created = s
        .cp
        .create_flow(
            "us-west-2",
            &json!({
                "name": "cam",
                "sources": [
                    {"name": "Primary", "protocol": "rtp", "ingestPort": 5000, "whitelistCidr": "127.0.0.0/8"},
                    {"name": "Backup", "protocol": "rtp", "ingestPort": 5001, "whitelistCidr": "127.0.0.0/8"}
                ],
                "sourceFailoverConfig": {"failoverMode": "FAILOVER", "recoveryWindow": 200, "state": "ENABLED",
                    "sourcePriority": {"primarySource": "Primary"}},
                "outputs": [{"name": "out", "protocol": "udp", "destination": "127.0.0.1", "port": 5020}]
            }),
        )
        .unwrap();
    let arn = created["flow"]["flowArn"].as_str().unwrap().to_owned();
    s.cp.start_flow(&arn).unwrap();
    s.cp.flow_reached(&arn, FlowStatus::Active, None);
    let stats = FlowStats {
        sources,
        active_source: Some("Primary".into()),
        ..Default::default()
    };
    let (tx, rx) = watch::channel(stats);
    s.cp.reports.attach_flow(&arn, rx);
    (arn, tx)
}

fn build(s: &AppState) -> Value {
    let now = super::now();
    let built = encode(&snapshot::build(&s.cp, &s.monitor, now), now);
    serde_json::from_str(&built.wire).unwrap()
}

#[test]
fn a_flow_shows_its_sources_and_counters() {
    let s = state();
    let (arn, tx) = running_flow(
        &s,
        vec![
            source("Primary", true, true, 2_000_000),
            source("Backup", true, false, 1_900_000),
        ],
    );
    let doc = build(&s);
    let flow = &doc["flows"][0];
    assert_eq!(flow["arn"], arn.as_str());
    assert_eq!(flow["name"], "cam");
    assert_eq!(flow["status"], "ACTIVE");
    assert_eq!(flow["health"], "ok");
    assert_eq!(flow["failoverMode"], "FAILOVER");
    assert_eq!(flow["activeSource"], "Primary");
    assert_eq!(flow["bitrateBps"], 2_000_000);
    let primary = &flow["sources"][0];
    assert_eq!(primary["name"], "Primary");
    assert_eq!(primary["ingest"], "127.0.0.1:5000");
    assert_eq!(primary["protocol"], "rtp");
    assert_eq!(primary["health"], "ok");
    assert!(primary["arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:mediaconnect:"));
    assert_eq!(
        primary["live"],
        json!({"connected": true, "selected": true, "bitrateBps": 2_000_000, "packets": 1000,
               "fecRecovered": 3, "notRecovered": 2, "continuityErrors": 1, "dropped": 0})
    );
    assert_eq!(flow["outputs"][0]["destination"], "127.0.0.1:5020");

    // The primary's encoder stops: the source turns red, the flow amber
    // while the backup carries it, red when nothing is on air.
    tx.send_modify(|st| {
        st.sources[0] = source("Primary", false, false, 0);
        st.sources[1] = source("Backup", true, true, 1_900_000);
        st.active_source = Some("Backup".into());
    });
    let doc = build(&s);
    let flow = &doc["flows"][0];
    assert_eq!(flow["sources"][0]["health"], "error");
    assert_eq!(flow["sources"][1]["health"], "ok");
    assert_eq!(flow["health"], "warning");
    assert!(flow["messages"][0]
        .as_str()
        .unwrap()
        .contains("'Primary' is not receiving"));
    tx.send_modify(|st| st.sources[1] = source("Backup", false, true, 0));
    assert_eq!(build(&s)["flows"][0]["health"], "error");

    // A stopped flow is grey, without counters.
    s.cp.stop_flow(&arn).unwrap();
    s.cp.flow_reached(&arn, FlowStatus::Standby, None);
    let doc = build(&s);
    assert_eq!(doc["flows"][0]["health"], "idle");
    assert_eq!(doc["flows"][0]["sources"][0]["live"], Value::Null);
    assert_eq!(doc["flows"][0]["bitrateBps"], Value::Null);
}

fn running_channel(s: &AppState) -> (String, watch::Sender<ChannelReport>) {
    let input = |name: &str| {
        s.cp.create_input("us-west-2", &json!({"name": name, "type": "RTP_PUSH"}))
            .unwrap()["input"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (a, b) = (input("a"), input("b"));
    // The roleArn below names a role that exists, as MediaLive requires.
    let trust = r#"{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "medialive.amazonaws.com"}}}"#;
    s.cp.iam_create_role(&control::iam::model::NewRole::new("ml", trust))
        .unwrap();
    let ch = s
        .cp
        .create_channel(
            "us-west-2",
            &json!({
                "name": "event",
                "roleArn": "arn:aws:iam::000000000000:role/ml",
                "channelClass": "SINGLE_PIPELINE",
                "inputAttachments": [
                    {"inputAttachmentName": "primary", "inputId": a,
                     "automaticInputFailoverSettings": {"secondaryInputId": b},
                     "inputSettings": {"audioSelectors": [{"name": "default"}]}},
                    {"inputAttachmentName": "backup", "inputId": b,
                     "inputSettings": {"audioSelectors": [{"name": "default"}]}}
                ],
                "destinations": [{"id": "mp", "mediaPackageSettings": [{"channelId": "pkg"}]}],
                "encoderSettings": {
                    "timecodeConfig": {"source": "SYSTEMCLOCK"},
                    "audioDescriptions": [{"name": "a1", "audioSelectorName": "default",
                        "codecSettings": {"aacSettings": {"bitrate": 128000.0}}}],
                    "videoDescriptions": [
                        {"name": "v720", "width": 1280, "height": 720,
                         "codecSettings": {"h264Settings": {"bitrate": 2000000,
                            "framerateControl": "SPECIFIED", "framerateNumerator": 30000,
                            "framerateDenominator": 1001}}},
                        {"name": "v360", "width": 640, "height": 360,
                         "codecSettings": {"h264Settings": {"bitrate": 800000}}}
                    ],
                    "outputGroups": [{
                        "outputGroupSettings": {"mediaPackageGroupSettings": {"destination": {"destinationRefId": "mp"}}},
                        "outputs": [
                            {"outputName": "720p", "videoDescriptionName": "v720", "audioDescriptionNames": ["a1"],
                             "outputSettings": {"mediaPackageOutputSettings": {}}},
                            {"outputName": "360p", "videoDescriptionName": "v360", "audioDescriptionNames": ["a1"],
                             "outputSettings": {"mediaPackageOutputSettings": {}}}
                        ]
                    }]
                }
            }),
        )
        .unwrap();
    let id = ch["channel"]["id"].as_str().unwrap().to_owned();
    s.cp.channel_reached(&id, ChannelState::Creating, ChannelState::Idle, None);
    s.cp.start_channel(&id).unwrap();
    s.cp.channel_reached(
        &id,
        ChannelState::Starting,
        ChannelState::Running,
        Some("primary".into()),
    );
    let report = ChannelReport {
        active_input: "primary".into(),
        inputs: ["primary", "backup"]
            .iter()
            .map(|n| InputReport {
                name: (*n).into(),
                state: InputState::Connected,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let (tx, rx) = watch::channel(report);
    s.cp.reports.attach_channel(&id, rx);
    (id, tx)
}

#[test]
fn a_channel_shows_inputs_renditions_metrics_and_alerts() {
    let s = state();
    let (id, tx) = running_channel(&s);
    let now = super::now();
    for (name, value) in [("InputVideoFrameRate", 29.97), ("EncoderSpeed", 1.02)] {
        let metric = metrics::channel(name, &id).unwrap();
        s.monitor
            .put(
                now,
                &metric,
                now.minus_secs(1),
                StatisticSet::value(value).unwrap(),
            )
            .unwrap();
    }
    let doc = build(&s);
    let ch = &doc["channels"][0];
    assert_eq!(ch["id"], id.as_str());
    assert_eq!(ch["name"], "event");
    assert_eq!(ch["state"], "RUNNING");
    assert_eq!(ch["health"], "ok");
    assert_eq!(ch["activeInput"], "primary");
    assert_eq!(ch["inputLoss"], false);
    assert_eq!(ch["inputs"][1]["name"], "backup");
    assert_eq!(ch["inputs"][1]["state"], "CONNECTED");
    assert_eq!(ch["fps"], 29.97);
    assert_eq!(ch["encoderSpeed"], 1.02);
    assert_eq!(ch["packagingChannels"], json!(["pkg"]));
    let r = &ch["renditions"];
    assert_eq!(r[0]["name"], "v720");
    assert_eq!(
        (r[0]["width"].as_u64(), r[0]["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(r[0]["bitrate"], 2_000_000);
    assert!((r[0]["framerate"].as_f64().unwrap() - 29.97).abs() < 0.01);
    assert_eq!(r[1]["framerate"], Value::Null);

    // Input loss: an alert is set and the channel turns red.
    s.monitor.with_feed_mut(|f| {
        f.set_alert(now, &id, "0", "InputLoss", "no input");
    });
    tx.send_modify(|r| {
        r.input_loss = true;
        r.inputs[0].state = InputState::Silent;
    });
    let doc = build(&s);
    let ch = &doc["channels"][0];
    assert_eq!(ch["health"], "error");
    assert_eq!(ch["inputLoss"], true);
    assert_eq!(ch["inputs"][0]["state"], "NO_DATA");
    assert_eq!(ch["activeAlerts"], 1);
    assert_eq!(ch["alerts"][0]["type"], "InputLoss");
    assert_eq!(ch["alerts"][0]["state"], "SET");
    assert_eq!(ch["alerts"][0]["setAt"], now.as_unix_millis());
    tx.send_modify(|r| r.input_loss = false);
    assert_eq!(build(&s)["channels"][0]["health"], "warning");
}

#[test]
fn endpoints_alarms_and_events() {
    let s = state();
    s.cp.create_package_channel("us-west-2", &json!({"id": "pkg"}))
        .unwrap();
    s.cp.create_origin_endpoint(
        "us-west-2",
        &json!({"id": "pkg-hls", "channelId": "pkg", "hlsPackage": {}}),
    )
    .unwrap();
    let now = super::now();
    let mut def = AlarmDefinition::new(
        "no-signal",
        "AWS/MediaConnect",
        "SourceBitRate",
        MetricStatistic::Statistic(Statistic::Average),
        10,
        1,
        100_000.0,
        ComparisonOperator::LessThanThreshold,
    );
    def.dimensions = vec![Dimension {
        name: "FlowARN".into(),
        value: "arn:flow".into(),
    }];
    s.monitor
        .with_alarms_mut(|book, id| book.put(now, id, def, Default::default()))
        .unwrap();
    s.monitor
        .with_alarms_mut(|book, _| {
            book.set_state(now, "no-signal", AlarmState::Alarm, "no bitrate", None)
                .map_err(|e| e.unwrap_or(monitor::MonitorError::SnapshotInvalid("no alarm".into())))
        })
        .unwrap();
    s.monitor.with_feed_mut(|f| {
        f.post(
            now,
            "mediaconnect",
            "arn:flow",
            "cam",
            Severity::Info,
            "started",
        );
        f.post(
            now,
            "mediaconnect",
            "arn:flow",
            "cam",
            Severity::Error,
            "source lost",
        );
    });

    let doc = build(&s);
    let ep = &doc["endpoints"][0];
    assert_eq!(ep["id"], "pkg-hls");
    assert_eq!(ep["channelId"], "pkg");
    assert_eq!(ep["path"], "out/v1/pkg/pkg-hls/index.m3u8");
    assert_eq!(
        ep["url"],
        "http://127.0.0.1:8080/out/v1/pkg/pkg-hls/index.m3u8"
    );
    assert!(
        !doc.to_string().contains("password"),
        "no ingest credentials"
    );

    let alarm = &doc["alarms"][0];
    assert_eq!(alarm["name"], "no-signal");
    assert_eq!(alarm["state"], "ALARM");
    assert_eq!(alarm["reason"], "no bitrate");
    assert_eq!(alarm["metricName"], "SourceBitRate");
    assert_eq!(alarm["comparison"], "LessThanThreshold");
    assert_eq!(alarm["statistic"], "Average");
    assert_eq!(alarm["threshold"], 100_000.0);
    assert_eq!(alarm["changed"], now.as_unix_millis());
    assert_eq!(doc["alarmHistory"][0]["name"], "no-signal");
    assert!(doc["alarmHistory"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("ALARM"));

    assert_eq!(doc["events"][0]["message"], "source lost", "newest first");
    assert_eq!(doc["events"][0]["severity"], "error");
    assert_eq!(doc["events"][1]["message"], "started");
}

#[test]
fn the_digest_ignores_the_time_alone() {
    let s = state();
    let now = super::now();
    let snap = snapshot::build(&s.cp, &s.monitor, now);
    let a = encode(&snap, now);
    let b = encode(&snap, now.plus_secs(1));
    assert_eq!(a.digest, b.digest);
    assert_ne!(a.wire, b.wire);
    s.monitor
        .with_feed_mut(|f| f.post(now, "medialive", "1", "ch", Severity::Warning, "x"));
    let c = encode(&snapshot::build(&s.cp, &s.monitor, now), now);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn shared_snapshot_is_reused_within_the_rebuild_time() {
    let s = state();
    let a = s.dashboard.current(&s);
    let b = s.dashboard.current(&s);
    assert!(Arc::ptr_eq(&a.wire, &b.wire));
}

#[test]
fn health_rules() {
    assert_eq!(
        snapshot::flow_health(FlowStatus::Error, false, &[]),
        Health::Error
    );
    assert_eq!(
        snapshot::flow_health(FlowStatus::Standby, false, &[]),
        Health::Idle
    );
    assert_eq!(
        snapshot::flow_health(FlowStatus::Starting, false, &[]),
        Health::Warning
    );
    assert_eq!(
        snapshot::flow_health(FlowStatus::Active, false, &[]),
        Health::Warning,
        "no report yet"
    );
    assert_eq!(
        snapshot::channel_health(ChannelState::Running, None, 0),
        Health::Warning
    );
    assert_eq!(
        snapshot::channel_health(ChannelState::Idle, None, 0),
        Health::Idle
    );
    assert_eq!(
        snapshot::channel_health(ChannelState::CreateFailed, None, 0),
        Health::Error
    );
    let clean = ChannelReport {
        active_input: "a".into(),
        inputs: vec![InputReport {
            name: "a".into(),
            state: InputState::Connected,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        snapshot::channel_health(ChannelState::Running, Some(&clean), 0),
        Health::Ok
    );
    assert_eq!(
        snapshot::channel_health(ChannelState::Running, Some(&clean), 1),
        Health::Warning,
        "a set alert"
    );
}

#[tokio::test]
async fn history_lists_flows_and_channels() {
    let s = state();
    let (arn, _tx) = running_flow(&s, vec![source("Primary", true, true, 2_000_000)]);
    let now = super::now();
    let id = metrics::flow_bitrate(&arn).unwrap();
    for back in 1..=3 {
        s.monitor
            .put(
                now,
                &id,
                now.minus_secs(back),
                StatisticSet::value(1e6).unwrap(),
            )
            .unwrap();
    }
    let (status, headers, body) = get(&s, "GET", "/dashboard/api/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["seconds"], 300);
    let flow = &doc["flows"][arn.as_str()];
    assert_eq!(flow["onAir"].as_array().unwrap().len(), 3);
    assert_eq!(flow["onAir"][0][1], 1e6);
    assert_eq!(flow["sources"]["Primary"], json!([]));
    assert_eq!(flow["sources"]["Backup"], json!([]));
}

#[tokio::test]
async fn the_json_snapshot_route() {
    let s = state();
    let (status, headers, body) = get(&s, "GET", "/dashboard/api/snapshot").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alarmHistory",
            "alarms",
            "at",
            "channels",
            "endpoints",
            "events",
            "flows",
            "problems"
        ]
    );
}
