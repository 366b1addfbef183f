//! Secrets Manager's secrets, kept in the store (`onair.db`, a file only
//! its owner can read) so that they survive a restart, even `kill -9`.
//!
//! Secrets are regional and keyed by ARN
//! (`arn:aws:secretsmanager:{region}:{account}:secret:{name}-{6 random}`);
//! a `SecretId` is a name, an ARN or an ARN without its 6 random characters.
//! Each value is a version with staging labels, as on AWS: the newest value
//! is `AWSCURRENT`, the one before `AWSPREVIOUS`, and a version left with no
//! label is dropped. Deleting schedules the secret for deletion at the end
//! of a recovery window (7 to 30 days, 30 by default): until then it can be
//! described and restored but not read, and its name stays taken; afterwards
//! it is gone (a lookup treats it as gone at once; the document is removed
//! by the next CreateSecret). `ForceDeleteWithoutRecovery` removes it at once.
//!
//! Values are stored as given, in the clear, in the database file; they are
//! never logged. Time is injected (`now_ms`), so the recovery window is
//! tested without waiting.
//!
//! ```
//! # fn demo() -> Result<(), control::secrets::SecretsError> {
//! use control::secrets::{model::SecretValue, NewSecret};
//! let cp = control::ControlPlane::with_store(control::Store::in_memory()?, Default::default());
//! let new = NewSecret {
//!     name: "ingest/password".into(),
//!     value: Some(SecretValue::string("hunter2")?),
//!     ..NewSecret::default()
//! };
//! let (secret, version) = cp.secrets_create("us-west-2", &new, 0)?;
//! assert!(secret.arn.starts_with("arn:aws:secretsmanager:us-west-2:000000000000:secret:ingest/password-"));
//! let (_, current) = cp.secrets_get_value("us-west-2", "ingest/password", None, None, 0)?;
//! assert_eq!(Some(current.id), version);
//! # Ok(()) }
//! # demo().unwrap();
//! ```

pub mod model;
pub mod password;

use crate::error::ControlError;
use crate::store::Batch;
use crate::ControlPlane;
use model::{Secret, SecretValue, SecretVersion, CURRENT};

pub const SECRET_KIND: &str = "secret";

/// One day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// The recovery window when DeleteSecret names none, in days.
pub const DEFAULT_RECOVERY_DAYS: i64 = 30;

/// A Secrets Manager operation's failure, one variant per error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    /// `InvalidParameterException`: a member's value is not valid.
    #[error("{0}")]
    InvalidParameter(String),
    /// `InvalidRequestException`: not valid in the secret's state.
    #[error("{0}")]
    InvalidRequest(String),
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    ResourceNotFound(String),
    /// `ResourceExistsException`.
    #[error("{0}")]
    ResourceExists(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

pub type SecretsResult<T> = std::result::Result<T, SecretsError>;

fn not_found() -> SecretsError {
    SecretsError::ResourceNotFound("Secrets Manager can't find the specified secret.".into())
}

fn marked_for_deletion() -> SecretsError {
    SecretsError::InvalidRequest(
        "You can't perform this operation on the secret because it was marked for deletion.".into(),
    )
}

/// What CreateSecret asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewSecret {
    pub name: String,
    pub description: Option<String>,
    /// The first version's value; a secret may start without one.
    pub value: Option<SecretValue>,
    /// The first version's id (`ClientRequestToken`).
    pub token: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// How DeleteSecret deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// After a recovery window of 7 to 30 days.
    Window(i64),
    /// At once (`ForceDeleteWithoutRecovery`).
    Force,
}

/// A `ListSecrets` filter: `Key` and its `Values`, each a prefix (`!`
/// before one negates it); a secret passes a filter when any value matches,
/// and the list when it passes every filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub key: String,
    pub values: Vec<String>,
}

/// The filter keys of the model.
pub const FILTER_KEYS: &[&str] = &[
    "description",
    "name",
    "tag-key",
    "tag-value",
    "primary-region",
    "owning-service",
    "all",
];

impl Filter {
    fn matches(&self, s: &Secret) -> bool {
        self.values.iter().any(|value| {
            let (negate, prefix) = match value.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, value.as_str()),
            };
            let hit = |field: &str| field.starts_with(prefix);
            let description = s.description.as_deref().unwrap_or("");
            let found = match self.key.as_str() {
                "name" => hit(&s.name),
                "description" => hit(description),
                "tag-key" => s.tags.iter().any(|(k, _)| hit(k)),
                "tag-value" => s.tags.iter().any(|(_, v)| hit(v)),
                "all" => {
                    hit(&s.name) || hit(description) || s.tags.iter().any(|(k, v)| hit(k) || hit(v))
                }
                // onair's secrets have neither: not replicated, owned by no service.
                _ => false,
            };
            found != negate
        })
    }
}

