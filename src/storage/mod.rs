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
use crate::path::validate_path;

mod appender;
pub(crate) mod emulated;
mod options;

pub use appender::StorageAppender;
pub use options::{ListOptions, Listing, ReadOptions, ReadResult};

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

/// Refuses the first range of `ranges` whose start is after its end, before
/// the object's size is known ([`Error::InvalidRange`] with `size: None`).
pub(crate) fn check_order(op: Operation, path: &str, ranges: &[Range<u64>]) -> Result<()> {
    match ranges.iter().find(|r| r.start > r.end) {
        Some(bad) => Err(Error::InvalidRange {
            op,
            path: path.to_owned(),
            range: bad.clone(),
            size: None,
        }),
        None => Ok(()),
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

/// Async storage of objects under relative keys: the contract every backend
/// holds.
///
/// Object-safe: use it as `Arc<dyn Storage>`. Every method validates the key
/// ([`validate_path`](crate::path::validate_path)) before any I/O, so an
/// invalid key is [`Error::InvalidPath`] and touches nothing, and every error
/// names the [`Operation`] and the key. Where a backend cannot keep a
/// promise, its rustdoc says so and its conformance
/// `Capabilities` mark the check as not applicable.
///
/// The examples below use [`LocalStorage`](crate::LocalStorage) on a
/// temporary directory; every backend behaves the same unless a method's
/// `# Backends` section says otherwise.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Reads bytes `range.start..range.end` of the object at `path`.
    ///
    /// # Contract
    ///
    /// Returns exactly `range.end - range.start` bytes or an error, never a
    /// short read. An empty range with `start == end <= size` (including
    /// `end == size`) returns empty `Bytes`.
    ///
    /// # Errors
    ///
    /// * [`Error::InvalidRange`] if `start > end` or `end > size`, carrying
    ///   the object's size where the backend knows it; nothing is allocated
    ///   for the range before it is checked.
    /// * [`Error::NotFound`] if there is no object at `path`.
    /// * [`Error::InvalidPath`] for an invalid key.
    ///
    /// # Backends
    ///
    /// Local: a positional read from a cached handle, on tokio's blocking
    /// pool. Object stores: one ranged GET, retried per
    /// [`RetryConfig`](crate::RetryConfig).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("L0/1.sst", "header|block".into()).await?;
    /// assert_eq!(storage.read_range("L0/1.sst", 7..12).await?, "block");
    /// assert!(storage.read_range("L0/1.sst", 7..13).await.is_err()); // past the end
    /// # Ok(()) }
    /// ```
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes>;

    /// Reads several ranges of one object: one `Bytes` per range, in the
    /// order asked.
    ///
    /// # Contract
    ///
    /// The result MUST equal calling [`read_range`](Self::read_range) for
    /// each range, errors included (the first failing range decides the
    /// error). Ranges may overlap, repeat or come in any order. No ranges →
    /// an empty `Vec`.
    ///
    /// # Errors
    ///
    /// As [`read_range`](Self::read_range).
    ///
    /// # Backends
    ///
    /// Local: every range in one blocking-pool task from one handle. Object
    /// stores MAY merge nearby ranges into fewer GETs (see
    /// `ObjectStorage::with_coalesce`) and slice the results without copying.
    /// The default implementation calls `read_range` for each range.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("L0/1.sst", "aaaabbbbcccc".into()).await?;
    /// let blocks = storage.read_ranges("L0/1.sst", &[8..12, 0..4]).await?;
    /// assert_eq!(blocks, ["cccc", "aaaa"]);
    /// # Ok(()) }
    /// ```
    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            out.push(self.read_range(path, range.clone()).await?);
        }
        Ok(out)
    }

    /// Reads the whole object.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is no object at `path` (also when a
    /// "parent" of the key is itself an object); [`Error::InvalidPath`].
    ///
    /// # Backends
    ///
    /// Object stores read the body inside one attempt, so
    /// `attempt_timeout` bounds it.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("MANIFEST", "v1".into()).await?;
    /// assert_eq!(storage.read("MANIFEST").await?, "v1");
    /// assert!(storage.read("missing").await.unwrap_err().is_not_found());
    /// # Ok(()) }
    /// ```
    async fn read(&self, path: &str) -> Result<Bytes>;

    /// The object's metadata: key, size, version and modification time.
    ///
    /// # Contract
    ///
    /// `version` is the token [`WriteMode::Update`] takes; it changes when
    /// the object is replaced (see each backend for what it is made of).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::InvalidPath`].
    ///
    /// # Backends
    ///
    /// Local: always a fresh `fstat`, never the handle cache. Object stores:
    /// a HEAD request; the version encodes the ETag (and object version).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// let written = storage.write("L0/1.sst", "12345".into()).await?;
    /// let meta = storage.head("L0/1.sst").await?;
    /// assert_eq!((meta.path.as_str(), meta.size), ("L0/1.sst", 5));
    /// assert_eq!(meta.version, written.version);
    /// # Ok(()) }
    /// ```
    async fn head(&self, path: &str) -> Result<ObjectMeta>;

    /// Whether an object exists at `path`.
    ///
    /// # Errors
    ///
    /// Errors other than not-found (including an invalid key) are returned,
    /// never mapped to `false`. The default implementation calls
    /// [`head`](Self::head).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// assert!(!storage.exists("CURRENT").await?);
    /// storage.write("CURRENT", "MANIFEST-000001".into()).await?;
    /// assert!(storage.exists("CURRENT").await?);
    /// assert!(storage.exists("../CURRENT").await.is_err()); // invalid key
    /// # Ok(()) }
    /// ```
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.head(path).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces the object at `path` with `data` (creating it if needed).
    /// Same as `write_with(path, data, WriteMode::Overwrite)`.
    ///
    /// # Contract
    ///
    /// Atomic: a concurrent or later reader sees the whole old object or the
    /// whole new one, never a mix or a prefix — also if the process is
    /// killed mid-write or this future is dropped. Durable: once it returns
    /// `Ok`, the data survives a crash.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`]; [`Error::Io`] / [`Error::ObjectStore`] for
    /// failures of the medium (after retries, on object stores).
    ///
    /// # Backends
    ///
    /// Local: temp file in the same directory → write → fsync → rename →
    /// directory fsync, all in one blocking-pool task that runs to its end
    /// even if the future is dropped. A key below an existing object
    /// (`a/b` when `a` is an object) fails there: a filesystem cannot hold
    /// both. Object stores: one PUT (durable once acknowledged).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// let meta = storage.write("L0/000001.sst", vec![0u8; 4096].into()).await?;
    /// assert_eq!(meta.size, 4096);
    /// # Ok(()) }
    /// ```
    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        self.write_with(path, data, WriteMode::Overwrite).await
    }

    /// Writes like [`write`](Self::write), on the condition `mode` sets.
    ///
    /// # Contract
    ///
    /// [`WriteMode::Create`] succeeds only if no object exists at `path`; of
    /// racing creates exactly one wins. [`WriteMode::Update`] succeeds only
    /// if the current version is the one given. A failed condition changes
    /// nothing. A retried conditional write whose earlier attempt may have
    /// landed is not reported as a conflict when the object now holds
    /// exactly the bytes of this call.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyExists`] (Create), [`Error::Precondition`] (Update:
    /// another version, a missing object, or a token the backend cannot
    /// read), [`Error::NotSupported`] where the backend has no conditional
    /// writes (never a silent overwrite), and those of `write`.
    ///
    /// # Backends
    ///
    /// Local: Create and Update are atomic across `LocalStorage` instances
    /// and processes on one root (a per-directory `flock` around check and
    /// rename; Create also `renameat2(RENAME_NOREPLACE)` or `link`), and a
    /// write that published but failed its directory fsync says so (see
    /// [`LocalStorage`](crate::LocalStorage)). Object stores: `PutMode`
    /// (`If-None-Match: *` / `If-Match`).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage, WriteMode};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// let v1 = storage.write_with("MANIFEST", "v1".into(), WriteMode::Create).await?;
    /// let again = storage.write_with("MANIFEST", "v1'".into(), WriteMode::Create).await;
    /// assert!(again.unwrap_err().is_already_exists());
    ///
    /// let version = v1.version.expect("local files have versions");
    /// storage.write_with("MANIFEST", "v2".into(), WriteMode::Update(version.clone())).await?;
    /// let stale = storage.write_with("MANIFEST", "v2'".into(), WriteMode::Update(version)).await;
    /// assert!(stale.unwrap_err().is_precondition());
    /// assert_eq!(storage.read("MANIFEST").await?, "v2");
    /// # Ok(()) }
    /// ```
    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta>;

    /// Starts a streaming write of a large object (an SSTable of hundreds of
    /// MiB) into `path`, with overwrite semantics.
    ///
    /// # Contract
    ///
    /// Memory stays bounded whatever the object's size. Nothing is visible
    /// at `path` until [`StorageWriter::finish`] returns `Ok`, which
    /// publishes the object atomically and durably. `abort`, an error, or
    /// dropping the writer leaves nothing behind.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] here; the writer's own calls fail like
    /// [`write`](Self::write).
    ///
    /// # Backends
    ///
    /// Local: a temp file, published by the same rename as `write`. Object
    /// stores: one PUT when the object fits in a part, else a multipart
    /// upload with a bounded number of parts in flight, aborted on error,
    /// `abort` and drop.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// let mut writer = storage.writer("L1/000007.sst").await?;
    /// for block in 0..4u8 {
    ///     writer.write(vec![block; 4096].into()).await?;
    /// }
    /// assert!(!storage.exists("L1/000007.sst").await?); // not before finish
    /// let meta = writer.finish().await?;
    /// assert_eq!(meta.size, 4 * 4096);
    /// # Ok(()) }
    /// ```
    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>>;

    /// Deletes the object at `path`.
    ///
    /// # Contract
    ///
    /// Deleting a missing object is `Ok(())`. Other keys (including keys
    /// below `path`) are not touched.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`]; failures of the medium.
    ///
    /// # Backends
    ///
    /// Local: unlink, then fsync of the directory; empty directories stay.
    /// Object stores: DELETE (a store's NotFound is `Ok`).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("L0/1.sst", "x".into()).await?;
    /// storage.delete("L0/1.sst").await?;
    /// storage.delete("L0/1.sst").await?; // already gone: still Ok
    /// assert!(!storage.exists("L0/1.sst").await?);
    /// # Ok(()) }
    /// ```
    async fn delete(&self, path: &str) -> Result<()>;

    /// Streams the metadata of every object below `prefix`.
    ///
    /// # Contract
    ///
    /// A prefix matches whole segments: `"L0"` finds `L0/x` and `L0/a/b`,
    /// not `L00/x`, nor an object named `L0` itself; `"L0/"` is the same as
    /// `"L0"`; `""` lists everything. Paths are relative to the storage root
    /// (or prefix), in the same form `read` takes. Temporary files of
    /// unfinished writes never appear. Order is not specified. Memory does
    /// not grow with the number of keys.
    ///
    /// # Errors
    ///
    /// An invalid prefix yields one [`Error::InvalidPath`]; a missing prefix
    /// yields nothing.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use futures::TryStreamExt;
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// for key in ["L0/1.sst", "L0/2.sst", "L00/3.sst"] {
    ///     storage.write(key, "x".into()).await?;
    /// }
    /// let mut keys: Vec<String> = storage.list("L0").map_ok(|m| m.path).try_collect().await?;
    /// keys.sort();
    /// assert_eq!(keys, ["L0/1.sst", "L0/2.sst"]);
    /// # Ok(()) }
    /// ```
    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>>;

    /// A durability barrier for `path`.
    ///
    /// # Contract
    ///
    /// When it returns `Ok`, the object at `path` as it is now survives a
    /// crash.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`]; locally [`Error::NotFound`] for a missing
    /// object.
    ///
    /// # Backends
    ///
    /// Local: fsync of the file and its directory. Object stores: an `Ok`
    /// no-op after validating the key (a successful PUT is durable).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("wal/000001.log", "record".into()).await?;
    /// storage.sync("wal/000001.log").await?;
    /// # Ok(()) }
    /// ```
    async fn sync(&self, path: &str) -> Result<()>;

    /// Reads the object (or `options.range` of it) together with the
    /// metadata **of the same version**, on the conditions `options` sets.
    ///
    /// # Contract
    ///
    /// `meta` describes the version `data` came from: its `size` is the
    /// whole object's, its `version` the one a following
    /// `write_with(Update(version))` must name. The pairing MUST hold while
    /// the object is being replaced concurrently. `range` is the range read
    /// (the whole object when `options.range` is `None`).
    ///
    /// # Errors
    ///
    /// * [`Error::Precondition`] if `if_match` is not the current version
    ///   (including a version the object never had);
    /// * [`Error::NotModified`] if `if_none_match` is the current version
    ///   (a version the object never had reads as usual);
    /// * [`Error::InvalidRange`] for an inverted range or one past the end;
    /// * [`Error::NotFound`], [`Error::InvalidPath`] as for `read`.
    ///
    /// # Backends
    ///
    /// Local: `fstat` and `pread` on one open descriptor, so data and
    /// version cannot disagree. Object stores: ONE GET with `Range`,
    /// `If-Match` / `If-None-Match`, the metadata taken from its answer.
    /// The default body (third-party backends) calls `head`, `read_range`
    /// and `head` again, and retries when the version moved in between.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, ReadOptions, Storage, WriteMode};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("MANIFEST", "epoch=1".into()).await?;
    /// let current = storage.read_with("MANIFEST", ReadOptions::default()).await?;
    /// assert_eq!(current.data, "epoch=1");
    /// let version = current.meta.version.clone().expect("local files have versions");
    /// storage.write_with("MANIFEST", "epoch=2".into(), WriteMode::Update(version.clone())).await?;
    /// let stale = ReadOptions { if_match: Some(version), ..Default::default() };
    /// assert!(storage.read_with("MANIFEST", stale).await.unwrap_err().is_precondition());
    /// # Ok(()) }
    /// ```
    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        emulated::read_with(self, path, options).await
    }

    /// Lists like [`list`](Self::list), as `options` say: with an offset,
    /// only the keys under `prefix` that sort strictly after it.
    ///
    /// # Contract
    ///
    /// `list_with(p, ListOptions { offset: Some(k) })` yields exactly the
    /// keys under `p` greater than `k` (byte order), each once. `k` need not
    /// exist. Backends SHOULD start the listing at the offset (S3's
    /// `start-after`) rather than filter.
    ///
    /// # Errors
    ///
    /// As `list`; an offset that could not be (a prefix of) a key yields one
    /// [`Error::InvalidPath`].
    ///
    /// # Backends
    ///
    /// Local: a walk that skips the directories and names sorting before the
    /// offset without listing them. Object stores: object_store's
    /// `list_with_offset`. The default body lists everything and filters.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use futures::TryStreamExt;
    /// use seerstore::{ListOptions, LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// for n in 1..=4 {
    ///     storage.write(&format!("wal/{n:06}.log"), "x".into()).await?;
    /// }
    /// let after = ListOptions { offset: Some("wal/000002.log".into()), ..Default::default() };
    /// let mut keys: Vec<String> =
    ///     storage.list_with("wal", after).map_ok(|m| m.path).try_collect().await?;
    /// keys.sort();
    /// assert_eq!(keys, ["wal/000003.log", "wal/000004.log"]);
    /// # Ok(()) }
    /// ```
    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        emulated::list_with(self, prefix, options)
    }

    /// Lists one level below `prefix`: the objects directly under it and
    /// its sub-prefixes.
    ///
    /// # Contract
    ///
    /// Both as paths from the root like every listed path:
    /// `list_dir("L0")` gives the object `L0/a.sst` and the dir `L0/sub`
    /// (no trailing `/`), each sorted. A prefix matches whole segments as in
    /// `list`; `""` is the root level. Temporary files never appear.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for an invalid prefix; a missing prefix is an
    /// empty listing.
    ///
    /// # Backends
    ///
    /// Local: one directory read. Object stores: one delimiter listing
    /// (object_store's `list_with_delimiter`). The default body lists the
    /// whole subtree and folds it.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// for key in ["L0/a.sst", "L0/sub/b.sst", "L1/c.sst"] {
    ///     storage.write(key, "x".into()).await?;
    /// }
    /// let level = storage.list_dir("L0").await?;
    /// let objects: Vec<&str> = level.objects.iter().map(|m| m.path.as_str()).collect();
    /// assert_eq!(objects, ["L0/a.sst"]);
    /// assert_eq!(level.dirs, ["L0/sub"]);
    /// assert_eq!(storage.list_dir("").await?.dirs, ["L0", "L1"]);
    /// # Ok(()) }
    /// ```
    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        emulated::list_dir(self, prefix).await
    }

    /// Deletes every path: one result per path, in the order given.
    ///
    /// # Contract
    ///
    /// Each result is what [`delete`](Self::delete) of that path would
    /// return: a missing path is `Ok`, an invalid one
    /// [`Error::InvalidPath`] (and is not touched), and one failure does not
    /// stop the others.
    ///
    /// # Backends
    ///
    /// Object stores: as few requests as the store allows (S3's
    /// `DeleteObjects` takes 1,000 keys, Azure's batch 256), through
    /// object_store's `delete_stream`. Local: unlinks on the blocking pool,
    /// several at once. The default body calls `delete` for each path, a few
    /// at a time.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("L0/1.sst", "x".into()).await?;
    /// let paths = ["L0/1.sst".to_owned(), "L0/missing.sst".to_owned(), "../x".to_owned()];
    /// let results = storage.delete_many(&paths).await;
    /// assert!(results[0].is_ok() && results[1].is_ok() && results[2].is_err());
    /// assert!(!storage.exists("L0/1.sst").await?);
    /// # Ok(()) }
    /// ```
    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        emulated::delete_many(self, paths).await
    }

    /// Copies the object at `from` to `to`, on the condition `mode` sets
    /// for the destination.
    ///
    /// # Contract
    ///
    /// The destination appears whole or not at all, and is durable once
    /// this returns `Ok` (as a `write`). `mode` is about `to`:
    /// [`WriteMode::Overwrite`], [`WriteMode::Create`] (`AlreadyExists` if
    /// `to` exists) or [`WriteMode::Update`] (the destination's current
    /// version must be the one given). The source is not changed. Returns
    /// the destination's metadata.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a missing source; [`Error::InvalidPath`] for
    /// an invalid key or `from == to`; the conflicts of `mode`. Nothing
    /// changes on any error.
    ///
    /// # Backends
    ///
    /// Object stores: server-side (no bytes through the client), object_store's
    /// `copy` / `copy_if_not_exists`. Local: a copy into a temp file
    /// (`copy_file_range`, which reflinks where the filesystem can), fsync,
    /// the same publish as `write`, directory fsync. The default body reads
    /// the source into memory and writes it.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage, WriteMode};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("MANIFEST-000001", "m1".into()).await?;
    /// storage.copy("MANIFEST-000001", "backup/MANIFEST", WriteMode::Create).await?;
    /// assert_eq!(storage.read("backup/MANIFEST").await?, "m1");
    /// let again = storage.copy("MANIFEST-000001", "backup/MANIFEST", WriteMode::Create).await;
    /// assert!(again.unwrap_err().is_already_exists());
    /// # Ok(()) }
    /// ```
    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        emulated::copy(self, from, to, mode).await
    }

    /// Moves the object at `from` to `to`, on the condition `mode` sets for
    /// the destination.
    ///
    /// # Contract
    ///
    /// Afterwards `to` holds what `from` held and `from` is gone. `mode` as
    /// for [`copy`](Self::copy). A source that was replaced after it was
    /// copied is never deleted (the call fails with [`Error::Precondition`]
    /// naming the source, and the copy at `to` stays).
    ///
    /// # Errors
    ///
    /// As [`copy`](Self::copy).
    ///
    /// # Backends
    ///
    /// Local: atomic, `rename(2)` (`renameat2(RENAME_NOREPLACE)` for
    /// `Create`), with directory fsyncs. Object stores: **not atomic**, a
    /// server-side copy then a delete of the source; a concurrent reader may
    /// see both keys, and a crash in between leaves both (never neither).
    /// The default body is the same copy-then-delete through the client.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// # let dir = tempfile::tempdir().expect("temp dir");
    /// use seerstore::{LocalStorage, Storage, WriteMode};
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// storage.write("CURRENT.tmp", "MANIFEST-000002".into()).await?;
    /// storage.rename("CURRENT.tmp", "CURRENT", WriteMode::Overwrite).await?;
    /// assert!(!storage.exists("CURRENT.tmp").await?);
    /// assert_eq!(storage.read("CURRENT").await?, "MANIFEST-000002");
    /// # Ok(()) }
    /// ```
    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        emulated::rename(self, from, to, mode).await
    }

    /// Creates the object at `path` for appends (a WAL segment) and returns
    /// its [`StorageAppender`].
    ///
    /// # Contract
    ///
    /// The object exists (empty) when this returns `Ok`, durably; see
    /// [`StorageAppender`] for what appends and syncs promise.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyExists`] if `path` exists; [`Error::InvalidPath`];
    /// [`Error::NotSupported`] on backends without appends (object_store
    /// 0.14 exposes none), which is also the default body.
    async fn appender(&self, path: &str) -> Result<std::sync::Arc<dyn StorageAppender>> {
        validate_path(Operation::Append, path)?;
        Err(emulated::appends_not_supported(path, "this backend"))
    }
}

