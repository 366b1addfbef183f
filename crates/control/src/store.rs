//! Persisted resources: JSON documents in one SQLite table (and, in the same
//! database, CloudWatch Logs' groups, streams and events: [`crate::logs`]).
//!
//! Every mutation is one committed transaction with `synchronous=FULL` in WAL
//! mode, so an answered API call survives `kill -9` and power loss. Documents
//! are keyed by `(kind, id)` and listed in creation order.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{ControlError, Result};

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS resources (
                kind TEXT NOT NULL,
                id TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                doc TEXT NOT NULL,
                PRIMARY KEY (kind, id)
            );",
        )?;
        crate::logs::db::create_tables(&conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| ControlError::Internal("store: lock poisoned".into()))
    }

    /// Inserts or replaces a document.
    pub fn put<T: Serialize>(&self, kind: &str, id: &str, created_ms: i64, doc: &T) -> Result<()> {
        let text = serde_json::to_string(doc)?;
        self.conn()?.execute(
            "INSERT INTO resources (kind, id, created_ms, doc) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(kind, id) DO UPDATE SET doc = excluded.doc",
            params![kind, id, created_ms, text],
        )?;
        Ok(())
    }

    pub fn get<T: DeserializeOwned>(&self, kind: &str, id: &str) -> Result<Option<T>> {
        let text: Option<String> = self
            .conn()?
            .query_row(
                "SELECT doc FROM resources WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                |row| row.get(0),
            )
            .optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(ControlError::from))
            .transpose()
    }

    /// All documents of a kind, oldest first.
    pub fn list<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT doc FROM resources WHERE kind = ?1 ORDER BY created_ms, id")?;
        let rows = stmt.query_map(params![kind], |row| row.get::<_, String>(0))?;
        let mut out = Vec::new();
        for text in rows {
            out.push(serde_json::from_str(&text?)?);
        }
        Ok(out)
    }

    /// Writes every document of `batch` in one transaction: all of them or
    /// none, even across a `kill -9`.
    pub fn commit(&self, batch: Batch) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for (kind, id, created_ms, text) in batch.rows {
            tx.execute(
                "INSERT INTO resources (kind, id, created_ms, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(kind, id) DO UPDATE SET doc = excluded.doc",
                params![kind, id, created_ms, text],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes a document; true if it existed.
    pub fn delete(&self, kind: &str, id: &str) -> Result<bool> {
        let n = self.conn()?.execute(
            "DELETE FROM resources WHERE kind = ?1 AND id = ?2",
            params![kind, id],
        )?;
        Ok(n > 0)
    }
}

/// Documents to write together ([`Store::commit`]).
#[derive(Default)]
pub struct Batch {
    rows: Vec<(String, String, i64, String)>,
}

impl Batch {
    /// Adds a document to insert or replace.
    pub fn put<T: Serialize>(
        &mut self,
        kind: &str,
        id: &str,
        created_ms: i64,
        doc: &T,
    ) -> Result<()> {
        let text = serde_json::to_string(doc)?;
        self.rows.push((kind.into(), id.into(), created_ms, text));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_in_creation_order() {
        let store = Store::in_memory().unwrap();
        store.put("flow", "b", 2, &"second").unwrap();
        store.put("flow", "a", 1, &"first").unwrap();
        store.put("other", "c", 0, &"elsewhere").unwrap();
        assert_eq!(
            store.list::<String>("flow").unwrap(),
            vec!["first", "second"]
        );
        store.put("flow", "a", 99, &"changed").unwrap();
        assert_eq!(
            store.get::<String>("flow", "a").unwrap().as_deref(),
            Some("changed")
        );
        // Replacing keeps the original creation order.
        assert_eq!(
            store.list::<String>("flow").unwrap(),
            vec!["changed", "second"]
        );
        assert!(store.delete("flow", "a").unwrap());
        assert!(!store.delete("flow", "a").unwrap());
        assert_eq!(store.get::<String>("flow", "a").unwrap(), None);
    }

    #[test]
    fn a_batch_is_written_whole_or_not_at_all() {
        let store = Store::in_memory().unwrap();
        let mut batch = Batch::default();
        batch.put("channel", "1", 1, &"channel").unwrap();
        batch.put("input", "a", 1, &"attached").unwrap();
        store.commit(batch).unwrap();
        assert_eq!(store.list::<String>("input").unwrap(), vec!["attached"]);

        // A write that fails half way (here a trigger refuses the second
        // document) leaves the first one unwritten too.
        store
            .conn()
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE UPDATE ON resources WHEN NEW.id = 'a'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let mut batch = Batch::default();
        batch.put("channel", "1", 1, &"changed").unwrap();
        batch.put("input", "a", 1, &"detached").unwrap();
        assert!(store.commit(batch).is_err());
        assert_eq!(
            store.get::<String>("channel", "1").unwrap().as_deref(),
            Some("channel")
        );
        assert_eq!(
            store.get::<String>("input", "a").unwrap().as_deref(),
            Some("attached")
        );
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onair.db");
        Store::open(&path)
            .unwrap()
            .put("flow", "x", 1, &42)
            .unwrap();
        assert_eq!(
            Store::open(&path).unwrap().get::<i32>("flow", "x").unwrap(),
            Some(42)
        );
    }
}
