//! [`StorageAppender`]: an object that grows by appends, with a
//! durability point, from [`Storage::appender`](crate::Storage::appender).

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;

use super::ObjectMeta;

/// An object open for appends: a WAL segment, a log of records.
///
/// Shared: every method takes `&self`, so many tasks append and sync
/// through one `Arc<dyn StorageAppender>`.
///
/// # Contract
///
/// * [`append`](Self::append) writes `data` after everything appended
///   before it and returns the end offset of `data`: concurrent appends get
///   disjoint, contiguous ranges in the order they were called.
/// * [`sync`](Self::sync) makes durable every byte of every `append` that
///   returned before it was called, and returns the durable length.
///   Concurrent `sync`s share device flushes (group commit).
/// * After a crash the object holds at least the last synced length,
///   exactly as appended.
/// * Readers see the object, and its growing size, from
///   [`Storage::appender`](crate::Storage::appender) on.
/// * After [`finish`](Self::finish), appends fail.
/// * A dropped `append` future either appended its data whole (and before
///   any later append's) or appended nothing; a dropped `sync` or `finish`
///   only stops waiting. The log never gets a hole or a half record in the
///   middle.
///
/// # Errors
///
/// [`Error::Closed`](crate::Error::Closed) for an append after `finish`,
/// and for every call after a write or flush of the object failed: a
/// backend MUST NOT promise anything past the last durable length once a
/// flush failed (after a failed `fsync` the page cache's state is
/// unknowable). The failure itself reaches every `sync` waiting for it as
/// the backend's error ([`Error::Io`](crate::Error::Io) locally).
///
/// # Backends
///
/// [`LocalStorage`](crate::LocalStorage) buffers appends in memory and
/// writes each group with one `pwrite` right before its `fdatasync`, so
/// readers see what reached the file (everything appended before the last
/// sync started). Object stores have no appends:
/// [`Storage::appender`](crate::Storage::appender) is
/// [`Error::NotSupported`](crate::Error::NotSupported) there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> seerstore::Result<()> {
/// use seerstore::{LocalStorage, Storage};
///
/// let dir = tempfile::tempdir().expect("temp dir");
/// let storage = LocalStorage::open(dir.path()).await?;
/// let wal = storage.appender("wal/000001.log").await?;
/// assert_eq!(wal.append("first ".into()).await?, 6);
/// assert_eq!(wal.append("second".into()).await?, 12);
/// assert_eq!(wal.sync().await?, 12); // both durable, one device flush
/// assert_eq!(storage.read("wal/000001.log").await?, "first second");
/// assert_eq!(wal.finish().await?.size, 12);
/// assert!(wal.append("late".into()).await.unwrap_err().is_closed());
/// # Ok(()) }
/// ```
#[async_trait]
pub trait StorageAppender: Send + Sync + std::fmt::Debug {
    /// Appends `data`; returns the object's length after it (the end offset
    /// of `data`). A zero-length append returns the current end offset and
    /// writes nothing.
    async fn append(&self, data: Bytes) -> Result<u64>;

    /// Makes every byte appended before this call durable; returns the
    /// durable length.
    async fn sync(&self) -> Result<u64>;

    /// Syncs, then refuses further appends; returns the object's metadata.
    async fn finish(&self) -> Result<ObjectMeta>;
}
