//! The tables of CloudWatch Logs and the queries shared by its operations.
//!
//! `log_groups` and `log_streams` carry running totals (bytes, events) kept
//! in the same transaction as every insert and delete of `log_events`, so
//! DescribeLogGroups and the default group's bound never count rows.
//! `log_trash` lists deleted streams whose events are still being removed.

use std::collections::BTreeMap;

use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::{token, GroupQuery, LogGroup, LogStream, StreamOrder, StreamQuery};
use crate::error::{ControlError, Result};

pub(crate) fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS log_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            retention_days INTEGER,
            class TEXT NOT NULL,
            tags TEXT NOT NULL,
            stored_bytes INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS log_streams (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            first_event_ms INTEGER,
            last_event_ms INTEGER,
            last_ingestion_ms INTEGER,
            uploads INTEGER NOT NULL DEFAULT 0,
            stored_bytes INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0,
            UNIQUE (group_id, name)
        );
        CREATE TABLE IF NOT EXISTS log_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id INTEGER NOT NULL,
            stream_id INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            ingested_ms INTEGER NOT NULL,
            size INTEGER NOT NULL,
            message TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, ts);
        CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (group_id, ts);
        CREATE TABLE IF NOT EXISTS log_trash (stream_id INTEGER PRIMARY KEY);",
    )
}

pub(crate) fn no_group() -> ControlError {
    ControlError::NotFound("The specified log group does not exist.".into())
}

pub(crate) fn no_stream() -> ControlError {
    ControlError::NotFound("The specified log stream does not exist.".into())
}

/// The parts of a group row the event paths need.
pub(crate) struct GroupRow {
    pub id: i64,
    pub retention_days: Option<i32>,
}

pub(crate) fn group_row(conn: &Connection, name: &str) -> Result<Option<GroupRow>> {
    Ok(conn
        .prepare_cached("SELECT id, retention_days FROM log_groups WHERE name = ?1")?
        .query_row(params![name], |r| {
            Ok(GroupRow {
                id: r.get(0)?,
                retention_days: r.get(1)?,
            })
        })
        .optional()?)
}

pub(crate) fn require_group(conn: &Connection, name: &str) -> Result<GroupRow> {
    group_row(conn, name)?.ok_or_else(no_group)
}

/// A stream's id and name, if it exists in the group.
pub(crate) fn stream_id(conn: &Connection, group_id: i64, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM log_streams WHERE group_id = ?1 AND name = ?2")?
        .query_row(params![group_id, name], |r| r.get(0))
        .optional()?)
}

/// A stream's id and its PutLogEvents count.
pub(crate) fn require_stream(conn: &Connection, group_id: i64, name: &str) -> Result<(i64, i64)> {
    conn.prepare_cached("SELECT id, uploads FROM log_streams WHERE group_id = ?1 AND name = ?2")?
        .query_row(params![group_id, name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(no_stream)
}

/// Inserts a group; false if the name is taken.
pub(crate) fn insert_group(
    conn: &Connection,
    name: &str,
    class: &str,
    retention_days: Option<i32>,
    tags: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<bool> {
    let n = conn.execute(
        "INSERT INTO log_groups (name, created_ms, retention_days, class, tags)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
        params![
            name,
            now_ms,
            retention_days,
            class,
            serde_json::to_string(tags)?
        ],
    )?;
    Ok(n > 0)
}

pub(crate) const GROUP_COLUMNS: &str =
    "name, created_ms, retention_days, class, stored_bytes, events, tags";

pub(crate) fn group_from_row(r: &Row) -> rusqlite::Result<Result<LogGroup>> {
    let tags: String = r.get(6)?;
    Ok(Ok(LogGroup {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        retention_days: r.get(2)?,
        class: r.get(3)?,
        stored_bytes: r.get(4)?,
        events: r.get(5)?,
        tags: match serde_json::from_str(&tags) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e.into())),
        },
    }))
}

/// Values bound to a query built piece by piece.
#[derive(Default)]
pub(crate) struct Binds(pub Vec<Sql>);

impl Binds {
    /// Binds a value; returns its placeholder (`?3`).
    pub fn bind(&mut self, v: impl Into<Sql>) -> String {
        self.0.push(v.into());
        format!("?{}", self.0.len())
    }

    /// `(?a, ?b, …)` for the values.
    pub fn list<T: Into<Sql> + Clone>(&mut self, values: &[T]) -> String {
        let marks: Vec<String> = values.iter().map(|v| self.bind(v.clone())).collect();
        format!("({})", marks.join(", "))
    }
}

