//! What happened, for people: the event feed (started, stopped, source
//! switched, input failover, alert set / cleared, refused traffic, engine
//! restarted) and MediaLive channel alerts as `ListAlerts` returns them.
//!
//! The feed keeps the last [`FEED_EVENTS`] events in memory, numbered from 1
//! so a reader asks for what came after the last number it saw; CloudWatch
//! Logs keeps them durably. Alerts are kept per channel: every set alert,
//! and the last [`CLEARED_ALERTS`] cleared ones.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::Timestamp;

/// Events kept in memory for readers of the feed.
pub const FEED_EVENTS: usize = 2000;
/// Cleared alerts kept per channel.
pub const CLEARED_ALERTS: usize = 100;

/// How bad an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One event of a flow, channel or endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Position in the feed, from 1.
    pub seq: u64,
    #[serde(serialize_with = "millis")]
    pub at: Timestamp,
    /// `mediaconnect`, `medialive`, `mediapackage`, `cloudwatch`.
    pub service: String,
    /// The resource's ARN (flows, alarms) or id (channels, endpoints).
    pub resource: String,
    /// The resource's name, for people.
    pub name: String,
    pub severity: Severity,
    pub message: String,
}

fn millis<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(t.as_unix_millis())
}

/// A MediaLive channel alert (`ChannelAlert`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// Unique per alert instance.
    pub id: String,
    /// e.g. `InputLoss`, `InputVideoBlack`.
    pub alert_type: String,
    pub message: String,
    pub pipeline_id: String,
    #[serde(serialize_with = "millis")]
    pub set_at: Timestamp,
    #[serde(serialize_with = "opt_millis")]
    pub cleared_at: Option<Timestamp>,
}

fn opt_millis<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&t.as_unix_millis()),
        None => s.serialize_none(),
    }
}

impl Alert {
    /// `SET` or `CLEARED`.
    pub fn state(&self) -> &'static str {
        if self.cleared_at.is_some() {
            "CLEARED"
        } else {
            "SET"
        }
    }
}

#[derive(Debug, Default)]
struct ChannelAlerts {
    set: Vec<Alert>,
    cleared: VecDeque<Alert>,
}

/// See the [module docs](self).
#[derive(Debug, Default)]
pub struct Feed {
    events: VecDeque<Event>,
    next_seq: u64,
    alerts: BTreeMap<String, ChannelAlerts>,
    next_alert: u64,
}

