//! Reading request bodies member by member, so every error names the member.
//!
//! A request body is first parsed as JSON, then read through [`Fields`]: each
//! accessor checks the type and records the member as known. [`Fields::finish`]
//! rejects anything left over: a member onair does not implement is refused by
//! name, never silently ignored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ControlError, Result};

/// A JSON object being read; `path` is the member path used in messages.
pub struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub fn new(path: impl Into<String>, value: &'a Value) -> Result<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Fields {
                path,
                map,
                seen: Vec::new(),
            }),
            _ => Err(ControlError::bad(format!(
                "{}: expected an object",
                show(&path)
            ))),
        }
    }

    /// The member path of `key`, for messages.
    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ControlError::bad(format!(
                "{}: expected a string",
                self.at(key)
            ))),
        }
    }

    pub fn required_string(&mut self, key: &'static str) -> Result<String> {
        self.string(key)?
            .ok_or_else(|| ControlError::bad(format!("{}: is required", self.at(key))))
    }

    pub fn int(&mut self, key: &'static str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ControlError::bad(format!("{}: expected an integer", self.at(key)))),
            Some(_) => Err(ControlError::bad(format!(
                "{}: expected an integer",
                self.at(key)
            ))),
        }
    }

    pub fn object(&mut self, key: &'static str) -> Result<Option<Fields<'a>>> {
        let path = self.at(key);
        match self.get(key) {
            None => Ok(None),
            Some(v) => Fields::new(path, v).map(Some),
        }
    }

    pub fn list(&mut self, key: &'static str) -> Result<Option<Vec<(String, &'a Value)>>> {
        let path = self.at(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{path}[{i}]"), v))
                    .collect(),
            )),
            Some(_) => Err(ControlError::bad(format!("{path}: expected a list"))),
        }
    }

    pub fn string_list(&mut self, key: &'static str) -> Result<Option<Vec<String>>> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|(path, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ControlError::bad(format!("{path}: expected a string"))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn string_map(&mut self, key: &'static str) -> Result<Option<BTreeMap<String, String>>> {
        let path = self.at(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ControlError::bad(format!("{path}.{k}: expected a string"))),
                })
                .collect::<Result<BTreeMap<_, _>>>()
                .map(Some),
            Some(_) => Err(ControlError::bad(format!(
                "{path}: expected a map of strings"
            ))),
        }
    }

    /// Reads an enum member: `parse` maps the wire value, `allowed` lists the
    /// values for the message.
    pub fn enumeration<T>(
        &mut self,
        key: &'static str,
        allowed: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        let Some(raw) = self.string(key)? else {
            return Ok(None);
        };
        parse(&raw).map(Some).ok_or_else(|| {
            ControlError::bad(format!(
                "{}: '{raw}' is not one of {}",
                self.at(key),
                allowed.join(", ")
            ))
        })
    }

    /// Rejects members that are present but were not read. `unsupported`
    /// members are valid in the AWS model but not implemented by onair.
    pub fn finish(self) -> Result<()> {
        for (key, value) in self.map {
            if value.is_null() || self.seen.iter().any(|s| s == key) {
                continue;
            }
            return Err(ControlError::bad(format!(
                "{}: onair does not support this member",
                self.at(key)
            )));
        }
        Ok(())
    }
}

fn show(path: &str) -> &str {
    if path.is_empty() {
        "request body"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_member_in_every_error() {
        let v = json!({"name": 3, "port": "x", "extra": true});
        let mut f = Fields::new("source", &v).unwrap();
        assert_eq!(
            f.string("name").unwrap_err(),
            ControlError::bad("source.name: expected a string")
        );
        assert_eq!(
            f.int("port").unwrap_err(),
            ControlError::bad("source.port: expected an integer")
        );
        assert_eq!(
            f.finish().unwrap_err(),
            ControlError::bad("source.extra: onair does not support this member")
        );
    }

    #[test]
    fn null_members_count_as_absent() {
        let v = json!({"name": null});
        let mut f = Fields::new("", &v).unwrap();
        assert_eq!(f.string("name").unwrap(), None);
        f.finish().unwrap();
    }
}
