//! MediaLive input security groups: Create/Describe/List/Update/Delete
//! InputSecurityGroup, and who may push to an input ([`AllowedSenders`]).
//!
//! # Model
//!
//! A group is a list of 1 to [`MAX_RULES`] rules, each a CIDR block
//! (`whitelistRules[].cidr`). An RTP_PUSH, UDP_PUSH or RTMP_PUSH input names
//! at most one group in `inputSecurityGroups` (MediaLive attaches one group to
//! an input); a running channel's feed then drops the datagrams of senders
//! outside the group's rules, and the RTMP listener closes their connections,
//! and counts them (`onairHealth.inputs[].refused`).
//!
//! # Invariants
//!
//! * A group's `inputs` is computed on read from the inputs that name it, so
//!   it can never disagree with them; `state` is `IN_USE` while an input
//!   names the group, `IDLE` otherwise, `DELETED` once deleted (still
//!   describable for [`KEEP_DELETED_MS`], like inputs). `UPDATING` is never
//!   shown: an update is in force in every running feed by the supervisor's
//!   next pass, which the update wakes at once.
//! * A group an input names cannot be deleted, and a deleted group cannot be
//!   attached, so an input never names a group that is gone. Should the store
//!   say otherwise, the input admits no one ([`ControlPlane::allowed_senders`]
//!   fails closed).
//!
//! # Differences from MediaLive, deliberate
//!
//! * IPv6 blocks are accepted besides IPv4 (an IPv4-mapped IPv6 sender is
//!   matched as IPv4).
//! * A push input without a group admits every sender: AWS requires one,
//!   onair keeps inputs created without one working.
//! * DeleteInputSecurityGroup of a group in use is a 400
//!   `BadRequestException` naming the inputs: the model lists no
//!   `ConflictException` for that operation.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::{InputRecord, InputType};
use super::{arn, numeric_id, INPUT_KIND, KEEP_DELETED_MS};
use crate::error::{ControlError, Result};
use crate::fields::Fields;
use crate::flow::now_ms;
use crate::ControlPlane;

pub const SECURITY_GROUP_KIND: &str = "medialive-input-security-group";

/// The most rules one group holds, as in MediaLive.
pub const MAX_RULES: usize = 10;

/// An input security group as stored; `inputs` and `state` are derived on read.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupRecord {
    pub arn: String,
    pub id: String,
    /// The rules' CIDR blocks, as given (each parses as an [`IpNet`]).
    pub whitelist_rules: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    pub deleted_ms: Option<i64>,
}

impl SecurityGroupRecord {
    /// True once a deleted group should answer NotFound.
    pub fn gone_at(&self, now_ms: i64) -> bool {
        self.deleted_ms
            .is_some_and(|d| now_ms.saturating_sub(d) >= KEEP_DELETED_MS)
    }

    /// The rules as networks (a stored rule that does not parse is skipped:
    /// it admits no one).
    pub fn networks(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.whitelist_rules.iter().filter_map(|c| c.parse().ok())
    }

    /// The InputSecurityGroup shape; `inputs` are the ids of the inputs that
    /// name this group.
    pub fn render(&self, inputs: Vec<String>) -> Value {
        let state = if self.deleted_ms.is_some() {
            "DELETED"
        } else if inputs.is_empty() {
            "IDLE"
        } else {
            "IN_USE"
        };
        json!({
            "arn": self.arn,
            "id": self.id,
            "inputs": inputs,
            "state": state,
            "tags": self.tags,
            "whitelistRules": self
                .whitelist_rules
                .iter()
                .map(|c| json!({ "cidr": c }))
                .collect::<Vec<_>>(),
        })
    }
}

/// Who may push to an input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AllowedSenders {
    /// No input security group: every sender.
    #[default]
    Anyone,
    /// Senders inside one of these blocks (none: no one).
    Within(Vec<IpNet>),
}

