//! The operations: members read, the control plane called, the answer written.

use control::secrets::model::{Secret, SecretValue, SecretVersion};
use control::secrets::password::PasswordRules;
use control::secrets::{Deletion, Filter, NewSecret, DEFAULT_RECOVERY_DAYS};
use serde_json::{json, Map, Value};

use super::{control_error, error, seconds, secrets_error, Call, Result};
use crate::logs::members::Members;

/// Secrets in a page of ListSecrets when `MaxResults` is not given.
const PAGE: i64 = 100;

fn done(m: Members) -> Result<()> {
    m.finish().map_err(control_error)
}

/// `SecretId`: 1 to 2048 characters.
fn secret_id<'a>(m: &mut Members<'a>) -> Result<&'a str> {
    let id = m.required_string("SecretId").map_err(control_error)?;
    if id.is_empty() || id.chars().count() > 2048 {
        return Err(error(
            "InvalidParameterException",
            "SecretId: give a secret's name or ARN (1 to 2048 characters)",
        ));
    }
    Ok(id)
}

/// `SecretString` or `SecretBinary`, not both.
fn value(m: &mut Members) -> Result<Option<SecretValue>> {
    let string = m.string("SecretString").map_err(control_error)?;
    let binary = m.string("SecretBinary").map_err(control_error)?;
    match (string, binary) {
        (Some(_), Some(_)) => Err(error(
            "InvalidParameterException",
            "SecretString, SecretBinary: You can't specify both a binary secret value and a \
             string secret value in the same secret.",
        )),
        (Some(s), None) => SecretValue::string(s).map(Some).map_err(secrets_error),
        (None, Some(b)) => SecretValue::binary(b).map(Some).map_err(secrets_error),
        (None, None) => Ok(None),
    }
}

/// `Tags`: `[{"Key": …, "Value": …}]`.
fn tags(m: &mut Members) -> Result<Vec<(String, String)>> {
    let Some(items) = m.list("Tags").map_err(control_error)? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = |name: &str| match item.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                None | Some(Value::Null) if name == "Value" => Ok(String::new()),
                _ => Err(error(
                    "InvalidParameterException",
                    format!("Tags[{i}].{name}: expected a string"),
                )),
            };
            if let Some(other) = item
                .as_object()
                .and_then(|o| o.keys().find(|k| *k != "Key" && *k != "Value"))
            {
                return Err(error(
                    "InvalidParameterException",
                    format!("Tags[{i}].{other}: onair does not support this member"),
                ));
            }
            Ok((field("Key")?, field("Value")?))
        })
        .collect()
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// `{versionId: [stages]}`.
fn stages_json(versions: &[SecretVersion]) -> Value {
    Value::Object(
        versions
            .iter()
            .map(|v| (v.id.clone(), json!(v.stages)))
            .collect(),
    )
}

/// What DescribeSecret and ListSecrets show of a secret (`versions_key`:
/// `VersionIdsToStages` or `SecretVersionsToStages`, as the model names it
/// in each).
fn describe_json(s: &Secret, versions_key: &str) -> Value {
    let mut v = Map::new();
    v.insert("ARN".into(), json!(s.arn));
    v.insert("Name".into(), json!(s.name));
    if let Some(d) = &s.description {
        v.insert("Description".into(), json!(d));
    }
    v.insert("LastChangedDate".into(), seconds(s.changed_ms));
    if let Some(d) = s.deleted_ms {
        v.insert("DeletedDate".into(), seconds(d));
    }
    if !s.tags.is_empty() {
        v.insert("Tags".into(), tags_json(&s.tags));
    }
    v.insert(versions_key.into(), stages_json(&s.versions));
    v.insert("CreatedDate".into(), seconds(s.created_ms));
    Value::Object(v)
}

/// GetRandomPassword: every member of the operation, AWS's defaults.
pub(super) fn random_password(mut m: Members) -> Result<Value> {
    let flag = |m: &mut Members, key: &'static str, default: bool| -> Result<bool> {
        Ok(m.boolean(key).map_err(control_error)?.unwrap_or(default))
    };
    let defaults = PasswordRules::default();
    let rules = PasswordRules {
        length: m
            .int("PasswordLength")
            .map_err(control_error)?
            .unwrap_or(defaults.length),
        exclude_characters: m
            .string("ExcludeCharacters")
            .map_err(control_error)?
            .unwrap_or_default()
            .to_string(),
        exclude_numbers: flag(&mut m, "ExcludeNumbers", false)?,
        exclude_punctuation: flag(&mut m, "ExcludePunctuation", false)?,
        exclude_uppercase: flag(&mut m, "ExcludeUppercase", false)?,
        exclude_lowercase: flag(&mut m, "ExcludeLowercase", false)?,
        include_space: flag(&mut m, "IncludeSpace", false)?,
        require_each_included_type: flag(&mut m, "RequireEachIncludedType", true)?,
    };
    done(m)?;
    let password = rules.draw().map_err(secrets_error)?;
    Ok(json!({ "RandomPassword": password }))
}

