//! CloudWatch Logs: log groups, their streams and events, kept in the control
//! plane's SQLite store; and the sink every engine's events go to.
//!
//! # Model
//!
//! A log group (name, creation time, retention, class, tags) holds log
//! streams (name, creation time, first / last event time, last ingestion
//! time); a stream holds events (timestamp, ingestion time, message). Groups
//! and streams are rows of `log_groups` and `log_streams`, events of
//! `log_events`, indexed by (stream, timestamp) for GetLogEvents and by
//! (group, timestamp) for FilterLogEvents and retention. Every write is one
//! committed transaction, so an answered call survives `kill -9`.
//!
//! # Invariants
//!
//! * Names are checked as the AWS model says: a group name is 1–512 of
//!   `[.-_/#A-Za-z0-9]` and does not start with `aws/`; a stream name is
//!   1–512 characters without `:` or `*`; retention is one of
//!   [`RETENTION_DAYS`]. Errors name the member.
//! * Events of a stream read in (timestamp, ingestion order); a page never
//!   holds more than 10,000 events or 1 MiB, and every token names a position
//!   strictly after (or before) what was returned (module `token`).
//! * A deleted group or stream is gone at once; its events are removed in
//!   chunks afterwards (and by [`ControlPlane::logs_purge`] after a crash), so one
//!   deletion never holds the store for long.
//! * Reads hold the store for a bounded time: FilterLogEvents examines at
//!   most [`SCAN_ROWS`] events per call and says where to go on.
//!
//! # The event sink
//!
//! [`ControlPlane::log_event`] writes one event of a flow, channel or
//! endpoint ([`LogSource`]): to `/aws/{service}/{name}` when a group of that
//! exact name exists (stream `{name}`), else to [`DEFAULT_GROUP`] (stream
//! `{service}/{name}`), created on first write with a retention of
//! [`DEFAULT_GROUP_RETENTION_DAYS`] days. [`ControlPlane::logs_purge`],
//! called periodically, deletes events past their group's retention and
//! keeps the default group at [`DEFAULT_GROUP_MAX_EVENTS`] events at most.
//!
//! ```
//! # fn demo() -> Result<(), control::ControlError> {
//! use control::logs::LogSource;
//! let cp = control::ControlPlane::with_store(control::Store::in_memory()?, Default::default());
//! let flow = LogSource { service: "mediaconnect", name: "Show", id: "arn:aws:mediaconnect:…" };
//! cp.log_event(&flow, 1_750_000_000_000, "flow started")?;
//! let page = cp.logs().filter_events(control::logs::DEFAULT_GROUP, &Default::default())?;
//! assert!(page.items[0].message.starts_with("flow started"));
//! # Ok(()) }
//! # demo().unwrap();
//! ```

pub mod batch;
pub(crate) mod db;
mod events;
mod groups;
pub mod names;
pub mod pattern;
#[cfg(test)]
mod tests;
pub(crate) mod token;

use std::collections::BTreeMap;

pub use batch::{InputEvent, Verdict};
pub use events::{
    FilterQuery, GetPage, GetQuery, PutOutcome, StreamSelect, PAGE_BYTES, PAGE_EVENTS,
};
pub use names::{
    check_group_name, check_retention, check_stream_name, check_tags, constraint, group_arn,
    group_name_of,
};
pub use pattern::{FilterPattern, PatternError};

use crate::error::Result;
use crate::{ControlPlane, Store};

/// Where engines' events go when no `/aws/{service}/{name}` group exists.
pub const DEFAULT_GROUP: &str = "/onair/events";
/// The retention the default group is created with.
pub const DEFAULT_GROUP_RETENTION_DAYS: i32 = 30;
/// The most events [`ControlPlane::logs_purge`] leaves in the default group (the oldest
/// go first).
pub const DEFAULT_GROUP_MAX_EVENTS: i64 = 1_000_000;
/// The retention values PutRetentionPolicy accepts.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// Log group classes (LogGroupClass).
pub const CLASSES: [&str; 4] = ["STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS"];
/// Tags a group may carry.
pub const MAX_TAGS: usize = 50;
/// Events FilterLogEvents examines per call before answering with a token.
pub const SCAN_ROWS: i64 = 20_000;
/// Events removed per transaction when a group, stream or old events go.
const DELETE_CHUNK: i64 = 5_000;