/// Up to `q.limit + 1` groups after `after`, by name.
pub(crate) fn groups(
    conn: &Connection,
    q: &GroupQuery,
    after: Option<&str>,
) -> Result<Vec<LogGroup>> {
    let mut b = Binds::default();
    let mut sql = format!(
        "SELECT {GROUP_COLUMNS} FROM log_groups WHERE name > {}",
        b.bind(after.unwrap_or("").to_string())
    );
    if let Some(p) = &q.prefix {
        let p = b.bind(p.clone());
        sql += &format!(" AND substr(name, 1, length({p})) = {p}");
    }
    if let Some(c) = &q.contains {
        sql += &format!(" AND instr(name, {}) > 0", b.bind(c.clone()));
    }
    if let Some(class) = &q.class {
        // Either of the two cheaper classes lists both (DescribeLogGroups).
        let classes = match class.as_str() {
            "INFREQUENT_ACCESS" | "ESSENTIALS" => vec!["INFREQUENT_ACCESS", "ESSENTIALS"],
            other => vec![other],
        };
        let classes: Vec<String> = classes.into_iter().map(String::from).collect();
        sql += &format!(" AND class IN {}", b.list(&classes));
    }
    if let Some(names) = &q.names {
        sql += &format!(" AND name IN {}", b.list(names));
    }
    sql += &format!(" ORDER BY name LIMIT {}", b.bind(one_more(q.limit)));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(b.0), group_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

/// Up to `q.limit + 1` streams of a group, in the query's order.
pub(crate) fn streams(conn: &Connection, group_id: i64, q: &StreamQuery) -> Result<Vec<LogStream>> {
    let (after, dir) = if q.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let mut b = Binds::default();
    let mut sql = format!(
        "SELECT name, created_ms, first_event_ms, last_event_ms, last_ingestion_ms, uploads
         FROM log_streams WHERE group_id = {}",
        b.bind(group_id)
    );
    match q.order {
        StreamOrder::Name => {
            if let Some(t) = &q.token {
                sql += &format!(" AND name {after} {}", b.bind(token::parse_name('n', t)?));
            }
            if let Some(p) = &q.prefix {
                let p = b.bind(p.clone());
                sql += &format!(" AND substr(name, 1, length({p})) = {p}");
            }
            sql += &format!(" ORDER BY name {dir}");
        }
        StreamOrder::LastEventTime => {
            let at = "coalesce(last_event_ms, 0)";
            if let Some(t) = &q.token {
                let (ms, name) = token::parse_time_name(t)?;
                let (ms, name) = (b.bind(ms), b.bind(name));
                sql +=
                    &format!(" AND ({at} {after} {ms} OR ({at} = {ms} AND name {after} {name}))");
            }
            sql += &format!(" ORDER BY {at} {dir}, name {dir}");
        }
    }
    sql += &format!(" LIMIT {}", b.bind(one_more(q.limit)));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(b.0), |r| {
        Ok(LogStream {
            name: r.get(0)?,
            created_ms: r.get(1)?,
            first_event_ms: r.get(2)?,
            last_event_ms: r.get(3)?,
            last_ingestion_ms: r.get(4)?,
            uploads: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Appends events (already checked) to a stream and keeps the totals.
pub(crate) fn insert_events<'e>(
    conn: &Connection,
    group_id: i64,
    stream_id: i64,
    events: impl Iterator<Item = (i64, &'e str)>,
    ingested_ms: i64,
) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO log_events (group_id, stream_id, ts, ingested_ms, size, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let (mut first, mut last, mut bytes, mut count) = (i64::MAX, i64::MIN, 0i64, 0i64);
    for (ts, message) in events {
        let size = message.len() as i64;
        insert.execute(params![group_id, stream_id, ts, ingested_ms, size, message])?;
        first = first.min(ts);
        last = last.max(ts);
        bytes = bytes.saturating_add(size);
        count = count.saturating_add(1);
    }
    if count == 0 {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE log_streams SET
            first_event_ms = min(coalesce(first_event_ms, ?2), ?2),
            last_event_ms = max(coalesce(last_event_ms, ?3), ?3),
            last_ingestion_ms = ?4,
            stored_bytes = stored_bytes + ?5,
            events = events + ?6
         WHERE id = ?1",
    )?
    .execute(params![stream_id, first, last, ingested_ms, bytes, count])?;
    conn.prepare_cached(
        "UPDATE log_groups SET stored_bytes = stored_bytes + ?2, events = events + ?3 WHERE id = ?1",
    )?
    .execute(params![group_id, bytes, count])?;
    Ok(())
}

/// Deletes the events `(id, stream_id, size)` of a group and keeps the
/// totals; returns how many went.
pub(crate) fn delete_counted(
    conn: &Connection,
    group_id: i64,
    rows: &[(i64, i64, i64)],
) -> Result<u64> {
    let mut per_stream: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    {
        let mut delete = conn.prepare_cached("DELETE FROM log_events WHERE id = ?1")?;
        for (id, stream, size) in rows {
            delete.execute(params![id])?;
            let t = per_stream.entry(*stream).or_default();
            t.0 = t.0.saturating_add(*size);
            t.1 = t.1.saturating_add(1);
        }
    }
    let (mut bytes, mut count) = (0, 0);
    for (stream, (b, n)) in per_stream {
        conn.execute(
            "UPDATE log_streams SET stored_bytes = stored_bytes - ?2, events = events - ?3
             WHERE id = ?1",
            params![stream, b, n],
        )?;
        bytes = i64::saturating_add(bytes, b);
        count = i64::saturating_add(count, n);
    }
    conn.execute(
        "UPDATE log_groups SET stored_bytes = stored_bytes - ?2, events = events - ?3 WHERE id = ?1",
        params![group_id, bytes, count],
    )?;
    Ok(rows.len() as u64)
}

/// A page size plus one: the extra row tells whether there is a next page.
fn one_more(limit: usize) -> i64 {
    i64::try_from(limit).map_or(i64::MAX, |l| l.saturating_add(1))
}
