//! SNS topics and subscriptions as stored, the rules their members follow,
//! and the states a subscription goes through.
//!
//! A subscription's life (what AWS does for HTTP/S endpoints):
//!
//! ```text
//! Subscribe ──► PendingConfirmation ──ConfirmSubscription(token)──► Confirmed
//!                     │                                               │
//!                Unsubscribe: removed                  Unsubscribe ──►│
//!                                                                     ▼
//!                              Confirmed ◄──ConfirmSubscription── Unsubscribed
//! ```
//!
//! Only `Confirmed` subscriptions receive notifications. An `Unsubscribed`
//! one is kept (and counted as `SubscriptionsDeleted`) so that the
//! `SubscribeURL` of its UnsubscribeConfirmation can restore it, as on AWS;
//! it goes when its topic is deleted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ControlError, Result};

/// A topic (`arn:aws:sns:{region}:{account}:{name}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Topic {
    pub arn: String,
    pub name: String,
    /// The `DisplayName` attribute (empty when not set).
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
}

/// How a subscription is delivered to: onair speaks HTTP and HTTPS only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Https,
}

impl Protocol {
    /// The wire name (`http`, `https`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubscriptionState {
    /// Subscribed; the endpoint has not visited its SubscribeURL yet.
    PendingConfirmation,
    /// Receives every message published to the topic.
    Confirmed,
    /// Unsubscribed after being confirmed; its token can still restore it.
    Unsubscribed,
}

/// A subscription (`{topicArn}:{uuid}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: Protocol,
    pub endpoint: String,
    /// What ConfirmSubscription (and the SubscribeURL) must present.
    pub token: String,
    pub state: SubscriptionState,
    /// Deliver the published message as the body, without the JSON envelope.
    #[serde(default)]
    pub raw_message_delivery: bool,
    /// Whether it was confirmed by a signed ConfirmSubscription call (rather
    /// than an unsigned visit of the SubscribeURL).
    #[serde(default)]
    pub confirmation_was_authenticated: bool,
    /// Only a signed Unsubscribe may end it (not the UnsubscribeURL).
    #[serde(default)]
    pub authenticate_on_unsubscribe: bool,
    pub created_ms: i64,
}

/// What [`Subscription::unsubscribe`] leaves.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsubscribed {
    /// It was confirmed: it is now `Unsubscribed` and the endpoint is told.
    Kept,
    /// It was never confirmed: it goes without a word to the endpoint.
    Removed,
}

impl Subscription {
    /// The ARN as listings show it: AWS's `PendingConfirmation` until confirmed.
    pub fn listed_arn(&self) -> &str {
        match self.state {
            SubscriptionState::Confirmed => &self.arn,
            _ => "PendingConfirmation",
        }
    }

    pub fn is_confirmed(&self) -> bool {
        self.state == SubscriptionState::Confirmed
    }

    /// ConfirmSubscription with `token`: pending and unsubscribed become
    /// confirmed; confirming again is harmless (a subscriber may follow the
    /// link twice).
    pub fn confirm(&mut self, token: &str, authenticated: bool) -> Result<()> {
        if token != self.token {
            return Err(ControlError::bad(
                "Token: this is not the token of this subscription",
            ));
        }
        if self.state != SubscriptionState::Confirmed {
            self.state = SubscriptionState::Confirmed;
            self.confirmation_was_authenticated = authenticated;
        }
        Ok(())
    }

    /// Unsubscribe. `signed` tells a signed API call from a visit of the
    /// UnsubscribeURL, which `authenticate_on_unsubscribe` refuses.
    pub fn unsubscribe(&mut self, signed: bool) -> Result<Unsubscribed> {
        if !signed && self.authenticate_on_unsubscribe {
            return Err(ControlError::bad(
                "SubscriptionArn: this subscription was confirmed with AuthenticateOnUnsubscribe; only a signed Unsubscribe call can end it",
            ));
        }
        match self.state {
            SubscriptionState::PendingConfirmation => Ok(Unsubscribed::Removed),
            SubscriptionState::Confirmed => {
                self.state = SubscriptionState::Unsubscribed;
                Ok(Unsubscribed::Kept)
            }
            SubscriptionState::Unsubscribed => Err(ControlError::NotFound(format!(
                "SubscriptionArn: subscription does not exist: {}",
                self.arn
            ))),
        }
    }
}

