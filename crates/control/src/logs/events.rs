//! Events: PutLogEvents, GetLogEvents, FilterLogEvents, the engine sink and
//! the retention purge.

use std::collections::BTreeMap;

use rusqlite::{params, params_from_iter};

use super::batch::{self, InputEvent, Verdict, DAY_MS, EVENT_OVERHEAD, MAX_EVENT_BYTES};
use super::db::{self, Binds};
use super::token::{self, Cursor, Key};
use super::{
    destination, FilterPattern, LogEvent, LogSource, Logs, Page, PurgeReport, DEFAULT_GROUP,
    DEFAULT_GROUP_MAX_EVENTS, DEFAULT_GROUP_RETENTION_DAYS, DELETE_CHUNK, SCAN_ROWS,
};
use crate::error::Result;

/// The most events a page holds.
pub const PAGE_EVENTS: usize = 10_000;
/// The most bytes a page holds (messages plus 26 per event).
pub const PAGE_BYTES: usize = 1_048_576;

/// GetLogEvents' query.
#[derive(Clone, Debug, Default)]
pub struct GetQuery {
    /// Events at or after this time.
    pub start: Option<i64>,
    /// Events before this time.
    pub end: Option<i64>,
    pub token: Option<String>,
    pub limit: Option<usize>,
    /// Oldest first when there is no token (AWS's default is newest).
    pub from_head: bool,
}

/// A page of GetLogEvents, oldest first, and the tokens on either side
/// (never absent; the same token comes back when nothing is left).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetPage {
    pub events: Vec<LogEvent>,
    pub forward: String,
    pub backward: String,
}

/// Which streams FilterLogEvents reads.
#[derive(Clone, Debug, Default)]
pub enum StreamSelect {
    #[default]
    All,
    Names(Vec<String>),
    Prefix(String),
}

/// FilterLogEvents' query.
#[derive(Clone, Debug, Default)]
pub struct FilterQuery {
    pub streams: StreamSelect,
    /// Events at or after this time.
    pub start: Option<i64>,
    /// Events at or before this time.
    pub end: Option<i64>,
    pub pattern: FilterPattern,
    pub token: Option<String>,
    pub limit: Option<usize>,
    /// Newest first (`startFromHead: false`); a token keeps its direction.
    pub descending: bool,
}

/// What PutLogEvents did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    pub verdict: Verdict,
    /// `nextSequenceToken` (informative: tokens are ignored).
    pub sequence_token: String,
}

pub(crate) fn sequence_token(uploads: i64) -> String {
    format!("{uploads:056}")
}