impl AllowedSenders {
    /// Whether a datagram from `ip` is taken. An IPv4-mapped IPv6 address
    /// (a dual-stack socket's view of an IPv4 sender) is matched as IPv4.
    pub fn admits(&self, ip: IpAddr) -> bool {
        match self {
            AllowedSenders::Anyone => true,
            AllowedSenders::Within(nets) => {
                let ip = match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                    v4 => v4,
                };
                nets.iter().any(|n| n.contains(&ip))
            }
        }
    }
}

/// One rule's CIDR block; `path` names the member in the message.
fn parse_cidr(path: &str, raw: &str) -> Result<IpNet> {
    raw.parse::<IpNet>().map_err(|_| {
        ControlError::bad(format!(
            "{path}: '{raw}' is not a CIDR block (an address and a prefix length, e.g. 203.0.113.0/24)"
        ))
    })
}

/// The `whitelistRules` member: 1 to [`MAX_RULES`] rules of one `cidr` each.
fn read_rules(f: &mut Fields) -> Result<Option<Vec<String>>> {
    let Some(items) = f.list("whitelistRules")? else {
        return Ok(None);
    };
    if items.is_empty() {
        return Err(ControlError::bad(
            "whitelistRules: give at least one rule (a CIDR block allowed to push)",
        ));
    }
    if items.len() > MAX_RULES {
        return Err(ControlError::bad(format!(
            "whitelistRules: a group holds at most {MAX_RULES} rules, got {}",
            items.len()
        )));
    }
    let mut rules = Vec::with_capacity(items.len());
    for (path, v) in items {
        let mut r = Fields::new(path.clone(), v)?;
        let cidr = r.required_string("cidr")?;
        r.finish()?;
        parse_cidr(&format!("{path}.cidr"), &cidr)?;
        rules.push(cidr);
    }
    Ok(Some(rules))
}

impl ControlPlane {
    /// A group that exists now (deleted groups read until they expire).
    pub fn security_group_record(&self, id: &str) -> Result<SecurityGroupRecord> {
        self.store
            .get::<SecurityGroupRecord>(SECURITY_GROUP_KIND, id)?
            .filter(|r| !r.gone_at(now_ms()))
            .ok_or_else(|| ControlError::NotFound(format!("input security group not found: {id}")))
    }

    fn save_security_group(&self, rec: &SecurityGroupRecord) -> Result<()> {
        self.store
            .put(SECURITY_GROUP_KIND, &rec.id, rec.created_ms, rec)
    }

