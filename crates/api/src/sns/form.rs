//! The awsQuery request body: `application/x-www-form-urlencoded` pairs
//! (`+` for a space, `%XX` for a byte; the decoded bytes must be UTF-8),
//! read member by member as the botocore `query` serializer writes them:
//!
//! - a scalar: `TopicArn=arn%3Aaws%3Asns%3A…`;
//! - a list: `TagKeys.member.1=a&TagKeys.member.2=b`;
//! - a list of structures: `Tags.member.1.Key=k&Tags.member.1.Value=v`;
//! - a map: `Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=Ops`;
//! - an empty list or map: `Tags=`.
//!
//! Every error names the member. [`Form::finish`] refuses any member that
//! was not read: what onair does not implement is refused by name, never
//! silently ignored.

use std::collections::{BTreeMap, HashSet};

use percent_encoding::percent_decode;

use super::invalid;
use crate::ApiError;

/// A decoded form body, read member by member.
#[derive(Debug)]
pub struct Form {
    pairs: Vec<(String, String)>,
    seen: Vec<bool>,
}

fn decode(part: &[u8]) -> Result<String, ApiError> {
    let spaced: Vec<u8> = part
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| {
        invalid(format!(
            "request body: '{}' is not UTF-8 once percent-decoded",
            String::from_utf8_lossy(part)
        ))
    })
}

impl Form {
    /// Parses a form body. A member given twice is an error.
    pub fn parse(body: &[u8]) -> Result<Form, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut keys = HashSet::new();
        for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            // `k=v`, or `k` alone (an empty value); the value may hold `=`.
            let mut halves = part.splitn(2, |&b| b == b'=');
            let k = halves.next().unwrap_or_default();
            let v = halves.next().unwrap_or_default();
            let (k, v) = (decode(k)?, decode(v)?);
            if !keys.insert(k.clone()) {
                return Err(invalid(format!("{k}: given more than once")));
            }
            pairs.push((k, v));
        }
        let seen = vec![false; pairs.len()];
        Ok(Form { pairs, seen })
    }

    /// The value of `key`, if given (marks it read).
    pub fn optional(&mut self, key: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == key)?;
        if let Some(s) = self.seen.get_mut(i) {
            *s = true;
        }
        self.pairs.get(i).map(|(_, v)| v.clone())
    }

    /// The value of `key`; absent or empty is an error naming it.
    pub fn required(&mut self, key: &str) -> Result<String, ApiError> {
        match self.optional(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(invalid(format!("{key}: is required"))),
        }
    }

    /// Every `{prefix}.{kind}.{n}[.{field}]` member, by index `n`, each with
    /// its fields (`""` for a plain list member); an empty `{prefix}=` reads
    /// as no members.
    fn indexed(
        &mut self,
        prefix: &str,
        kind: &str,
    ) -> Result<BTreeMap<u32, Vec<(String, String)>>, ApiError> {
        let head = format!("{prefix}.{kind}.");
        let mut out: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if k == prefix && v.is_empty() {
                if let Some(s) = self.seen.get_mut(i) {
                    *s = true;
                }
                continue;
            }
            let Some(rest) = k.strip_prefix(&head) else {
                continue;
            };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            let n = index
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid(format!("{k}: '{index}' is not an index from 1")))?;
            if let Some(s) = self.seen.get_mut(i) {
                *s = true;
            }
            out.entry(n)
                .or_default()
                .push((field.to_string(), v.clone()));
        }
        Ok(out)
    }

    /// A list of strings (`{key}.member.{n}`), in index order.
    pub fn members(&mut self, key: &str) -> Result<Vec<String>, ApiError> {
        self.indexed(key, "member")?
            .into_iter()
            .map(|(n, fields)| match fields.as_slice() {
                [(field, v)] if field.is_empty() => Ok(v.clone()),
                _ => Err(invalid(format!(
                    "{key}.member.{n}: expected a string, not a structure"
                ))),
            })
            .collect()
    }

    /// Pairs of two named fields per member: `{key}.{kind}.{n}.{a}` and `.{b}`.
    fn pairs_of(
        &mut self,
        key: &str,
        kind: &str,
        a: &str,
        b: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let mut out = Vec::new();
        for (n, fields) in self.indexed(key, kind)? {
            let mut first = None;
            let mut second = None;
            for (field, v) in fields {
                if field == a {
                    first = Some(v);
                } else if field == b {
                    second = Some(v);
                } else {
                    return Err(invalid(format!(
                        "{key}.{kind}.{n}.{field}: onair does not support this member"
                    )));
                }
            }
            let missing = |f: &str| invalid(format!("{key}.{kind}.{n}.{f}: is required"));
            out.push((
                first.ok_or_else(|| missing(a))?,
                second.ok_or_else(|| missing(b))?,
            ));
        }
        Ok(out)
    }

    /// A map of strings (`{key}.entry.{n}.key` / `.value`), in index order.
    pub fn entries(&mut self, key: &str) -> Result<Vec<(String, String)>, ApiError> {
        let entries = self.pairs_of(key, "entry", "key", "value")?;
        let mut keys = HashSet::new();
        for (k, _) in &entries {
            if !keys.insert(k.as_str()) {
                return Err(invalid(format!("{key}: '{k}' is given more than once")));
            }
        }
        Ok(entries)
    }

    /// A tag list (`{key}.member.{n}.Key` / `.Value`), in index order.
    pub fn tags(&mut self, key: &str) -> Result<Vec<(String, String)>, ApiError> {
        self.pairs_of(key, "member", "Key", "Value")
    }

    /// Refuses every member that was not read.
    pub fn finish(&self, action: &str) -> Result<(), ApiError> {
        match self.pairs.iter().zip(&self.seen).find(|(_, seen)| !**seen) {
            Some(((k, _), _)) => Err(invalid(format!(
                "{k}: onair does not support this member of {action}"
            ))),
            None => Ok(()),
        }
    }
}