impl Logs<'_> {
    /// PutLogEvents: checks the batch ([`batch::check`]) and stores what it
    /// accepts in one transaction.
    pub fn put_events(
        &self,
        group: &str,
        stream: &str,
        events: &[InputEvent],
        now_ms: i64,
    ) -> Result<PutOutcome> {
        let mut conn = self.store.conn()?;
        let tx = conn.transaction()?;
        let g = db::require_group(&tx, group)?;
        let (sid, uploads) = db::require_stream(&tx, g.id, stream)?;
        let verdict = batch::check(events, now_ms, g.retention_days)?;
        let accepted = events.get(verdict.accepted.clone()).unwrap_or_default();
        db::insert_events(
            &tx,
            g.id,
            sid,
            accepted.iter().map(|e| (e.timestamp, e.message.as_str())),
            now_ms,
        )?;
        tx.execute(
            "UPDATE log_streams SET uploads = uploads + 1 WHERE id = ?1",
            params![sid],
        )?;
        tx.commit()?;
        Ok(PutOutcome {
            verdict,
            sequence_token: sequence_token(uploads.saturating_add(1)),
        })
    }

    /// The engine event sink (see [`destination`]): one transaction that
    /// creates the default group and the stream when needed.
    pub(crate) fn append(&self, source: &LogSource, at_ms: i64, message: &str) -> Result<()> {
        let mut text = if source.id.is_empty() {
            message.to_string()
        } else {
            format!("{message} ({})", source.id)
        };
        if text.is_empty() {
            text.push('-');
        }
        let room = MAX_EVENT_BYTES.saturating_sub(EVENT_OVERHEAD);
        if text.len() > room {
            // The longest prefix that ends on a character boundary (0 is one).
            let cut = (0..=room)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            text.truncate(cut);
        }
        let now = crate::flow::now_ms();
        let mut conn = self.store.conn()?;
        let tx = conn.transaction()?;
        let mut named = None;
        let (_, stream) = destination(source, |g| {
            named = db::group_row(&tx, g).ok().flatten();
            named.is_some()
        });
        let group_id = match named {
            Some(g) => g.id,
            None => {
                db::insert_group(
                    &tx,
                    DEFAULT_GROUP,
                    "STANDARD",
                    Some(DEFAULT_GROUP_RETENTION_DAYS),
                    &BTreeMap::new(),
                    now,
                )?;
                db::require_group(&tx, DEFAULT_GROUP)?.id
            }
        };
        tx.prepare_cached(
            "INSERT INTO log_streams (group_id, name, created_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_id, name) DO NOTHING",
        )?
        .execute(params![group_id, stream, now])?;
        let sid = db::stream_id(&tx, group_id, &stream)?.ok_or_else(db::no_stream)?;
        db::insert_events(
            &tx,
            group_id,
            sid,
            std::iter::once((at_ms.max(0), text.as_str())),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// GetLogEvents: a page of one stream.
    pub fn get_events(&self, group: &str, stream: &str, q: &GetQuery) -> Result<GetPage> {
        let cursor = match &q.token {
            Some(t) => token::stream_cursor(t)?,
            None if q.from_head => Cursor::After(Key::HEAD),
            None => Cursor::Before(Key::TAIL),
        };
        let limit = q.limit.unwrap_or(PAGE_EVENTS).clamp(1, PAGE_EVENTS);
        let conn = self.store.conn()?;
        let g = db::require_group(&conn, group)?;
        let sid = db::stream_id(&conn, g.id, stream)?.ok_or_else(db::no_stream)?;
        let (sql, key) = match cursor {
            Cursor::After(k) => (
                "SELECT id, ts, ingested_ms, message FROM log_events
                 WHERE stream_id = ?1 AND ts >= ?2 AND ts < ?3 AND ts >= ?4 AND (ts > ?4 OR id > ?5)
                 ORDER BY ts, id LIMIT ?6",
                k,
            ),
            Cursor::Before(k) => (
                "SELECT id, ts, ingested_ms, message FROM log_events
                 WHERE stream_id = ?1 AND ts >= ?2 AND ts < ?3 AND ts <= ?4 AND (ts < ?4 OR id < ?5)
                 ORDER BY ts DESC, id DESC LIMIT ?6",
                k,
            ),
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![
            sid,
            q.start.unwrap_or(i64::MIN),
            q.end.unwrap_or(i64::MAX),
            key.ts,
            key.id,
            limit as i64
        ])?;
        let (mut events, mut bytes) = (Vec::new(), 0usize);
        while let Some(r) = rows.next()? {
            let message: String = r.get(3)?;
            let size = message.len().saturating_add(EVENT_OVERHEAD);
            if !events.is_empty() && bytes.saturating_add(size) > PAGE_BYTES {
                break;
            }
            bytes = bytes.saturating_add(size);
            events.push(LogEvent {
                id: r.get(0)?,
                stream: stream.to_string(),
                timestamp: r.get(1)?,
                ingestion_time: r.get(2)?,
                message,
            });
        }
        if let Cursor::Before(_) = cursor {
            events.reverse();
        }
        let key_of = |e: &LogEvent| Key {
            ts: e.timestamp,
            id: e.id,
        };
        let (forward, backward) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => {
                (token::forward(key_of(last)), token::backward(key_of(first)))
            }
            // Nothing that way: the same token, and the other way from here.
            _ => match cursor {
                Cursor::After(k) => {
                    let back = if k == Key::HEAD {
                        Key::TAIL
                    } else {
                        Key {
                            id: k.id.saturating_add(1),
                            ..k
                        }
                    };
                    (token::forward(k), token::backward(back))
                }
                Cursor::Before(k) => {
                    let ahead = if k == Key::TAIL {
                        Key::HEAD
                    } else {
                        Key {
                            id: k.id.saturating_sub(1),
                            ..k
                        }
                    };
                    (token::forward(ahead), token::backward(k))
                }
            },
        };
        Ok(GetPage {
            events,
            forward,
            backward,
        })
    }

    /// FilterLogEvents: matching events of a group's streams, interleaved
    /// by time. Examines at most [`SCAN_ROWS`] events; a page may be short
    /// or empty and still carry a token.
    pub fn filter_events(&self, group: &str, q: &FilterQuery) -> Result<Page<LogEvent>> {
        let cursor = match &q.token {
            Some(t) => token::filter_cursor(t)?,
            None if q.descending => Cursor::Before(Key::TAIL),
            None => Cursor::After(Key::HEAD),
        };
        let limit = q.limit.unwrap_or(PAGE_EVENTS).clamp(1, PAGE_EVENTS);
        let conn = self.store.conn()?;
        let g = db::require_group(&conn, group)?;
        let mut b = Binds::default();
        let mut sql = format!(
            "SELECT e.id, e.ts, e.ingested_ms, e.message, s.name
             FROM log_events e JOIN log_streams s ON s.id = e.stream_id
             WHERE e.group_id = {}",
            b.bind(g.id)
        );
        if let Some(start) = q.start {
            sql += &format!(" AND e.ts >= {}", b.bind(start));
        }
        if let Some(end) = q.end {
            sql += &format!(" AND e.ts <= {}", b.bind(end));
        }
        let order = match cursor {
            Cursor::After(k) => {
                let (ts, id) = (b.bind(k.ts), b.bind(k.id));
                sql += &format!(" AND e.ts >= {ts} AND (e.ts > {ts} OR e.id > {id})");
                "e.ts, e.id"
            }
            Cursor::Before(k) => {
                let (ts, id) = (b.bind(k.ts), b.bind(k.id));
                sql += &format!(" AND e.ts <= {ts} AND (e.ts < {ts} OR e.id < {id})");
                "e.ts DESC, e.id DESC"
            }
        };
        match &q.streams {
            StreamSelect::All => {}
            StreamSelect::Names(names) => sql += &format!(" AND s.name IN {}", b.list(names)),
            StreamSelect::Prefix(p) => {
                let p = b.bind(p.clone());
                sql += &format!(" AND substr(s.name, 1, length({p})) = {p}");
            }
        }
        sql += &format!(" ORDER BY {order} LIMIT {}", b.bind(SCAN_ROWS));
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(b.0))?;
        let (mut events, mut bytes, mut scanned) = (Vec::new(), 0usize, 0i64);
        let (mut last, mut full) = (None, false);
        while let Some(r) = rows.next()? {
            let key = Key {
                ts: r.get(1)?,
                id: r.get(0)?,
            };
            let message: String = r.get(3)?;
            if q.pattern.matches(&message) {
                let size = message.len().saturating_add(EVENT_OVERHEAD);
                if events.len() >= limit
                    || (!events.is_empty() && bytes.saturating_add(size) > PAGE_BYTES)
                {
                    // This one is for the next page.
                    full = true;
                    break;
                }
                bytes = bytes.saturating_add(size);
                events.push(LogEvent {
                    id: key.id,
                    stream: r.get(4)?,
                    timestamp: key.ts,
                    ingestion_time: r.get(2)?,
                    message,
                });
            }
            scanned = scanned.saturating_add(1);
            last = Some(key);
        }
        let more = full || scanned == SCAN_ROWS;
        let next_token = last.filter(|_| more).map(|k| {
            token::filter(match cursor {
                Cursor::After(_) => Cursor::After(k),
                Cursor::Before(_) => Cursor::Before(k),
            })
        });
        Ok(Page {
            items: events,
            next_token,
        })
    }

    /// Removes the events of deleted streams, events past their group's
    /// retention and the default group's events over its bound, a chunk per
    /// transaction.
    pub(crate) fn purge(&self, now_ms: i64) -> Result<PurgeReport> {
        self.purge_bounded(now_ms, DEFAULT_GROUP_MAX_EVENTS)
    }

    /// [`purge`](Self::purge) with the default group bounded to `max_events`.
    pub(crate) fn purge_bounded(&self, now_ms: i64, max_events: i64) -> Result<PurgeReport> {
        let mut report = PurgeReport {
            deleted: self.empty_trash()?,
            ..PurgeReport::default()
        };
        let groups: Vec<(i64, String, Option<i32>)> = {
            let conn = self.store.conn()?;
            let mut stmt = conn.prepare("SELECT id, name, retention_days FROM log_groups")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (id, name, retention) in groups {
            if let Some(days) = retention {
                let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
                loop {
                    let n = self.delete_oldest(id, Some(cutoff), DELETE_CHUNK)?;
                    report.expired = report.expired.saturating_add(n);
                    if (n as i64) < DELETE_CHUNK {
                        break;
                    }
                }
            }
            if name == DEFAULT_GROUP {
                loop {
                    let events: i64 = self.store.conn()?.query_row(
                        "SELECT events FROM log_groups WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )?;
                    let excess = events.saturating_sub(max_events);
                    if excess <= 0 {
                        break;
                    }
                    let n = self.delete_oldest(id, None, excess.min(DELETE_CHUNK))?;
                    report.over_cap = report.over_cap.saturating_add(n);
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Deletes up to `max` of a group's oldest events (older than `before`,
    /// if given) in one transaction.
    fn delete_oldest(&self, group_id: i64, before: Option<i64>, max: i64) -> Result<u64> {
        let mut conn = self.store.conn()?;
        let tx = conn.transaction()?;
        let rows: Vec<(i64, i64, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, stream_id, size FROM log_events
                 WHERE group_id = ?1 AND ts < ?2 ORDER BY ts, id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![group_id, before.unwrap_or(i64::MAX), max], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let n = db::delete_counted(&tx, group_id, &rows)?;
        tx.commit()?;
        Ok(n)
    }
}
