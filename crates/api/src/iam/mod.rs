//! IAM roles as scripts use them (awsQuery, `Version=2010-05-08`, answered
//! in XML): CreateRole, GetRole, ListRoles, DeleteRole, AttachRolePolicy,
//! DetachRolePolicy and ListAttachedRolePolicies. The roles and their rules
//! live in [`control::iam`]; this module reads members and writes answers.
//!
//! IAM is global. Without an endpoint URL the clients sign it for
//! `us-east-1`; with one (as with onair) they sign it for their configured
//! region. Either is accepted, and a role is the same in every region.
//!
//! Errors carry IAM's codes, so boto3 raises the modelled exceptions
//! (`NoSuchEntityException`, `EntityAlreadyExistsException`,
//! `DeleteConflictException`, `MalformedPolicyDocumentException`, …):
//!
//! | control-plane error | code (HTTP) |
//! |---|---|
//! | a member breaks the model | ValidationError (400) |
//! | a value IAM refuses, or onair does not implement | InvalidInput (400) |
//! | not a trust policy | MalformedPolicyDocument (400) |
//! | no such role or attached policy | NoSuchEntity (404) |
//! | the name is taken | EntityAlreadyExists (409) |
//! | policies still attached | DeleteConflict (409) |
//! | too many policies | LimitExceeded (409) |
//!
//! Anything else — another action (users, groups, policies of one's own,
//! instance profiles, …), or a member onair does not implement
//! (`PermissionsBoundary`, …) — is refused with an error that names it.

mod roles;

use axum::http::StatusCode;
use axum::response::Response;
use control::iam::IamError;
use control::ControlError;

use crate::query::Protocol;
use crate::sns::Form;
use crate::xml::Xml;
use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The XML namespace of IAM answers.
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// IAM's error shape: awsQuery's `ErrorResponse`.
pub const SHAPE: ErrorShape = PROTOCOL.shape();

const PROTOCOL: Protocol = Protocol {
    namespace: NAMESPACE,
    version: "2010-05-08",
    invalid: "InvalidInput",
    name: "IAM",
};

/// Every action this module answers.
pub const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
];

/// An IAM error as IAM answers it.
pub(crate) fn iam_error(e: IamError) -> ApiError {
    let (status, code, message) = match e {
        IamError::Validation(m) => (StatusCode::BAD_REQUEST, "ValidationError", m),
        IamError::InvalidInput(m) => (StatusCode::BAD_REQUEST, "InvalidInput", m),
        IamError::MalformedPolicy(m) => (StatusCode::BAD_REQUEST, "MalformedPolicyDocument", m),
        IamError::NoSuchEntity(m) => (StatusCode::NOT_FOUND, "NoSuchEntity", m),
        IamError::AlreadyExists(m) => (StatusCode::CONFLICT, "EntityAlreadyExists", m),
        IamError::DeleteConflict(m) => (StatusCode::CONFLICT, "DeleteConflict", m),
        IamError::LimitExceeded(m) => (StatusCode::CONFLICT, "LimitExceeded", m),
        IamError::Control(ControlError::BadRequest(m)) => {
            (StatusCode::BAD_REQUEST, "InvalidInput", m)
        }
        IamError::Control(ControlError::NotFound(m)) => (StatusCode::NOT_FOUND, "NoSuchEntity", m),
        IamError::Control(ControlError::Conflict(m)) => {
            (StatusCode::CONFLICT, "ConcurrentModification", m)
        }
        IamError::Control(ControlError::Internal(m)) => {
            tracing::error!("iam: {m}");
            (StatusCode::INTERNAL_SERVER_ERROR, "ServiceFailure", m)
        }
    };
    PROTOCOL.error(status, code, message)
}

/// One call being answered.
struct Call<'a> {
    state: &'a AppState,
    action: String,
    form: Form,
}

impl Call<'_> {
    /// A required member; absent or empty is IAM's "must not be null",
    /// naming the member as the model does (`roleName`).
    fn required(&mut self, key: &str, member: &str) -> Result<String, ApiError> {
        match self.form.optional(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(iam_error(IamError::Validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy \
                 constraint: Member must not be null ({key} is required)"
            )))),
        }
    }

    fn optional(&mut self, key: &str) -> Option<String> {
        self.form.optional(key)
    }

    /// An integer member within `min..=max`.
    fn int(
        &mut self,
        key: &str,
        member: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.form.optional(key) else {
            return Ok(None);
        };
        let n = v.parse::<i64>().map_err(|_| {
            iam_error(control::iam::model::constraint(
                member,
                &v,
                "be a whole number",
            ))
        })?;
        control::iam::model::check_range(member, n, min, max).map_err(iam_error)?;
        Ok(Some(n))
    }

    /// `Tags.member.N.Key` / `.Value`, in order.
    fn tags(&mut self) -> Result<Vec<(String, String)>, ApiError> {
        self.form.tags("Tags").map_err(|e| PROTOCOL.reshape(e))
    }

    /// Refuses members that were not read: call before changing anything.
    fn finish(&self) -> Result<(), ApiError> {
        self.form
            .finish(&self.action)
            .map_err(|e| PROTOCOL.reshape(e))
    }

    fn answer(
        &self,
        result: impl FnOnce(&mut Xml) -> std::io::Result<()>,
    ) -> Result<Response, ApiError> {
        PROTOCOL.answer(&self.action, Some(result))
    }

    fn done(&self) -> Result<Response, ApiError> {
        PROTOCOL.answer(&self.action, None::<fn(&mut Xml) -> std::io::Result<()>>)
    }
}

/// Answers a signed IAM call.
pub async fn handle(state: &AppState, req: &ApiRequest) -> Result<Response, ApiError> {
    let (action, form) = PROTOCOL.parse(&req.body)?;
    let mut call = Call {
        state,
        action,
        form,
    };
    match call.action.as_str() {
        "CreateRole" => roles::create(&mut call),
        "GetRole" => roles::get(&mut call),
        "ListRoles" => roles::list(&mut call),
        "DeleteRole" => roles::delete(&mut call),
        "AttachRolePolicy" => roles::attach(&mut call),
        "DetachRolePolicy" => roles::detach(&mut call),
        "ListAttachedRolePolicies" => roles::list_attached(&mut call),
        other => Err(PROTOCOL.unknown_action(other)),
    }
}

/// The body of the `iam_secrets` fuzz target's IAM half (and of a
/// property test): the first byte picks an action, the rest is its form
/// body. Whatever the bytes, the answer is XML or an error in IAM's shape,
/// never a panic.
pub fn fuzz_action(state: &AppState, data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Some(action) = usize::from(pick)
        .checked_rem(ACTIONS.len())
        .and_then(|i| ACTIONS.get(i))
    else {
        return;
    };
    let mut form = format!("Action={action}&Version=2010-05-08&").into_bytes();
    form.extend_from_slice(body);
    let req = ApiRequest {
        method: axum::http::Method::POST,
        segments: Vec::new(),
        query: Vec::new(),
        body: bytes::Bytes::from(form),
        region: "us-east-1".into(),
        service: "iam".into(),
        target: None,
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8".into()),
        content_encoding: None,
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    if let Err(e) = rt.block_on(handle(state, &req)) {
        assert_eq!(e.shape, SHAPE, "{e:?}");
        assert!(e.status.is_client_error(), "{e:?}");
    }
}

#[cfg(test)]
mod tests;
