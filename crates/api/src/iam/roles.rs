//! Role actions: CreateRole, GetRole, ListRoles, DeleteRole and the
//! managed-policy attachments.

use axum::http::StatusCode;
use axum::response::Response;
use control::iam::model::{self, NewRole, Role};
use control::iam::IamError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{iam_error, Call, PROTOCOL};
use crate::query::timestamp;
use crate::xml::Xml;
use crate::ApiError;

/// A page of a List action when `MaxItems` is not given (as AWS).
const PAGE: i64 = 100;

/// What a policy document keeps unencoded: RFC 3986's unreserved characters.
const POLICY_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A role as IAM writes it; `full` adds what GetRole and CreateRole show
/// but ListRoles does not (tags, last use). The trust policy is
/// URL-encoded, as IAM sends it (botocore decodes it into a document).
fn write_role(x: &mut Xml, role: &Role, full: bool) -> std::io::Result<()> {
    x.text("Path", &role.path)?;
    x.text("RoleName", &role.name)?;
    x.text("RoleId", &role.role_id)?;
    x.text("Arn", &role.arn)?;
    x.text("CreateDate", &timestamp(role.created_ms))?;
    x.text(
        "AssumeRolePolicyDocument",
        &utf8_percent_encode(&role.assume_role_policy_document, POLICY_SAFE).to_string(),
    )?;
    if let Some(d) = &role.description {
        x.text("Description", d)?;
    }
    x.text("MaxSessionDuration", &role.max_session_duration.to_string())?;
    if full {
        if !role.tags.is_empty() {
            x.element("Tags", |x| {
                for (k, v) in &role.tags {
                    x.element("member", |x| {
                        x.text("Key", k)?;
                        x.text("Value", v)
                    })?;
                }
                Ok(())
            })?;
        }
        x.element("RoleLastUsed", |_| Ok(()))?;
    }
    Ok(())
}

/// `RoleName`, checked against the model.
fn role_name(call: &mut Call) -> Result<String, ApiError> {
    let name = call.required("RoleName", "roleName")?;
    model::check_role_name(&name).map_err(iam_error)?;
    Ok(name)
}

/// `MaxItems` (1 to 1000, 100 by default) and `Marker` (1 to 320 characters).
fn paging(call: &mut Call) -> Result<(usize, Option<String>), ApiError> {
    let max = call.int("MaxItems", "maxItems", 1, 1000)?.unwrap_or(PAGE);
    let marker = call.optional("Marker");
    if let Some(m) = &marker {
        let n = m.chars().count();
        if n == 0 || n > 320 {
            return Err(iam_error(model::constraint(
                "marker",
                m,
                "have length between 1 and 320",
            )));
        }
    }
    Ok((usize::try_from(max).unwrap_or(100), marker))
}

/// CreateRole: `RoleName`, `AssumeRolePolicyDocument`, `Path`,
/// `Description`, `MaxSessionDuration`, `Tags`.
pub(super) fn create(call: &mut Call) -> Result<Response, ApiError> {
    let name = call.required("RoleName", "roleName")?;
    let document = call.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")?;
    let path = call.optional("Path");
    let description = call.optional("Description");
    let max_session_duration = call.int(
        "MaxSessionDuration",
        "maxSessionDuration",
        i64::MIN,
        i64::MAX,
    )?;
    let tags = call.tags()?;
    if call.optional("PermissionsBoundary").is_some() {
        return Err(iam_error(IamError::InvalidInput(
            "PermissionsBoundary: onair does not implement permissions boundaries (it \
             authorises nothing with roles)"
                .into(),
        )));
    }
    call.finish()?;
    let new = NewRole {
        name,
        path,
        assume_role_policy_document: document,
        description,
        max_session_duration,
        tags,
    };
    let role = call.state.cp.iam_create_role(&new).map_err(iam_error)?;
    call.answer(|x| x.element("Role", |x| write_role(x, &role, true)))
}

/// GetRole.
pub(super) fn get(call: &mut Call) -> Result<Response, ApiError> {
    let name = role_name(call)?;
    call.finish()?;
    let role = call.state.cp.iam_role(&name).map_err(iam_error)?;
    call.answer(|x| x.element("Role", |x| write_role(x, &role, true)))
}