impl Feed {
    /// Append an event; returns its number.
    pub fn post(
        &mut self,
        at: Timestamp,
        service: &str,
        resource: &str,
        name: &str,
        severity: Severity,
        message: impl Into<String>,
    ) -> u64 {
        self.next_seq = self.next_seq.saturating_add(1);
        if self.events.len() >= FEED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            seq: self.next_seq,
            at,
            service: service.to_owned(),
            resource: resource.to_owned(),
            name: name.to_owned(),
            severity,
            message: message.into(),
        });
        self.next_seq
    }

    /// Events numbered above `after`, oldest first, at most `max`.
    pub fn since(&self, after: u64, max: usize) -> Vec<Event> {
        let skip = self.events.len().saturating_sub(max);
        self.events
            .iter()
            .skip(skip)
            .filter(|e| e.seq > after)
            .cloned()
            .collect()
    }

    /// The number of the newest event (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    /// Set an alert of `alert_type` on a channel's pipeline, unless one is set
    /// already; true when it is new.
    pub fn set_alert(
        &mut self,
        at: Timestamp,
        channel_id: &str,
        pipeline_id: &str,
        alert_type: &str,
        message: impl Into<String>,
    ) -> bool {
        let entry = self.alerts.entry(channel_id.to_owned()).or_default();
        if entry
            .set
            .iter()
            .any(|a| a.alert_type == alert_type && a.pipeline_id == pipeline_id)
        {
            return false;
        }
        self.next_alert = self.next_alert.saturating_add(1);
        entry.set.push(Alert {
            id: format!("{:016x}{:08x}", at.as_unix_millis(), self.next_alert),
            alert_type: alert_type.to_owned(),
            message: message.into(),
            pipeline_id: pipeline_id.to_owned(),
            set_at: at,
            cleared_at: None,
        });
        true
    }

    /// Clear a set alert; true when one was set.
    pub fn clear_alert(
        &mut self,
        at: Timestamp,
        channel_id: &str,
        pipeline_id: &str,
        alert_type: &str,
    ) -> bool {
        let Some(entry) = self.alerts.get_mut(channel_id) else {
            return false;
        };
        let Some(pos) = entry
            .set
            .iter()
            .position(|a| a.alert_type == alert_type && a.pipeline_id == pipeline_id)
        else {
            return false;
        };
        let mut alert = entry.set.remove(pos);
        alert.cleared_at = Some(at);
        if entry.cleared.len() >= CLEARED_ALERTS {
            entry.cleared.pop_front();
        }
        entry.cleared.push_back(alert);
        true
    }

    /// Clear every set alert of a channel (its engine stopped).
    pub fn clear_channel(&mut self, at: Timestamp, channel_id: &str) {
        let set: Vec<(String, String)> = self
            .alerts
            .get(channel_id)
            .map(|e| {
                e.set
                    .iter()
                    .map(|a| (a.pipeline_id.clone(), a.alert_type.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (pipeline, kind) in set {
            self.clear_alert(at, channel_id, &pipeline, &kind);
        }
    }

    /// Forget a deleted channel's alerts.
    pub fn forget_channel(&mut self, channel_id: &str) {
        self.alerts.remove(channel_id);
    }

    /// A channel's alerts: set ones first (oldest first), then cleared ones
    /// (most recently cleared first).
    pub fn alerts(&self, channel_id: &str) -> Vec<Alert> {
        self.alerts
            .get(channel_id)
            .map(|e| {
                e.set
                    .iter()
                    .cloned()
                    .chain(e.cleared.iter().rev().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many alerts are set on a channel's pipeline (`ActiveAlerts`).
    pub fn active_alerts(&self, channel_id: &str, pipeline_id: &str) -> usize {
        self.alerts
            .get(channel_id)
            .map(|e| {
                e.set
                    .iter()
                    .filter(|a| a.pipeline_id == pipeline_id)
                    .count()
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_and_bounded() {
        let mut feed = Feed::default();
        let t = Timestamp::from_unix_secs(1_795_947_600);
        for i in 0..(FEED_EVENTS + 5) {
            feed.post(
                t,
                "mediaconnect",
                "arn",
                "f",
                Severity::Info,
                format!("e{i}"),
            );
        }
        assert_eq!(feed.last_seq(), (FEED_EVENTS + 5) as u64);
        let recent = feed.since(feed.last_seq() - 2, 10);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[1].message, format!("e{}", FEED_EVENTS + 4));
        assert_eq!(feed.since(0, usize::MAX).len(), FEED_EVENTS);
    }

    #[test]
    fn an_alert_is_set_once_and_cleared_once() {
        let mut feed = Feed::default();
        let t = Timestamp::from_unix_secs(1_795_947_600);
        assert!(feed.set_alert(t, "1", "0", "InputLoss", "lost"));
        assert!(!feed.set_alert(t, "1", "0", "InputLoss", "lost"));
        assert_eq!(feed.active_alerts("1", "0"), 1);
        assert!(feed.clear_alert(t.plus_secs(3), "1", "0", "InputLoss"));
        assert!(!feed.clear_alert(t.plus_secs(3), "1", "0", "InputLoss"));
        assert_eq!(feed.active_alerts("1", "0"), 0);
        let all = feed.alerts("1");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state(), "CLEARED");
        feed.set_alert(t, "1", "0", "InputVideoBlack", "black");
        feed.clear_channel(t, "1");
        assert_eq!(feed.active_alerts("1", "0"), 0);
        assert_eq!(feed.alerts("1").len(), 2);
    }
}
