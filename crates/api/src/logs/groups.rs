//! Log group operations: CreateLogGroup, DeleteLogGroup, DescribeLogGroups,
//! PutRetentionPolicy / DeleteRetentionPolicy and the tagging calls.

use std::collections::BTreeMap;

use control::logs::{
    check_group_name, check_retention, check_tags, constraint, group_arn, group_name_of,
    GroupQuery, LogGroup, CLASSES, MAX_TAGS,
};
use serde_json::{json, Map, Value};

use super::members::Members;
use super::{bad, group_name, next_token, Call, Result};
use crate::set_member;

fn optional_tags(m: &mut Members, key: &'static str) -> Result<BTreeMap<String, String>> {
    let tags = m.string_map(key)?.unwrap_or_default();
    check_tags(key, &tags)?;
    if tags.len() > MAX_TAGS {
        return Err(constraint(
            key,
            &format!("{} tags", tags.len()),
            &format!("have length less than or equal to {MAX_TAGS}"),
        ));
    }
    Ok(tags)
}

pub(super) fn create_log_group(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let name = group_name(&mut m)?;
    let class = m.enumeration("logGroupClass", &CLASSES)?;
    let tags = optional_tags(&mut m, "tags")?;
    if m.boolean("deletionProtectionEnabled")? == Some(true) {
        return Err(bad(
            "deletionProtectionEnabled: onair does not support deletion protection",
        ));
    }
    if m.string("kmsKeyId")?.is_some() {
        return Err(bad(
            "kmsKeyId: onair does not encrypt log groups with KMS keys",
        ));
    }
    m.finish()?;
    call.cp
        .logs()
        .create_group(name, class, &tags, call.now_ms)?;
    Ok(json!({}))
}

pub(super) fn delete_log_group(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let name = group_name(&mut m)?;
    m.finish()?;
    call.cp.logs().delete_group(name)?;
    Ok(json!({}))
}

fn group_json(call: &Call, g: &LogGroup, brief: bool) -> Value {
    let arn = group_arn(call.region, &call.cp.settings.account_id, &g.name);
    let mut v = Map::new();
    v.insert("logGroupName".into(), json!(g.name));
    v.insert("creationTime".into(), json!(g.created_ms));
    v.insert("arn".into(), json!(format!("{arn}:*")));
    if !brief {
        if let Some(days) = g.retention_days {
            v.insert("retentionInDays".into(), json!(days));
        }
        v.insert("metricFilterCount".into(), json!(0));
        v.insert("storedBytes".into(), json!(g.stored_bytes));
        v.insert("logGroupClass".into(), json!(g.class));
        v.insert("logGroupArn".into(), json!(arn));
        v.insert("deletionProtectionEnabled".into(), json!(false));
    }
    Value::Object(v)
}

pub(super) fn describe_log_groups(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let prefix = m.string("logGroupNamePrefix")?;
    if let Some(p) = prefix {
        check_group_name("logGroupNamePrefix", p)?;
    }
    let contains = m.string("logGroupNamePattern")?;
    if let Some(p) = contains.filter(|p| !p.is_empty()) {
        check_group_name("logGroupNamePattern", p)?;
    }
    if prefix.is_some() && contains.is_some() {
        return Err(bad(
            "logGroupNamePrefix, logGroupNamePattern: only one of these parameters can be passed",
        ));
    }
    let identifiers = m.string_list("logGroupIdentifiers", 1, 50)?;
    let names = identifiers
        .map(|ids| {
            ids.iter()
                .map(|id| {
                    group_name_of(id).map(str::to_string).ok_or_else(|| {
                        bad(format!(
                            "logGroupIdentifiers: '{id}' is not a log group name or ARN"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let class = m.enumeration("logGroupClass", &CLASSES)?;
    if names.is_some() && (prefix.is_some() || contains.is_some() || class.is_some()) {
        return Err(bad(
            "logGroupIdentifiers: cannot be combined with logGroupNamePrefix, logGroupNamePattern or logGroupClass",
        ));
    }
    // No linked accounts exist: these change nothing.
    m.ignore("includeLinkedAccounts");
    m.ignore("accountIdentifiers");
    let q = GroupQuery {
        prefix: prefix.map(str::to_string),
        contains: contains.filter(|p| !p.is_empty()).map(str::to_string),
        class: class.map(str::to_string),
        names,
        token: next_token(&mut m)?,
        limit: m.int_in("limit", 1, 50)?.unwrap_or(50) as usize,
    };
    m.finish()?;
    let page = call.cp.logs().describe_groups(&q)?;
    let groups: Vec<Value> = page
        .items
        .iter()
        .map(|g| group_json(call, g, contains.is_some()))
        .collect();
    let mut out = json!({ "logGroups": groups });
    if let Some(t) = page.next_token {
        set_member(&mut out, "nextToken", json!(t));
    }
    Ok(out)
}

pub(super) fn retention(call: &Call, body: &Value, put: bool) -> Result<Value> {
    let mut m = Members::new(body)?;
    let name = group_name(&mut m)?;
    let days = if put {
        let days = m
            .int("retentionInDays")?
            .ok_or_else(|| bad("retentionInDays: is required"))?;
        Some(check_retention("retentionInDays", days)?)
    } else {
        None
    };
    m.finish()?;
    call.cp.logs().set_retention(name, days)?;
    Ok(json!({}))
}

/// The group a tagging call names: `resourceArn` (TagResource & co.) or
/// `logGroupName` (the older TagLogGroup & co.).
fn tagged_group<'a>(m: &mut Members<'a>, by_arn: bool) -> Result<&'a str> {
    if !by_arn {
        return group_name(m);
    }
    let arn = m.required_string("resourceArn")?;
    match group_name_of(arn) {
        Some(name) if arn.starts_with("arn:") => Ok(name),
        _ => Err(bad(format!(
            "resourceArn: '{arn}' is not a log group ARN (onair tags log groups only)"
        ))),
    }
}

pub(super) fn tag(call: &Call, body: &Value, by_arn: bool) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = tagged_group(&mut m, by_arn)?;
    if m.string_map("tags")?.is_none() {
        return Err(bad("tags: is required"));
    }
    let tags = optional_tags(&mut m, "tags")?;
    m.finish()?;
    call.cp.logs().change_tags(group, |t| t.extend(tags))?;
    Ok(json!({}))
}

pub(super) fn untag(call: &Call, body: &Value, by_arn: bool) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = tagged_group(&mut m, by_arn)?;
    // UntagResource names them tagKeys, UntagLogGroup tags.
    let key = if by_arn { "tagKeys" } else { "tags" };
    let keys = m
        .string_list(key, usize::from(!by_arn), 50)?
        .ok_or_else(|| bad(format!("{key}: is required")))?;
    m.finish()?;
    call.cp
        .logs()
        .change_tags(group, |t| t.retain(|k, _| !keys.contains(k)))?;
    Ok(json!({}))
}

pub(super) fn list_tags(call: &Call, body: &Value, by_arn: bool) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = tagged_group(&mut m, by_arn)?;
    m.finish()?;
    Ok(json!({ "tags": call.cp.logs().tags(group)? }))
}
