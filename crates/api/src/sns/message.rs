//! The documents SNS POSTs to an HTTP/S endpoint, built from a subscription,
//! the server's base URL and an injected `now`: a `SubscriptionConfirmation`,
//! a `Notification` or an `UnsubscribeConfirmation`.
//!
//! The body is a JSON object (`Type`, `MessageId`, `Token`, `TopicArn`,
//! `Subject`, `Message`, `SubscribeURL`, `Timestamp`, `UnsubscribeURL`, each
//! where its type has it), sent as `text/plain; charset=UTF-8` with the
//! `x-amz-sns-message-type`, `x-amz-sns-message-id`, `x-amz-sns-topic-arn`
//! and (but for a SubscriptionConfirmation) `x-amz-sns-subscription-arn`
//! headers. A subscription with `RawMessageDelivery` gets the bare message as
//! the body of its notifications, plus `x-amz-sns-rawdelivery: true`.
//!
//! There is no `SignatureVersion`, `Signature` or `SigningCertURL`: AWS
//! signs with a certificate of its own that onair does not have, and a
//! signature from another key would only fail a subscriber's check.

use control::sns::model::Subscription;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use time::OffsetDateTime;

/// What a query value keeps as it is: RFC 3986 unreserved characters and `:`
/// (so ARNs read as they are).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

/// `{base}/?Action=ConfirmSubscription&TopicArn=…&Token=…`: visiting it
/// (a plain GET) confirms the subscription.
pub fn subscribe_url(base: &str, topic_arn: &str, token: &str) -> String {
    format!(
        "{base}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
        utf8_percent_encode(topic_arn, QUERY_VALUE),
        utf8_percent_encode(token, QUERY_VALUE)
    )
}

/// `{base}/?Action=Unsubscribe&SubscriptionArn=…`: visiting it ends the
/// subscription.
pub fn unsubscribe_url(base: &str, subscription_arn: &str) -> String {
    format!(
        "{base}/?Action=Unsubscribe&SubscriptionArn={}",
        utf8_percent_encode(subscription_arn, QUERY_VALUE)
    )
}

/// `text` made a valid `Subject` (what [`Notifier::publish`](super::Notifier::publish)
/// accepts): line breaks and other characters outside printable ASCII become
/// `?`, a leading space goes, and it is cut to 99 characters. For subjects
/// built from names a user chose, such as an alarm's.
pub fn fit_subject(text: &str) -> String {
    let ascii: String = text
        .trim_start()
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(99)
        .collect();
    if ascii.is_empty() {
        "(no subject)".to_string()
    } else {
        ascii
    }
}

/// The three kinds of message (`x-amz-sns-message-type` and `Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SubscriptionConfirmation,
    Notification,
    UnsubscribeConfirmation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SubscriptionConfirmation => "SubscriptionConfirmation",
            Kind::Notification => "Notification",
            Kind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// One POST to one endpoint, ready to send (and to send again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint: String,
    pub kind: Kind,
    pub message_id: String,
    pub topic_arn: String,
    /// Sent as `x-amz-sns-subscription-arn` (not with a confirmation request).
    pub subscription_arn: Option<String>,
    /// The body is the bare message (`x-amz-sns-rawdelivery: true`).
    pub raw: bool,
    pub body: String,
}

impl Delivery {
    /// The request headers besides `Content-Type`, `Host` and `User-Agent`.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = vec![
            ("x-amz-sns-message-type", self.kind.as_str()),
            ("x-amz-sns-message-id", self.message_id.as_str()),
            ("x-amz-sns-topic-arn", self.topic_arn.as_str()),
        ];
        if let Some(arn) = &self.subscription_arn {
            h.push(("x-amz-sns-subscription-arn", arn.as_str()));
        }
        if self.raw {
            h.push(("x-amz-sns-rawdelivery", "true"));
        }
        h
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope<'a> {
    r#type: &'static str,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    topic_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    message: &'a str,
    #[serde(rename = "SubscribeURL", skip_serializing_if = "Option::is_none")]
    subscribe_url: Option<String>,
    timestamp: String,
    #[serde(rename = "UnsubscribeURL", skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<String>,
}