    /// The ids of the inputs (not deleted) that name group `id`.
    fn inputs_using(&self, id: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .list::<InputRecord>(INPUT_KIND)?
            .into_iter()
            .filter(|i| i.deleted_ms.is_none() && i.security_groups.iter().any(|g| g == id))
            .map(|i| i.id)
            .collect())
    }

    fn render_security_group(&self, rec: &SecurityGroupRecord) -> Result<Value> {
        let inputs = if rec.deleted_ms.is_some() {
            Vec::new()
        } else {
            self.inputs_using(&rec.id)?
        };
        Ok(rec.render(inputs))
    }

    /// CreateInputSecurityGroup.
    pub fn create_input_security_group(&self, region: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let rules = read_rules(&mut f)?.ok_or_else(|| {
            ControlError::bad("whitelistRules: is required (at least one CIDR block)")
        })?;
        let tags = f.string_map("tags")?.unwrap_or_default();
        f.finish()?;
        let _w = self.write_lock()?;
        let mut id = numeric_id();
        while self
            .store
            .get::<SecurityGroupRecord>(SECURITY_GROUP_KIND, &id)?
            .is_some()
        {
            id = numeric_id();
        }
        let rec = SecurityGroupRecord {
            arn: arn(region, &self.settings.account_id, "inputSecurityGroup", &id),
            id,
            whitelist_rules: rules,
            tags,
            created_ms: now_ms(),
            deleted_ms: None,
        };
        self.save_security_group(&rec)?;
        Ok(json!({ "securityGroup": rec.render(Vec::new()) }))
    }

    /// DescribeInputSecurityGroup (the group's fields, flattened).
    pub fn describe_input_security_group(&self, id: &str) -> Result<Value> {
        self.render_security_group(&self.security_group_record(id)?)
    }

    /// ListInputSecurityGroups, paginated by position in creation order;
    /// deleted groups are not listed.
    pub fn list_input_security_groups(
        &self,
        max_results: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let all: Vec<SecurityGroupRecord> = self
            .store
            .list::<SecurityGroupRecord>(SECURITY_GROUP_KIND)?
            .into_iter()
            .filter(|r| r.deleted_ms.is_none())
            .collect();
        let (page, next) = super::input::page(&all, max_results, next_token)?;
        let inputs: Vec<InputRecord> = self.store.list(INPUT_KIND)?;
        let groups: Vec<Value> = page
            .iter()
            .map(|g| {
                let using = inputs
                    .iter()
                    .filter(|i| i.deleted_ms.is_none() && i.security_groups.contains(&g.id))
                    .map(|i| i.id.clone())
                    .collect();
                g.render(using)
            })
            .collect();
        let mut out = serde_json::Map::new();
        out.insert("inputSecurityGroups".into(), Value::Array(groups));
        if let Some(n) = next {
            out.insert("nextToken".into(), json!(n));
        }
        Ok(Value::Object(out))
    }

    /// UpdateInputSecurityGroup: `whitelistRules` given replace the rules,
    /// `tags` given replace the tags. Running channels whose inputs name the
    /// group take the new rules on the supervisor's next pass (woken now).
    pub fn update_input_security_group(&self, id: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let rules = read_rules(&mut f)?;
        let tags = f.string_map("tags")?;
        f.finish()?;
        let _w = self.write_lock()?;
        let mut rec = self.security_group_record(id)?;
        if rec.deleted_ms.is_some() {
            return Err(ControlError::NotFound(format!(
                "input security group not found: {id}"
            )));
        }
        if let Some(rules) = rules {
            rec.whitelist_rules = rules;
        }
        if let Some(tags) = tags {
            rec.tags = tags;
        }
        self.save_security_group(&rec)?;
        self.wake();
        Ok(json!({ "securityGroup": self.render_security_group(&rec)? }))
    }

    /// DeleteInputSecurityGroup: refused while an input names the group.
    pub fn delete_input_security_group(&self, id: &str) -> Result<Value> {
        let _w = self.write_lock()?;
        let mut rec = self.security_group_record(id)?;
        if rec.deleted_ms.is_some() {
            return Err(ControlError::NotFound(format!(
                "input security group not found: {id}"
            )));
        }
        let using = self.inputs_using(id)?;
        if !using.is_empty() {
            return Err(ControlError::bad(format!(
                "input security group {id} is in use by input(s) {}; update or delete them first",
                using.join(", ")
            )));
        }
        rec.deleted_ms = Some(now_ms());
        self.save_security_group(&rec)?;
        Ok(json!({}))
    }

    /// Changes the tags of group `id` (CreateTags / DeleteTags).
    pub(crate) fn change_security_group_tags(
        &self,
        id: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<BTreeMap<String, String>> {
        let mut rec = self.security_group_record(id)?;
        change(&mut rec.tags);
        self.save_security_group(&rec)?;
        Ok(rec.tags)
    }

    /// The `inputSecurityGroups` of a Create/UpdateInput request, checked for
    /// an input of `input_type`: push inputs only, one group at most, each an
    /// existing group. Call with the write lock held.
    pub(crate) fn check_input_groups(
        &self,
        input_type: InputType,
        groups: Vec<String>,
    ) -> Result<Vec<String>> {
        if groups.is_empty() {
            return Ok(groups);
        }
        if !input_type.is_push() {
            return Err(ControlError::bad(format!(
                "inputSecurityGroups: only RTP_PUSH, UDP_PUSH, RTMP_PUSH and SRT_LISTENER inputs take input security groups, not {input_type}"
            )));
        }
        if groups.len() > 1 {
            return Err(ControlError::bad(format!(
                "inputSecurityGroups: an input takes one input security group, got {}",
                groups.len()
            )));
        }
        for (i, id) in groups.iter().enumerate() {
            match self
                .store
                .get::<SecurityGroupRecord>(SECURITY_GROUP_KIND, id)?
            {
                Some(g) if g.deleted_ms.is_none() => {}
                Some(_) => {
                    return Err(ControlError::bad(format!(
                        "inputSecurityGroups[{i}]: input security group {id} is deleted"
                    )))
                }
                None => {
                    return Err(ControlError::bad(format!(
                        "inputSecurityGroups[{i}]: no input security group {id}"
                    )))
                }
            }
        }
        Ok(groups)
    }

    /// Who may push to input `input_id` now: anyone when it names no group,
    /// else the senders inside its groups' rules. A group that cannot be
    /// read or is deleted contributes no rule (fail closed).
    pub fn allowed_senders(&self, input_id: &str) -> Result<AllowedSenders> {
        let input = self.input_record(input_id)?;
        Ok(allowed_senders_of(&input, |id| {
            self.store
                .get::<SecurityGroupRecord>(SECURITY_GROUP_KIND, id)
                .ok()
                .flatten()
                .filter(|g| g.deleted_ms.is_none())
        }))
    }
}