/// CreateSecret: `Name`, `Description`, `SecretString` or `SecretBinary`,
/// `ClientRequestToken`, `Tags`.
pub(super) fn create(call: &Call, mut m: Members) -> Result<Value> {
    let name = m.required_string("Name").map_err(control_error)?;
    let description = m.string("Description").map_err(control_error)?;
    let value = value(&mut m)?;
    let token = m.string("ClientRequestToken").map_err(control_error)?;
    let tags = tags(&mut m)?;
    if m.string("KmsKeyId").map_err(control_error)?.is_some() {
        return Err(error(
            "InvalidParameterException",
            "KmsKeyId: onair does not encrypt secrets with KMS keys (they are kept in its \
             database, readable by its owner only)",
        ));
    }
    if m.boolean("ForceOverwriteReplicaSecret")
        .map_err(control_error)?
        == Some(true)
    {
        return Err(error(
            "InvalidParameterException",
            "ForceOverwriteReplicaSecret: onair does not replicate secrets",
        ));
    }
    done(m)?;
    let new = NewSecret {
        name: name.to_string(),
        description: description.map(str::to_string),
        value,
        token: token.map(str::to_string),
        tags,
    };
    let (secret, version) = call
        .cp
        .secrets_create(call.region, &new, call.now_ms)
        .map_err(secrets_error)?;
    let mut out = Map::new();
    out.insert("ARN".into(), json!(secret.arn));
    out.insert("Name".into(), json!(secret.name));
    if let Some(v) = version {
        out.insert("VersionId".into(), json!(v));
    }
    Ok(Value::Object(out))
}

/// PutSecretValue: `SecretId`, `SecretString` or `SecretBinary`,
/// `ClientRequestToken`, `VersionStages`.
pub(super) fn put_value(call: &Call, mut m: Members) -> Result<Value> {
    let id = secret_id(&mut m)?;
    let value = value(&mut m)?.ok_or_else(|| {
        error(
            "InvalidParameterException",
            "SecretString, SecretBinary: give one of them (the new version's value)",
        )
    })?;
    let token = m.string("ClientRequestToken").map_err(control_error)?;
    let stages = m
        .string_list("VersionStages", 1, 20)
        .map_err(control_error)?;
    if m.string("RotationToken").map_err(control_error)?.is_some() {
        return Err(error(
            "InvalidParameterException",
            "RotationToken: onair does not rotate secrets",
        ));
    }
    done(m)?;
    let (secret, version) = call
        .cp
        .secrets_put_value(call.region, id, token, value, stages, call.now_ms)
        .map_err(secrets_error)?;
    Ok(json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "VersionId": version.id,
        "VersionStages": version.stages,
    }))
}

/// GetSecretValue: `SecretId`, `VersionId`, `VersionStage`.
pub(super) fn get_value(call: &Call, mut m: Members) -> Result<Value> {
    let id = secret_id(&mut m)?;
    let version_id = m.string("VersionId").map_err(control_error)?;
    let stage = m.string("VersionStage").map_err(control_error)?;
    done(m)?;
    let (secret, version) = call
        .cp
        .secrets_get_value(call.region, id, version_id, stage, call.now_ms)
        .map_err(secrets_error)?;
    let mut out = Map::new();
    out.insert("ARN".into(), json!(secret.arn));
    out.insert("Name".into(), json!(secret.name));
    out.insert("VersionId".into(), json!(version.id));
    out.insert("VersionStages".into(), json!(version.stages));
    out.insert("CreatedDate".into(), seconds(version.created_ms));
    let (key, value) = match version.value {
        SecretValue::String(s) => ("SecretString", s),
        SecretValue::Binary(b) => ("SecretBinary", b),
    };
    out.insert(key.into(), Value::String(value));
    Ok(Value::Object(out))
}

/// DescribeSecret.
pub(super) fn describe(call: &Call, mut m: Members) -> Result<Value> {
    let id = secret_id(&mut m)?;
    done(m)?;
    let secret = call
        .cp
        .secrets_describe(call.region, id, call.now_ms)
        .map_err(secrets_error)?;
    Ok(describe_json(&secret, "VersionIdsToStages"))
}

