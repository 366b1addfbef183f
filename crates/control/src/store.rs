//! Persisted resources: JSON documents in one SQLite table (and, in the same
//! database, CloudWatch Logs' groups, streams and events: [`crate::logs`]).
//!
//! Every mutation is one committed transaction with `synchronous=FULL` in WAL
//! mode, so an answered API call survives `kill -9` and power loss. Documents
//! are keyed by `(kind, id)` and listed in creation order.
//!
//! The database file is created readable by its owner only (0600; SQLite
//! gives its `-wal` and `-shm` files the mode of the database). A document
//! that no longer reads (corrupt, or written by a version with another
//! shape) is left out of [`Store::list`] with one warning naming it, so one
//! bad row cannot fail every List call and the supervisor; [`Store::get`]
//! of it is an internal error naming it.

use std::collections::HashSet;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{ControlError, Result};

/// How long a statement waits for a lock held by another connection (the
/// CloudWatch Logs writer, or a `sqlite3` shell) before it fails.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Store {
    conn: Mutex<Connection>,
    /// `(kind, id)` of unreadable documents already warned about.
    unreadable: Mutex<HashSet<(String, String)>>,
}

/// Creates `path` with mode 0600 if it does not exist, and takes group and
/// other permissions away from one that does (written by an older version).
fn private_file(path: &Path) -> Result<()> {
    let fault = |e: std::io::Error| ControlError::Internal(format!("{}: {e}", path.display()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(fault)?;
    tighten(path).map_err(fault)
}

/// Sets the mode of an existing file to 0600 if group or others have access.
fn tighten(path: &Path) -> std::io::Result<()> {
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        tracing::info!(
            "{}: mode {:o} was open to other users; now 0600",
            path.display(),
            mode & 0o777
        );
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed, mode 0600) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        private_file(path)?;
        let store = Self::init(Connection::open(path)?)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            match tighten(Path::new(&side)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ControlError::Internal(format!(
                        "{}: {e}",
                        Path::new(&side).display()
                    )))
                }
                _ => {}
            }
        }
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
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
            unreadable: Mutex::new(HashSet::new()),
        })
    }

    /// The connection. A panic while another thread held it cannot have
    /// left a write half done (an open transaction rolls back when it is
    /// dropped), so a poisoned lock is taken again.
    pub(crate) fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        Ok(self.conn.lock().unwrap_or_else(PoisonError::into_inner))
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
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                ControlError::Internal(format!("stored {kind} '{id}' does not read: {e}"))
            })
        })
        .transpose()
    }

    /// All documents of a kind that read, oldest first. One that does not is
    /// left out, with a warning the first time.
    pub fn list<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT id, doc FROM resources WHERE kind = ?1 ORDER BY created_ms, id")?;
        let rows = stmt.query_map(params![kind], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, text) = row?;
            match serde_json::from_str(&text) {
                Ok(doc) => out.push(doc),
                Err(e) => self.skip_unreadable(kind, &id, &e),
            }
        }
        Ok(out)
    }

    fn skip_unreadable(&self, kind: &str, id: &str, e: &serde_json::Error) {
        let first = self
            .unreadable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((kind.to_string(), id.to_string()));
        if first {
            let quoted = |s: &str| s.replace('\'', "''");
            tracing::warn!(
                kind,
                id,
                "stored document does not read ({e}); it is left out of lists. To remove it, stop onair and run on onair.db: DELETE FROM resources WHERE kind = '{}' AND id = '{}';",
                quoted(kind),
                quoted(id)
            );
        }
    }

    /// Applies every put and delete of `batch` in one transaction: all of
    /// them or none, even across a `kill -9`.
    pub fn commit(&self, batch: Batch) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for row in batch.rows {
            match row {
                Row::Put(kind, id, created_ms, text) => tx.execute(
                    "INSERT INTO resources (kind, id, created_ms, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(kind, id) DO UPDATE SET doc = excluded.doc",
                    params![kind, id, created_ms, text],
                )?,
                Row::Delete(kind, id) => tx.execute(
                    "DELETE FROM resources WHERE kind = ?1 AND id = ?2",
                    params![kind, id],
                )?,
            };
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

/// Documents to write or remove together ([`Store::commit`]).
#[derive(Default)]
pub struct Batch {
    rows: Vec<Row>,
}

enum Row {
    Put(String, String, i64, String),
    Delete(String, String),
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
        self.rows
            .push(Row::Put(kind.into(), id.into(), created_ms, text));
        Ok(())
    }

    /// Adds a document to remove (nothing happens if it does not exist).
    pub fn delete(&mut self, kind: &str, id: &str) {
        self.rows.push(Row::Delete(kind.into(), id.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_document_is_left_out_of_lists() {
        let store = Store::in_memory().unwrap();
        store.put("flow", "a", 1, &1).unwrap();
        store.put("flow", "c", 3, &3).unwrap();
        store
            .conn()
            .unwrap()
            .execute(
                "INSERT INTO resources (kind, id, created_ms, doc) VALUES ('flow', 'b', 2, '{\"older\": ')",
                [],
            )
            .unwrap();
        store.put("flow", "d", 4, &"not a number").unwrap();
        assert_eq!(store.list::<i32>("flow").unwrap(), vec![1, 3]);
        assert_eq!(store.list::<i32>("flow").unwrap(), vec![1, 3]);
        let err = store.get::<i32>("flow", "b").unwrap_err();
        assert!(
            matches!(&err, ControlError::Internal(m) if m.starts_with("stored flow 'b' does not read")),
            "{err:?}"
        );
        // Rewriting it makes it read again.
        store.put("flow", "b", 2, &2).unwrap();
        assert_eq!(store.list::<i32>("flow").unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn the_database_and_its_wal_are_private_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onair.db");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let store = Store::open(&path).unwrap();
        store.put("flow", "x", 1, &1).unwrap();
        assert_eq!(mode(&path), 0o600);
        for side in ["onair.db-wal", "onair.db-shm"] {
            assert_eq!(mode(&dir.path().join(side)), 0o600, "{side}");
        }
        drop(store);
        // A database an older version left readable by everyone is tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(store.get::<i32>("flow", "x").unwrap(), Some(1));
    }

    #[test]
    fn a_writer_waits_for_another_connection_s_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onair.db");
        let store = Store::open(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            other.execute_batch("COMMIT").unwrap();
        });
        // Without a busy timeout this fails at once with SQLITE_BUSY.
        store.put("flow", "x", 1, &1).unwrap();
        release.join().unwrap();
        assert_eq!(store.get::<i32>("flow", "x").unwrap(), Some(1));
    }

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
        let mut batch = Batch::default();
        batch.put("input", "b", 2, &"second").unwrap();
        batch.delete("input", "b");
        batch.delete("input", "never-was");
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
