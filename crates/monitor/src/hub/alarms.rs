//! Every metric alarm of the server, with what PutMetricAlarm stores beside
//! the evaluation settings (description, unit, tags, ARN, timestamps) and the
//! alarm history (`DescribeAlarmHistory`: `ConfigurationUpdate` and
//! `StateUpdate` items, the last [`HISTORY_ITEMS`] kept).
//!
//! The book drives each alarm's evaluation ticks ([`AlarmBook::evaluate_due`])
//! and round-trips through a JSON document for persistence.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::Identity;
use crate::alarm::reason::HistoryItem;
use crate::series::Store;
use crate::{Alarm, AlarmDefinition, AlarmState, Evaluation, MonitorError, Timestamp};

/// History items kept (all alarms together).
pub const HISTORY_ITEMS: usize = 10_000;
/// Alarms one server holds (a PutMetricAlarm creating one more gets `LimitExceeded`).
pub const MAX_ALARMS: usize = 5_000;

/// The PutMetricAlarm members beside the evaluation settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlarmExtras {
    pub description: Option<String>,
    pub unit: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// One alarm as Describe* shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmView {
    pub arn: String,
    pub definition: AlarmDefinition,
    pub extras: AlarmExtras,
    pub state: AlarmState,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated: Timestamp,
    /// When the state last changed value (SetAlarmState to the same state
    /// updates `state_updated` only).
    pub state_transitioned: Timestamp,
    pub configuration_updated: Timestamp,
}

/// A state change, with what its notifications need.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub alarm: AlarmView,
    pub evaluation: Evaluation,
}

#[derive(Clone, Debug)]
struct Entry {
    alarm: Alarm,
    arn: String,
    extras: AlarmExtras,
    configuration_updated: Timestamp,
    state_transitioned: Timestamp,
    next_due: Timestamp,
}

impl Entry {
    fn view(&self) -> AlarmView {
        AlarmView {
            arn: self.arn.clone(),
            definition: self.alarm.definition().clone(),
            extras: self.extras.clone(),
            state: self.alarm.state(),
            state_reason: self.alarm.state_reason().to_owned(),
            state_reason_data: self.alarm.state_reason_data().map(str::to_owned),
            state_updated: self.alarm.state_updated(),
            state_transitioned: self.state_transitioned,
            configuration_updated: self.configuration_updated,
        }
    }
}

/// See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct AlarmBook {
    alarms: BTreeMap<String, Entry>,
    history: VecDeque<HistoryItem>,
}

/// The ARN of a metric alarm.
pub fn alarm_arn(identity: &Identity, name: &str) -> String {
    format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{name}",
        identity.region, identity.account_id
    )
}

impl AlarmBook {
    pub fn len(&self) -> usize {
        self.alarms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alarms.is_empty()
    }

    /// PutMetricAlarm: create, or replace the configuration of, an alarm
    /// (its state is kept, as CloudWatch keeps it). True when created.
    pub fn put(
        &mut self,
        now: Timestamp,
        identity: &Identity,
        definition: AlarmDefinition,
        extras: AlarmExtras,
    ) -> Result<bool, MonitorError> {
        let name = definition.alarm_name.clone();
        let created = match self.alarms.get_mut(&name) {
            Some(entry) => {
                entry.alarm.update(definition)?;
                entry.extras = extras;
                entry.configuration_updated = now;
                entry.next_due = entry.alarm.next_evaluation(now);
                false
            }
            None => {
                if self.alarms.len() >= MAX_ALARMS {
                    return Err(MonitorError::invalid(
                        "AlarmName",
                        format!("the server holds {MAX_ALARMS} alarms, its maximum"),
                    ));
                }
                let alarm = Alarm::new(definition, now)?;
                let next_due = alarm.next_evaluation(now);
                self.alarms.insert(
                    name.clone(),
                    Entry {
                        alarm,
                        arn: alarm_arn(identity, &name),
                        extras,
                        configuration_updated: now,
                        state_transitioned: now,
                        next_due,
                    },
                );
                true
            }
        };
        let verb = if created { "created" } else { "updated" };
        self.record(HistoryItem {
            timestamp: now,
            alarm_name: name.clone(),
            history_item_type: "ConfigurationUpdate",
            history_summary: format!("Alarm \"{name}\" {verb}"),
            history_data: self.config_history_data(&name, verb),
        });
        Ok(created)
    }

