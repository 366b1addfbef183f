//! SNS topics and their HTTP/S subscriptions: configuration, kept in the
//! store so that they survive a restart (even `kill -9`).
//!
//! Topics are keyed by ARN (`arn:aws:sns:{region}:{account}:{name}`) and
//! listed per region, as AWS does; subscriptions by theirs
//! (`{topicArn}:{uuid}`). Every change is one committed transaction before
//! the call answers. This module keeps documents and their rules only
//! ([`model`]); sending the SubscriptionConfirmation and the notifications is
//! the API's `sns::Notifier`.
//!
//! ```
//! # fn demo() -> control::Result<()> {
//! use control::sns::model::Protocol;
//! let cp = control::ControlPlane::with_store(control::Store::in_memory()?, Default::default());
//! let topic = cp.sns_create_topic("us-west-2", "alarms", None, &[])?;
//! let sub = cp.sns_subscribe(&topic.arn, Protocol::Http, "http://127.0.0.1:9000/hook", false)?;
//! // The endpoint is sent sub.token (in its SubscribeURL) and confirms with it:
//! cp.sns_confirm(&topic.arn, &sub.token, false, false)?;
//! assert_eq!(cp.sns_deliverable(&topic.arn)?.len(), 1);
//! # Ok(()) }
//! # demo().unwrap();
//! ```

pub mod model;

use crate::arn::Arn;
use crate::error::{ControlError, Result};
use crate::flow::now_ms;
use crate::store::Batch;
use crate::ControlPlane;
use model::{Protocol, Subscription, SubscriptionState, Topic, Unsubscribed};

pub const TOPIC_KIND: &str = "sns-topic";
pub const SUBSCRIPTION_KIND: &str = "sns-subscription";

/// The region of an SNS topic or subscription ARN, or an error naming `member`.
pub fn arn_region<'a>(member: &str, arn: &'a str) -> Result<&'a str> {
    match Arn::parse(arn) {
        Some(a) if a.service == "sns" && !a.resource.is_empty() => Ok(a.region),
        _ => Err(ControlError::bad(format!(
            "{member}: '{arn}' is not an SNS ARN (arn:aws:sns:region:account:topic)"
        ))),
    }
}

fn topic_not_found(arn: &str) -> ControlError {
    ControlError::NotFound(format!("TopicArn: topic does not exist: {arn}"))
}

fn subscription_not_found(arn: &str) -> ControlError {
    ControlError::NotFound(format!(
        "SubscriptionArn: subscription does not exist: {arn}"
    ))
}

/// A confirmation token: 64 random hex digits.
fn new_token() -> String {
    crate::arn::random_hex(64)
}

/// How many subscriptions of a topic are in each state (GetTopicAttributes).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SubscriptionCounts {
    pub confirmed: usize,
    pub pending: usize,
    pub deleted: usize,
}

impl ControlPlane {
    /// A stored topic.
    pub fn sns_topic(&self, arn: &str) -> Result<Topic> {
        arn_region("TopicArn", arn)?;
        self.store
            .get(TOPIC_KIND, arn)?
            .ok_or_else(|| topic_not_found(arn))
    }

    /// The topics of `region`, oldest first.
    pub fn sns_topics(&self, region: &str) -> Result<Vec<Topic>> {
        let all: Vec<Topic> = self.store.list(TOPIC_KIND)?;
        Ok(all
            .into_iter()
            .filter(|t| arn_region("TopicArn", &t.arn).ok() == Some(region))
            .collect())
    }