/// The body of the `sns_form` fuzz target: whatever the bytes, parsing and
/// reading never panic.
pub fn fuzz_form(data: &[u8]) {
    if let Ok(mut form) = Form::parse(data) {
        let _ = form.optional("Action");
        let _ = form.members("TagKeys");
        let _ = form.tags("Tags");
        let _ = form.entries("Attributes");
        let _ = form.required("TopicArn");
        let _ = form.finish("Fuzz");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes()).unwrap()
    }

    fn message(e: ApiError) -> String {
        assert_eq!(e.code, "InvalidParameter");
        e.message
    }

    #[test]
    fn scalars_are_percent_and_plus_decoded() {
        let mut f = form(
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-west-2%3A1%3Aa\
             &Message=caf%C3%A9+%2B+%26+%3D&Subject=",
        );
        assert_eq!(f.optional("Action").as_deref(), Some("Publish"));
        assert_eq!(f.required("TopicArn").unwrap(), "arn:aws:sns:us-west-2:1:a");
        assert_eq!(f.required("Message").unwrap(), "café + & =");
        assert_eq!(
            message(f.required("Subject").unwrap_err()),
            "Subject: is required"
        );
        assert_eq!(
            message(f.required("Name").unwrap_err()),
            "Name: is required"
        );
        assert_eq!(f.optional("Absent"), None);
        // Version was not read.
        assert_eq!(
            message(f.finish("Publish").unwrap_err()),
            "Version: onair does not support this member of Publish"
        );
    }

    #[test]
    fn malformed_bodies() {
        let e = Form::parse(b"Message=%FF%FE").unwrap_err();
        assert!(message(e).starts_with("request body: "));
        let e = Form::parse(b"Name=a&Name=b").unwrap_err();
        assert_eq!(message(e), "Name: given more than once");
        // A lone key, empty pairs and a bad escape are tolerated.
        let mut f = form("&&Flag&Odd=%zz&Eq=a=b&Empty=");
        assert_eq!(f.optional("Flag").as_deref(), Some(""));
        assert_eq!(f.optional("Odd").as_deref(), Some("%zz"));
        assert_eq!(f.optional("Eq").as_deref(), Some("a=b"));
        assert_eq!(f.optional("Empty").as_deref(), Some(""));
    }

    #[test]
    fn lists_maps_and_tags() {
        let mut f = form(
            "TagKeys.member.2=b&TagKeys.member.1=a\
             &Tags.member.1.Key=team&Tags.member.1.Value=ops\
             &Tags.member.2.Value=&Tags.member.2.Key=empty\
             &Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=Ops+Alarms",
        );
        assert_eq!(f.members("TagKeys").unwrap(), vec!["a", "b"]);
        assert_eq!(
            f.tags("Tags").unwrap(),
            vec![
                ("team".into(), "ops".into()),
                ("empty".into(), String::new())
            ]
        );
        assert_eq!(
            f.entries("Attributes").unwrap(),
            vec![("DisplayName".into(), "Ops Alarms".into())]
        );
        assert!(f.members("Other").unwrap().is_empty());
        f.finish("X").unwrap();

        let mut f = form("Tags=");
        assert!(f.tags("Tags").unwrap().is_empty());
        f.finish("X").unwrap();
    }

    #[test]
    fn list_errors_name_the_member() {
        let mut f = form("Tags.member.1.Key=k");
        assert_eq!(
            message(f.tags("Tags").unwrap_err()),
            "Tags.member.1.Value: is required"
        );
        let mut f = form("Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.1.Colour=red");
        assert_eq!(
            message(f.tags("Tags").unwrap_err()),
            "Tags.member.1.Colour: onair does not support this member"
        );
        let mut f = form("TagKeys.member.0=a");
        assert_eq!(
            message(f.members("TagKeys").unwrap_err()),
            "TagKeys.member.0: '0' is not an index from 1"
        );
        let mut f = form("TagKeys.member.x=a");
        assert!(f.members("TagKeys").is_err());
        let mut f = form("TagKeys.member.1.Key=a");
        assert!(message(f.members("TagKeys").unwrap_err()).starts_with("TagKeys.member.1: "));
        let mut f = form(
            "Attributes.entry.1.key=A&Attributes.entry.1.value=1\
             &Attributes.entry.2.key=A&Attributes.entry.2.value=2",
        );
        assert_eq!(
            message(f.entries("Attributes").unwrap_err()),
            "Attributes: 'A' is given more than once"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panic(data in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(b"&=.%+19AKTabeegmrsy".to_vec()),
                proptest::num::u8::ANY,
            ],
            0..200,
        )) {
            fuzz_form(&data);
        }
    }

    #[test]
    fn fuzz_body_never_panics_on_odd_input() {
        for body in [
            &b""[..],
            b"=",
            b"&=&",
            b"Tags.member.",
            b"Tags.member..Key=",
            b"Attributes.entry.4294967296.key=x",
            b"%",
            b"\xff\xfe",
        ] {
            fuzz_form(body);
        }
    }
}