/// `2026-11-29T12:00:00.123Z`, as SNS writes `Timestamp`.
pub fn timestamp(now: OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

fn body(envelope: &Envelope<'_>) -> String {
    // A struct of strings always serialises.
    serde_json::to_string(envelope).unwrap_or_default()
}

/// The SubscriptionConfirmation sent when `sub` is subscribed.
pub fn confirmation(
    base: &str,
    sub: &Subscription,
    message_id: &str,
    now: OffsetDateTime,
) -> Delivery {
    let message = format!(
        "onair: this endpoint asked to receive the messages of topic {}.\nVisit the SubscribeURL in this message to confirm the subscription.",
        sub.topic_arn
    );
    Delivery {
        endpoint: sub.endpoint.clone(),
        kind: Kind::SubscriptionConfirmation,
        message_id: message_id.to_string(),
        topic_arn: sub.topic_arn.clone(),
        subscription_arn: None,
        raw: false,
        body: body(&Envelope {
            r#type: Kind::SubscriptionConfirmation.as_str(),
            message_id,
            token: Some(&sub.token),
            topic_arn: &sub.topic_arn,
            subject: None,
            message: &message,
            subscribe_url: Some(subscribe_url(base, &sub.topic_arn, &sub.token)),
            timestamp: timestamp(now),
            unsubscribe_url: None,
        }),
    }
}

/// The Notification of a published message to `sub`.
pub fn notification(
    base: &str,
    sub: &Subscription,
    message_id: &str,
    subject: Option<&str>,
    message: &str,
    now: OffsetDateTime,
) -> Delivery {
    let body = if sub.raw_message_delivery {
        message.to_string()
    } else {
        body(&Envelope {
            r#type: Kind::Notification.as_str(),
            message_id,
            token: None,
            topic_arn: &sub.topic_arn,
            subject,
            message,
            subscribe_url: None,
            timestamp: timestamp(now),
            unsubscribe_url: Some(unsubscribe_url(base, &sub.arn)),
        })
    };
    Delivery {
        endpoint: sub.endpoint.clone(),
        kind: Kind::Notification,
        message_id: message_id.to_string(),
        topic_arn: sub.topic_arn.clone(),
        subscription_arn: Some(sub.arn.clone()),
        raw: sub.raw_message_delivery,
        body,
    }
}

/// The UnsubscribeConfirmation sent when a confirmed `sub` is unsubscribed;
/// its SubscribeURL restores the subscription.
pub fn unsubscribe_confirmation(
    base: &str,
    sub: &Subscription,
    message_id: &str,
    now: OffsetDateTime,
) -> Delivery {
    let message = format!(
        "onair: subscription {} has ended.\nVisit the SubscribeURL in this message to restore it.",
        sub.arn
    );
    Delivery {
        endpoint: sub.endpoint.clone(),
        kind: Kind::UnsubscribeConfirmation,
        message_id: message_id.to_string(),
        topic_arn: sub.topic_arn.clone(),
        subscription_arn: Some(sub.arn.clone()),
        raw: false,
        body: body(&Envelope {
            r#type: Kind::UnsubscribeConfirmation.as_str(),
            message_id,
            token: Some(&sub.token),
            topic_arn: &sub.topic_arn,
            subject: None,
            message: &message,
            subscribe_url: Some(subscribe_url(base, &sub.topic_arn, &sub.token)),
            timestamp: timestamp(now),
            unsubscribe_url: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use control::sns::model::{Protocol, SubscriptionState};
    use serde_json::{json, Value};

    use super::*;

    const BASE: &str = "http://127.0.0.1:8080";
    const TOPIC: &str = "arn:aws:sns:us-west-2:000000000000:alarms";

    fn sub(raw: bool) -> Subscription {
        Subscription {
            arn: format!("{TOPIC}:6f1c2a52-5a3b-4c1e-9d6e-0123456789ab"),
            topic_arn: TOPIC.into(),
            protocol: Protocol::Http,
            endpoint: "http://127.0.0.1:9000/hook".into(),
            token: "abc123".into(),
            state: SubscriptionState::Confirmed,
            raw_message_delivery: raw,
            confirmation_was_authenticated: false,
            authenticate_on_unsubscribe: false,
            created_ms: 0,
        }
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-29 12:00:05.042 UTC)
    }

    fn json(d: &Delivery) -> Value {
        serde_json::from_str(&d.body).unwrap()
    }

    #[test]
    fn a_confirmation_carries_the_token_and_a_link_back_here() {
        let d = confirmation(BASE, &sub(false), "m-1", now());
        assert_eq!(d.kind, Kind::SubscriptionConfirmation);
        assert_eq!(
            d.headers(),
            vec![
                ("x-amz-sns-message-type", "SubscriptionConfirmation"),
                ("x-amz-sns-message-id", "m-1"),
                ("x-amz-sns-topic-arn", TOPIC),
            ]
        );
        let j = json(&d);
        assert_eq!(j["Type"], "SubscriptionConfirmation");
        assert_eq!(j["Token"], "abc123");
        assert_eq!(j["TopicArn"], TOPIC);
        assert_eq!(j["Timestamp"], "2026-11-29T12:00:05.042Z");
        assert_eq!(
            j["SubscribeURL"],
            format!("{BASE}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=abc123")
        );
        assert!(j["Message"].as_str().unwrap().contains(TOPIC));
        assert!(j.get("Signature").is_none() && j.get("UnsubscribeURL").is_none());
    }

    #[test]
    fn a_notification_keeps_the_message_and_its_order_of_members() {
        let s = sub(false);
        let d = notification(BASE, &s, "m-2", Some("ALARM"), "{\"a\":\"<&>\"}", now());
        assert_eq!(d.subscription_arn.as_deref(), Some(s.arn.as_str()));
        let keys: Vec<String> = match json(&d) {
            Value::Object(m) => m.keys().cloned().collect(),
            _ => panic!(),
        };
        // serde_json's map is sorted; the wire order is the struct's.
        assert!(d
            .body
            .starts_with("{\"Type\":\"Notification\",\"MessageId\":\"m-2\",\"TopicArn\""));
        assert_eq!(keys.len(), 7);
        assert_eq!(
            json(&d),
            json!({
                "Type": "Notification",
                "MessageId": "m-2",
                "TopicArn": TOPIC,
                "Subject": "ALARM",
                "Message": "{\"a\":\"<&>\"}",
                "Timestamp": "2026-11-29T12:00:05.042Z",
                "UnsubscribeURL": format!("{BASE}/?Action=Unsubscribe&SubscriptionArn={}", s.arn),
            })
        );
        let no_subject = notification(BASE, &s, "m-3", None, "hi", now());
        assert!(json(&no_subject).get("Subject").is_none());
    }

    #[test]
    fn raw_delivery_sends_the_bare_message() {
        let d = notification(BASE, &sub(true), "m-4", Some("s"), "plain text", now());
        assert_eq!(d.body, "plain text");
        assert!(d.headers().contains(&("x-amz-sns-rawdelivery", "true")));
    }

    #[test]
    fn an_unsubscribe_confirmation_can_restore() {
        let s = sub(false);
        let j = json(&unsubscribe_confirmation(BASE, &s, "m-5", now()));
        assert_eq!(j["Type"], "UnsubscribeConfirmation");
        assert_eq!(j["Token"], "abc123");
        assert!(j["SubscribeURL"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{BASE}/?Action=ConfirmSubscription&")));
    }

    #[test]
    fn any_text_fits_a_subject() {
        for text in [
            "ALARM: \"flow-loss\" in US West (Oregon)",
            "  Alarm für Kanal 1\nzweite Zeile",
            &"x".repeat(300),
            "",
            "\t",
        ] {
            let s = fit_subject(text);
            control::sns::model::subject(&s).unwrap();
        }
        assert_eq!(fit_subject(" Kanal ü"), "Kanal ?");
    }

    #[test]
    fn link_values_are_percent_encoded() {
        assert_eq!(
            unsubscribe_url("http://h", "arn:aws:sns:r:1:a b&c"),
            "http://h/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:r:1:a%20b%26c"
        );
    }
}