    /// CreateTopic. Creating a topic that exists returns it, unless it is
    /// asked for with another display name or other tags (as AWS does).
    pub fn sns_create_topic(
        &self,
        region: &str,
        name: &str,
        display_name: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<Topic> {
        model::topic_name(name)?;
        if let Some(d) = display_name {
            model::display_name(d)?;
        }
        model::tags(tags)?;
        if tags.len() > model::MAX_TAGS {
            return Err(ControlError::bad(format!(
                "Tags: at most {} tags on a topic",
                model::MAX_TAGS
            )));
        }
        let arn = format!("arn:aws:sns:{region}:{}:{name}", self.settings.account_id);
        let _w = self.write_lock()?;
        if let Some(existing) = self.store.get::<Topic>(TOPIC_KIND, &arn)? {
            let same_name = display_name.is_none_or(|d| d == existing.display_name);
            let same_tags = tags.is_empty()
                || (tags.len() == existing.tags.len()
                    && tags.iter().all(|(k, v)| existing.tags.get(k) == Some(v)));
            if !same_name {
                return Err(ControlError::bad(format!(
                    "Attributes: topic '{name}' already exists with another DisplayName"
                )));
            }
            if !same_tags {
                return Err(ControlError::bad(format!(
                    "Tags: topic '{name}' already exists with other tags"
                )));
            }
            return Ok(existing);
        }
        let topic = Topic {
            arn: arn.clone(),
            name: name.to_string(),
            display_name: display_name.unwrap_or_default().to_string(),
            tags: tags.iter().cloned().collect(),
            created_ms: now_ms(),
        };
        self.store.put(TOPIC_KIND, &arn, topic.created_ms, &topic)?;
        Ok(topic)
    }

    /// DeleteTopic: the topic and all its subscriptions, in one transaction.
    /// Deleting a topic that does not exist is not an error (as on AWS).
    pub fn sns_delete_topic(&self, arn: &str) -> Result<()> {
        arn_region("TopicArn", arn)?;
        let _w = self.write_lock()?;
        let mut batch = Batch::default();
        for s in self.all_subscriptions()? {
            if s.topic_arn == arn {
                batch.delete(SUBSCRIPTION_KIND, &s.arn);
            }
        }
        batch.delete(TOPIC_KIND, arn);
        self.store.commit(batch)
    }

    /// SetTopicAttributes `DisplayName`.
    pub fn sns_set_display_name(&self, arn: &str, value: &str) -> Result<()> {
        model::display_name(value)?;
        self.update_topic(arn, |t| {
            t.display_name = value.to_string();
            Ok(())
        })
    }

    /// TagResource: adds or replaces tags.
    pub fn sns_tag(&self, arn: &str, tags: &[(String, String)]) -> Result<()> {
        model::tags(tags)?;
        self.update_topic(arn, |t| {
            t.tags.extend(tags.iter().cloned());
            if t.tags.len() > model::MAX_TAGS {
                return Err(ControlError::bad(format!(
                    "Tags: at most {} tags on a topic",
                    model::MAX_TAGS
                )));
            }
            Ok(())
        })
    }

    /// UntagResource: removes the named tags (absent keys are ignored).
    pub fn sns_untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        self.update_topic(arn, |t| {
            for k in keys {
                t.tags.remove(k);
            }
            Ok(())
        })
    }

    fn update_topic(&self, arn: &str, change: impl FnOnce(&mut Topic) -> Result<()>) -> Result<()> {
        let _w = self.write_lock()?;
        let mut topic = self.sns_topic(arn)?;
        change(&mut topic)?;
        self.store.put(TOPIC_KIND, arn, topic.created_ms, &topic)
    }

    fn all_subscriptions(&self) -> Result<Vec<Subscription>> {
        self.store.list(SUBSCRIPTION_KIND)
    }

    /// Every subscription of a topic, whatever its state, oldest first.
    pub fn sns_topic_subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>> {
        self.sns_topic(topic_arn)?;
        Ok(self
            .all_subscriptions()?
            .into_iter()
            .filter(|s| s.topic_arn == topic_arn)
            .collect())
    }

    /// The subscriptions of `region`'s topics that are pending or confirmed
    /// (what ListSubscriptions shows), oldest first.
    pub fn sns_subscriptions(&self, region: &str) -> Result<Vec<Subscription>> {
        Ok(self
            .all_subscriptions()?
            .into_iter()
            .filter(|s| s.state != SubscriptionState::Unsubscribed)
            .filter(|s| arn_region("TopicArn", &s.topic_arn).ok() == Some(region))
            .collect())
    }

    /// The confirmed subscriptions of a topic: where a published message goes.
    pub fn sns_deliverable(&self, topic_arn: &str) -> Result<Vec<Subscription>> {
        Ok(self
            .sns_topic_subscriptions(topic_arn)?
            .into_iter()
            .filter(Subscription::is_confirmed)
            .collect())
    }

    /// How many subscriptions of a topic are in each state.
    pub fn sns_subscription_counts(&self, topic_arn: &str) -> Result<SubscriptionCounts> {
        let mut counts = SubscriptionCounts::default();
        for s in self.sns_topic_subscriptions(topic_arn)? {
            match s.state {
                SubscriptionState::Confirmed => {
                    counts.confirmed = counts.confirmed.saturating_add(1)
                }
                SubscriptionState::PendingConfirmation => {
                    counts.pending = counts.pending.saturating_add(1)
                }
                SubscriptionState::Unsubscribed => {
                    counts.deleted = counts.deleted.saturating_add(1)
                }
            }
        }
        Ok(counts)
    }

    /// A pending or confirmed subscription.
    pub fn sns_subscription(&self, arn: &str) -> Result<Subscription> {
        arn_region("SubscriptionArn", arn)?;
        self.store
            .get::<Subscription>(SUBSCRIPTION_KIND, arn)?
            .filter(|s| s.state != SubscriptionState::Unsubscribed)
            .ok_or_else(|| subscription_not_found(arn))
    }

