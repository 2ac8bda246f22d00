//! Opening SQLite connections and migrating the schema.
//!
//! The schema version is SQLite's `PRAGMA user_version`. Migrations are the files in
//! `migrations/sqlite/`, applied in order, each in its own `BEGIN IMMEDIATE` transaction
//! together with the version bump, so two processes opening one file at once apply each
//! migration exactly once. Files written by framepipe versions that migrated with sqlx
//! (table `_sqlx_migrations`) are adopted at the version they reached.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{QueueError, Result};

/// The migrations, by version (1-based, in order).
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_drop_state_index.sql"),
    include_str!("../../migrations/sqlite/0003_owner_active_index.sql"),
    include_str!("../../migrations/sqlite/0004_key_life_cycle.sql"),
];

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(path: &Path, flags: OpenFlags, context: &'static str) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(QueueError::db(context))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(QueueError::db(context))?;
    Ok(conn)
}

/// Opens the write connection (creating the file if missing) in WAL mode.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    let context = "opening the SQLite database";
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = connect(path, flags, context)?;
    // In WAL mode NORMAL loses no integrity on power loss, only the last commits; FULL
    // would fsync every group commit.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(QueueError::db(context))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(QueueError::InvalidUrl {
            url: path.display().to_string(),
            reason: format!("the file cannot use WAL mode (journal_mode is {mode})"),
        });
    }
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
    .map_err(QueueError::db(context))?;
    Ok(conn)
}

/// Opens the checkpointer's connection to a database the writer has opened.
pub(super) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let context = "opening the SQLite checkpoint connection";
    connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE, context)
}

/// Opens a read-only connection to a database the writer has opened.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let context = "opening a SQLite read connection";
    connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY, context)
}

/// Applies the migrations this file has not had yet.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    while apply_next(conn).map_err(|e| QueueError::Migrate(Arc::from(e)))? {}
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies the next migration, if any, in one transaction; false when up to date.
fn apply_next(conn: &Connection) -> Result<bool, BoxError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = next_migration(conn).and_then(|next| {
        if let Some(version) = next {
            conn.execute_batch(MIGRATIONS[version - 1])?;
            conn.pragma_update(None, "user_version", version as i64)?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(next.is_some())
    });
    if applied.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    applied
}

/// The version to apply next (`None`: up to date), inside the migration transaction.
fn next_migration(conn: &Connection) -> Result<Option<usize>, BoxError> {
    let mut version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version == 0 {
        version = sqlx_version(conn)?;
    }
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(format!(
            "the database has schema version {version}, newer than this framepipe knows \
             ({}); upgrade framepipe",
            MIGRATIONS.len()
        )
        .into());
    }
    Ok((version < MIGRATIONS.len()).then_some(version + 1))
}

/// The version a file migrated by sqlx reached (0 for a new file).
fn sqlx_version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_table = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !has_table {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        [],
        |row| row.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_file_gets_every_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let conn = open_writer(&path).unwrap();
        migrate(&conn).unwrap();
        assert_eq!(user_version(&conn), MIGRATIONS.len() as i64);
        // Opening again applies nothing (a second CREATE TABLE jobs would fail).
        migrate(&conn).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }

    #[test]
    fn a_file_migrated_by_sqlx_is_adopted_at_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let conn = open_writer(&path).unwrap();
        // What sqlx left behind: migration 1 applied and recorded, user_version untouched.
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN);
             INSERT INTO _sqlx_migrations VALUES (1, TRUE);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO api_keys (id, name, admin, key_hash, created_at) VALUES (x'01', 'k', 0, 'h', 0)",
            [],
        )
        .unwrap();
        migrate(&conn).unwrap();
        assert_eq!(user_version(&conn), MIGRATIONS.len() as i64);
        let kept: i64 = conn
            .query_row("SELECT COUNT(*) FROM api_keys", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1, "adopting must not recreate tables");
    }

    #[test]
    fn a_file_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("q.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let error = migrate(&conn).unwrap_err().to_string();
        assert!(error.contains("newer than this framepipe knows"), "{error}");
    }
}
