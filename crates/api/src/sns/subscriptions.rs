//! Subscription actions: Subscribe, ConfirmSubscription, Unsubscribe, the
//! listings and Get/SetSubscriptionAttributes.

use axum::http::StatusCode;
use axum::response::Response;
use control::sns::model::{self, Subscription, Unsubscribed};

use super::{from_control, invalid, page, Call, SHAPE};
use crate::xml::Xml;
use crate::ApiError;

/// What Subscribe answers for a subscription still waiting for confirmation
/// (unless `ReturnSubscriptionArn` asks for the ARN).
const PENDING: &str = "pending confirmation";

/// Subscribe: `TopicArn`, `Protocol` (`http`, `https`), `Endpoint`,
/// `Attributes` (`RawMessageDelivery`), `ReturnSubscriptionArn`. A new or
/// still pending subscription is sent its SubscriptionConfirmation.
pub(super) fn subscribe(call: &mut Call) -> Result<Response, ApiError> {
    let topic_arn = call.form.required("TopicArn")?;
    let protocol = call.form.required("Protocol")?;
    let endpoint = call.form.optional("Endpoint");
    let attributes = call.form.entries("Attributes")?;
    let return_arn = call.boolean("ReturnSubscriptionArn")?.unwrap_or(false);
    call.finish()?;
    let protocol = model::protocol(&protocol).map_err(from_control)?;
    let endpoint = endpoint.filter(|e| !e.is_empty()).ok_or_else(|| {
        invalid(format!(
            "Endpoint: is required (the {} URL to deliver to)",
            protocol.as_str()
        ))
    })?;
    let mut raw = false;
    for (k, v) in &attributes {
        match k.as_str() {
            "RawMessageDelivery" => {
                raw = model::boolean("Attributes.RawMessageDelivery", v).map_err(from_control)?;
            }
            other => {
                return Err(invalid(format!(
                    "Attributes: onair supports the RawMessageDelivery attribute of a subscription only, not '{other}'"
                )))
            }
        }
    }
    let sub = call
        .state
        .cp
        .sns_subscribe(&topic_arn, protocol, &endpoint, raw)
        .map_err(from_control)?;
    if !sub.is_confirmed() {
        call.state.sns.confirm(&sub);
    }
    let shown = if sub.is_confirmed() || return_arn {
        sub.arn.as_str()
    } else {
        PENDING
    };
    call.answer(|x| x.text("SubscriptionArn", shown))
}

/// ConfirmSubscription: `TopicArn`, `Token`, `AuthenticateOnUnsubscribe`.
/// `signed` is false for a visit of the SubscribeURL.
pub(super) fn confirm(call: &mut Call, signed: bool) -> Result<Response, ApiError> {
    let topic_arn = call.form.required("TopicArn")?;
    let token = call.form.required("Token")?;
    let authenticate = call.boolean("AuthenticateOnUnsubscribe")?.unwrap_or(false);
    call.finish()?;
    let sub = call
        .state
        .cp
        .sns_confirm(&topic_arn, &token, signed, authenticate)
        .map_err(from_control)?;
    tracing::info!(
        subscription = sub.arn,
        endpoint = sub.endpoint,
        "SNS subscription confirmed"
    );
    call.answer(|x| x.text("SubscriptionArn", &sub.arn))
}

/// Unsubscribe: `SubscriptionArn`. `signed` is false for a visit of the
/// UnsubscribeURL. A confirmed subscription's endpoint is sent an
/// UnsubscribeConfirmation.
pub(super) fn unsubscribe(call: &mut Call, signed: bool) -> Result<Response, ApiError> {
    let arn = call.form.required("SubscriptionArn")?;
    call.finish()?;
    let cp = &call.state.cp;
    if !signed
        && cp
            .sns_subscription(&arn)
            .is_ok_and(|s| s.authenticate_on_unsubscribe)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationError",
            "SubscriptionArn: this subscription was confirmed with AuthenticateOnUnsubscribe; only a signed Unsubscribe call can end it",
        )
        .with_shape(SHAPE));
    }
    let (before, outcome) = cp.sns_unsubscribe(&arn, signed).map_err(from_control)?;
    if outcome == Unsubscribed::Kept {
        call.state.sns.unsubscribed(&before);
    }
    tracing::info!(
        subscription = before.arn,
        endpoint = before.endpoint,
        "SNS subscription ended"
    );
    call.done()
}