/// `Filters`: `[{"Key": …, "Values": [...]}]`.
fn filters(m: &mut Members) -> Result<Vec<Filter>> {
    let Some(items) = m.list("Filters").map_err(control_error)? else {
        return Ok(Vec::new());
    };
    if items.len() > 10 {
        return Err(error(
            "InvalidParameterException",
            format!("Filters: {} filters; at most 10", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let bad =
                |what: &str| error("InvalidParameterException", format!("Filters[{i}]{what}"));
            let key = item
                .get("Key")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(".Key: is required (a string)"))?;
            let values = match item.get("Values") {
                Some(Value::Array(vs)) if (1..=10).contains(&vs.len()) => vs
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(".Values: expected strings"))
                    })
                    .collect::<Result<Vec<_>>>()?,
                _ => return Err(bad(".Values: is required (1 to 10 strings)")),
            };
            Ok(Filter {
                key: key.to_string(),
                values,
            })
        })
        .collect()
}

/// ListSecrets: `IncludePlannedDeletion`, `Filters`, `SortBy`
/// (`created-date`, the default, `last-changed-date` or `name`),
/// `SortOrder` (`asc`, the default, or `desc`), `MaxResults` (1 to 100,
/// 100 by default) and `NextToken`.
pub(super) fn list(call: &Call, mut m: Members) -> Result<Value> {
    let include_planned = m
        .boolean("IncludePlannedDeletion")
        .map_err(control_error)?
        .unwrap_or(false);
    let filters = filters(&mut m)?;
    let sort_by = m
        .enumeration(
            "SortBy",
            &[
                "created-date",
                "last-accessed-date",
                "last-changed-date",
                "name",
            ],
        )
        .map_err(control_error)?;
    if sort_by == Some("last-accessed-date") {
        return Err(error(
            "InvalidParameterException",
            "SortBy: onair does not record when a secret was last read; sort by created-date, \
             last-changed-date or name",
        ));
    }
    let descending = m
        .enumeration("SortOrder", &["asc", "desc"])
        .map_err(control_error)?
        == Some("desc");
    let max = m
        .int_in("MaxResults", 1, 100)
        .map_err(control_error)?
        .unwrap_or(PAGE);
    let token = m.string("NextToken").map_err(control_error)?;
    done(m)?;
    let start = match token {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            error(
                "InvalidNextTokenException",
                format!("NextToken: '{t}' is not a token onair gave"),
            )
        })?,
    };
    let mut secrets = call
        .cp
        .secrets_list(call.region, include_planned, &filters, call.now_ms)
        .map_err(secrets_error)?;
    match sort_by {
        Some("name") => secrets.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("last-changed-date") => secrets.sort_by_key(|s| s.changed_ms),
        _ => {}
    }
    if descending {
        secrets.reverse();
    }
    let max = usize::try_from(max).unwrap_or(100);
    let end = start.saturating_add(max).min(secrets.len());
    let page = secrets.get(start.min(end)..end).unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "SecretList".into(),
        page.iter()
            .map(|s| describe_json(s, "SecretVersionsToStages"))
            .collect(),
    );
    if end < secrets.len() {
        out.insert("NextToken".into(), json!(end.to_string()));
    }
    Ok(Value::Object(out))
}

/// DeleteSecret: `RecoveryWindowInDays` (7 to 30, 30 by default) or
/// `ForceDeleteWithoutRecovery`, not both.
pub(super) fn delete(call: &Call, mut m: Members) -> Result<Value> {
    let id = secret_id(&mut m)?;
    let window = m.int("RecoveryWindowInDays").map_err(control_error)?;
    let force = m
        .boolean("ForceDeleteWithoutRecovery")
        .map_err(control_error)?
        .unwrap_or(false);
    done(m)?;
    let how = match (window, force) {
        (Some(_), true) => {
            return Err(error(
                "InvalidParameterException",
                "RecoveryWindowInDays, ForceDeleteWithoutRecovery: You can't use \
                 ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ))
        }
        (None, true) => Deletion::Force,
        (window, false) => Deletion::Window(window.unwrap_or(DEFAULT_RECOVERY_DAYS)),
    };
    let secret = call
        .cp
        .secrets_delete(call.region, id, how, call.now_ms)
        .map_err(secrets_error)?;
    Ok(json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "DeletionDate": seconds(secret.deletion_ms.unwrap_or(call.now_ms)),
    }))
}

/// RestoreSecret: cancels a scheduled deletion.
pub(super) fn restore(call: &Call, mut m: Members) -> Result<Value> {
    let id = secret_id(&mut m)?;
    done(m)?;
    let secret = call
        .cp
        .secrets_restore(call.region, id, call.now_ms)
        .map_err(secrets_error)?;
    Ok(json!({"ARN": secret.arn, "Name": secret.name}))
}