/// A topic name: 1 to 256 letters, digits, `-` and `_`. FIFO topics
/// (`.fifo`) are refused: onair has standard topics only.
pub fn topic_name(name: &str) -> Result<()> {
    if name.ends_with(".fifo") {
        return Err(ControlError::bad(format!(
            "Name: '{name}' is a FIFO topic name; onair has standard topics only (drop the .fifo suffix)"
        )));
    }
    let ok = (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad(format!(
            "Name: '{name}' is not a topic name: 1 to 256 letters, digits, hyphens (-) and underscores (_)"
        )))
    }
}

/// The `DisplayName` attribute: at most 100 characters, no control characters.
pub fn display_name(value: &str) -> Result<()> {
    if value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(ControlError::bad(
            "DisplayName: at most 100 characters, without control characters",
        ));
    }
    Ok(())
}

/// The `Protocol` of a subscription: `http` or `https`.
pub fn protocol(value: &str) -> Result<Protocol> {
    match value {
        "http" => Ok(Protocol::Http),
        "https" => Ok(Protocol::Https),
        other => Err(ControlError::bad(format!(
            "Protocol: onair delivers to http and https endpoints only, not '{other}'"
        ))),
    }
}

/// The `Endpoint` of an http or https subscription: an absolute URL of that
/// scheme with a host, without spaces or control characters.
pub fn endpoint(protocol: Protocol, value: &str) -> Result<()> {
    let scheme = protocol.as_str();
    let bad = |why: &str| {
        Err(ControlError::bad(format!(
            "Endpoint: '{value}' is not an {scheme} URL: {why}"
        )))
    };
    if value.len() > 2048 {
        return bad("longer than 2048 characters");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains spaces or control characters");
    }
    let rest = match value.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case(scheme) => rest,
        _ => return bad(&format!("it must start with {scheme}://")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return bad("it names no host");
    }
    Ok(())
}

/// Tags: 1 to 128 characters per key (not starting with `aws:`), up to 256
/// per value, at most 50 on a resource.
pub fn tags(tags: &[(String, String)]) -> Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(ControlError::bad(format!(
                "Tags: key '{k}' must be 1 to 128 characters"
            )));
        }
        if k.starts_with("aws:") {
            return Err(ControlError::bad(format!(
                "Tags: key '{k}': the aws: prefix is reserved"
            )));
        }
        if v.chars().count() > 256 {
            return Err(ControlError::bad(format!(
                "Tags: the value of '{k}' is longer than 256 characters"
            )));
        }
    }
    Ok(())
}

/// The most tags a topic carries.
pub const MAX_TAGS: usize = 50;

/// The largest message: 256 KiB, as on AWS.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// A message to publish: not empty, at most [`MAX_MESSAGE`] bytes.
pub fn message(value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(ControlError::bad("Message: must not be empty"));
    }
    if value.len() > MAX_MESSAGE {
        return Err(ControlError::bad(format!(
            "Message: {} bytes is more than the {MAX_MESSAGE} bytes a message may have",
            value.len()
        )));
    }
    Ok(())
}

/// A `Subject`: 1 to 99 printable ASCII characters, no line breaks, not
/// starting with a space.
pub fn subject(value: &str) -> Result<()> {
    let ok = (1..100).contains(&value.len())
        && value.bytes().all(|b| (b' '..=b'~').contains(&b))
        && !value.starts_with(' ');
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad(
            "Subject: 1 to 99 printable ASCII characters, without line breaks, not starting with a space",
        ))
    }
}