fn write_subscriptions(
    x: &mut Xml,
    owner: &str,
    subs: &[Subscription],
    next: Option<&str>,
) -> std::io::Result<()> {
    x.element("Subscriptions", |x| {
        for s in subs {
            x.element("member", |x| {
                x.text("Owner", owner)?;
                x.text("Endpoint", &s.endpoint)?;
                x.text("Protocol", s.protocol.as_str())?;
                x.text("SubscriptionArn", s.listed_arn())?;
                x.text("TopicArn", &s.topic_arn)
            })?;
        }
        Ok(())
    })?;
    match next {
        Some(token) => x.text("NextToken", token),
        None => Ok(()),
    }
}

/// ListSubscriptions: the region's pending and confirmed subscriptions.
pub(super) fn list(call: &mut Call) -> Result<Response, ApiError> {
    let start = call.page_start()?;
    call.finish()?;
    let cp = &call.state.cp;
    let subs = cp.sns_subscriptions(call.region).map_err(from_control)?;
    let (subs, next) = page(&subs, start);
    call.answer(|x| write_subscriptions(x, &cp.settings.account_id, subs, next.as_deref()))
}

/// ListSubscriptionsByTopic.
pub(super) fn list_by_topic(call: &mut Call) -> Result<Response, ApiError> {
    let topic_arn = call.form.required("TopicArn")?;
    let start = call.page_start()?;
    call.finish()?;
    let cp = &call.state.cp;
    let subs: Vec<Subscription> = cp
        .sns_topic_subscriptions(&topic_arn)
        .map_err(from_control)?
        .into_iter()
        .filter(|s| s.state != model::SubscriptionState::Unsubscribed)
        .collect();
    let (subs, next) = page(&subs, start);
    call.answer(|x| write_subscriptions(x, &cp.settings.account_id, subs, next.as_deref()))
}

/// GetSubscriptionAttributes.
pub(super) fn get_attributes(call: &mut Call) -> Result<Response, ApiError> {
    let arn = call.form.required("SubscriptionArn")?;
    call.finish()?;
    let cp = &call.state.cp;
    let s = cp.sns_subscription(&arn).map_err(from_control)?;
    let flag = |b: bool| if b { "true" } else { "false" };
    call.answer(|x| {
        x.entries(
            "Attributes",
            [
                ("SubscriptionArn", s.arn.as_str()),
                ("TopicArn", s.topic_arn.as_str()),
                ("Owner", cp.settings.account_id.as_str()),
                ("Protocol", s.protocol.as_str()),
                ("Endpoint", s.endpoint.as_str()),
                ("PendingConfirmation", flag(!s.is_confirmed())),
                (
                    "ConfirmationWasAuthenticated",
                    flag(s.confirmation_was_authenticated),
                ),
                ("RawMessageDelivery", flag(s.raw_message_delivery)),
            ],
        )
    })
}

/// SetSubscriptionAttributes: `RawMessageDelivery` only.
pub(super) fn set_attributes(call: &mut Call) -> Result<Response, ApiError> {
    let arn = call.form.required("SubscriptionArn")?;
    let name = call.form.required("AttributeName")?;
    let value = call.form.optional("AttributeValue").unwrap_or_default();
    call.finish()?;
    if name != "RawMessageDelivery" {
        return Err(invalid(format!(
            "AttributeName: onair supports the RawMessageDelivery attribute of a subscription only, not '{name}'"
        )));
    }
    let raw = model::boolean("AttributeValue", &value).map_err(from_control)?;
    call.state
        .cp
        .sns_set_raw_message_delivery(&arn, raw)
        .map_err(from_control)?;
    call.done()
}
