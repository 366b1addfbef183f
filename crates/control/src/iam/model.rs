//! An IAM role as stored, and the rules its members follow: the IAM model's
//! constraints (`roleNameType`, `pathType`, `roleDescriptionType`, …), with
//! AWS's `ValidationError` wording, and the shape of a trust policy.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{IamError, IamResult};
use crate::arn::Arn;

/// A role (`arn:aws:iam::{account}:role{path}{name}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AROA` and 17 letters and digits, as AWS's.
    pub role_id: String,
    pub arn: String,
    pub created_ms: i64,
    /// The trust policy as it was given (JSON text).
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: u32,
    /// In the order given.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// ARNs of the attached managed policies, in the order attached.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// What CreateRole asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    /// `/` when not given.
    pub path: Option<String>,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    /// 3600 s when not given.
    pub max_session_duration: Option<i64>,
    pub tags: Vec<(String, String)>,
}

/// The most tags on a role.
pub const MAX_TAGS: usize = 50;

/// A role's `MaxSessionDuration` when none is given.
pub const DEFAULT_MAX_SESSION: u32 = 3600;

impl NewRole {
    /// A role at path `/` with no description or tags.
    pub fn new(name: &str, assume_role_policy_document: &str) -> NewRole {
        NewRole {
            name: name.to_string(),
            assume_role_policy_document: assume_role_policy_document.to_string(),
            ..NewRole::default()
        }
    }

    /// Every member against the model, then the trust policy.
    pub fn check(&self) -> IamResult<()> {
        check_role_name(&self.name)?;
        if let Some(path) = &self.path {
            check_path(path)?;
        }
        if let Some(d) = &self.description {
            check_description(d)?;
        }
        if let Some(d) = self.max_session_duration {
            check_range("maxSessionDuration", d, 3600, 43200)?;
        }
        check_tags(&self.tags)?;
        check_trust_policy(&self.assume_role_policy_document)
    }

    /// The role, with a fresh RoleId (call [`NewRole::check`] first).
    pub fn build(&self, account: &str, now_ms: i64) -> Role {
        let path = self.path.clone().unwrap_or_else(|| "/".into());
        Role {
            arn: format!("arn:aws:iam::{account}:role{path}{}", self.name),
            name: self.name.clone(),
            path,
            role_id: role_id(),
            created_ms: now_ms,
            assume_role_policy_document: self.assume_role_policy_document.clone(),
            description: self.description.clone(),
            max_session_duration: self
                .max_session_duration
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(DEFAULT_MAX_SESSION),
            tags: self.tags.clone(),
            attached_policies: Vec::new(),
        }
    }
}

/// A fresh RoleId: `AROA` and 17 upper-case letters and digits.
pub fn role_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let tail: String = (0..17)
        .filter_map(|_| ALPHABET.choose(&mut rng))
        .map(|&b| char::from(b))
        .collect();
    format!("AROA{tail}")
}

/// AWS's wording of a broken constraint (the member in the model's
/// lowerCamel case, as IAM writes it).
pub fn constraint(member: &str, value: &str, rule: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {rule}"
    ))
}