/// The senders `input` admits, its groups looked up with `group`.
fn allowed_senders_of(
    input: &InputRecord,
    group: impl Fn(&str) -> Option<SecurityGroupRecord>,
) -> AllowedSenders {
    if input.security_groups.is_empty() {
        return AllowedSenders::Anyone;
    }
    let mut nets = Vec::new();
    for id in &input.security_groups {
        match group(id) {
            Some(g) => nets.extend(g.networks()),
            None => tracing::warn!(
                input = %input.id,
                "input security group {id} is gone: it admits no sender"
            ),
        }
    }
    AllowedSenders::Within(nets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Settings, Store};
    use std::sync::Arc;

    fn cp() -> Arc<ControlPlane> {
        ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default())
    }

    fn group(cp: &ControlPlane, cidrs: &[&str]) -> String {
        let rules: Vec<Value> = cidrs.iter().map(|c| json!({ "cidr": c })).collect();
        let v = cp
            .create_input_security_group("us-west-2", &json!({ "whitelistRules": rules }))
            .unwrap();
        v["securityGroup"]["id"].as_str().unwrap().to_owned()
    }

    fn bad(r: Result<Value>) -> String {
        match r {
            Err(ControlError::BadRequest(m)) => m,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn rules_are_validated_member_by_member() {
        let cp = cp();
        let create = |body: Value| cp.create_input_security_group("us-west-2", &body);
        assert!(bad(create(json!({}))).starts_with("whitelistRules: is required"));
        assert!(bad(create(json!({"whitelistRules": []}))).starts_with("whitelistRules: give"));
        let eleven: Vec<Value> = (0..11)
            .map(|i| json!({"cidr": format!("10.0.{i}.0/24")}))
            .collect();
        assert!(bad(create(json!({ "whitelistRules": eleven }))).contains("at most 10"));
        let m = bad(create(
            json!({"whitelistRules": [{"cidr": "10.0.0.0/8"}, {"cidr": "10.0.0.300/8"}]}),
        ));
        assert!(
            m.starts_with("whitelistRules[1].cidr: '10.0.0.300/8'"),
            "{m}"
        );
        // A bare address has no prefix length.
        assert!(
            bad(create(json!({"whitelistRules": [{"cidr": "10.1.2.3"}]})))
                .starts_with("whitelistRules[0].cidr")
        );
        assert!(bad(create(json!({"whitelistRules": [{}]})))
            .starts_with("whitelistRules[0].cidr: is required"));
        assert!(bad(create(
            json!({"whitelistRules": [{"cidr": "10.0.0.0/8", "port": 1}]})
        ))
        .starts_with("whitelistRules[0].port"));
        let v = create(
            json!({"whitelistRules": [{"cidr": "2001:db8::/32"}, {"cidr": "127.0.0.1/32"}],
            "tags": {"team": "news"}}),
        )
        .unwrap();
        let g = &v["securityGroup"];
        assert_eq!(g["state"], "IDLE");
        assert_eq!(g["inputs"], json!([]));
        assert_eq!(g["tags"]["team"], "news");
        assert_eq!(
            g["whitelistRules"],
            json!([{"cidr": "2001:db8::/32"}, {"cidr": "127.0.0.1/32"}])
        );
        let id = g["id"].as_str().unwrap();
        assert_eq!(
            g["arn"],
            format!("arn:aws:medialive:us-west-2:000000000000:inputSecurityGroup:{id}")
        );
    }

    #[test]
    fn a_group_is_in_use_while_an_input_names_it_and_cannot_be_deleted() {
        let cp = cp();
        let g = group(&cp, &["127.0.0.1/32"]);
        let input = cp
            .create_input(
                "us-west-2",
                &json!({"name": "in", "type": "RTP_PUSH", "inputSecurityGroups": [g]}),
            )
            .unwrap();
        let input_id = input["input"]["id"].as_str().unwrap().to_owned();
        assert_eq!(input["input"]["securityGroups"], json!([g]));
        let d = cp.describe_input_security_group(&g).unwrap();
        assert_eq!(
            (d["state"].clone(), d["inputs"].clone()),
            (json!("IN_USE"), json!([input_id]))
        );
        let m = bad(cp.delete_input_security_group(&g));
        assert!(
            m.contains("in use by input(s)") && m.contains(&input_id),
            "{m}"
        );

        // Detached by UpdateInput: IDLE, and deletable; then DELETED, unlisted,
        // and no longer attachable.
        cp.update_input(&input_id, &json!({"inputSecurityGroups": []}))
            .unwrap();
        assert_eq!(
            cp.describe_input_security_group(&g).unwrap()["state"],
            "IDLE"
        );
        cp.delete_input_security_group(&g).unwrap();
        assert_eq!(
            cp.describe_input_security_group(&g).unwrap()["state"],
            "DELETED"
        );
        assert!(matches!(
            cp.delete_input_security_group(&g),
            Err(ControlError::NotFound(_))
        ));
        assert!(matches!(
            cp.update_input_security_group(
                &g,
                &json!({"whitelistRules": [{"cidr": "10.0.0.0/8"}]})
            ),
            Err(ControlError::NotFound(_))
        ));
        let listed = cp.list_input_security_groups(None, None).unwrap();
        assert_eq!(listed["inputSecurityGroups"], json!([]));
        let m = bad(cp.update_input(&input_id, &json!({"inputSecurityGroups": [g]})));
        assert!(
            m.starts_with("inputSecurityGroups[0]") && m.contains("deleted"),
            "{m}"
        );
        // Deleting the input frees a group too.
        let g2 = group(&cp, &["10.0.0.0/8"]);
        cp.update_input(&input_id, &json!({"inputSecurityGroups": [g2]}))
            .unwrap();
        cp.delete_input(&input_id).unwrap();
        cp.delete_input_security_group(&g2).unwrap();
    }

    #[test]
    fn push_inputs_take_one_existing_group() {
        let cp = cp();
        let (a, b) = (group(&cp, &["10.0.0.0/8"]), group(&cp, &["192.0.2.0/24"]));
        let create = |body: Value| cp.create_input("us-west-2", &body);
        assert!(bad(create(
            json!({"type": "RTP_PUSH", "inputSecurityGroups": [a, b]})
        ))
        .contains("one input security group"));
        assert_eq!(
            bad(create(
                json!({"type": "UDP_PUSH", "inputSecurityGroups": ["1"]})
            )),
            "inputSecurityGroups[0]: no input security group 1"
        );
        // No group: open to everyone (as before groups existed).
        let open = create(json!({"type": "UDP_PUSH"})).unwrap();
        let open_id = open["input"]["id"].as_str().unwrap();
        assert_eq!(open["input"]["securityGroups"], json!([]));
        assert_eq!(cp.allowed_senders(open_id).unwrap(), AllowedSenders::Anyone);
        let closed = create(json!({"type": "UDP_PUSH", "inputSecurityGroups": [b]})).unwrap();
        let closed_id = closed["input"]["id"].as_str().unwrap();
        let senders = cp.allowed_senders(closed_id).unwrap();
        assert!(senders.admits("192.0.2.7".parse().unwrap()));
        assert!(!senders.admits("127.0.0.1".parse().unwrap()));
        // The group's new rules are what the input admits from now on.
        cp.update_input_security_group(&b, &json!({"whitelistRules": [{"cidr": "127.0.0.0/8"}]}))
            .unwrap();
        let senders = cp.allowed_senders(closed_id).unwrap();
        assert!(senders.admits("127.0.0.2".parse().unwrap()));
        assert!(!senders.admits("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn mapped_ipv6_senders_match_ipv4_rules_and_an_empty_list_admits_no_one() {
        let within = AllowedSenders::Within(vec!["127.0.0.1/32".parse().unwrap()]);
        assert!(within.admits("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!within.admits("::1".parse().unwrap()));
        assert!(!AllowedSenders::Within(Vec::new()).admits("127.0.0.1".parse().unwrap()));
        assert!(AllowedSenders::Anyone.admits("203.0.113.9".parse().unwrap()));
        let v6 = AllowedSenders::Within(vec!["2001:db8::/32".parse().unwrap()]);
        assert!(v6.admits("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn a_group_gone_from_under_an_input_admits_no_one() {
        let mut input: InputRecord = serde_json::from_value(json!({"arn": "a", "id": "1",
            "name": "n", "type": "RTP_PUSH", "attachedChannels": [], "destinations": [],
            "mediaConnectFlows": [], "inputClass": "STANDARD", "roleArn": null, "tags": {},
            "requestId": null, "createdMs": 1, "deletedMs": null}))
        .unwrap();
        assert_eq!(allowed_senders_of(&input, |_| None), AllowedSenders::Anyone);
        input.security_groups = vec!["7".into()];
        assert_eq!(
            allowed_senders_of(&input, |_| None),
            AllowedSenders::Within(Vec::new())
        );
    }

    #[test]
    fn groups_list_in_pages_and_tags_replace() {
        let cp = cp();
        let ids: Vec<String> = (0..3).map(|_| group(&cp, &["10.0.0.0/8"])).collect();
        let first = cp.list_input_security_groups(Some("2"), None).unwrap();
        assert_eq!(first["inputSecurityGroups"].as_array().unwrap().len(), 2);
        let next = first["nextToken"].as_str().unwrap();
        let second = cp
            .list_input_security_groups(Some("2"), Some(next))
            .unwrap();
        assert!(second.get("nextToken").is_none());
        // The two pages hold every group once.
        let mut seen: Vec<String> = first["inputSecurityGroups"]
            .as_array()
            .unwrap()
            .iter()
            .chain(second["inputSecurityGroups"].as_array().unwrap())
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(seen, want);
        let v = cp
            .update_input_security_group(&ids[0], &json!({"tags": {"a": "1"}}))
            .unwrap();
        assert_eq!(v["securityGroup"]["tags"], json!({"a": "1"}));
        assert_eq!(
            v["securityGroup"]["whitelistRules"],
            json!([{"cidr": "10.0.0.0/8"}])
        );
        assert!(matches!(
            cp.describe_input_security_group("404"),
            Err(ControlError::NotFound(_))
        ));
    }
}
