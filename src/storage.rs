//! The [`Storage`] contract: the trait every backend implements.
//!
//! # Contract
//!
//! Every backend MUST hold the promises below; the conformance suite
//! (`seerstore::conformance`, feature `conformance`) checks each one. A
//! backend that cannot keep one says so in its rustdoc and in its
//! `Capabilities`.
//!
//! * Keys are relative `/`-separated paths, validated before any I/O
//!   ([`validate_path`](crate::path::validate_path)).
//! * Reads return exactly the bytes asked for, or an error.
//! * Writes are atomic and, once `Ok`, durable.
//! * Nothing blocks a tokio worker thread on the disk.

use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Operation, Result};

/// What a write replaces, and on what condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum WriteMode {
    /// Replace whatever is there (or create).
    #[default]
    Overwrite,
    /// Create the object; fail with [`Error::AlreadyExists`] if the key exists.
    /// Of two racing creates, exactly one wins.
    Create,
    /// Replace the object only if its current version is this one (from
    /// [`ObjectMeta::version`]); otherwise fail with [`Error::Precondition`].
    Update(String),
}

/// What a backend knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// The key, relative to the storage root or prefix: it can be passed
    /// straight back to [`Storage::read`].
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// An opaque version token for [`WriteMode::Update`], where the backend
    /// has one (an ETag on object stores; see each backend's docs).
    pub version: Option<String>,
    /// Last modification time, where the backend reports one.
    pub last_modified: Option<SystemTime>,
}

impl ObjectMeta {
    /// Metadata with a path and a size, and no version or time.
    pub fn new(path: impl Into<String>, size: u64) -> Self {
        Self {
            path: path.into(),
            size,
            version: None,
            last_modified: None,
        }
    }

    /// Sets the version token.
    #[must_use]
    pub fn with_version(mut self, version: Option<String>) -> Self {
        self.version = version;
        self
    }

    /// Sets the modification time.
    #[must_use]
    pub fn with_last_modified(mut self, last_modified: Option<SystemTime>) -> Self {
        self.last_modified = last_modified;
        self
    }
}

/// Checks `range` against an object of `size` bytes: `Ok` when
/// `start <= end <= size`, otherwise [`Error::InvalidRange`] carrying the size.
pub fn check_range(op: Operation, path: &str, range: &Range<u64>, size: u64) -> Result<()> {
    if range.start > range.end || range.end > size {
        return Err(Error::InvalidRange {
            op,
            path: path.to_owned(),
            range: range.clone(),
            size: Some(size),
        });
    }
    Ok(())
}

/// Async storage of immutable-ish objects under relative keys.
///
/// Object-safe: use it as `Arc<dyn Storage>`. Every method validates the key
/// before any I/O and names the operation and key in its errors.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Reads bytes `range.start..range.end` of the object at `path`.
    ///
    /// # Contract
    ///
    /// Returns exactly `range.end - range.start` bytes. An empty range with
    /// `start == end <= size` (including `end == size`) returns empty
    /// `Bytes`. `start > end` or `end > size` is [`Error::InvalidRange`]
    /// (carrying the size where the backend knows it). A missing object is
    /// [`Error::NotFound`]; an invalid key is [`Error::InvalidPath`].
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes>;

    /// Reads several ranges of one object; one `Bytes` per range, in the order
    /// asked. The result MUST equal calling [`read_range`](Self::read_range)
    /// for each range (same errors included). Backends MAY merge nearby
    /// ranges into fewer requests. The default calls `read_range` for each.
    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            out.push(self.read_range(path, range.clone()).await?);
        }
        Ok(out)
    }

    /// Reads the whole object. A missing object is [`Error::NotFound`].
    async fn read(&self, path: &str) -> Result<Bytes>;

    /// The object's metadata. A missing object is [`Error::NotFound`].
    async fn head(&self, path: &str) -> Result<ObjectMeta>;

    /// Whether an object exists at `path`. Errors other than not-found
    /// (including an invalid key) are returned, never mapped to `false`.
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.head(path).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces the object at `path` with `data`, atomically and durably:
    /// readers see the whole old object or the whole new one, and once this
    /// returns `Ok` the data survives a crash. Same as
    /// `write_with(path, data, WriteMode::Overwrite)`.
    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        self.write_with(path, data, WriteMode::Overwrite).await
    }

    /// Writes like [`write`](Self::write), on the condition `mode` sets:
    /// [`WriteMode::Create`] fails with [`Error::AlreadyExists`] if the key
    /// exists; [`WriteMode::Update`] fails with [`Error::Precondition`]
    /// unless the current version is the one given. A failed condition
    /// changes nothing.
    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta>;

    /// Streams a large object into `path`. Nothing is visible at `path`
    /// until [`StorageWriter::finish`] returns `Ok`; `abort`, an error, or
    /// dropping the writer leaves nothing behind.
    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>>;

    /// Deletes the object at `path`. Deleting a missing object is `Ok(())`.
    async fn delete(&self, path: &str) -> Result<()>;

    /// Streams the metadata of every object under `prefix` (by whole
    /// segments: `"L0"` finds `L0/x`, not `L00/x`, nor an object named
    /// `L0` itself; `""` lists all; `"L0/"` is the same as `"L0"`). Paths
    /// are relative to the storage root, in the same form `read` takes.
    /// Temporary files of unfinished writes never appear. Order is not
    /// specified.
    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>>;

    /// A durability barrier for `path`: locally, fsync of the file and its
    /// directory; on object stores, an `Ok` no-op (a successful PUT is
    /// durable). A missing object is [`Error::NotFound`].
    async fn sync(&self, path: &str) -> Result<()>;
}

/// A streaming upload started by [`Storage::writer`].
#[async_trait]
pub trait StorageWriter: Send {
    /// Appends `chunk`. Memory held by the writer stays bounded whatever the
    /// object's total size.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;

    /// Publishes the object atomically and durably, and returns its metadata.
    async fn finish(self: Box<Self>) -> Result<ObjectMeta>;

    /// Discards everything written; nothing is left behind.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Compile-time proof that both traits are object-safe.
#[allow(dead_code)]
fn _object_safe(_: &dyn Storage, _: Box<dyn StorageWriter>) {}
