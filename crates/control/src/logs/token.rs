//! Pagination tokens: where the next page starts, as text.
//!
//! Every token names a position strictly after what was returned, so a
//! client that pages on never sees the same token twice unless nothing was
//! left (GetLogEvents' documented end-of-stream signal).
//!
//! | token | operation | next page |
//! |---|---|---|
//! | `g/{name}` | DescribeLogGroups | groups named after `name` |
//! | `n/{name}` | DescribeLogStreams by name | streams after `name` |
//! | `t/{ms}/{name}` | DescribeLogStreams by last event time | streams after (`ms`, `name`) |
//! | `f/{ts}/{id}`, `b/{ts}/{id}` | GetLogEvents | events after / before the event key |
//! | `a/{ts}/{id}`, `d/{ts}/{id}` | FilterLogEvents | events after / before, ascending / descending |

use crate::error::{ControlError, Result};

/// Where an event sits in a stream or group: its timestamp, then its
/// ingestion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub ts: i64,
    pub id: i64,
}

impl Key {
    /// Before every event (timestamps are never negative).
    pub const HEAD: Key = Key { ts: -1, id: 0 };
    /// After every event.
    pub const TAIL: Key = Key {
        ts: i64::MAX,
        id: i64::MAX,
    };
}

/// Which way a page of events reads from a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// Events after the key, oldest first.
    After(Key),
    /// Events before the key, newest first.
    Before(Key),
}

fn invalid() -> ControlError {
    ControlError::bad("nextToken: the token is not one onair issued for this operation")
}

fn key(rest: &str) -> Result<Key> {
    let (ts, id) = rest.split_once('/').ok_or_else(invalid)?;
    Ok(Key {
        ts: ts.parse().map_err(|_| invalid())?,
        id: id.parse().map_err(|_| invalid())?,
    })
}

/// GetLogEvents: `f/…` reads forward, `b/…` backward.
pub(crate) fn stream_cursor(token: &str) -> Result<Cursor> {
    match token.split_once('/') {
        Some(("f", rest)) => Ok(Cursor::After(key(rest)?)),
        Some(("b", rest)) => Ok(Cursor::Before(key(rest)?)),
        _ => Err(invalid()),
    }
}

pub(crate) fn forward(k: Key) -> String {
    format!("f/{}/{}", k.ts, k.id)
}

pub(crate) fn backward(k: Key) -> String {
    format!("b/{}/{}", k.ts, k.id)
}

/// FilterLogEvents: `a/…` ascending, `d/…` descending.
pub(crate) fn filter_cursor(token: &str) -> Result<Cursor> {
    match token.split_once('/') {
        Some(("a", rest)) => Ok(Cursor::After(key(rest)?)),
        Some(("d", rest)) => Ok(Cursor::Before(key(rest)?)),
        _ => Err(invalid()),
    }
}

pub(crate) fn filter(c: Cursor) -> String {
    match c {
        Cursor::After(k) => format!("a/{}/{}", k.ts, k.id),
        Cursor::Before(k) => format!("d/{}/{}", k.ts, k.id),
    }
}

/// A token carrying a name (`g/…`, `n/…`).
pub(crate) fn name(kind: char, name: &str) -> String {
    format!("{kind}/{name}")
}

pub(crate) fn parse_name(kind: char, token: &str) -> Result<String> {
    token
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(str::to_string)
        .ok_or_else(invalid)
}

/// DescribeLogStreams by last event time: `t/{ms}/{name}`.
pub(crate) fn time_name(ms: i64, name: &str) -> String {
    format!("t/{ms}/{name}")
}

pub(crate) fn parse_time_name(token: &str) -> Result<(i64, String)> {
    let rest = token.strip_prefix("t/").ok_or_else(invalid)?;
    let (ms, name) = rest.split_once('/').ok_or_else(invalid)?;
    Ok((ms.parse().map_err(|_| invalid())?, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let k = Key { ts: 1700, id: 42 };
        assert_eq!(stream_cursor(&forward(k)).unwrap(), Cursor::After(k));
        assert_eq!(stream_cursor(&backward(k)).unwrap(), Cursor::Before(k));
        assert_eq!(
            stream_cursor(&forward(Key::HEAD)).unwrap(),
            Cursor::After(Key::HEAD)
        );
        for c in [Cursor::After(k), Cursor::Before(Key::TAIL)] {
            assert_eq!(filter_cursor(&filter(c)).unwrap(), c);
        }
        assert_eq!(parse_name('g', &name('g', "/aws/x")).unwrap(), "/aws/x");
        assert_eq!(
            parse_time_name(&time_name(5, "a/b")).unwrap(),
            (5, "a/b".to_string())
        );
    }

    #[test]
    fn foreign_tokens_are_refused() {
        for t in ["", "x", "f/1", "f/a/b", "a/1/2/3", "g1"] {
            assert!(stream_cursor(t).is_err(), "{t}");
        }
        assert!(filter_cursor("f/1/2").is_err());
        assert!(parse_name('g', "n/x").is_err());
        assert!(parse_time_name("t/x/y").is_err());
    }
}
