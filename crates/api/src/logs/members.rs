//! Reading a CloudWatch Logs request body member by member.
//!
//! Type errors name the member (`limit: expected an integer`); model
//! constraints use AWS's validation wording (`1 validation error detected:
//! Value '0' at 'limit' failed to satisfy constraint: Member must have value
//! greater than or equal to 1`). A member the model has but onair does not
//! read is refused by name at [`Members::finish`], unless it was declared
//! harmless with [`Members::ignore`].

use std::collections::BTreeMap;

use control::logs::constraint;
use control::ControlError;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, ControlError>;

fn bad(message: String) -> ControlError {
    ControlError::BadRequest(message)
}

pub(crate) struct Members<'a> {
    map: &'a Map<String, Value>,
    seen: Vec<&'static str>,
}

impl<'a> Members<'a> {
    pub fn new(body: &'a Value) -> Result<Members<'a>> {
        match body {
            Value::Object(map) => Ok(Members {
                map,
                seen: Vec::new(),
            }),
            _ => Err(bad("request body: expected a JSON object".into())),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A member with no effect in onair (documented per operation).
    pub fn ignore(&mut self, key: &'static str) {
        self.seen.push(key);
    }

    pub fn string(&mut self, key: &'static str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(format!("{key}: expected a string"))),
        }
    }

    pub fn required_string(&mut self, key: &'static str) -> Result<&'a str> {
        self.string(key)?
            .ok_or_else(|| bad(format!("{key}: is required")))
    }

    pub fn int(&mut self, key: &'static str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| bad(format!("{key}: expected an integer"))),
            Some(_) => Err(bad(format!("{key}: expected an integer"))),
        }
    }

    /// An integer within `min..=max` (the model's range).
    pub fn int_in(&mut self, key: &'static str, min: i64, max: i64) -> Result<Option<i64>> {
        let Some(v) = self.int(key)? else {
            return Ok(None);
        };
        if v < min {
            return Err(constraint(
                key,
                &v.to_string(),
                &format!("have value greater than or equal to {min}"),
            ));
        }
        if v > max {
            return Err(constraint(
                key,
                &v.to_string(),
                &format!("have value less than or equal to {max}"),
            ));
        }
        Ok(Some(v))
    }

    /// A `Timestamp` member: milliseconds since 1970, at least 0.
    pub fn timestamp(&mut self, key: &'static str) -> Result<Option<i64>> {
        self.int_in(key, 0, i64::MAX)
    }

    pub fn boolean(&mut self, key: &'static str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(format!("{key}: expected true or false"))),
        }
    }

    pub fn list(&mut self, key: &'static str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(bad(format!("{key}: expected a list"))),
        }
    }

    /// A list of strings of `min..=max` items.
    pub fn string_list(
        &mut self,
        key: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Option<Vec<String>>> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        if items.len() < min || items.len() > max {
            return Err(constraint(
                key,
                &format!("{} items", items.len()),
                &format!("have length between {min} and {max}"),
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(bad(format!("{key}[{i}]: expected a string"))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn string_map(&mut self, key: &'static str) -> Result<Option<BTreeMap<String, String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(bad(format!("{key}.{k}: expected a string"))),
                })
                .collect::<Result<BTreeMap<_, _>>>()
                .map(Some),
            Some(_) => Err(bad(format!("{key}: expected a map of strings"))),
        }
    }

    /// An enum member: one of `allowed`.
    pub fn enumeration(&mut self, key: &'static str, allowed: &[&str]) -> Result<Option<&'a str>> {
        let Some(v) = self.string(key)? else {
            return Ok(None);
        };
        if !allowed.contains(&v) {
            return Err(constraint(
                key,
                v,
                &format!("satisfy enum value set: [{}]", allowed.join(", ")),
            ));
        }
        Ok(Some(v))
    }

    /// Refuses members that were present but not read.
    pub fn finish(self) -> Result<()> {
        for (key, value) in self.map {
            if !value.is_null() && !self.seen.iter().any(|s| s == key) {
                return Err(bad(format!("{key}: onair does not support this member")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_error_names_the_member() {
        let body = json!({"limit": 0, "name": 3, "flag": "yes", "list": [1], "extra": 1});
        let mut m = Members::new(&body).unwrap();
        let err = m.int_in("limit", 1, 50).unwrap_err().to_string();
        assert_eq!(
            err,
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        );
        assert_eq!(
            m.string("name").unwrap_err().to_string(),
            "name: expected a string"
        );
        assert!(m
            .boolean("flag")
            .unwrap_err()
            .to_string()
            .starts_with("flag:"));
        assert!(m
            .string_list("list", 1, 100)
            .unwrap_err()
            .to_string()
            .starts_with("list[0]:"));
        assert_eq!(
            m.finish().unwrap_err().to_string(),
            "extra: onair does not support this member"
        );
        let body = json!({"orderBy": "Size"});
        let mut m = Members::new(&body).unwrap();
        let err = m
            .enumeration("orderBy", &["LogStreamName", "LastEventTime"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at 'orderBy'") && err.contains("[LogStreamName, LastEventTime]"));
    }

    #[test]
    fn null_and_ignored_members_pass() {
        let body = json!({"a": null, "interleaved": true});
        let mut m = Members::new(&body).unwrap();
        m.ignore("interleaved");
        m.finish().unwrap();
        assert!(Members::new(&json!([])).is_err());
    }
}
