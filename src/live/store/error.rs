//! Why the store could not do what was asked. Every variant names the store file, so an
//! operator reading the message knows which file to look at.

use std::path::PathBuf;

/// A store failure at its boundary (opening, migrating, reading).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file (or its directory) could not be opened or created, or SQLite refused it.
    #[error("cannot open the store {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    /// The file does not exist; readers never create one.
    #[error("the store {} does not exist (has the daemon run with this store.path?)", path.display())]
    Missing { path: PathBuf },
    /// The schema is newer than this binary knows: an older binary must not write to it.
    #[error("the store {} has schema version {found}, newer than this binary's {known}", path.display())]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    /// The file is a SQLite database without our schema (or an empty file).
    #[error("the store {} has no veertien schema (version 0); open it with the daemon first", path.display())]
    NoSchema { path: PathBuf },
    /// The `meta` table holds a caller-hash key of the wrong size (a damaged or edited file).
    #[error("the store {} holds a caller_hash_key of {len_bytes} bytes, not 32", path.display())]
    BadKey { path: PathBuf, len_bytes: usize },
    /// A query failed (I/O error, locked file beyond the busy timeout, corrupt row).
    #[error("store {}: {reason}", path.display())]
    Query { path: PathBuf, reason: String },
}
