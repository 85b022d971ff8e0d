//! The object-store backend: [`ObjectStorage`] over any
//! [`object_store::ObjectStore`] (S3, GCS, Azure, S3-compatible stores,
//! `InMemory`, `LocalFileSystem`).
//!
//! Every request goes through the crate's one retry loop
//! ([`RetryConfig`]), one attempt at a time. Response bodies are read
//! inside the attempt, and `attempt_timeout` bounds the wait for the first
//! byte and each stall between chunks (see `body`), not the transfer.
//! Errors are classified from typed errors only (see `classify`).

mod body;
mod classify;
mod copy;
mod delete;
mod keys;
mod landed;
mod list;
mod multipart;
mod put;
mod ranges;
mod read;
mod writer;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode};
use tokio::sync::Semaphore;

use crate::error::{Error, Operation, Result};
use crate::retry::{retry, retry_read, retry_write, RetryConfig};
use crate::storage::{
    check_order, check_range, ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult,
    StorageAppender, StorageWriter, WriteMode,
};

pub(crate) use classify::from_object_store;
use keys::{decode_version, encode_version, Prefix};
use ranges::merge_ranges;
use writer::ObjectWriter;

/// Default part size of streaming uploads: 8 MiB (S3's minimum is 5 MiB).
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// Default number of parts uploading at once.
pub const DEFAULT_MAX_PARTS_IN_FLIGHT: usize = 4;
/// Default gap below which `read_ranges` merges two ranges: 1 MiB.
pub const DEFAULT_COALESCE: u64 = 1024 * 1024;
/// The largest range `read_ranges` makes by merging: 8 MiB. Ranges are
/// not merged past it (a range asked for that is larger by itself is
/// fetched whole), so one call holds at most `MAX_CONCURRENT_RANGES` such
/// bodies in memory at once, and a stalled merged request refetches little.
pub const MAX_MERGED_RANGE: u64 = 8 * 1024 * 1024;
/// Merged ranges of one `read_ranges` call fetched at once.
const MAX_CONCURRENT_RANGES: usize = 10;

