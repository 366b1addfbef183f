//! SNS as scripts use it: topics, HTTP/S subscriptions and publishing, in
//! the awsQuery protocol (a form-encoded `POST` with `Action=…`, answered in
//! XML), and the delivery of messages to subscribers ([`Notifier`]).
//!
//! Actions: CreateTopic, ListTopics, DeleteTopic, GetTopicAttributes,
//! SetTopicAttributes (`DisplayName`), Subscribe, ConfirmSubscription,
//! ListSubscriptions, ListSubscriptionsByTopic, GetSubscriptionAttributes,
//! SetSubscriptionAttributes (`RawMessageDelivery`), Unsubscribe, Publish,
//! TagResource, UntagResource and ListTagsForResource. Anything else —
//! another action, a member onair does not implement, a protocol other than
//! `http`/`https`, a FIFO topic — is refused with an error that names it.
//!
//! The subscription handshake is AWS's: Subscribe stores the subscription as
//! pending and POSTs a `SubscriptionConfirmation` to the endpoint; its
//! `SubscribeURL` points back here (`{base_url}/?Action=ConfirmSubscription
//! &TopicArn=…&Token=…`) and a plain GET of it — no signature, what a
//! subscriber does with curl — confirms ([`handle_link`]). Each notification's
//! `UnsubscribeURL` works the same way.
//!
//! **Signatures**: AWS signs these messages with its own certificate, which
//! onair cannot have, so they carry no `SignatureVersion`, `Signature` or
//! `SigningCertURL`. A subscriber must not verify them against AWS (an SDK's
//! message validator would reject them); it can check the
//! `x-amz-sns-topic-arn` header and reach onair over a network it trusts.

mod form;
pub mod message;
mod notify;
pub mod retry;
mod subscriptions;
mod topics;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use control::ControlError;

pub use form::{fuzz_form, Form};
pub use notify::{Notifier, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_IN_FLIGHT};

use crate::xml::{self, Xml};
use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The XML namespace of SNS answers.
pub const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// SNS's error shape: awsQuery's `ErrorResponse`.
pub const SHAPE: ErrorShape = ErrorShape::Query {
    namespace: NAMESPACE,
};

/// The API version every request names.
const VERSION: &str = "2010-03-31";

/// The largest request body read: a 256 KiB message, percent-encoded, and more.
const MAX_FORM: usize = 1024 * 1024;

/// Items per page of the List actions (as AWS).
const PAGE: usize = 100;

/// `InvalidParameter` (400): the message names the member.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", message).with_shape(SHAPE)
}

/// `NotFound` (404).
pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", message).with_shape(SHAPE)
}

/// `InternalError` (500).
pub(crate) fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message).with_shape(SHAPE)
}

/// A control-plane error as SNS names it.
pub(crate) fn from_control(e: ControlError) -> ApiError {
    match e {
        ControlError::BadRequest(m) | ControlError::Conflict(m) => invalid(m),
        ControlError::NotFound(m) => not_found(m),
        ControlError::Internal(m) => {
            tracing::error!("internal error: {m}");
            internal(m)
        }
    }
}

/// One call being answered.
struct Call<'a> {
    state: &'a AppState,
    region: &'a str,
    action: String,
    form: Form,
}

impl Call<'_> {
    /// Refuses members that were not read: call before changing anything.
    fn finish(&self) -> Result<(), ApiError> {
        self.form.finish(&self.action)
    }

    /// The answer with a result element written by `result`.
    fn answer(
        &self,
        result: impl FnOnce(&mut Xml) -> std::io::Result<()>,
    ) -> Result<Response, ApiError> {
        answer(&self.action, Some(result))
    }

    /// The answer of an action without output.
    fn done(&self) -> Result<Response, ApiError> {
        answer(&self.action, None::<fn(&mut Xml) -> std::io::Result<()>>)
    }

    /// A `true`/`false` member.
    fn boolean(&mut self, key: &str) -> Result<Option<bool>, ApiError> {
        self.form
            .optional(key)
            .map(|v| control::sns::model::boolean(key, &v).map_err(from_control))
            .transpose()
    }

    /// `NextToken`: where a page starts.
    fn page_start(&mut self) -> Result<usize, ApiError> {
        match self.form.optional("NextToken") {
            None => Ok(0),
            Some(t) if t.is_empty() => Ok(0),
            Some(t) => t
                .parse()
                .map_err(|_| invalid(format!("NextToken: '{t}' is not a token this server gave"))),
        }
    }
}

