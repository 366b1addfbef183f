//! The monitor's drivers in `onair serve`: the observer that turns engine
//! reports into metrics, alerts and events; the alarm loop that evaluates
//! every alarm on its tick and runs its actions; and persistence.
//!
//! Files in the data directory:
//! * `alarms.json`: every alarm with its state and recent history, written
//!   (to a temporary file, synced, then renamed) after every change, so even
//!   `kill -9` loses no alarm;
//! * `metrics.snap`: the metric history, written every
//!   [`SNAPSHOT_EVERY`] and at shutdown (a `kill -9` loses at most that much).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use control::ControlPlane;
use monitor::hub::alarms::Transition;
use monitor::hub::feed::Severity;
use monitor::{Hub, Timestamp};
use runtime::observe::{self, Happening, LogSink};

/// How often expired log events and metric pages are dropped.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(300);
/// How often the metric history is written out.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(300);
/// Alarms are evaluated this long after their tick, so the engines' last
/// second of data is in.
const SETTLE_SECS: u64 = 2;

const ALARMS_FILE: &str = "alarms.json";
const METRICS_FILE: &str = "metrics.snap";

/// What runs an alarm's actions (SNS notifications).
pub type Notify = Arc<dyn Fn(&Transition, &str) + Send + Sync>;

/// Loads what was persisted into `hub`; problems are reported, not fatal
/// (a corrupt metric snapshot costs history, never the server).
pub fn restore(hub: &Hub, data_dir: &Path) {
    let now = observe::wall_clock();
    match std::fs::read_to_string(data_dir.join(ALARMS_FILE)) {
        Ok(doc) => match hub.restore_alarms(&doc, now) {
            Ok(n) => tracing::info!("{n} alarms restored"),
            Err(e) => tracing::error!(
                "{}/{ALARMS_FILE} cannot be read, alarms start empty: {e}",
                data_dir.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!("{}/{ALARMS_FILE}: {e}", data_dir.display()),
    }
    match std::fs::read(data_dir.join(METRICS_FILE)) {
        Ok(bytes) => {
            let bytes = inflate(bytes);
            if let Err(e) = hub.restore_snapshot(&bytes) {
                tracing::warn!(
                    "{}/{METRICS_FILE} cannot be read, metric history starts empty: {e}",
                    data_dir.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("{}/{METRICS_FILE}: {e}", data_dir.display()),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file, synced, renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The snapshot as written: gzip (fast level). Counters are mostly zeros and
/// repeated values, so this is several times smaller than the raw store.
fn deflate(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    match gz.write_all(raw).and_then(|()| gz.finish()) {
        Ok(bytes) => bytes,
        Err(_) => raw.to_vec(),
    }
}

/// A snapshot as read: inflated when gzipped (older ones were not).
fn inflate(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return bytes;
    }
    let mut raw = Vec::new();
    match std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut raw) {
        Ok(_) => raw,
        Err(e) => {
            tracing::warn!("the metric history does not inflate: {e}");
            Vec::new()
        }
    }
}

/// Writes the metric history now (every few minutes, and at shutdown).
pub fn save_metrics(hub: &Hub, data_dir: &Path) {
    let started = std::time::Instant::now();
    let raw = hub.snapshot();
    let bytes = deflate(&raw);
    tracing::debug!(
        raw = raw.len(),
        written = bytes.len(),
        "metric history snapshot in {:?}",
        started.elapsed()
    );
    if let Err(e) = write_atomically(&data_dir.join(METRICS_FILE), &bytes) {
        tracing::error!(
            "cannot write the metric history to {}: {e}",
            data_dir.display()
        );
    }
}

/// Starts the observer and the alarm loop.
pub fn spawn(
    cp: Arc<ControlPlane>,
    origin: package::origin::OriginStore,
    hub: Arc<Hub>,
    data_dir: PathBuf,
    log: LogSink,
    notify: Notify,
) {
    tokio::spawn(housekeeping(cp.clone(), hub.clone()));
    tokio::spawn(observe::run(cp, origin, hub.clone(), log.clone()));
    tokio::spawn(alarm_loop(hub, data_dir, log, notify));
}

/// Every [`HOUSEKEEPING_EVERY`]: log events past their retention are
/// deleted, and metric pages past theirs are given back.
async fn housekeeping(cp: Arc<ControlPlane>, hub: Arc<Hub>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = observe::wall_clock();
        let (cp, hub) = (cp.clone(), hub.clone());
        let done = tokio::task::spawn_blocking(move || {
            let dropped = hub.with_store_mut(|s| s.expire(now));
            if dropped > 0 {
                tracing::info!("{dropped} metrics without data for 15 days forgotten");
            }
            let now_ms = i64::try_from(now.as_unix_millis()).unwrap_or(i64::MAX);
            cp.logs_purge(now_ms)
        })
        .await;
        match done {
            Ok(Ok(report)) => tracing::debug!("log purge: {report:?}"),
            Ok(Err(e)) => tracing::warn!("log purge failed: {e}"),
            Err(e) => tracing::warn!("housekeeping task: {e}"),
        }
    }
}

async fn alarm_loop(hub: Arc<Hub>, data_dir: PathBuf, log: LogSink, notify: Notify) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut saved_alarms = hub.alarms_version();
    let mut last_snapshot = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = observe::wall_clock();
        let mut transitions = hub.take_transitions();
        transitions.extend(hub.evaluate_due(now.minus_secs(SETTLE_SECS)));
        for t in &transitions {
            announce(&hub, t, now, log.as_ref());
            for action in &t.evaluation.actions {
                notify(t, action);
            }
        }
        let version = hub.alarms_version();
        if version != saved_alarms {
            let doc = hub.alarms_document();
            let path = data_dir.join(ALARMS_FILE);
            let written =
                tokio::task::spawn_blocking(move || write_atomically(&path, doc.as_bytes())).await;
            match written {
                Ok(Ok(())) => saved_alarms = version,
                Ok(Err(e)) => {
                    tracing::error!("cannot write the alarms to {}: {e}", data_dir.display())
                }
                Err(e) => tracing::error!("alarm writer: {e}"),
            }
        }
        if last_snapshot.elapsed() >= SNAPSHOT_EVERY {
            last_snapshot = tokio::time::Instant::now();
            let hub = hub.clone();
            let dir = data_dir.clone();
            let _ = tokio::task::spawn_blocking(move || save_metrics(&hub, &dir)).await;
        }
    }
}

/// An alarm state change in the feed and the log.
fn announce(
    hub: &Hub,
    t: &Transition,
    now: Timestamp,
    log: &(dyn Fn(&Happening, Timestamp) + Send + Sync),
) {
    let name = &t.alarm.definition.alarm_name;
    let severity = match t.evaluation.state {
        monitor::AlarmState::Alarm => Severity::Error,
        monitor::AlarmState::Ok => Severity::Info,
        monitor::AlarmState::InsufficientData => Severity::Warning,
    };
    let message = format!(
        "alarm {name}: {} -> {}: {}",
        t.evaluation.previous_state, t.evaluation.state, t.evaluation.state_reason
    );
    tracing::info!("{message}");
    let h = Happening {
        service: "cloudwatch",
        resource: t.alarm.arn.clone(),
        name: name.clone(),
        severity,
        message,
    };
    hub.with_feed_mut(|feed| {
        feed.post(
            now,
            h.service,
            &h.resource,
            &h.name,
            h.severity,
            h.message.clone(),
        );
    });
    log(&h, now);
}

/// The message CloudWatch publishes to an SNS topic on a state change.
pub fn alarm_message(t: &Transition, account_id: &str, region: &str) -> String {
    let a = &t.alarm;
    let d = &a.definition;
    let (statistic, extended) = match &d.statistic {
        monitor::MetricStatistic::Statistic(s) => (Some(s.as_str().to_uppercase()), None),
        monitor::MetricStatistic::ExtendedStatistic(p) => (None, Some(p.as_str().to_owned())),
    };
    let mut trigger = serde_json::json!({
        "MetricName": d.metric_name,
        "Namespace": d.namespace,
        "StatisticType": if extended.is_some() { "ExtendedStatistic" } else { "Statistic" },
        "Unit": a.extras.unit,
        "Dimensions": d.dimensions.iter().map(|x| serde_json::json!({"value": x.value, "name": x.name})).collect::<Vec<_>>(),
        "Period": d.period,
        "EvaluationPeriods": d.evaluation_periods,
        "DatapointsToAlarm": d.datapoints_to_alarm(),
        "ComparisonOperator": d.comparison_operator.as_str(),
        "Threshold": d.threshold,
        "TreatMissingData": d.treat_missing_data.as_str(),
        "EvaluateLowSampleCountPercentile": a.extras.evaluate_low_sample_count_percentile.clone().unwrap_or_default(),
    });
    if let Some(m) = trigger.as_object_mut() {
        if let Some(s) = statistic {
            m.insert("Statistic".into(), serde_json::json!(s));
        }
        if let Some(p) = extended {
            m.insert("ExtendedStatistic".into(), serde_json::json!(p));
        }
    }
    serde_json::json!({
        "AlarmName": d.alarm_name,
        "AlarmDescription": a.extras.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": a.configuration_updated.to_aws_iso(),
        "NewStateValue": t.evaluation.state.as_str(),
        "NewStateReason": t.evaluation.state_reason,
        "StateChangeTime": t.evaluation.at.to_aws_iso(),
        "Region": region,
        "AlarmArn": a.arn,
        "OldStateValue": t.evaluation.previous_state.as_str(),
        "OKActions": d.ok_actions,
        "AlarmActions": d.alarm_actions,
        "InsufficientDataActions": d.insufficient_data_actions,
        "Trigger": trigger,
    })
    .to_string()
}

/// The subject CloudWatch gives the notification.
pub fn alarm_subject(t: &Transition, region: &str) -> String {
    let subject = format!(
        "{}: \"{}\" in {region}",
        t.evaluation.state.as_str(),
        t.alarm.definition.alarm_name
    );
    // SNS subjects are at most 100 characters.
    subject.chars().take(100).collect()
}