/// ListRoles: `PathPrefix`, `Marker`, `MaxItems`. Roles come in the order
/// of their lowercased names; the marker is the next page's first role, so
/// a page after a deletion neither skips nor repeats a role.
pub(super) fn list(call: &mut Call) -> Result<Response, ApiError> {
    let prefix = call.optional("PathPrefix");
    if let Some(p) = &prefix {
        model::check_path_prefix(p).map_err(iam_error)?;
    }
    let (max, marker) = paging(call)?;
    call.finish()?;
    let roles: Vec<Role> = call
        .state
        .cp
        .iam_roles()
        .map_err(iam_error)?
        .into_iter()
        .filter(|r| prefix.as_deref().is_none_or(|p| r.path.starts_with(p)))
        .filter(|r| {
            marker
                .as_deref()
                .is_none_or(|m| r.name.to_ascii_lowercase().as_str() >= m)
        })
        .collect();
    let (page, next) = match (roles.get(..max), roles.get(max)) {
        (Some(page), Some(next)) => (page, Some(next.name.to_ascii_lowercase())),
        _ => (roles.as_slice(), None),
    };
    call.answer(|x| {
        x.element("Roles", |x| {
            for r in page {
                x.element("member", |x| write_role(x, r, false))?;
            }
            Ok(())
        })?;
        x.text("IsTruncated", if next.is_some() { "true" } else { "false" })?;
        match &next {
            Some(m) => x.text("Marker", m),
            None => Ok(()),
        }
    })
}

/// DeleteRole: `DeleteConflict` while policies are attached.
pub(super) fn delete(call: &mut Call) -> Result<Response, ApiError> {
    let name = role_name(call)?;
    call.finish()?;
    call.state.cp.iam_delete_role(&name).map_err(iam_error)?;
    call.done()
}

fn role_and_policy(call: &mut Call) -> Result<(String, String), ApiError> {
    let name = role_name(call)?;
    let policy = call.required("PolicyArn", "policyArn")?;
    call.finish()?;
    Ok((name, policy))
}

/// AttachRolePolicy: an AWS managed policy by ARN.
pub(super) fn attach(call: &mut Call) -> Result<Response, ApiError> {
    let (name, policy) = role_and_policy(call)?;
    call.state
        .cp
        .iam_attach_role_policy(&name, &policy)
        .map_err(iam_error)?;
    call.done()
}

/// DetachRolePolicy.
pub(super) fn detach(call: &mut Call) -> Result<Response, ApiError> {
    let (name, policy) = role_and_policy(call)?;
    call.state
        .cp
        .iam_detach_role_policy(&name, &policy)
        .map_err(iam_error)?;
    call.done()
}

/// ListAttachedRolePolicies: `RoleName`, `PathPrefix` (of the policies),
/// `Marker`, `MaxItems`; in the order attached.
pub(super) fn list_attached(call: &mut Call) -> Result<Response, ApiError> {
    let name = role_name(call)?;
    let prefix = call.optional("PathPrefix");
    if let Some(p) = &prefix {
        let ok = p.starts_with('/') && p.ends_with('/') && !p.contains("//") || p == "/";
        if !ok {
            return Err(iam_error(model::constraint(
                "pathPrefix",
                p,
                "satisfy regular expression pattern: ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/",
            )));
        }
    }
    let (max, marker) = paging(call)?;
    call.finish()?;
    let start = match &marker {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| {
            PROTOCOL.error(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                format!("Marker: '{m}' is not a marker onair gave"),
            )
        })?,
    };
    let role = call.state.cp.iam_role(&name).map_err(iam_error)?;
    let policies: Vec<&String> = role
        .attached_policies
        .iter()
        .filter(|p| {
            prefix
                .as_deref()
                .is_none_or(|pre| model::policy_path(p).starts_with(pre))
        })
        .collect();
    let end = start.saturating_add(max).min(policies.len());
    let page = policies.get(start.min(end)..end).unwrap_or_default();
    let next = (end < policies.len()).then(|| end.to_string());
    call.answer(|x| {
        x.element("AttachedPolicies", |x| {
            for p in page {
                x.element("member", |x| {
                    x.text("PolicyName", model::policy_name(p))?;
                    x.text("PolicyArn", p)
                })?;
            }
            Ok(())
        })?;
        x.text("IsTruncated", if next.is_some() { "true" } else { "false" })?;
        match &next {
            Some(m) => x.text("Marker", m),
            None => Ok(()),
        }
    })
}