fn check_length(member: &str, value: &str, min: usize, max: usize) -> IamResult<()> {
    let n = value.chars().count();
    if n < min {
        return Err(constraint(
            member,
            value,
            &format!("have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(constraint(
            member,
            value,
            &format!("have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// An integer member within `min..=max`.
pub fn check_range(member: &str, value: i64, min: i64, max: i64) -> IamResult<()> {
    if value < min {
        return Err(constraint(
            member,
            &value.to_string(),
            &format!("have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(constraint(
            member,
            &value.to_string(),
            &format!("have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `\w+=,.@-`: what a role or policy name is made of.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// `RoleName` (`roleNameType`): 1–64 of `[\w+=,.@-]`.
pub fn check_role_name(name: &str) -> IamResult<()> {
    check_length("roleName", name, 1, 64)?;
    if !name.chars().all(name_char) {
        return Err(constraint(
            "roleName",
            name,
            "satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// `Path` (`pathType`): `/`, or `/…/` of printable ASCII, at most 512.
pub fn check_path(path: &str) -> IamResult<()> {
    check_length("path", path, 1, 512)?;
    let inner = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .filter(|p| !p.is_empty());
    let ok = path == "/" || inner.is_some_and(|p| p.chars().all(|c| ('!'..='~').contains(&c)));
    if !ok {
        return Err(constraint(
            "path",
            path,
            "satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(())
}

/// `PathPrefix` of ListRoles (`pathPrefixType`): `/` and printable ASCII.
pub fn check_path_prefix(prefix: &str) -> IamResult<()> {
    check_length("pathPrefix", prefix, 1, 512)?;
    let ok = prefix.starts_with('/') && prefix.chars().all(|c| ('!'..='\u{7f}').contains(&c));
    if !ok {
        return Err(constraint(
            "pathPrefix",
            prefix,
            "satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        ));
    }
    Ok(())
}

/// `Description` (`roleDescriptionType`): at most 1000 characters of tab,
/// line feed, carriage return and Latin-1 printables.
pub fn check_description(d: &str) -> IamResult<()> {
    check_length("description", d, 0, 1000)?;
    let ok = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || (' '..='~').contains(&c)
            || ('\u{a1}'..='\u{ff}').contains(&c)
    };
    if !d.chars().all(ok) {
        return Err(constraint(
            "description",
            d,
            "satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
        ));
    }
    Ok(())
}

/// Tags: at most 50; keys of 1–128 and values of 0–256 letters, digits,
/// separators and `_.:/=+-@`; keys distinct without regard to case, and not
/// `aws:`.
pub fn check_tags(tags: &[(String, String)]) -> IamResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(constraint(
            "tags",
            &format!("{} tags", tags.len()),
            &format!("have length less than or equal to {MAX_TAGS}"),
        ));
    }
    let tag_char = |c: char| {
        c.is_alphanumeric()
            || c.is_whitespace()
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    };
    let mut seen = std::collections::HashSet::new();
    for (n, (k, v)) in (1usize..).zip(tags) {
        let key_member = format!("tags.{n}.member.key");
        let value_member = format!("tags.{n}.member.value");
        check_length(&key_member, k, 1, 128)?;
        if !k.chars().all(tag_char) {
            return Err(constraint(
                &key_member,
                k,
                "satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            ));
        }
        check_length(&value_member, v, 0, 256)?;
        if !v.chars().all(tag_char) {
            return Err(constraint(
                &value_member,
                v,
                "satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(IamError::InvalidInput(format!(
                "Tags: the key '{k}' begins with aws:, which is reserved for AWS"
            )));
        }
        if !seen.insert(k.to_lowercase()) {
            return Err(IamError::InvalidInput(format!(
                "Tags: Duplicate tag keys found ('{k}'). Please note that Tag keys are case insensitive."
            )));
        }
    }
    Ok(())
}

fn malformed(why: impl std::fmt::Display) -> IamError {
    IamError::MalformedPolicy(format!("AssumeRolePolicyDocument: {why}"))
}

/// The members a policy's top level may have.
const POLICY_MEMBERS: &[&str] = &["Version", "Id", "Statement"];

/// The members a statement may have.
const STATEMENT_MEMBERS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// `AssumeRolePolicyDocument`: the model's length and characters
/// (`ValidationError`), then a trust policy as IAM reads one
/// (`MalformedPolicyDocument`): a JSON object with an optional `Version`
/// (`2012-10-17` or `2008-10-17`) and `Id`, and a `Statement` (one or a
/// list), each with `Effect` `Allow` or `Deny`, a `Principal` (or
/// `NotPrincipal`), an `Action` (or `NotAction`), no `Resource`, and no
/// member a policy does not have. What the statements grant is not
/// evaluated: onair authorises nothing with roles.
pub fn check_trust_policy(doc: &str) -> IamResult<()> {
    check_length("assumeRolePolicyDocument", doc, 1, 131_072)?;
    let ok = |c: char| matches!(c, '\t' | '\n' | '\r') || (' '..='\u{ff}').contains(&c);
    if !doc.chars().all(ok) {
        return Err(constraint(
            "assumeRolePolicyDocument",
            doc,
            "satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    let policy: Value = serde_json::from_str(doc)
        .map_err(|e| malformed(format!("This policy contains invalid Json ({e})")))?;
    let Value::Object(policy) = policy else {
        return Err(malformed(
            "This policy contains invalid Json (a policy is a JSON object)",
        ));
    };
    if let Some(other) = policy
        .keys()
        .find(|k| !POLICY_MEMBERS.contains(&k.as_str()))
    {
        return Err(malformed(format!(
            "Syntax errors in policy: unknown member '{other}'"
        )));
    }
    match policy.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(v) => {
            return Err(malformed(format!(
                "Version {v} is not 2012-10-17 or 2008-10-17"
            )))
        }
    }
    let statements = match policy.get("Statement") {
        None => return Err(malformed("Missing required field Statement")),
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(malformed(
                "Statement: a policy needs at least one statement",
            ))
        }
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
    };
    for (i, statement) in statements.into_iter().enumerate() {
        let Value::Object(s) = statement else {
            return Err(malformed(format!("Statement[{i}]: is not a JSON object")));
        };
        let at = |why: &str| malformed(format!("Statement[{i}]: {why}"));
        if let Some(other) = s.keys().find(|k| !STATEMENT_MEMBERS.contains(&k.as_str())) {
            return Err(at(&format!(
                "Syntax errors in policy: unknown member '{other}'"
            )));
        }
        match s.get("Effect") {
            Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
            Some(e) => return Err(at(&format!("Invalid effect: {e} (Allow or Deny)"))),
            None => return Err(at("Missing required field Effect")),
        }
        if !s.contains_key("Principal") && !s.contains_key("NotPrincipal") {
            return Err(at("Missing required field Principal"));
        }
        if !s.contains_key("Action") && !s.contains_key("NotAction") {
            return Err(at("Missing required field Action"));
        }
        for prohibited in ["Resource", "NotResource"] {
            if s.contains_key(prohibited) {
                return Err(at(&format!("Has prohibited field {prohibited}")));
            }
        }
    }
    Ok(())
}

/// An ARN member (`arnType`): 20 to 2048 characters.
pub fn check_arn_length(member: &str, arn: &str) -> IamResult<()> {
    check_length(member, arn, 20, 2048)
}

/// `PolicyArn` of AttachRolePolicy: an AWS managed policy
/// (`arn:aws:iam::aws:policy/…/Name`) is accepted by its shape; onair has no
/// customer managed policies, so one of this account's is `NoSuchEntity`.
pub fn check_policy_arn(arn: &str, account: &str) -> IamResult<()> {
    check_arn_length("policyArn", arn)?;
    let invalid = || IamError::InvalidInput(format!("ARN {arn} is not valid."));
    let parsed = Arn::parse(arn).ok_or_else(invalid)?;
    let path = parsed
        .resource
        .strip_prefix("policy/")
        .ok_or_else(invalid)?;
    if parsed.service != "iam" || !parsed.region.is_empty() {
        return Err(invalid());
    }
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name.len() > 128 || !name.chars().all(name_char) {
        return Err(invalid());
    }
    match parsed.account {
        "aws" => Ok(()),
        a if a == account => Err(IamError::NoSuchEntity(format!(
            "Policy {arn} does not exist or is not attachable. (onair has AWS managed policies, arn:aws:iam::aws:policy/…, and no policies of its own.)"
        ))),
        _ => Err(IamError::NoSuchEntity(format!(
            "Policy {arn} does not exist or is not attachable."
        ))),
    }
}

/// The name of a managed policy (the ARN's last segment).
pub fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The path of a managed policy (`/` or `/service-role/`).
pub fn policy_path(arn: &str) -> &str {
    let resource = arn.split_once(":policy").map_or("", |(_, r)| r);
    match resource.rfind('/') {
        Some(end) => resource.get(..=end).unwrap_or("/"),
        None => "/",
    }
}

/// The role name of a role ARN (`arn:aws:iam::{account}:role{path}{name}`).
pub fn role_name_of_arn(arn: &str) -> Option<&str> {
    let parsed = Arn::parse(arn)?;
    if parsed.service != "iam" || !parsed.region.is_empty() {
        return None;
    }
    let path_and_name = parsed.resource.strip_prefix("role/")?;
    path_and_name.rsplit('/').next().filter(|n| !n.is_empty())
}