impl ControlPlane {
    /// The region's secrets, gone ones left out, oldest first.
    fn secrets_in(&self, region: &str, now_ms: i64) -> SecretsResult<Vec<Secret>> {
        let all: Vec<Secret> = self.store.list(SECRET_KIND)?;
        Ok(all
            .into_iter()
            .filter(|s| s.region() == region && !s.gone(now_ms))
            .collect())
    }

    /// The secret `id` names (scheduled for deletion or not).
    fn secret(&self, region: &str, id: &str, now_ms: i64) -> SecretsResult<Secret> {
        self.secrets_in(region, now_ms)?
            .into_iter()
            .find(|s| s.answers_to(id))
            .ok_or_else(not_found)
    }

    fn save_secret(&self, s: &Secret) -> SecretsResult<()> {
        Ok(self.store.put(SECRET_KIND, &s.arn, s.created_ms, s)?)
    }

    /// CreateSecret. Asking again with the same `ClientRequestToken` and
    /// value returns the secret (the CLI and SDKs retry with the same token).
    pub fn secrets_create(
        &self,
        region: &str,
        new: &NewSecret,
        now_ms: i64,
    ) -> SecretsResult<(Secret, Option<String>)> {
        model::check_name(&new.name)?;
        if let Some(d) = &new.description {
            model::check_description(d)?;
        }
        if let Some(t) = &new.token {
            model::check_token(t)?;
        }
        model::check_tags(&new.tags)?;
        let _w = self.write_lock()?;
        // Secrets whose recovery window ended go now, freeing their names.
        let all: Vec<Secret> = self.store.list(SECRET_KIND)?;
        let mut batch = Batch::default();
        for gone in all.iter().filter(|s| s.gone(now_ms)) {
            batch.delete(SECRET_KIND, &gone.arn);
        }
        self.store.commit(batch)?;
        let same_name = all
            .into_iter()
            .find(|s| s.region() == region && !s.gone(now_ms) && s.name == new.name);
        if let Some(existing) = same_name {
            if existing.scheduled() {
                return Err(SecretsError::InvalidRequest(
                    "You can't create this secret because a secret with this name is already \
                     scheduled for deletion."
                        .into(),
                ));
            }
            let retried = new.token.as_ref().and_then(|t| {
                existing
                    .versions
                    .iter()
                    .find(|v| &v.id == t && Some(&v.value) == new.value.as_ref())
            });
            if let Some(v) = retried {
                let id = v.id.clone();
                return Ok((existing, Some(id)));
            }
            return Err(SecretsError::ResourceExists(format!(
                "The operation failed because the secret {} already exists.",
                new.name
            )));
        }
        let mut secret = Secret {
            arn: format!(
                "arn:aws:secretsmanager:{region}:{}:secret:{}-{}",
                self.settings.account_id,
                new.name,
                crate::arn::random_alnum(6)
            ),
            name: new.name.clone(),
            description: new.description.clone(),
            tags: new.tags.clone(),
            created_ms: now_ms,
            changed_ms: now_ms,
            deleted_ms: None,
            deletion_ms: None,
            versions: Vec::new(),
        };
        let version = new.value.clone().map(|value| SecretVersion {
            id: new
                .token
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            value,
            stages: Vec::new(),
            created_ms: now_ms,
        });
        let version_id = version.as_ref().map(|v| v.id.clone());
        if let Some(v) = version {
            secret.add_version(v, vec![CURRENT.into()]);
        }
        self.save_secret(&secret)?;
        Ok((secret, version_id))
    }