/// A log group as DescribeLogGroups shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<i32>,
    pub class: String,
    /// UTF-8 bytes of the messages it holds.
    pub stored_bytes: i64,
    pub events: i64,
    pub tags: BTreeMap<String, String>,
}

/// A log stream as DescribeLogStreams shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogStream {
    pub name: String,
    pub created_ms: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
    /// PutLogEvents calls so far (its `uploadSequenceToken`).
    pub uploads: i64,
}

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// Unique and increasing in ingestion order.
    pub id: i64,
    pub stream: String,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
}

/// One page of a listing and where the next starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// DescribeLogGroups' filters.
#[derive(Clone, Debug, Default)]
pub struct GroupQuery {
    pub prefix: Option<String>,
    /// `logGroupNamePattern`: a case-sensitive substring.
    pub contains: Option<String>,
    pub class: Option<String>,
    /// `logGroupIdentifiers`, as names.
    pub names: Option<Vec<String>>,
    pub token: Option<String>,
    /// 1–50.
    pub limit: usize,
}

/// DescribeLogStreams' order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamOrder {
    #[default]
    Name,
    LastEventTime,
}

/// DescribeLogStreams' filters.
#[derive(Clone, Debug, Default)]
pub struct StreamQuery {
    pub prefix: Option<String>,
    pub order: StreamOrder,
    pub descending: bool,
    pub token: Option<String>,
    /// 1–50.
    pub limit: usize,
}

/// The resource an engine event is about.
#[derive(Clone, Copy, Debug)]
pub struct LogSource<'a> {
    /// `mediaconnect`, `medialive` or `mediapackage`.
    pub service: &'a str,
    /// The resource's name (a flow's or channel's name, an endpoint's id).
    pub name: &'a str,
    /// Its ARN or id, appended to each message in parentheses.
    pub id: &'a str,
}

/// Where an engine event goes: `(group, stream)`. `/aws/{service}/{name}`
/// when `exists` says so, else [`DEFAULT_GROUP`].
pub fn destination(source: &LogSource, exists: impl FnOnce(&str) -> bool) -> (String, String) {
    let named = format!("/aws/{}/{}", source.service, source.name);
    if check_group_name("", &named).is_ok() && exists(&named) {
        (named, stream_name(source.name))
    } else {
        (
            DEFAULT_GROUP.to_string(),
            stream_name(&format!("{}/{}", source.service, source.name)),
        )
    }
}

/// A resource name as a stream name: `:` and `*` become `_`, at most 512
/// characters, never empty.
fn stream_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if matches!(c, ':' | '*') { '_' } else { c })
        .take(512)
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// What one [`ControlPlane::logs_purge`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Events past their group's retention.
    pub expired: u64,
    /// Events over the default group's bound.
    pub over_cap: u64,
    /// Events of deleted groups and streams.
    pub deleted: u64,
}

/// CloudWatch Logs over the control plane's store.
pub struct Logs<'a> {
    store: &'a Store,
}

impl ControlPlane {
    /// CloudWatch Logs' groups, streams and events.
    pub fn logs(&self) -> Logs<'_> {
        Logs::new(&self.store)
    }

    /// The event sink: writes one event of `source` at `at_ms` (one short
    /// transaction; see the [module docs](crate::logs) for where it goes).
    pub fn log_event(&self, source: &LogSource, at_ms: i64, message: &str) -> Result<()> {
        self.logs().append(source, at_ms, message)
    }

    /// Deletes expired events and bounds the default group; call it
    /// periodically (every few minutes). Takes the store in short chunks.
    pub fn logs_purge(&self, now_ms: i64) -> Result<PurgeReport> {
        self.logs().purge(now_ms)
    }
}