    fn config_history_data(&self, name: &str, verb: &str) -> String {
        let Some(entry) = self.alarms.get(name) else {
            return "{}".to_owned();
        };
        let def = entry.alarm.definition();
        serde_json::json!({
            "version": "1.0",
            "type": if verb == "created" { "Create" } else { "Update" },
            "createdAlarm": {
                "alarmName": def.alarm_name,
                "namespace": def.namespace,
                "metricName": def.metric_name,
                "period": def.period,
                "evaluationPeriods": def.evaluation_periods,
                "threshold": def.threshold,
                "comparisonOperator": def.comparison_operator.as_str(),
                "treatMissingData": def.treat_missing_data.as_str(),
            }
        })
        .to_string()
    }

    fn record(&mut self, item: HistoryItem) {
        if self.history.len() >= HISTORY_ITEMS {
            self.history.pop_front();
        }
        self.history.push_back(item);
    }

    /// DeleteAlarms: every name must exist, or nothing is deleted; the
    /// error names the first missing one.
    pub fn delete(&mut self, names: &[String]) -> Result<(), String> {
        if let Some(missing) = names.iter().find(|n| !self.alarms.contains_key(*n)) {
            return Err(missing.clone());
        }
        for name in names {
            self.alarms.remove(name);
        }
        Ok(())
    }

    /// One alarm.
    pub fn get(&self, name: &str) -> Option<AlarmView> {
        self.alarms.get(name).map(Entry::view)
    }

    /// Every alarm, sorted by name.
    pub fn all(&self) -> Vec<AlarmView> {
        self.alarms.values().map(Entry::view).collect()
    }

    /// SetAlarmState. `Err(None)` when the alarm does not exist.
    pub fn set_state(
        &mut self,
        now: Timestamp,
        name: &str,
        state: AlarmState,
        reason: &str,
        reason_data: Option<&str>,
    ) -> Result<Option<Transition>, Option<MonitorError>> {
        let entry = self.alarms.get_mut(name).ok_or(None)?;
        let evaluation = entry
            .alarm
            .set_state(now, state, reason, reason_data)
            .map_err(Some)?;
        if evaluation.changed {
            entry.state_transitioned = now;
        }
        let view = entry.view();
        if let Some(item) = evaluation.history.clone() {
            self.record(item);
        }
        Ok(evaluation.changed.then_some(Transition {
            alarm: view,
            evaluation,
        }))
    }

    /// Enable or disable the actions of the named alarms (unknown names are
    /// ignored, as CloudWatch ignores them).
    pub fn set_actions_enabled(&mut self, names: &[String], enabled: bool) {
        for name in names {
            if let Some(entry) = self.alarms.get_mut(name) {
                let mut def = entry.alarm.definition().clone();
                def.actions_enabled = enabled;
                // The definition was valid and only this flag changed.
                let _ = entry.alarm.update(def);
            }
        }
    }

    /// Replace an alarm's tags (TagResource / UntagResource).
    pub fn tags_mut(&mut self, name: &str) -> Option<&mut Vec<(String, String)>> {
        self.alarms.get_mut(name).map(|e| &mut e.extras.tags)
    }

