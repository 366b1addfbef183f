//! Topic actions: CreateTopic, ListTopics, DeleteTopic, Get/SetTopicAttributes,
//! Publish and the tag actions.

use axum::http::StatusCode;
use axum::response::Response;
use control::ControlError;

use super::{from_control, invalid, page, Call, SHAPE};
use crate::ApiError;

/// Tag actions name a missing topic `ResourceNotFound`, as the model does.
fn tag_error(e: ControlError) -> ApiError {
    match e {
        ControlError::NotFound(m) => {
            ApiError::new(StatusCode::NOT_FOUND, "ResourceNotFound", m).with_shape(SHAPE)
        }
        other => from_control(other),
    }
}

/// `ResourceArn`: a topic's ARN.
fn resource_arn(call: &mut Call) -> Result<String, ApiError> {
    let arn = call.form.required("ResourceArn")?;
    control::sns::arn_region("ResourceArn", &arn).map_err(from_control)?;
    Ok(arn)
}

/// CreateTopic: `Name`, `Attributes` (`DisplayName`; `FifoTopic` false),
/// `Tags`. Idempotent, as on AWS.
pub(super) fn create(call: &mut Call) -> Result<Response, ApiError> {
    let name = call.form.required("Name")?;
    let attributes = call.form.entries("Attributes")?;
    let tags = call.form.tags("Tags")?;
    call.finish()?;
    // The name first: a `.fifo` name says more than a FifoTopic attribute.
    control::sns::model::topic_name(&name).map_err(from_control)?;
    let mut display_name = None;
    for (k, v) in &attributes {
        match k.as_str() {
            "DisplayName" => display_name = Some(v.as_str()),
            "FifoTopic" if !control::sns::model::boolean("Attributes.FifoTopic", v)
                .map_err(from_control)? => {}
            "FifoTopic" => {
                return Err(invalid(
                    "Attributes: FifoTopic: onair has standard topics only, not FIFO topics",
                ))
            }
            other => {
                return Err(invalid(format!(
                    "Attributes: onair supports the DisplayName attribute of a topic only, not '{other}'"
                )))
            }
        }
    }
    let topic = call
        .state
        .cp
        .sns_create_topic(call.region, &name, display_name, &tags)
        .map_err(from_control)?;
    call.answer(|x| x.text("TopicArn", &topic.arn))
}

/// ListTopics: the region's topics, 100 a page.
pub(super) fn list(call: &mut Call) -> Result<Response, ApiError> {
    let start = call.page_start()?;
    call.finish()?;
    let topics = call
        .state
        .cp
        .sns_topics(call.region)
        .map_err(from_control)?;
    let (topics, next) = page(&topics, start);
    call.answer(|x| {
        x.element("Topics", |x| {
            for t in topics {
                x.element("member", |x| x.text("TopicArn", &t.arn))?;
            }
            Ok(())
        })?;
        match &next {
            Some(token) => x.text("NextToken", token),
            None => Ok(()),
        }
    })
}

/// DeleteTopic: the topic and its subscriptions; a missing topic is not an error.
pub(super) fn delete(call: &mut Call) -> Result<Response, ApiError> {
    let arn = call.form.required("TopicArn")?;
    call.finish()?;
    call.state.cp.sns_delete_topic(&arn).map_err(from_control)?;
    call.done()
}

/// GetTopicAttributes.
pub(super) fn get_attributes(call: &mut Call) -> Result<Response, ApiError> {
    let arn = call.form.required("TopicArn")?;
    call.finish()?;
    let cp = &call.state.cp;
    let topic = cp.sns_topic(&arn).map_err(from_control)?;
    let counts = cp.sns_subscription_counts(&arn).map_err(from_control)?;
    let (confirmed, pending, deleted) = (
        counts.confirmed.to_string(),
        counts.pending.to_string(),
        counts.deleted.to_string(),
    );
    call.answer(|x| {
        x.entries(
            "Attributes",
            [
                ("TopicArn", topic.arn.as_str()),
                ("Owner", cp.settings.account_id.as_str()),
                ("DisplayName", topic.display_name.as_str()),
                ("SubscriptionsConfirmed", confirmed.as_str()),
                ("SubscriptionsPending", pending.as_str()),
                ("SubscriptionsDeleted", deleted.as_str()),
            ],
        )
    })
}

/// SetTopicAttributes: `DisplayName` only.
pub(super) fn set_attributes(call: &mut Call) -> Result<Response, ApiError> {
    let arn = call.form.required("TopicArn")?;
    let name = call.form.required("AttributeName")?;
    let value = call.form.optional("AttributeValue").unwrap_or_default();
    call.finish()?;
    if name != "DisplayName" {
        return Err(invalid(format!(
            "AttributeName: onair supports the DisplayName attribute of a topic only, not '{name}'"
        )));
    }
    call.state
        .cp
        .sns_set_display_name(&arn, &value)
        .map_err(from_control)?;
    call.done()
}

/// Publish: `TopicArn`, `Message`, `Subject`.
pub(super) fn publish(call: &mut Call) -> Result<Response, ApiError> {
    for (member, why) in [
        ("TargetArn", "onair publishes to topics only; use TopicArn"),
        ("PhoneNumber", "onair does not send SMS"),
    ] {
        if call.form.optional(member).is_some() {
            return Err(invalid(format!("{member}: {why}")));
        }
    }
    if let Some(s) = call.form.optional("MessageStructure") {
        return Err(invalid(format!(
            "MessageStructure: onair sends the same Message to every subscriber ('{s}' is not supported)"
        )));
    }
    let arn = call.form.required("TopicArn")?;
    let message = call.form.required("Message")?;
    let subject = call.form.optional("Subject");
    call.finish()?;
    let id = call.state.sns.publish(&arn, subject.as_deref(), &message)?;
    call.answer(|x| x.text("MessageId", &id))
}

/// TagResource.
pub(super) fn tag(call: &mut Call) -> Result<Response, ApiError> {
    let arn = resource_arn(call)?;
    let tags = call.form.tags("Tags")?;
    call.finish()?;
    call.state.cp.sns_tag(&arn, &tags).map_err(tag_error)?;
    call.answer(|_| Ok(()))
}

/// UntagResource.
pub(super) fn untag(call: &mut Call) -> Result<Response, ApiError> {
    let arn = resource_arn(call)?;
    let keys = call.form.members("TagKeys")?;
    call.finish()?;
    call.state.cp.sns_untag(&arn, &keys).map_err(tag_error)?;
    call.answer(|_| Ok(()))
}

/// ListTagsForResource.
pub(super) fn list_tags(call: &mut Call) -> Result<Response, ApiError> {
    let arn = resource_arn(call)?;
    call.finish()?;
    let topic = call.state.cp.sns_topic(&arn).map_err(tag_error)?;
    call.answer(|x| {
        x.element("Tags", |x| {
            for (k, v) in &topic.tags {
                x.element("member", |x| {
                    x.text("Key", k)?;
                    x.text("Value", v)
                })?;
            }
            Ok(())
        })
    })
}
