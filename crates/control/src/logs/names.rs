//! Names and values as the AWS model constrains them, and log group ARNs.

use std::collections::BTreeMap;

use super::RETENTION_DAYS;
use crate::error::{ControlError, Result};

/// The AWS validation message for a member that breaks a model constraint:
/// `1 validation error detected: Value 'x' at 'member' failed to satisfy
/// constraint: Member must …`.
pub fn constraint(member: &str, value: &str, rule: &str) -> ControlError {
    ControlError::BadRequest(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {rule}"
    ))
}

/// A log group name (`LogGroupName`).
pub fn check_group_name(member: &str, name: &str) -> Result<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#');
    if name.is_empty() || name.len() > 512 {
        return Err(constraint(member, name, "have length between 1 and 512"));
    }
    if !name.chars().all(ok) {
        return Err(constraint(
            member,
            name,
            "satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// A log stream name (`LogStreamName`).
pub fn check_stream_name(member: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 512 {
        return Err(constraint(member, name, "have length between 1 and 512"));
    }
    if name.contains([':', '*']) {
        return Err(constraint(
            member,
            name,
            "satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// `retentionInDays`: one of [`RETENTION_DAYS`].
pub fn check_retention(member: &str, days: i64) -> Result<i32> {
    RETENTION_DAYS
        .iter()
        .copied()
        .find(|d| i64::from(*d) == days)
        .ok_or_else(|| {
            let set: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
            constraint(
                member,
                &days.to_string(),
                &format!("satisfy enum value set: [{}]", set.join(", ")),
            )
        })
}

/// Tag keys and values (`TagKey`, `TagValue`): letters, numbers, spaces and
/// `_.:/=+-@`; keys 1–128, values 0–256 characters; `aws:` is reserved.
pub fn check_tags(member: &str, tags: &BTreeMap<String, String>) -> Result<()> {
    let ok = |c: char| {
        c.is_alphanumeric()
            || c == ' '
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    };
    for (k, v) in tags {
        let at = format!("{member}.{k}");
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(ok) {
            return Err(constraint(
                &at,
                k,
                "be 1 to 128 letters, numbers, spaces or _.:/=+-@",
            ));
        }
        if k.starts_with("aws:") {
            return Err(ControlError::bad(format!(
                "{at}: tag keys starting with 'aws:' are reserved"
            )));
        }
        if v.chars().count() > 256 || !v.chars().all(ok) {
            return Err(constraint(
                &at,
                v,
                "be at most 256 letters, numbers, spaces or _.:/=+-@",
            ));
        }
    }
    Ok(())
}

/// `arn:aws:logs:{region}:{account}:log-group:{name}` (DescribeLogGroups'
/// `logGroupArn`; its `arn` adds `:*`).
pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

/// The group name in a `logGroupIdentifier` or tagging `resourceArn`: a
/// name, or a log group ARN with or without `:*`.
pub fn group_name_of(identifier: &str) -> Option<&str> {
    if !identifier.starts_with("arn:") {
        return Some(identifier);
    }
    let arn = crate::arn::Arn::parse(identifier)?;
    let name = arn.resource.strip_prefix("log-group:")?;
    Some(name.strip_suffix(":*").unwrap_or(name))
}
