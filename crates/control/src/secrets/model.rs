//! A secret as stored: its versions with their staging labels, its
//! deletion schedule, and the rules its members follow.
//!
//! A version's value never appears in a `Debug` print, a log line or an
//! error message: [`SecretValue`]'s `Debug` shows its kind and size only.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{SecretsError, SecretsResult};

/// The label of the version GetSecretValue returns by default.
pub const CURRENT: &str = "AWSCURRENT";
/// The label the version that was current moves to.
pub const PREVIOUS: &str = "AWSPREVIOUS";

/// The largest secret value, in bytes (string or decoded binary).
pub const MAX_VALUE: usize = 65536;

/// The most tags on a secret.
pub const MAX_TAGS: usize = 50;

/// A version's value: `SecretString`, or `SecretBinary` (kept as the base64
/// text the JSON protocol carries).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretValue {
    String(String),
    Binary(String),
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretValue::String(s) => write!(f, "SecretString(<{} bytes>)", s.len()),
            SecretValue::Binary(b) => write!(f, "SecretBinary(<{} base64 bytes>)", b.len()),
        }
    }
}

impl SecretValue {
    /// A `SecretString` of 1 to 65536 bytes.
    pub fn string(s: &str) -> SecretsResult<SecretValue> {
        if s.is_empty() || s.len() > MAX_VALUE {
            return Err(SecretsError::InvalidParameter(format!(
                "SecretString: {} bytes; a secret value holds 1 to {MAX_VALUE}",
                s.len()
            )));
        }
        Ok(SecretValue::String(s.to_string()))
    }

    /// A `SecretBinary` given as base64 text: 1 to 65536 bytes once decoded.
    pub fn binary(base64_text: &str) -> SecretsResult<SecretValue> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(base64_text)
            .map_err(|_| {
                SecretsError::InvalidParameter(
                    "SecretBinary: is not base64 (the JSON protocol carries a blob as base64)"
                        .into(),
                )
            })?;
        if bytes.is_empty() || bytes.len() > MAX_VALUE {
            return Err(SecretsError::InvalidParameter(format!(
                "SecretBinary: {} bytes; a secret value holds 1 to {MAX_VALUE}",
                bytes.len()
            )));
        }
        Ok(SecretValue::Binary(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }
}

/// One version of a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersion {
    /// The request's `ClientRequestToken`, or a UUID.
    pub id: String,
    pub value: SecretValue,
    /// Staging labels (`AWSCURRENT`, `AWSPREVIOUS`, or the caller's); a
    /// version left without one is dropped.
    pub stages: Vec<String>,
    pub created_ms: i64,
}

/// A secret (`arn:aws:secretsmanager:{region}:{account}:secret:{name}-{6}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub arn: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// In the order given.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_ms: i64,
    /// When its value, description or deletion schedule last changed.
    pub changed_ms: i64,
    /// When DeleteSecret scheduled it for deletion.
    #[serde(default)]
    pub deleted_ms: Option<i64>,
    /// When it goes for good (the end of its recovery window).
    #[serde(default)]
    pub deletion_ms: Option<i64>,
    #[serde(default)]
    pub versions: Vec<SecretVersion>,
}

impl Secret {
    /// The region in its ARN.
    pub fn region(&self) -> &str {
        crate::arn::Arn::parse(&self.arn).map_or("", |a| a.region)
    }

    /// Its recovery window has passed: it no longer exists.
    pub fn gone(&self, now_ms: i64) -> bool {
        self.deletion_ms.is_some_and(|d| d <= now_ms)
    }

    /// Scheduled for deletion, within its recovery window.
    pub fn scheduled(&self) -> bool {
        self.deleted_ms.is_some()
    }

    /// Whether `id` (a `SecretId`) names it: its name, its ARN, or its ARN
    /// without the 6 random characters (a partial ARN).
    pub fn answers_to(&self, id: &str) -> bool {
        if id == self.name || id == self.arn {
            return true;
        }
        let partial = self
            .arn
            .len()
            .checked_sub(7)
            .and_then(|end| self.arn.get(..end));
        id.starts_with("arn:") && partial == Some(id)
    }

    /// The version holding `stage`.
    pub fn at_stage(&self, stage: &str) -> Option<&SecretVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// Adds `version` with `stages`: a label another version holds moves to
    /// it, and when it becomes `AWSCURRENT` the version that was current
    /// becomes `AWSPREVIOUS`. Versions left without a label are dropped.
    pub fn add_version(&mut self, mut version: SecretVersion, stages: Vec<String>) {
        if stages.iter().any(|s| s == CURRENT) {
            for v in &mut self.versions {
                v.stages.retain(|s| s != PREVIOUS);
                if v.stages.iter().any(|s| s == CURRENT) {
                    v.stages.retain(|s| s != CURRENT);
                    v.stages.push(PREVIOUS.into());
                }
            }
        }
        for v in &mut self.versions {
            v.stages.retain(|s| !stages.contains(s));
        }
        self.versions.retain(|v| !v.stages.is_empty());
        version.stages = stages;
        self.versions.push(version);
    }
}

fn invalid(message: String) -> SecretsError {
    SecretsError::InvalidParameter(message)
}

/// `Name`: 1 to 512 letters, digits and `/_+=.@-`.
pub fn check_name(name: &str) -> SecretsResult<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    if name.is_empty() || name.len() > 512 || !name.chars().all(ok) {
        return Err(invalid(format!(
            "Name: '{name}' is not a valid secret name: Must be a valid name containing \
             alphanumeric characters, or any of the following: -/_+=.@ (1 to 512)"
        )));
    }
    Ok(())
}

/// `Description`: at most 2048 characters.
pub fn check_description(d: &str) -> SecretsResult<()> {
    if d.chars().count() > 2048 {
        return Err(invalid(
            "Description: longer than 2048 characters".to_string(),
        ));
    }
    Ok(())
}

/// `ClientRequestToken` (the version id): 32 to 64 characters.
pub fn check_token(token: &str) -> SecretsResult<()> {
    if !(32..=64).contains(&token.chars().count()) {
        return Err(invalid(format!(
            "ClientRequestToken: '{token}' is not 32 to 64 characters long"
        )));
    }
    Ok(())
}

/// `VersionStages`: 1 to 20 labels of 1 to 256 characters.
pub fn check_stages(stages: &[String]) -> SecretsResult<()> {
    if stages.is_empty() || stages.len() > 20 {
        return Err(invalid(format!(
            "VersionStages: {} labels; give 1 to 20",
            stages.len()
        )));
    }
    for s in stages {
        if s.is_empty() || s.chars().count() > 256 {
            return Err(invalid(format!(
                "VersionStages: '{s}' is not 1 to 256 characters long"
            )));
        }
    }
    Ok(())
}

/// `Tags`: at most 50, keys of 1 to 128 and values of at most 256
/// characters, keys distinct and not `aws:`.
pub fn check_tags(tags: &[(String, String)]) -> SecretsResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "Tags: {} tags; a secret has at most {MAX_TAGS}",
            tags.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid(format!(
                "Tags: the key '{k}' is not 1 to 128 characters long"
            )));
        }
        if v.chars().count() > 256 {
            return Err(invalid(format!(
                "Tags: the value of '{k}' is longer than 256 characters"
            )));
        }
        if k.starts_with("aws:") {
            return Err(invalid(format!(
                "Tags: the key '{k}' begins with aws:, which is reserved for AWS"
            )));
        }
        if !seen.insert(k.as_str()) {
            return Err(invalid(format!("Tags: the key '{k}' is given twice")));
        }
    }
    Ok(())
}
