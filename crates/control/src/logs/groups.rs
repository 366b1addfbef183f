//! Log groups, their streams and tags.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::names::{check_group_name, check_stream_name, check_tags};
use super::{
    db, token, GroupQuery, LogGroup, LogStream, Logs, Page, StreamOrder, StreamQuery, DELETE_CHUNK,
    MAX_TAGS,
};
use crate::error::{ControlError, Result};
use crate::Store;

impl<'a> Logs<'a> {
    pub fn new(store: &'a Store) -> Logs<'a> {
        Logs { store }
    }

    /// CreateLogGroup.
    pub fn create_group(
        &self,
        name: &str,
        class: Option<&str>,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<()> {
        check_group_name("logGroupName", name)?;
        if name.starts_with("aws/") {
            return Err(ControlError::bad(
                "logGroupName: log group names may not start with 'aws/'",
            ));
        }
        check_tags("tags", tags)?;
        if tags.len() > MAX_TAGS {
            return Err(ControlError::bad(format!(
                "tags: at most {MAX_TAGS} tags, not {}",
                tags.len()
            )));
        }
        let conn = self.store.conn()?;
        let created =
            db::insert_group(&conn, name, class.unwrap_or("STANDARD"), None, tags, now_ms)?;
        if !created {
            return Err(ControlError::Conflict(
                "The specified log group already exists".into(),
            ));
        }
        Ok(())
    }

    /// DeleteLogGroup: the group and its streams at once, their events in
    /// chunks before returning.
    pub fn delete_group(&self, name: &str) -> Result<()> {
        {
            let mut conn = self.store.conn()?;
            let tx = conn.transaction()?;
            let group = db::require_group(&tx, name)?;
            tx.execute(
                "INSERT OR IGNORE INTO log_trash (stream_id) SELECT id FROM log_streams WHERE group_id = ?1",
                params![group.id],
            )?;
            tx.execute(
                "DELETE FROM log_streams WHERE group_id = ?1",
                params![group.id],
            )?;
            tx.execute("DELETE FROM log_groups WHERE id = ?1", params![group.id])?;
            tx.commit()?;
        }
        self.empty_trash()?;
        Ok(())
    }

    /// One group, if it exists.
    pub fn group(&self, name: &str) -> Result<Option<LogGroup>> {
        let conn = self.store.conn()?;
        conn.query_row(
            &format!(
                "SELECT {} FROM log_groups WHERE name = ?1",
                db::GROUP_COLUMNS
            ),
            params![name],
            db::group_from_row,
        )
        .optional()?
        .transpose()
    }

    /// DescribeLogGroups: groups in ASCII order of name.
    pub fn describe_groups(&self, q: &GroupQuery) -> Result<Page<LogGroup>> {
        let after = q
            .token
            .as_deref()
            .map(|t| token::parse_name('g', t))
            .transpose()?;
        let conn = self.store.conn()?;
        let mut groups = db::groups(&conn, q, after.as_deref())?;
        let next_token = (groups.len() > q.limit).then(|| {
            groups.truncate(q.limit);
            groups
                .last()
                .map(|g| token::name('g', &g.name))
                .unwrap_or_default()
        });
        Ok(Page {
            items: groups,
            next_token,
        })
    }

    /// PutRetentionPolicy (`Some`) and DeleteRetentionPolicy (`None`).
    pub fn set_retention(&self, name: &str, days: Option<i32>) -> Result<()> {
        let conn = self.store.conn()?;
        let group = db::require_group(&conn, name)?;
        conn.execute(
            "UPDATE log_groups SET retention_days = ?2 WHERE id = ?1",
            params![group.id, days],
        )?;
        Ok(())
    }

    /// A group's tags.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.group(name)?.ok_or_else(db::no_group)?.tags)
    }

    /// Changes a group's tags; at most [`MAX_TAGS`] may remain
    /// (`Conflict` otherwise: TooManyTagsException).
    pub fn change_tags(
        &self,
        name: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<()> {
        let conn = self.store.conn()?;
        let text: String = conn
            .query_row(
                "SELECT tags FROM log_groups WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(db::no_group)?;
        let mut tags: BTreeMap<String, String> = serde_json::from_str(&text)?;
        change(&mut tags);
        if tags.len() > MAX_TAGS {
            return Err(ControlError::Conflict(format!(
                "a log group may carry at most {MAX_TAGS} tags; this change would leave {}",
                tags.len()
            )));
        }
        conn.execute(
            "UPDATE log_groups SET tags = ?2 WHERE name = ?1",
            params![name, serde_json::to_string(&tags)?],
        )?;
        Ok(())
    }

    /// CreateLogStream.
    pub fn create_stream(&self, group: &str, stream: &str, now_ms: i64) -> Result<()> {
        check_stream_name("logStreamName", stream)?;
        let conn = self.store.conn()?;
        let group = db::require_group(&conn, group)?;
        let n = conn.execute(
            "INSERT INTO log_streams (group_id, name, created_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_id, name) DO NOTHING",
            params![group.id, stream, now_ms],
        )?;
        if n == 0 {
            return Err(ControlError::Conflict(
                "The specified log stream already exists".into(),
            ));
        }
        Ok(())
    }

    /// DeleteLogStream: the stream at once, its events in chunks before
    /// returning.
    pub fn delete_stream(&self, group: &str, stream: &str) -> Result<()> {
        {
            let mut conn = self.store.conn()?;
            let tx = conn.transaction()?;
            let group = db::require_group(&tx, group)?;
            let (sid, _) = db::require_stream(&tx, group.id, stream)?;
            tx.execute(
                "UPDATE log_groups SET
                    stored_bytes = stored_bytes - (SELECT stored_bytes FROM log_streams WHERE id = ?2),
                    events = events - (SELECT events FROM log_streams WHERE id = ?2)
                 WHERE id = ?1",
                params![group.id, sid],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO log_trash (stream_id) VALUES (?1)",
                params![sid],
            )?;
            tx.execute("DELETE FROM log_streams WHERE id = ?1", params![sid])?;
            tx.commit()?;
        }
        self.empty_trash()?;
        Ok(())
    }

    /// DescribeLogStreams.
    pub fn describe_streams(&self, group: &str, q: &StreamQuery) -> Result<Page<LogStream>> {
        let conn = self.store.conn()?;
        let group = db::require_group(&conn, group)?;
        let mut streams = db::streams(&conn, group.id, q)?;
        let next_token = (streams.len() > q.limit).then(|| {
            streams.truncate(q.limit);
            streams
                .last()
                .map(|s| match q.order {
                    StreamOrder::Name => token::name('n', &s.name),
                    StreamOrder::LastEventTime => {
                        token::time_name(s.last_event_ms.unwrap_or(0), &s.name)
                    }
                })
                .unwrap_or_default()
        });
        Ok(Page {
            items: streams,
            next_token,
        })
    }

    /// Removes the events of deleted streams, a chunk per transaction.
    pub(super) fn empty_trash(&self) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let mut conn = self.store.conn()?;
            let tx = conn.transaction()?;
            let Some(sid) = tx
                .query_row("SELECT stream_id FROM log_trash LIMIT 1", [], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
            else {
                return Ok(removed);
            };
            let n = tx.execute(
                "DELETE FROM log_events WHERE id IN
                    (SELECT id FROM log_events WHERE stream_id = ?1 LIMIT ?2)",
                params![sid, DELETE_CHUNK],
            )?;
            if (n as i64) < DELETE_CHUNK {
                tx.execute("DELETE FROM log_trash WHERE stream_id = ?1", params![sid])?;
            }
            tx.commit()?;
            removed = removed.saturating_add(n as u64);
        }
    }
}