    /// PutSecretValue: a new version, `AWSCURRENT` unless `stages` say
    /// otherwise. A version id (`ClientRequestToken`) that exists with the
    /// same value changes nothing; with another value it is refused.
    pub fn secrets_put_value(
        &self,
        region: &str,
        id: &str,
        token: Option<&str>,
        value: SecretValue,
        stages: Option<Vec<String>>,
        now_ms: i64,
    ) -> SecretsResult<(Secret, SecretVersion)> {
        if let Some(t) = token {
            model::check_token(t)?;
        }
        let stages = stages.unwrap_or_else(|| vec![CURRENT.into()]);
        model::check_stages(&stages)?;
        let _w = self.write_lock()?;
        let mut secret = self.secret(region, id, now_ms)?;
        if secret.scheduled() {
            return Err(marked_for_deletion());
        }
        if let Some(existing) = token.and_then(|t| secret.versions.iter().find(|v| v.id == t)) {
            if existing.value == value {
                let existing = existing.clone();
                return Ok((secret, existing));
            }
            return Err(SecretsError::ResourceExists(
                "You can't modify an existing version, you can only create a new version.".into(),
            ));
        }
        let version = SecretVersion {
            id: token.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string),
            value,
            stages: Vec::new(),
            created_ms: now_ms,
        };
        secret.add_version(version, stages);
        secret.changed_ms = now_ms;
        self.save_secret(&secret)?;
        let added = secret
            .versions
            .last()
            .cloned()
            .ok_or_else(|| ControlError::Internal("the new version is missing".into()))?;
        Ok((secret, added))
    }

    /// GetSecretValue: the version `version_id` names, or the one holding
    /// `stage` (`AWSCURRENT` when neither is given); both must agree.
    pub fn secrets_get_value(
        &self,
        region: &str,
        id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
        now_ms: i64,
    ) -> SecretsResult<(Secret, SecretVersion)> {
        let secret = self.secret(region, id, now_ms)?;
        if secret.scheduled() {
            return Err(marked_for_deletion());
        }
        let version = match (version_id, stage) {
            (Some(v), stage) => {
                let found = secret.versions.iter().find(|x| x.id == v).ok_or_else(|| {
                    SecretsError::ResourceNotFound(format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {v}"
                    ))
                })?;
                if let Some(stage) = stage {
                    if !found.stages.iter().any(|s| s == stage) {
                        return Err(SecretsError::InvalidRequest(format!(
                            "You provided a VersionStage ({stage}) that is not associated to \
                             the provided VersionId ({v})."
                        )));
                    }
                }
                found
            }
            (None, stage) => {
                let stage = stage.unwrap_or(CURRENT);
                secret.at_stage(stage).ok_or_else(|| {
                    SecretsError::ResourceNotFound(format!(
                        "Secrets Manager can't find the specified secret value for staging label: {stage}"
                    ))
                })?
            }
        };
        let version = version.clone();
        Ok((secret, version))
    }

    /// DescribeSecret (also of a secret scheduled for deletion).
    pub fn secrets_describe(&self, region: &str, id: &str, now_ms: i64) -> SecretsResult<Secret> {
        self.secret(region, id, now_ms)
    }

    /// ListSecrets: the region's secrets that pass every filter, oldest
    /// first; those scheduled for deletion only with `include_planned`.
    pub fn secrets_list(
        &self,
        region: &str,
        include_planned: bool,
        filters: &[Filter],
        now_ms: i64,
    ) -> SecretsResult<Vec<Secret>> {
        for f in filters {
            if !FILTER_KEYS.contains(&f.key.as_str()) {
                return Err(SecretsError::InvalidParameter(format!(
                    "Filters: '{}' is not a filter key ({})",
                    f.key,
                    FILTER_KEYS.join(", ")
                )));
            }
        }
        Ok(self
            .secrets_in(region, now_ms)?
            .into_iter()
            .filter(|s| include_planned || !s.scheduled())
            .filter(|s| filters.iter().all(|f| f.matches(s)))
            .collect())
    }

    /// DeleteSecret: schedules the secret for deletion after its recovery
    /// window, or removes it at once. Returns it with `deletion_ms` set.
    pub fn secrets_delete(
        &self,
        region: &str,
        id: &str,
        how: Deletion,
        now_ms: i64,
    ) -> SecretsResult<Secret> {
        let _w = self.write_lock()?;
        let mut secret = self.secret(region, id, now_ms)?;
        match how {
            Deletion::Force => {
                self.store.delete(SECRET_KIND, &secret.arn)?;
                secret.deleted_ms = Some(now_ms);
                secret.deletion_ms = Some(now_ms);
            }
            Deletion::Window(days) => {
                if !(7..=30).contains(&days) {
                    return Err(SecretsError::InvalidParameter(
                        "RecoveryWindowInDays: The RecoveryWindowInDays value must be between 7 \
                         and 30 days (inclusive)."
                            .into(),
                    ));
                }
                if secret.scheduled() {
                    return Err(marked_for_deletion());
                }
                secret.deleted_ms = Some(now_ms);
                secret.deletion_ms = Some(now_ms.saturating_add(days.saturating_mul(DAY_MS)));
                secret.changed_ms = now_ms;
                self.save_secret(&secret)?;
            }
        }
        Ok(secret)
    }

    /// RestoreSecret: cancels a scheduled deletion.
    pub fn secrets_restore(&self, region: &str, id: &str, now_ms: i64) -> SecretsResult<Secret> {
        let _w = self.write_lock()?;
        let mut secret = self.secret(region, id, now_ms)?;
        if secret.scheduled() {
            secret.deleted_ms = None;
            secret.deletion_ms = None;
            secret.changed_ms = now_ms;
            self.save_secret(&secret)?;
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests;
