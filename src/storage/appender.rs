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