    /// History items, newest first, of one alarm or all, of one type or all,
    /// within `[start, end]`.
    pub fn history(
        &self,
        name: Option<&str>,
        item_type: Option<&str>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Vec<HistoryItem> {
        self.history
            .iter()
            .rev()
            .filter(|h| name.is_none_or(|n| h.alarm_name == n))
            .filter(|h| item_type.is_none_or(|t| h.history_item_type == t))
            .filter(|h| start.is_none_or(|s| h.timestamp >= s))
            .filter(|h| end.is_none_or(|e| h.timestamp <= e))
            .cloned()
            .collect()
    }

    /// Evaluate every alarm whose tick is at or before `now`, oldest tick
    /// first; returns the state changes.
    pub fn evaluate_due(
        &mut self,
        now: Timestamp,
        store: &Store,
        _identity: &Identity,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut items = Vec::new();
        for entry in self.alarms.values_mut() {
            // A server that was away evaluates the latest tick only.
            let mut due = entry.next_due;
            let step = entry.alarm.definition().evaluation_interval_secs();
            if due <= now && now.minus_secs(step) >= due {
                due = now.floor_to(step);
            }
            if due > now {
                continue;
            }
            let sets = store.alarm_sets(due, &entry.alarm);
            let evaluation = entry.alarm.evaluate_sets(due, &sets);
            entry.next_due = entry.alarm.next_evaluation(due.plus_secs(1));
            if evaluation.changed {
                entry.state_transitioned = due;
                if let Some(item) = evaluation.history.clone() {
                    items.push(item);
                }
                out.push(Transition {
                    alarm: entry.view(),
                    evaluation,
                });
            }
        }
        for item in items {
            self.record(item);
        }
        out
    }

    /// The book as a JSON document.
    pub fn to_document(&self) -> String {
        let doc = Document {
            version: 1,
            alarms: self
                .alarms
                .values()
                .map(|e| Persisted {
                    arn: e.arn.clone(),
                    definition: e.alarm.definition().clone(),
                    extras: e.extras.clone(),
                    state: e.alarm.state(),
                    reason: e.alarm.state_reason().to_owned(),
                    reason_data: e.alarm.state_reason_data().map(str::to_owned),
                    updated: e.alarm.state_updated().as_unix_millis(),
                    transitioned: e.state_transitioned.as_unix_millis(),
                    configured: e.configuration_updated.as_unix_millis(),
                })
                .collect(),
            history: self.history.iter().map(PersistedHistory::from).collect(),
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// A book from [`AlarmBook::to_document`]; alarms are evaluated again
    /// from the next tick after `now`.
    pub fn from_document(document: &str, now: Timestamp) -> Result<Self, MonitorError> {
        let doc: Document = serde_json::from_str(document)
            .map_err(|e| MonitorError::SnapshotInvalid(format!("alarms: {e}")))?;
        let mut book = AlarmBook::default();
        for p in doc.alarms {
            let name = p.definition.alarm_name.clone();
            let alarm = Alarm::restore(
                p.definition,
                p.state,
                p.reason,
                p.reason_data,
                Timestamp::from_unix_millis(p.updated),
            )?;
            let next_due = alarm.next_evaluation(now);
            book.alarms.insert(
                name,
                Entry {
                    alarm,
                    arn: p.arn,
                    extras: p.extras,
                    configuration_updated: Timestamp::from_unix_millis(p.configured),
                    state_transitioned: Timestamp::from_unix_millis(p.transitioned),
                    next_due,
                },
            );
        }
        book.history = doc
            .history
            .into_iter()
            .filter_map(PersistedHistory::into_item)
            .collect();
        Ok(book)
    }
}

#[derive(Serialize, Deserialize)]
struct Document {
    version: u32,
    alarms: Vec<Persisted>,
    history: Vec<PersistedHistory>,
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    arn: String,
    definition: AlarmDefinition,
    extras: AlarmExtras,
    state: AlarmState,
    reason: String,
    reason_data: Option<String>,
    updated: u64,
    transitioned: u64,
    configured: u64,
}

#[derive(Serialize, Deserialize)]
struct PersistedHistory {
    timestamp: u64,
    alarm_name: String,
    item_type: String,
    summary: String,
    data: String,
}

impl From<&HistoryItem> for PersistedHistory {
    fn from(h: &HistoryItem) -> Self {
        Self {
            timestamp: h.timestamp.as_unix_millis(),
            alarm_name: h.alarm_name.clone(),
            item_type: h.history_item_type.to_owned(),
            summary: h.history_summary.clone(),
            data: h.history_data.clone(),
        }
    }
}

impl PersistedHistory {
    fn into_item(self) -> Option<HistoryItem> {
        let item_type = match self.item_type.as_str() {
            "StateUpdate" => "StateUpdate",
            "ConfigurationUpdate" => "ConfigurationUpdate",
            "Action" => "Action",
            _ => return None,
        };
        Some(HistoryItem {
            timestamp: Timestamp::from_unix_millis(self.timestamp),
            alarm_name: self.alarm_name,
            history_item_type: item_type,
            history_summary: self.summary,
            history_data: self.data,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::series::{MetricId, StoreConfig};
    use crate::{ComparisonOperator, MetricStatistic, Statistic, StatisticSet};

    fn identity() -> Identity {
        Identity {
            account_id: "111122223333".into(),
            region: "us-west-2".into(),
        }
    }

    fn low_bitrate() -> AlarmDefinition {
        let mut def = AlarmDefinition::new(
            "low",
            "AWS/MediaConnect",
            "SourceBitRate",
            MetricStatistic::Statistic(Statistic::Average),
            10,
            1,
            1000.0,
            ComparisonOperator::LessThanThreshold,
        );
        def.alarm_actions = vec!["arn:aws:sns:us-west-2:111122223333:ops".into()];
        def
    }

    #[test]
    fn alarms_tick_against_the_store_and_round_trip() {
        let t0 = Timestamp::from_unix_secs(1_795_947_600);
        let mut book = AlarmBook::default();
        let mut store = Store::new(StoreConfig::default());
        let id = MetricId::new("AWS/MediaConnect", "SourceBitRate", Vec::new()).unwrap();
        assert!(book
            .put(t0, &identity(), low_bitrate(), AlarmExtras::default())
            .unwrap());
        for s in 0..10 {
            let set = StatisticSet::value(5_000_000.0).unwrap();
            store
                .put_statistic_set(t0.plus_secs(s), &id, t0.plus_secs(s), set)
                .unwrap();
        }
        let changes = book.evaluate_due(t0.plus_secs(10), &store, &identity());
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].evaluation.state, AlarmState::Ok);
        assert!(changes[0].evaluation.actions.is_empty());
        for s in 10..20 {
            let set = StatisticSet::value(0.0).unwrap();
            store
                .put_statistic_set(t0.plus_secs(s), &id, t0.plus_secs(s), set)
                .unwrap();
        }
        let changes = book.evaluate_due(t0.plus_secs(20), &store, &identity());
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].alarm.state, AlarmState::Alarm);
        assert_eq!(changes[0].evaluation.actions, low_bitrate().alarm_actions);
        assert_eq!(
            changes[0].alarm.arn,
            "arn:aws:cloudwatch:us-west-2:111122223333:alarm:low"
        );
        // Not due again before the next tick.
        assert!(book
            .evaluate_due(t0.plus_secs(25), &store, &identity())
            .is_empty());
        let history = book.history(Some("low"), None, None, None);
        assert_eq!(history.len(), 3);
        assert_eq!(history[0].history_summary, "Alarm updated from OK to ALARM");
        assert_eq!(history[2].history_item_type, "ConfigurationUpdate");

        let restored = AlarmBook::from_document(&book.to_document(), t0.plus_secs(26)).unwrap();
        assert_eq!(restored.all(), book.all());
        assert_eq!(
            restored.history(None, None, None, None),
            book.history(None, None, None, None)
        );
    }

    #[test]
    fn delete_is_all_or_nothing() {
        let t0 = Timestamp::from_unix_secs(1_795_947_600);
        let mut book = AlarmBook::default();
        book.put(t0, &identity(), low_bitrate(), AlarmExtras::default())
            .unwrap();
        assert_eq!(
            book.delete(&["low".into(), "nope".into()]),
            Err("nope".to_owned())
        );
        assert_eq!(book.len(), 1);
        assert_eq!(book.delete(&["low".into()]), Ok(()));
        assert!(book.is_empty());
    }
}