    /// Subscribe. A subscription of the same endpoint to the same topic is
    /// returned as it is (still pending or confirmed), as AWS does; the
    /// caller sends a SubscriptionConfirmation to any that is pending.
    pub fn sns_subscribe(
        &self,
        topic_arn: &str,
        protocol: Protocol,
        endpoint: &str,
        raw_message_delivery: bool,
    ) -> Result<Subscription> {
        model::endpoint(protocol, endpoint)?;
        let _w = self.write_lock()?;
        let existing = self
            .sns_topic_subscriptions(topic_arn)?
            .into_iter()
            .find(|s| {
                s.state != SubscriptionState::Unsubscribed
                    && s.protocol == protocol
                    && s.endpoint == endpoint
            });
        if let Some(s) = existing {
            if s.raw_message_delivery != raw_message_delivery {
                return Err(ControlError::bad(
                    "Attributes: this endpoint is already subscribed with another RawMessageDelivery",
                ));
            }
            return Ok(s);
        }
        let sub = Subscription {
            arn: format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
            topic_arn: topic_arn.to_string(),
            protocol,
            endpoint: endpoint.to_string(),
            token: new_token(),
            state: SubscriptionState::PendingConfirmation,
            raw_message_delivery,
            confirmation_was_authenticated: false,
            authenticate_on_unsubscribe: false,
            created_ms: now_ms(),
        };
        self.store
            .put(SUBSCRIPTION_KIND, &sub.arn, sub.created_ms, &sub)?;
        Ok(sub)
    }

    /// ConfirmSubscription (the API call, or a visit of the SubscribeURL
    /// when `authenticated` is false). Restoring an unsubscribed subscription
    /// whose endpoint subscribed again since returns that newer one.
    pub fn sns_confirm(
        &self,
        topic_arn: &str,
        token: &str,
        authenticated: bool,
        authenticate_on_unsubscribe: bool,
    ) -> Result<Subscription> {
        let _w = self.write_lock()?;
        let subs = self.sns_topic_subscriptions(topic_arn)?;
        let mut sub = subs
            .iter()
            .find(|s| s.token == token)
            .cloned()
            .ok_or_else(|| {
                ControlError::bad("Token: no subscription of this topic has this token")
            })?;
        if sub.state == SubscriptionState::Unsubscribed {
            let newer = subs.iter().find(|s| {
                s.state != SubscriptionState::Unsubscribed
                    && s.protocol == sub.protocol
                    && s.endpoint == sub.endpoint
            });
            if let Some(newer) = newer {
                self.store.delete(SUBSCRIPTION_KIND, &sub.arn)?;
                return Ok(newer.clone());
            }
        }
        let was = sub.state;
        sub.confirm(token, authenticated)?;
        if was != SubscriptionState::Confirmed {
            sub.authenticate_on_unsubscribe = authenticated && authenticate_on_unsubscribe;
            self.store
                .put(SUBSCRIPTION_KIND, &sub.arn, sub.created_ms, &sub)?;
        }
        Ok(sub)
    }

    /// Unsubscribe (`signed`: the API call; otherwise a visit of the
    /// UnsubscribeURL). Returns the subscription as it was before, and
    /// whether it is kept (it was confirmed: tell the endpoint) or removed.
    pub fn sns_unsubscribe(&self, arn: &str, signed: bool) -> Result<(Subscription, Unsubscribed)> {
        arn_region("SubscriptionArn", arn)?;
        let _w = self.write_lock()?;
        let before: Subscription = self
            .store
            .get(SUBSCRIPTION_KIND, arn)?
            .ok_or_else(|| subscription_not_found(arn))?;
        let mut sub = before.clone();
        let outcome = sub.unsubscribe(signed)?;
        match outcome {
            Unsubscribed::Kept => self
                .store
                .put(SUBSCRIPTION_KIND, arn, sub.created_ms, &sub)?,
            Unsubscribed::Removed => {
                self.store.delete(SUBSCRIPTION_KIND, arn)?;
            }
        }
        Ok((before, outcome))
    }

    /// SetSubscriptionAttributes `RawMessageDelivery`.
    pub fn sns_set_raw_message_delivery(&self, arn: &str, raw: bool) -> Result<()> {
        let _w = self.write_lock()?;
        let mut sub = self.sns_subscription(arn)?;
        sub.raw_message_delivery = raw;
        self.store.put(SUBSCRIPTION_KIND, arn, sub.created_ms, &sub)
    }
}

#[cfg(test)]
mod tests;
