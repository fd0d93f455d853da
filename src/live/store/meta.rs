//! The `meta` table: the caller-hash key. It is made once, from OS randomness, the first
//! time a store is opened, and read back on every later open, so the same caller hashes
//! alike across restarts (repeat callers stay recognisable) while nobody without the file
//! can reverse a hash by hashing every Dutch number.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::error::StoreError;

/// The `meta` key under which the caller-hash key is kept.
const CALLER_HASH_KEY: &str = "caller_hash_key";
/// The kernel's randomness; `live/` is the one layer allowed to read it.
const OS_RANDOMNESS: &str = "/dev/urandom";

/// The store's caller-hash key, created on first use.
pub fn caller_hash_key(connection: &Connection, path: &Path) -> Result<[u8; 32], StoreError> {
    let query_error = |error: rusqlite::Error| StoreError::Query { path: path.to_path_buf(), reason: format!("meta: {error}") };
    let stored: Option<Vec<u8>> = connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [CALLER_HASH_KEY], |row| row.get(0))
        .optional()
        .map_err(query_error)?;
    if let Some(bytes) = stored {
        return <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| StoreError::BadKey { path: path.to_path_buf(), len_bytes: bytes.len() });
    }
    let key = random_key().map_err(|error| StoreError::Open {
        path: path.to_path_buf(),
        reason: format!("cannot read {OS_RANDOMNESS} for the caller-hash key: {error}"),
    })?;
    // INSERT OR IGNORE and read back: should two daemons open one new file at once, both
    // end up with the key that was written first.
    connection
        .execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)", rusqlite::params![CALLER_HASH_KEY, key.as_slice()])
        .map_err(query_error)?;
    let written: Vec<u8> = connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [CALLER_HASH_KEY], |row| row.get(0))
        .map_err(query_error)?;
    <[u8; 32]>::try_from(written.as_slice()).map_err(|_| StoreError::BadKey { path: path.to_path_buf(), len_bytes: written.len() })
}

fn random_key() -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    std::fs::File::open(OS_RANDOMNESS)?.read_exact(&mut key)?;
    Ok(key)
}