/// A boolean attribute value: `true` or `false` (any case).
pub fn boolean(member: &str, value: &str) -> Result<bool> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ControlError::bad(format!(
            "{member}: '{value}' is not true or false"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub() -> Subscription {
        Subscription {
            arn: "arn:aws:sns:r:1:t:u".into(),
            topic_arn: "arn:aws:sns:r:1:t".into(),
            protocol: Protocol::Http,
            endpoint: "http://127.0.0.1:9/hook".into(),
            token: "secret".into(),
            state: SubscriptionState::PendingConfirmation,
            raw_message_delivery: false,
            confirmation_was_authenticated: false,
            authenticate_on_unsubscribe: false,
            created_ms: 0,
        }
    }

    #[test]
    fn a_subscription_is_confirmed_by_its_token_only() {
        let mut s = sub();
        assert_eq!(s.listed_arn(), "PendingConfirmation");
        assert!(s.confirm("guess", false).is_err());
        assert_eq!(s.state, SubscriptionState::PendingConfirmation);
        s.confirm("secret", false).unwrap();
        assert!(s.is_confirmed());
        assert_eq!(s.listed_arn(), s.arn);
        // Following the link again changes nothing.
        s.confirm("secret", true).unwrap();
        assert!(!s.confirmation_was_authenticated);
    }

    #[test]
    fn unsubscribing_keeps_a_confirmed_subscription_for_its_token() {
        let mut s = sub();
        assert_eq!(s.unsubscribe(true).unwrap(), Unsubscribed::Removed);

        let mut s = sub();
        s.confirm("secret", true).unwrap();
        assert_eq!(s.unsubscribe(false).unwrap(), Unsubscribed::Kept);
        assert_eq!(s.state, SubscriptionState::Unsubscribed);
        assert_eq!(s.listed_arn(), "PendingConfirmation");
        assert!(matches!(
            s.unsubscribe(true),
            Err(ControlError::NotFound(_))
        ));
        // The UnsubscribeConfirmation's SubscribeURL restores it.
        s.confirm("secret", false).unwrap();
        assert!(s.is_confirmed());
    }

    #[test]
    fn authenticate_on_unsubscribe_refuses_the_unsigned_link() {
        let mut s = sub();
        s.confirm("secret", true).unwrap();
        s.authenticate_on_unsubscribe = true;
        assert!(s.unsubscribe(false).is_err());
        assert!(s.is_confirmed());
        assert_eq!(s.unsubscribe(true).unwrap(), Unsubscribed::Kept);
    }

    #[test]
    fn topic_names() {
        for ok in ["a", "alarms-prod_2", &"x".repeat(256)] {
            topic_name(ok).unwrap();
        }
        for bad in ["", "has space", "dot.ted", "ü", &"x".repeat(257)] {
            let e = topic_name(bad).unwrap_err().to_string();
            assert!(e.starts_with("Name: "), "{e}");
        }
        let e = topic_name("orders.fifo").unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
    }

    #[test]
    fn protocols_and_endpoints() {
        assert_eq!(protocol("http").unwrap(), Protocol::Http);
        assert_eq!(protocol("https").unwrap(), Protocol::Https);
        for other in ["email", "sqs", "lambda", "HTTP", ""] {
            let e = protocol(other).unwrap_err().to_string();
            assert!(
                e.starts_with("Protocol: onair delivers to http and https endpoints only"),
                "{e}"
            );
        }
        endpoint(Protocol::Http, "http://127.0.0.1:8000/hook?x=1").unwrap();
        endpoint(Protocol::Https, "HTTPS://user@alerts.example.com").unwrap();
        for bad in [
            "https://example.com",
            "http://",
            "http://:80/",
            "http:/x",
            "http://a b",
            "ftp://x",
        ] {
            let e = endpoint(Protocol::Http, bad).unwrap_err().to_string();
            assert!(e.starts_with("Endpoint: "), "{e}");
        }
    }

    #[test]
    fn messages_subjects_and_tags() {
        message("x").unwrap();
        message(&"x".repeat(MAX_MESSAGE)).unwrap();
        assert!(message("").is_err());
        assert!(message(&"x".repeat(MAX_MESSAGE + 1)).is_err());
        subject("ALARM: \"flow-loss\" in US West (Oregon)").unwrap();
        for bad in ["", "two\nlines", " leading", "é", &"s".repeat(100)] {
            assert!(subject(bad).is_err(), "{bad:?}");
        }
        tags(&[("team".into(), "".into())]).unwrap();
        assert!(tags(&[("".into(), "v".into())]).is_err());
        assert!(tags(&[("aws:x".into(), "v".into())]).is_err());
        assert!(tags(&[("k".into(), "v".repeat(257))]).is_err());
        assert!(boolean("RawMessageDelivery", "TRUE").unwrap());
        assert!(boolean("RawMessageDelivery", "yes").is_err());
        display_name("Alarms").unwrap();
        assert!(display_name("a\tb").is_err());
    }
}
