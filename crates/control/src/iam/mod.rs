//! IAM roles: what a MediaLive channel's `roleArn` names, kept in the store
//! so that they survive a restart (even `kill -9`).
//!
//! IAM is global: a role has no region, and its ARN is
//! `arn:aws:iam::{account}:role{path}{name}`. Role names are unique without
//! regard to case, as on AWS (`Ops` and `ops` are the same role); the store
//! keys a role by its lowercased name, and lists come in that order.
//!
//! onair authorises nothing with a role: there is one key pair and it may do
//! everything. A role is kept so that scripts written for AWS run unchanged
//! (create it, attach policies, pass its ARN to CreateChannel) and so that a
//! channel's `roleArn` names something that exists, as MediaLive checks.
//! Its trust policy is stored as given once it reads as a policy
//! ([`model::check_trust_policy`]); managed policies are AWS's
//! (`arn:aws:iam::aws:policy/…`), attached by ARN, never read.
//!
//! ```
//! # fn demo() -> Result<(), control::iam::IamError> {
//! use control::iam::model::NewRole;
//! let cp = control::ControlPlane::with_store(control::Store::in_memory()?, Default::default());
//! let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!     "Principal":{"Service":"medialive.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
//! let role = cp.iam_create_role(&NewRole::new("MediaLiveAccessRole", trust))?;
//! assert_eq!(role.arn, "arn:aws:iam::000000000000:role/MediaLiveAccessRole");
//! cp.iam_attach_role_policy("MediaLiveAccessRole", "arn:aws:iam::aws:policy/MediaLiveFullAccess")?;
//! // A role with a policy attached cannot be deleted.
//! assert!(cp.iam_delete_role("medialiveaccessrole").is_err());
//! cp.iam_detach_role_policy("MediaLiveAccessRole", "arn:aws:iam::aws:policy/MediaLiveFullAccess")?;
//! cp.iam_delete_role("MediaLiveAccessRole")?;
//! # Ok(()) }
//! # demo().unwrap();
//! ```

pub mod model;

use crate::error::ControlError;
use crate::flow::now_ms;
use crate::ControlPlane;
use model::{NewRole, Role};

pub const ROLE_KIND: &str = "iam-role";

/// The most managed policies attached to one role (AWS's default quota).
pub const MAX_ATTACHED_POLICIES: usize = 10;

/// An IAM operation's failure, one variant per error code IAM answers.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IamError {
    /// `ValidationError` (400): a member breaks the model's constraints.
    #[error("{0}")]
    Validation(String),
    /// `InvalidInput` (400): a value IAM refuses, or something onair does
    /// not implement.
    #[error("{0}")]
    InvalidInput(String),
    /// `MalformedPolicyDocument` (400).
    #[error("{0}")]
    MalformedPolicy(String),
    /// `NoSuchEntity` (404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// `EntityAlreadyExists` (409).
    #[error("{0}")]
    AlreadyExists(String),
    /// `DeleteConflict` (409): the role still has policies attached.
    #[error("{0}")]
    DeleteConflict(String),
    /// `LimitExceeded` (409).
    #[error("{0}")]
    LimitExceeded(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<rusqlite::Error> for IamError {
    fn from(e: rusqlite::Error) -> Self {
        IamError::Control(e.into())
    }
}

pub type IamResult<T> = std::result::Result<T, IamError>;

fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

/// The store key of a role: its name, lowercased (names are unique without
/// regard to case).
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl ControlPlane {
    /// CreateRole.
    pub fn iam_create_role(&self, new: &NewRole) -> IamResult<Role> {
        new.check()?;
        let _w = self.write_lock()?;
        if let Some(existing) = self.store.get::<Role>(ROLE_KIND, &key(&new.name))? {
            return Err(IamError::AlreadyExists(format!(
                "Role with name {} already exists.",
                existing.name
            )));
        }
        let role = new.build(&self.settings.account_id, now_ms());
        self.store
            .put(ROLE_KIND, &key(&role.name), role.created_ms, &role)?;
        Ok(role)
    }

    /// GetRole: the role named `name` (in any case).
    pub fn iam_role(&self, name: &str) -> IamResult<Role> {
        model::check_role_name(name)?;
        self.store
            .get::<Role>(ROLE_KIND, &key(name))?
            .ok_or_else(|| no_such_role(name))
    }

    /// Every role, in the order of their lowercased names.
    pub fn iam_roles(&self) -> IamResult<Vec<Role>> {
        let mut roles: Vec<Role> = self.store.list(ROLE_KIND)?;
        roles.sort_by_key(|r| key(&r.name));
        Ok(roles)
    }

    /// The role whose ARN is `arn` exactly, if there is one: what a MediaLive
    /// channel's `roleArn` must name.
    pub fn iam_role_by_arn(&self, arn: &str) -> IamResult<Option<Role>> {
        let Some(name) = model::role_name_of_arn(arn) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get::<Role>(ROLE_KIND, &key(name))?
            .filter(|r| r.arn == arn))
    }

    /// DeleteRole: refused with `DeleteConflict` while managed policies are
    /// attached, as AWS does.
    pub fn iam_delete_role(&self, name: &str) -> IamResult<()> {
        let _w = self.write_lock()?;
        let role = self.iam_role(name)?;
        if !role.attached_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must detach all policies first.".into(),
            ));
        }
        self.store.delete(ROLE_KIND, &key(&role.name))?;
        Ok(())
    }

    /// AttachRolePolicy: attaching a policy that is attached already changes
    /// nothing.
    pub fn iam_attach_role_policy(&self, name: &str, policy_arn: &str) -> IamResult<()> {
        model::check_policy_arn(policy_arn, &self.settings.account_id)?;
        let _w = self.write_lock()?;
        let mut role = self.iam_role(name)?;
        if role.attached_policies.iter().any(|p| p == policy_arn) {
            return Ok(());
        }
        if role.attached_policies.len() >= MAX_ATTACHED_POLICIES {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED_POLICIES}"
            )));
        }
        role.attached_policies.push(policy_arn.to_string());
        self.store
            .put(ROLE_KIND, &key(&role.name), role.created_ms, &role)?;
        Ok(())
    }

    /// DetachRolePolicy: a policy that is not attached is `NoSuchEntity`.
    pub fn iam_detach_role_policy(&self, name: &str, policy_arn: &str) -> IamResult<()> {
        model::check_arn_length("policyArn", policy_arn)?;
        let _w = self.write_lock()?;
        let mut role = self.iam_role(name)?;
        let before = role.attached_policies.len();
        role.attached_policies.retain(|p| p != policy_arn);
        if role.attached_policies.len() == before {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {policy_arn} was not found."
            )));
        }
        self.store
            .put(ROLE_KIND, &key(&role.name), role.created_ms, &role)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