fn answer<F>(action: &str, result: Option<F>) -> Result<Response, ApiError>
where
    F: FnOnce(&mut Xml) -> std::io::Result<()>,
{
    let request_id = crate::request_id();
    let body = xml::query_response(NAMESPACE, action, &request_id, result)
        .map_err(|e| internal(format!("cannot write the answer: {e}")))?;
    Ok(xml::ok(body, &request_id))
}

/// The page of `items` starting at `start`, and the next page's token.
fn page<T>(items: &[T], start: usize) -> (&[T], Option<String>) {
    let end = start.saturating_add(PAGE).min(items.len());
    let page = items.get(start.min(end)..end).unwrap_or_default();
    let next = (end < items.len()).then(|| end.to_string());
    (page, next)
}

/// Answers a signed SNS call.
pub async fn handle(state: &AppState, req: &ApiRequest) -> Result<Response, ApiError> {
    if req.body.len() > MAX_FORM {
        return Err(invalid(format!(
            "request body: larger than {MAX_FORM} bytes"
        )));
    }
    let mut form = Form::parse(&req.body)?;
    let action = form
        .optional("Action")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "Action: is required",
            )
            .with_shape(SHAPE)
        })?;
    match form.optional("Version") {
        Some(v) if v != VERSION => {
            return Err(invalid(format!(
                "Version: onair speaks SNS {VERSION}, not '{v}'"
            )))
        }
        _ => {}
    }
    let mut call = Call {
        state,
        region: &req.region,
        action,
        form,
    };
    match call.action.as_str() {
        "CreateTopic" => topics::create(&mut call),
        "ListTopics" => topics::list(&mut call),
        "DeleteTopic" => topics::delete(&mut call),
        "GetTopicAttributes" => topics::get_attributes(&mut call),
        "SetTopicAttributes" => topics::set_attributes(&mut call),
        "Publish" => topics::publish(&mut call),
        "TagResource" => topics::tag(&mut call),
        "UntagResource" => topics::untag(&mut call),
        "ListTagsForResource" => topics::list_tags(&mut call),
        "Subscribe" => subscriptions::subscribe(&mut call),
        "ConfirmSubscription" => subscriptions::confirm(&mut call, true),
        "Unsubscribe" => subscriptions::unsubscribe(&mut call, true),
        "ListSubscriptions" => subscriptions::list(&mut call),
        "ListSubscriptionsByTopic" => subscriptions::list_by_topic(&mut call),
        "GetSubscriptionAttributes" => subscriptions::get_attributes(&mut call),
        "SetSubscriptionAttributes" => subscriptions::set_attributes(&mut call),
        other => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Action: onair does not implement the SNS action '{other}'"),
        )
        .with_shape(SHAPE)),
    }
}

/// The actions an unsigned GET may carry: following a SubscribeURL or an
/// UnsubscribeURL.
const LINK_ACTIONS: &[&str] = &["ConfirmSubscription", "Unsubscribe"];

/// Whether a request is a visit of a SubscribeURL or UnsubscribeURL: a GET
/// whose query's `Action` is `ConfirmSubscription` or `Unsubscribe`.
pub fn is_link(method: &Method, query: Option<&str>) -> bool {
    if method != Method::GET {
        return false;
    }
    let Some(query) = query else {
        return false;
    };
    Form::parse(query.as_bytes())
        .ok()
        .and_then(|mut f| f.optional("Action"))
        .is_some_and(|a| LINK_ACTIONS.contains(&a.as_str()))
}

/// Answers a visit of a SubscribeURL (`Action=ConfirmSubscription&TopicArn=…
/// &Token=…`) or an UnsubscribeURL (`Action=Unsubscribe&SubscriptionArn=…`):
/// unsigned, as a subscriber follows them. The answer is the XML of the
/// action, as on AWS.
pub async fn handle_link(state: &AppState, query: &str) -> Result<Response, ApiError> {
    let mut form = Form::parse(query.as_bytes())?;
    let action = form.optional("Action").unwrap_or_default();
    // The region of a link is its ARN's; no credential scope names one.
    let mut call = Call {
        state,
        region: "",
        action,
        form,
    };
    match call.action.as_str() {
        "ConfirmSubscription" => subscriptions::confirm(&mut call, false),
        "Unsubscribe" => subscriptions::unsubscribe(&mut call, false),
        other => Err(invalid(format!(
            "Action: '{other}' is not a link onair answers without a signature"
        ))),
    }
}

#[cfg(test)]
mod tests;