/// A streaming write started by [`Storage::writer`].
///
/// Consumed by [`finish`](Self::finish) or [`abort`](Self::abort); dropping
/// it without either discards what was written (locally the temp file is
/// removed; on object stores the multipart upload is aborted in the
/// background on the current tokio runtime).
#[async_trait]
pub trait StorageWriter: Send {
    /// Appends `chunk`. Memory held by the writer stays bounded whatever the
    /// object's total size; this may wait for earlier data to reach the
    /// medium. After an error the writer is unusable: nothing is published.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;

    /// Publishes the object atomically and durably, and returns its metadata.
    async fn finish(self: Box<Self>) -> Result<ObjectMeta>;

    /// Discards everything written; nothing is left behind.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Compile-time proof that the three traits are object-safe.
#[allow(dead_code)]
fn _object_safe(_: &dyn Storage, _: Box<dyn StorageWriter>, _: &dyn StorageAppender) {}

/// A shared storage is a storage: wrappers such as `Instrumented` take the
/// `Arc<dyn Storage>` that [`open`](crate::open) returns.
#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: Storage + ?Sized> Storage for std::sync::Arc<S> {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        (**self).read_range(path, range).await
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        (**self).read_ranges(path, ranges).await
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        (**self).read(path).await
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        (**self).head(path).await
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        (**self).exists(path).await
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        (**self).write(path, data).await
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        (**self).write_with(path, data, mode).await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        (**self).writer(path).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        (**self).delete(path).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        (**self).list(prefix)
    }

    async fn sync(&self, path: &str) -> Result<()> {
        (**self).sync(path).await
    }

    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        (**self).read_with(path, options).await
    }

    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        (**self).list_with(prefix, options)
    }

    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        (**self).list_dir(prefix).await
    }

    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        (**self).delete_many(paths).await
    }

    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        (**self).copy(from, to, mode).await
    }

    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        (**self).rename(from, to, mode).await
    }

    async fn appender(&self, path: &str) -> Result<std::sync::Arc<dyn StorageAppender>> {
        (**self).appender(path).await
    }
}
