//! Opening the SQLite file with the settings every connection needs: WAL so readers (the
//! API, `veertien records`) never block the writer, `synchronous=FULL` so a COMMIT that
//! returned survives a power cut, foreign keys on, and a busy timeout so a reader's brief
//! lock or an operator's `sqlite3` shell makes us wait instead of failing at once.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::error::StoreError;

/// How long a statement waits for a lock held by another connection before it fails.
/// Long enough for any group commit or checkpoint; short enough that a file locked for
/// good (an operator's open write transaction) shows up as failed writes within seconds.
pub const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Opens (creating it and its parent directory if needed) the store for the one writer.
pub fn open_for_writing(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |reason: String| StoreError::Open { path: path.to_path_buf(), reason };
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| open_error(format!("cannot create {}: {error}", parent.display())))?;
    }
    let connection = Connection::open(path).map_err(|error| open_error(error.to_string()))?;
    connection.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS)).map_err(|error| open_error(error.to_string()))?;
    // journal_mode answers with the mode now in force: a file on a filesystem without
    // shared memory (some network mounts) stays in another mode, which we refuse.
    let mode: String = connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|error| open_error(error.to_string()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_error(format!("journal_mode is {mode}, not wal (is the file on a local filesystem?)")));
    }
    for (pragma, value) in [("synchronous", "FULL"), ("foreign_keys", "ON")] {
        connection.pragma_update(None, pragma, value).map_err(|error| open_error(format!("{pragma}: {error}")))?;
    }
    Ok(connection)
}

/// Opens an existing store read-only (the API's reader, `veertien records`): never creates
/// a file, never migrates, works while the daemon writes.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing { path: path.to_path_buf() });
    }
    let open_error = |error: rusqlite::Error| StoreError::Open { path: path.to_path_buf(), reason: error.to_string() };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags).map_err(open_error)?;
    connection.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS)).map_err(open_error)?;
    Ok(connection)
}