/// [`Storage`](crate::Storage) over any [`object_store::ObjectStore`], under an optional
/// key prefix.
///
/// # Keys
///
/// A key (checked by [`validate_path`](crate::path::validate_path) before
/// any request) is used verbatim as the object name under the prefix:
/// `Path::parse("<prefix>/<key>")`, with no percent-encoding added. So
/// `a b/100%#x+y=z/ü` is stored under exactly that name, and `list` yields
/// exactly that key. `Path::parse` refuses only what `validate_path`
/// already refuses; a backend may refuse names of its own (object_store's
/// `LocalFileSystem` refuses a last segment ending in `#` and digits, its
/// staging-file pattern).
///
/// # Versions
///
/// [`ObjectMeta::version`] is an opaque token carrying both the ETag and the
/// object version, since stores differ in which one a conditional put
/// checks: `e:<etag>` (ETag only), `v:<version>` (version only), or
/// `b:<etag length in bytes>:<etag><version>` (both); no token when the
/// store reports neither. [`WriteMode::Update`] decodes it back into an
/// `object_store::UpdateVersion`; a token that does not decode fails with
/// [`Error::Precondition`] without writing.
///
/// # Conditional writes
///
/// `Create` and `Update` use `PutMode::Create`/`PutMode::Update`; a store
/// without conditional puts answers [`Error::NotSupported`] (never a silent
/// overwrite). A retried conditional write (attempt 2 or later) that meets
/// `AlreadyExists`/`Precondition` reads the object back: if it holds exactly
/// the bytes of this call, an earlier attempt landed and lost its answer,
/// and the write is reported as a success with the object's metadata.
///
/// # The 0.2 calls
///
/// * `read_with`: ONE GET (`get_opts` with the range and `If-Match` /
///   `If-None-Match`, the version token decoded into its ETag); the
///   metadata is the GET's own. An empty range is one conditional HEAD. A
///   range starting past the end is refused by the store, and a HEAD after
///   the retry loop tells the size for [`Error::InvalidRange`].
/// * `list_with` with an offset: `list_with_offset` (S3 and GCS
///   `start-after`, Azure `startFrom`). Keys at or before the offset are
///   dropped here too, so servers that ignore it (Azurite,
///   fake-gcs-server) still list exactly what is asked, at the cost of
///   listing from the start.
/// * `list_dir`: one `list_with_delimiter`, retried as a whole.
/// * `delete_many`: one `delete_stream` (S3 `DeleteObjects` of 1,000 keys
///   a request, Azure batches of 256, one delete each elsewhere); paths
///   whose deletion failed transiently are sent again, together.
/// * `copy`: server-side `copy_opts`, then a HEAD of the destination for
///   the metadata returned (a replacement of `to` in between would be
///   reported instead). `Create` needs an atomic copy-if-not-exists: an S3
///   store built without `copy_if_not_exists` (and an S3-compatible server
///   that has none) answers [`Error::NotSupported`] and copies nothing;
///   [`seerstore::open`](crate::open) sets `multipart` for custom
///   endpoints. `Update(v)` is [`Error::NotSupported`]: object_store 0.14
///   has no copy conditional on the destination's version, and checking
///   it before the copy would not be atomic.
/// * `rename`: **not atomic**: a HEAD of the source (version `v`), the
///   server-side copy, a second HEAD, and a delete only if the source is
///   still `v` — else [`Error::Precondition`] naming the source, which is
///   kept with the copy. object_store 0.14 has no conditional delete, so a
///   source replaced between the second HEAD and the delete is still
///   deleted; a store without ETags cannot tell a replaced source at all.
///   `Update(v)` is [`Error::NotSupported`], as for `copy`.
/// * `appender`: [`Error::NotSupported`] (object_store 0.14 has no append).
///
/// How it differs from the local backend: `sync` is an `Ok` no-op (a
/// successful PUT is durable); `list` resumes after a transient error with
/// `list_with_offset` after the last key yielded, which assumes the store
/// lists in lexicographic order (S3, GCS and Azure do; `LocalFileSystem`
/// does not, so a resumed listing there may miss keys); parts of a
/// streaming upload are not retried individually.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> seerstore::Result<()> {
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use seerstore::{ObjectStorage, RetryConfig, Storage};
///
/// let storage = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()))
///     .with_prefix("tenant-1/sst")
///     .with_retry(RetryConfig::default());
/// storage.write("L0/000001.sst", Bytes::from_static(b"block0block1")).await?;
/// assert_eq!(storage.read_range("L0/000001.sst", 6..12).await?, "block1");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    multipart: Option<Arc<dyn MultipartStore>>,
    prefix: Prefix,
    retry: RetryConfig,
    part_size: usize,
    max_parts_in_flight: usize,
    coalesce: u64,
    /// Permits for requests in flight (shared by clones), if bounded.
    limit: Option<Arc<Semaphore>>,
    max_concurrency: Option<usize>,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("store", &format_args!("{}", self.store))
            .field("prefix", &self.prefix.as_str())
            .field("retry", &self.retry)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// Wraps `store`, with no prefix, the default [`RetryConfig`], 8 MiB
    /// parts, 4 parts in flight and a 1 MiB coalescing gap.
    ///
    /// # A store you build yourself
    ///
    /// * object_store 0.14 keeps the HTTP status of a failed request in a
    ///   private error type, and maps only some statuses to variants
    ///   (404 → `NotFound`, 412 → `Precondition`, ...). For a store you
    ///   build, HTTP statuses that object_store does not map to a variant
    ///   (408, 429, 5xx) cannot be downcast, so such failures are
    ///   classified by transport kind only (connection errors and timeouts
    ///   are retried; a bare 503 is not). Stores made by
    ///   [`seerstore::open`](crate::open) install an HTTP connector that
    ///   keeps those statuses typed (feature `http-connector`, on with
    ///   `aws`/`gcp`/`azure`), which you can also install yourself with
    ///   `with_http_connector(seerstore::http::StatusConnector)`.
    /// * object_store's HTTP client retries by itself (10 times by default).
    ///   Those retries multiply with this crate's (up to 11 × (1 +
    ///   `max_retries`) requests, and `attempt_timeout` may cut an attempt
    ///   in the middle of the inner retries). Build your store with
    ///   `.with_retry(object_store::RetryConfig { max_retries: 0, .. })`, or
    ///   use [`seerstore::open`](crate::open), which does.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            multipart: None,
            prefix: Prefix::Valid(String::new()),
            retry: RetryConfig::default(),
            part_size: DEFAULT_PART_SIZE,
            max_parts_in_flight: DEFAULT_MAX_PARTS_IN_FLIGHT,
            coalesce: DEFAULT_COALESCE,
            limit: None,
            max_concurrency: None,
        }
    }

    /// Keeps every key under `prefix` (`""` = none; one trailing `/` is
    /// dropped). An invalid prefix (per the key rules) does not panic: every
    /// later call fails with [`Error::InvalidPath`]. Use
    /// [`try_with_prefix`](Self::try_with_prefix) to learn it at once.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Prefix::new(prefix.into());
        self
    }

    /// Like [`with_prefix`](Self::with_prefix), but an invalid prefix is an
    /// [`Error::InvalidPath`] here.
    pub fn try_with_prefix(self, prefix: impl Into<String>) -> Result<Self> {
        let this = self.with_prefix(prefix);
        match &this.prefix {
            Prefix::Valid(_) => Ok(this),
            Prefix::Invalid { prefix, reason } => Err(Error::invalid_path(
                Operation::Open,
                prefix.clone(),
                reason.clone(),
            )),
        }
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the part size of streaming uploads (S3 needs at least 5 MiB for
    /// every part but the last). Objects smaller than one part are written
    /// with a single `put`.
    #[must_use]
    pub fn with_part_size(mut self, part_size: usize) -> Self {
        self.part_size = part_size.max(1);
        self
    }

    /// Sends the parts of streaming uploads through `multipart`, which MUST
    /// be the same bucket as the store given to [`new`](Self::new) (S3, GCS
    /// and Azure stores implement both traits: pass the same `Arc`).
    ///
    /// object_store's generic `MultipartUpload` numbers a part when it is
    /// sent, so a failed part cannot be sent again and fails the whole
    /// upload. Through a `MultipartStore` each part is sent under its own
    /// number and retried like any other request. Stores made by
    /// [`seerstore::open`](crate::open) set this.
    #[must_use]
    pub fn with_multipart_store(mut self, multipart: Arc<dyn MultipartStore>) -> Self {
        self.multipart = Some(multipart);
        self
    }

    /// Sets how many parts of one streaming upload may upload at once.
    #[must_use]
    pub fn with_max_parts_in_flight(mut self, max_parts_in_flight: usize) -> Self {
        self.max_parts_in_flight = max_parts_in_flight.max(1);
        self
    }

    /// Sets the gap below which `read_ranges` merges two ranges into one
    /// request. A merged request never spans more than 8 MiB
    /// (`MAX_MERGED_RANGE`) unless one range asked for does by itself.
    #[must_use]
    pub fn with_coalesce(mut self, coalesce: u64) -> Self {
        self.coalesce = coalesce;
        self
    }

    /// Bounds the requests this storage (with its clones and the writers
    /// it made) has in flight at once to `max_requests` (at least 1);
    /// further requests wait for a slot. Unbounded by default.
    ///
    /// Each attempt holds a slot from when it is sent until its answer,
    /// body included, has arrived — a whole read, one part of a streaming
    /// write, one page of a listing — and gives it back before the delay
    /// to its retry. Waiting for a slot does not count against
    /// [`RetryConfig::attempt_timeout`]. A listing holds a slot only
    /// while it waits for its next entry, never while the caller holds
    /// the stream, so reading each listed object inside the listing loop
    /// cannot deadlock, whatever the bound.
    ///
    /// Use it to keep a burst of calls (a compaction reading hundreds of
    /// SSTables at once) from opening as many connections, and from
    /// holding as many response bodies in memory: with the bound, memory
    /// for reads in flight is at most `max_requests` bodies.
    #[must_use]
    pub fn with_max_concurrency(mut self, max_requests: usize) -> Self {
        let max_requests = max_requests.max(1);
        self.limit = Some(Arc::new(Semaphore::new(max_requests)));
        self.max_concurrency = Some(max_requests);
        self
    }

    /// The bound on requests in flight, if set.
    pub fn max_concurrency(&self) -> Option<usize> {
        self.max_concurrency
    }

    fn limit(&self) -> Option<&Semaphore> {
        self.limit.as_deref()
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The retry policy.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.retry
    }

    fn meta(&self, key: &str, meta: &object_store::ObjectMeta) -> ObjectMeta {
        ObjectMeta::new(key, meta.size)
            .with_version(encode_version(
                meta.e_tag.as_deref(),
                meta.version.as_deref(),
            ))
            .with_last_modified(Some(meta.last_modified.into()))
    }

    async fn head_location(&self, op: Operation, key: &str, location: &Path) -> Result<ObjectMeta> {
        retry(&self.retry, self.limit(), op, key, |_| async move {
            let meta = store_head(self.store.as_ref(), location)
                .await
                .map_err(|e| from_object_store(op, key, None, e))?;
            Ok(self.meta(key, &meta))
        })
        .await
    }
}

/// `ObjectStoreExt`'s helpers return futures that are not `Send`; these
/// call the trait's own methods instead.
pub(super) async fn store_head(
    store: &dyn ObjectStore,
    location: &Path,
) -> object_store::Result<object_store::ObjectMeta> {
    let options = GetOptions {
        head: true,
        ..GetOptions::default()
    };
    Ok(store.get_opts(location, options).await?.meta)
}

async fn store_get(
    store: &dyn ObjectStore,
    location: &Path,
) -> object_store::Result<object_store::GetResult> {
    store.get_opts(location, GetOptions::default()).await
}

async fn store_delete(store: &dyn ObjectStore, location: &Path) -> object_store::Result<()> {
    let location = location.clone();
    let mut deleted = store.delete_stream(stream::once(async move { Ok(location) }).boxed());
    while deleted.try_next().await?.is_some() {}
    Ok(())
}

// The `Storage` impl: these bodies, each in its span.
crate::trace::traced_storage!(ObjectStorage, "object_store");

impl crate::trace::Untraced for ObjectStorage {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        let op = Operation::ReadRange;
        let location = self.prefix.object_path(op, path)?;
        check_order(op, path, std::slice::from_ref(&range))?;
        if range.start == range.end {
            let size = self.head_location(op, path, &location).await?.size;
            check_range(op, path, &range, size)?;
            return Ok(Bytes::new());
        }
        Ok(self.get_range(op, path, &location, range).await?.0)
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let op = Operation::ReadRanges;
        let location = self.prefix.object_path(op, path)?;
        check_order(op, path, ranges)?;
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let merged = merge_ranges(ranges, self.coalesce);
        let location = &location;
        let fetched: Vec<(Bytes, u64)> = stream::iter(merged.iter().cloned())
            .map(|range| self.get_range(op, path, location, range))
            .buffered(MAX_CONCURRENT_RANGES)
            .try_collect()
            .await?;
        let size = match fetched.first() {
            Some((_, size)) => *size,
            None => self.head_location(op, path, location).await?.size,
        };
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            check_range(op, path, range, size)?;
            if range.start == range.end {
                out.push(Bytes::new());
                continue;
            }
            // The merged range holding this one: past the merge cap,
            // merged ranges may overlap or share a start.
            let before = merged.partition_point(|m| m.start <= range.start);
            let index = merged[..before]
                .iter()
                .rposition(|m| m.end >= range.end)
                .unwrap_or(before.saturating_sub(1));
            let (bytes, _) = &fetched[index];
            let offset = merged[index].start;
            let start = usize::try_from(range.start - offset).unwrap_or(usize::MAX);
            let end = usize::try_from(range.end - offset).unwrap_or(usize::MAX);
            if end > bytes.len() {
                // The object changed size between requests.
                return Err(Error::InvalidRange {
                    op,
                    path: path.to_owned(),
                    range: range.clone(),
                    size: Some(bytes.len() as u64 + offset),
                });
            }
            out.push(bytes.slice(start..end));
        }
        Ok(out)
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        let op = Operation::Read;
        let location = &self.prefix.object_path(op, path)?;
        retry_read(
            &self.retry,
            self.limit(),
            op,
            path,
            |_, deadline| async move {
                let result = store_get(self.store.as_ref(), location)
                    .await
                    .map_err(|e| from_object_store(op, path, None, e))?;
                body::collect(result, &deadline)
                    .await
                    .map_err(|e| from_object_store(op, path, None, e))
            },
        )
        .await
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let op = Operation::Head;
        let location = self.prefix.object_path(op, path)?;
        self.head_location(op, path, &location).await
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let op = Operation::Exists;
        let location = self.prefix.object_path(op, path)?;
        match self.head_location(op, path, &location).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        let op = Operation::Write;
        let location = &self.prefix.object_path(op, path)?;
        let put_mode = &match &mode {
            WriteMode::Overwrite => PutMode::Overwrite,
            WriteMode::Create => PutMode::Create,
            WriteMode::Update(token) => match decode_version(token) {
                Some(version) => PutMode::Update(version),
                None => {
                    return Err(Error::Precondition {
                        op,
                        path: path.to_owned(),
                        expected: token.clone(),
                        source: Some("not a version token of this backend".into()),
                    })
                }
            },
        };
        let (data, mode) = (&data, &mode);
        let len = data.len() as u64;
        retry_write(
            &self.retry,
            self.limit(),
            op,
            path,
            len,
            |attempt, deadline| {
                self.put_once(attempt, path, location, data, mode, put_mode, deadline)
            },
        )
        .await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        let op = Operation::Writer;
        let location = self.prefix.object_path(op, path)?;
        let writer = ObjectWriter::new(self, location, path.to_owned());
        Ok(Box::new(writer))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let op = Operation::Delete;
        let location = &self.prefix.object_path(op, path)?;
        retry(&self.retry, self.limit(), op, path, |_| async move {
            match store_delete(self.store.as_ref(), location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(from_object_store(op, path, None, e)),
            }
        })
        .await
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        self.list_after(prefix, &ListOptions::default())
    }

    async fn sync(&self, path: &str) -> Result<()> {
        self.prefix.object_path(Operation::Sync, path)?;
        Ok(())
    }

    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        self.read_with_get(path, options).await
    }

    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        self.list_after(prefix, &options)
    }

    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        self.list_level(prefix).await
    }

    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        self.delete_batch(paths).await
    }

    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        self.copy_server_side(Operation::Copy, from, to, &mode)
            .await
    }

    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        self.rename_by_copy(from, to, &mode).await
    }

    async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
        self.prefix.object_path(Operation::Append, path)?;
        Err(crate::storage::emulated::appends_not_supported(
            path,
            "ObjectStorage over object_store 0.14",
        ))
    }
}
