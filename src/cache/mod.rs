//! [`Cached`]: a read cache of aligned blocks in memory, for SSTables kept
//! in object storage.
//!
//! # Where it sits
//!
//! Directly above the backend it saves requests to, and above its retry
//! layer (which is inside `ObjectStorage`), so that a hit costs no request
//! and a miss is one retried request:
//!
//! ```text
//! engine ─► Cached<ObjectStorage> ─► retry loop ─► object_store client
//! ```
//!
//! Wrappers that count calls (metrics) go above it to count what the engine
//! asked for, or below it to count what reached the store.
//!
//! # What it caches
//!
//! * **Blocks**: the object cut into aligned blocks of `block_size` bytes
//!   (64 KiB by default; the last block is shorter). A read is served from
//!   the blocks it covers; the missing ones are fetched with one
//!   `read_ranges` call on the inner storage. The cache is bounded by the
//!   bytes it holds (plus a fixed per-block overhead), and evicts with
//!   quick_cache's CLOCK-Pro-like policy.
//! * **Metadata**: the result of `head`, fetched once per key (a read needs
//!   the object's size to align its last block), and served by `head` and
//!   `exists` too.
//!
//! Why 64 KiB blocks: SSTable data blocks are 4–64 KiB and index and filter
//! blocks are read whole; on an object store the first byte costs most of
//! a request's time, so a 64 KiB GET costs about what a 4 KiB one does,
//! while 1 MiB blocks would make every point read occupy 1 MiB of cache.
//!
//! # Concurrency and invalidation
//!
//! * **One fetch per block**: concurrent misses of one block wait for the
//!   first reader's fetch (quick_cache's placeholder guards) instead of
//!   fetching it again. A reader first fetches the blocks it claimed, and
//!   only then waits for blocks others are fetching, so two readers never
//!   wait for each other.
//! * **Epochs**: each key's metadata entry carries an epoch, unique for the
//!   life of the cache, and blocks are cached under `(epoch, index)`. This
//!   storage's own `write`, `write_with`, `writer().finish()` and `delete`
//!   mark the key's entry invalid before the inner call starts and again
//!   after it ends, and reads of the key bypass the cache while it is in
//!   progress; an appender holds its key in that state while it lives
//!   (`src/cache/appender.rs`), so a growing object is never cached. A
//!   read checks at its end that the entry it used is still
//!   valid, and starts again otherwise. So a fetch that started before a
//!   write can only fill blocks of a dead epoch, never serve them, and a
//!   read never mixes blocks of two versions.
//! * **Writes by others** (another process, another `Cached` over the same
//!   store) are not seen until the key's entries are evicted: the cache is
//!   meant for immutable objects such as SSTables, which are written once
//!   under a fresh name. Do not cache keys that others overwrite (a
//!   manifest, `CURRENT`); read them from the inner storage
//!   ([`get_ref`](Cached::get_ref)).
//!
//! # Memory
//!
//! Fetched blocks are copied into their own allocation, so a block never
//! keeps alive the larger buffer that a coalesced `read_ranges` returned.
//! A read shorter than `copy_threshold` (16 KiB by default) is copied out
//! of its block, so a small result never pins a whole block after the
//! block is evicted; a longer read within one block is a zero-copy slice.
//!
//! # A local-disk tier
//!
//! [`with_disk_tier`](Cached::with_disk_tier) adds a bounded directory of
//! block files below the memory cache, for data larger than memory: blocks
//! fetched from the inner storage are also written there (in the
//! background, on the blocking pool), and a block missing from memory is
//! read from its file before it is fetched again. The tier is disposable:
//! it lives in a directory of its own, removed when the cache is dropped
//! (or by the next tier under the same parent, after a crash), and its
//! files are named by the same `(epoch, index)` as the memory blocks, so
//! invalidation covers both tiers alike. One line makes the setup of an
//! engine that keeps cold SSTables in object storage and the hot ones'
//! blocks on local disk:
//!
//! ```no_run
//! # async fn f(remote: seerstore::ObjectStorage) -> seerstore::Result<()> {
//! let storage = seerstore::Cached::new(remote).with_disk_tier("/var/cache/db", 20 << 30).await?;
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Operation, Result};
use crate::path::validate_path;

mod appender;
mod blocks;
mod disk;
mod epochs;
mod writer;
use crate::storage::{
    check_order, ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, Storage,
    StorageAppender, StorageWriter, WriteMode,
};
use disk::DiskTier;
use epochs::{BlockKey, CacheState, KeyEntry, WriteGuard, NEXT_EPOCH};
use writer::CachedWriter;

/// Default block size: 64 KiB.
pub const DEFAULT_BLOCK_SIZE: u64 = 64 * 1024;
/// Default capacity: 256 MiB of blocks.
pub const DEFAULT_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;
/// Default size below which a read is copied out of its block: 16 KiB.
pub const DEFAULT_COPY_THRESHOLD: usize = 16 * 1024;
/// Metadata entries kept (one per key).
const DEFAULT_META_ENTRIES: usize = 64 * 1024;
/// Bytes counted for each cached block besides its data.
const BLOCK_OVERHEAD: u64 = 64;
/// Keys whose dropped writes are tracked one by one (see
/// [`Cached::invalidate`]); beyond, every key is read around the cache.
const MAX_TAINTED_KEYS: usize = 1024;
/// Reads started again after a concurrent write before bypassing the cache.
const READ_ATTEMPTS: usize = 3;

/// A read cache of aligned blocks over any [`Storage`]; see the
/// [module docs](self) for where it belongs in a stack, and how it stays
/// correct under this storage's own writes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> seerstore::Result<()> {
/// use std::sync::Arc;
/// use seerstore::{Cached, ObjectStorage, Storage};
///
/// let remote = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
/// let storage = Cached::new(remote)
///     .with_capacity(64 << 20)   // 64 MiB of blocks
///     .with_block_size(64 << 10); // 64 KiB blocks
/// storage.write("L1/000042.sst", vec![7u8; 200_000].into()).await?;
/// let block = storage.read_range("L1/000042.sst", 70_000..74_096).await?; // a miss: fetched
/// let again = storage.read_range("L1/000042.sst", 70_000..74_096).await?; // a hit
/// assert_eq!(block, again);
/// assert!(storage.cached_bytes() >= 64 << 10);
/// # Ok(()) }
/// ```
pub struct Cached<S: Storage> {
    inner: S,
    shared: Arc<CacheState>,
    capacity: u64,
    block_size: u64,
    copy_threshold: usize,
    disk: Option<Arc<DiskTier>>,
}

impl<S: Storage> Cached<S> {
    /// Caches reads of `inner`: 256 MiB of 64 KiB blocks, reads under
    /// 16 KiB copied out of their block.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            shared: Arc::new(CacheState::new(DEFAULT_CAPACITY_BYTES, DEFAULT_BLOCK_SIZE)),
            capacity: DEFAULT_CAPACITY_BYTES,
            block_size: DEFAULT_BLOCK_SIZE,
            copy_threshold: DEFAULT_COPY_THRESHOLD,
            disk: None,
        }
    }

    /// Bounds the cached blocks to `bytes` (data plus 64 bytes per block).
    /// Starts with an empty cache.
    #[must_use]
    pub fn with_capacity(mut self, bytes: u64) -> Self {
        self.capacity = bytes;
        self.shared = Arc::new(CacheState::new(self.capacity, self.block_size));
        self
    }

    /// Sets the block size (at least 1 byte). Starts with an empty cache.
    #[must_use]
    pub fn with_block_size(mut self, bytes: u64) -> Self {
        self.block_size = bytes.max(1);
        self.shared = Arc::new(CacheState::new(self.capacity, self.block_size));
        self
    }

    /// Reads shorter than `bytes` are copied out of their block; longer
    /// reads inside one block share its memory.
    #[must_use]
    pub fn with_copy_threshold(mut self, bytes: usize) -> Self {
        self.copy_threshold = bytes;
        self
    }

    /// Adds a local-disk tier of at most `max_bytes` below the memory
    /// cache, in a new directory of its own under `dir` (created if
    /// missing): blocks fetched from the inner storage are also written
    /// there, and blocks missing from memory are read from there before
    /// they are fetched again. The tier's directory is removed when the
    /// cache is dropped; directories of tiers whose process died are
    /// removed here. Nothing else under `dir` is touched. See the
    /// [module docs](self#a-local-disk-tier).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be made or locked.
    pub async fn with_disk_tier(
        mut self,
        dir: impl AsRef<std::path::Path>,
        max_bytes: u64,
    ) -> Result<Self> {
        let parent = dir.as_ref().to_owned();
        let block_size = self.block_size;
        let tier = tokio::task::spawn_blocking(move || {
            DiskTier::open_blocking(&parent, max_bytes, block_size)
        })
        .await
        .map_err(|e| {
            Error::io(
                Operation::Open,
                dir.as_ref().display().to_string(),
                std::io::Error::other(e),
            )
        })??;
        self.disk = Some(Arc::new(tier));
        Ok(self)
    }

    /// The disk tier's own directory, if there is a tier.
    pub fn disk_tier_dir(&self) -> Option<&std::path::Path> {
        self.disk.as_deref().map(DiskTier::dir)
    }

    /// Bytes the disk tier's files weigh now (each rounded up to 4 KiB,
    /// plus 4 KiB), `0` without a tier.
    pub fn disk_bytes(&self) -> u64 {
        self.disk.as_deref().map_or(0, DiskTier::bytes)
    }

    /// Blocks read from the disk tier since it was made.
    pub fn disk_hits(&self) -> u64 {
        self.disk.as_deref().map_or(0, DiskTier::hits)
    }

    /// Waits until the disk tier's background writes that have started
    /// are done (at once without a tier). Useful in tests, and before
    /// reading [`disk_bytes`](Self::disk_bytes) as a settled figure.
    pub async fn settle(&self) {
        if let Some(disk) = &self.disk {
            disk.settle().await;
        }
    }

    /// The storage underneath (reads through it bypass the cache).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Gives the storage underneath back, dropping the cache.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Forgets what the cache holds of `path`, and reads it through the
    /// cache again if a dropped write had made it bypass the cache. Call it
    /// after a write that was cancelled (its future dropped) has ended, or
    /// after `path` was replaced behind this cache's back.
    ///
    /// The cache tracks at most 1,024 keys of dropped writes at once: one
    /// more, and it reads every key around itself (correct, uncached)
    /// until [`invalidate_all`](Self::invalidate_all), so that its memory
    /// stays bounded however many writes are dropped.
    pub fn invalidate(&self, path: &str) {
        let mut registry = self.shared.registry();
        registry.tainted.remove(path);
        self.shared.forget(&mut registry, path);
    }

    /// Forgets everything the cache holds (metadata and, through their
    /// epochs, blocks) and every key of a dropped write: call it once the
    /// dropped writes have ended, e.g. after more than
    /// [`invalidate`](Self::invalidate) tracks made the cache read around
    /// itself.
    pub fn invalidate_all(&self) {
        let mut registry = self.shared.registry();
        registry.tainted = HashSet::new();
        registry.all_tainted = false;
        registry.pending.clear();
        for (_, entry) in self.shared.entries.drain() {
            entry.invalidate();
        }
    }

    /// Bytes the cached blocks weigh now (data plus per-block overhead).
    pub fn cached_bytes(&self) -> u64 {
        self.shared.blocks.weight()
    }

    /// Blocks fetched from the inner storage since the cache was made (a
    /// counter kept off the hit path).
    pub fn blocks_fetched(&self) -> u64 {
        self.shared.fetched.load(Ordering::Relaxed)
    }
}

impl<S: Storage> fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .field("capacity", &self.capacity)
            .field("block_size", &self.block_size)
            .field("cached_bytes", &self.cached_bytes())
            .field("disk", &self.disk)
            .finish()
    }
}

impl<S: Storage> fmt::Display for Cached<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cached({} KiB blocks, {} MiB, over {:?})",
            self.block_size / 1024,
            self.capacity >> 20,
            self.inner
        )
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: Storage> Storage for Cached<S> {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        let op = Operation::ReadRange;
        validate_path(op, path)?;
        check_order(op, path, std::slice::from_ref(&range))?;
        let ranges = std::slice::from_ref(&range);
        match self.cached_ranges(op, path, ranges).await? {
            Some(mut out) => Ok(out.pop().unwrap_or_default()),
            None => self.inner.read_range(path, range).await,
        }
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let op = Operation::ReadRanges;
        validate_path(op, path)?;
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        check_order(op, path, ranges)?;
        match self.cached_ranges(op, path, ranges).await? {
            Some(out) => Ok(out),
            None => self.inner.read_ranges(path, ranges).await,
        }
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        let op = Operation::Read;
        validate_path(op, path)?;
        for _ in 0..READ_ATTEMPTS {
            let Some(entry) = self.entry(op, path).await? else {
                break;
            };
            let range = 0..entry.meta.size;
            let blocks = self
                .blocks(path, &entry, &self.indexes(std::slice::from_ref(&range)))
                .await?;
            if entry.is_valid() {
                return Ok(self.assemble(&range, &blocks));
            }
        }
        self.inner.read(path).await
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let op = Operation::Head;
        validate_path(op, path)?;
        match self.entry(op, path).await? {
            Some(entry) => Ok(entry.meta.clone()),
            None => self.inner.head(path).await,
        }
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        validate_path(Operation::Exists, path)?;
        if let Some(entry) = self.shared.entries.get(path) {
            if entry.is_valid() {
                return Ok(true);
            }
        }
        self.inner.exists(path).await
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        let guard = self.shared.begin_write(path);
        let result = self.inner.write(path, data).await;
        guard.end();
        result
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        let guard = self.shared.begin_write(path);
        let result = self.inner.write_with(path, data, mode).await;
        guard.end();
        result
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        let inner = self.inner.writer(path).await?;
        Ok(Box::new(CachedWriter {
            inner,
            path: path.to_owned(),
            shared: Arc::clone(&self.shared),
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let guard = self.shared.begin_write(path);
        let result = self.inner.delete(path).await;
        guard.end();
        result
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn sync(&self, path: &str) -> Result<()> {
        self.inner.sync(path).await
    }

    /// From the cache when the key is cached: the entry's metadata and the
    /// blocks of that same entry (blocks are keyed by the entry's epoch),
    /// so data and version always match. Conditions are checked against
    /// the entry; a key being written is read from the inner storage.
    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        let op = Operation::ReadWith;
        validate_path(op, path)?;
        if let Some(range) = &options.range {
            check_order(op, path, std::slice::from_ref(range))?;
        }
        for _ in 0..READ_ATTEMPTS {
            let Some(entry) = self.entry(op, path).await? else {
                break;
            };
            options.check_conditions(op, &entry.meta)?;
            let range = options.range_in(op, path, entry.meta.size)?;
            let blocks = self
                .blocks(path, &entry, &self.indexes(std::slice::from_ref(&range)))
                .await?;
            if entry.is_valid() {
                return Ok(ReadResult {
                    meta: entry.meta.clone(),
                    data: self.assemble(&range, &blocks),
                    range,
                });
            }
        }
        self.inner.read_with(path, options).await
    }

    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        self.inner.list_with(prefix, options)
    }

    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        self.inner.list_dir(prefix).await
    }

    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        let guards: Vec<WriteGuard<'_>> = paths
            .iter()
            .map(|path| self.shared.begin_write(path))
            .collect();
        let result = self.inner.delete_many(paths).await;
        guards.into_iter().for_each(WriteGuard::end);
        result
    }

    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        let guard = self.shared.begin_write(to);
        let result = self.inner.copy(from, to, mode).await;
        guard.end();
        result
    }

    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        let source = self.shared.begin_write(from);
        let target = self.shared.begin_write(to);
        let result = self.inner.rename(from, to, mode).await;
        target.end();
        source.end();
        result
    }

    /// The key is read around the cache while the appender lives (see
    /// `src/cache/appender.rs`): a cached size or block of a growing
    /// object would be stale after the next append.
    async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
        let guard = self.shared.begin_write(path);
        let inner = match self.inner.appender(path).await {
            Ok(inner) => inner,
            Err(e) => {
                guard.end();
                return Err(e);
            }
        };
        guard.hand_over();
        Ok(Arc::new(appender::CachedAppender {
            inner,
            path: path.to_owned(),
            shared: Arc::clone(&self.shared),
            finished: AtomicBool::new(false),
        }))
    }
}

#[cfg(test)]
mod tainted_tests {
    use super::*;

    /// Dropped writes of ever new keys keep the registry bounded; past the
    /// bound every key is read around the cache, until `invalidate_all`.
    #[tokio::test]
    async fn tainted_keys_stay_bounded() -> Result<()> {
        let remote = crate::ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
        let cache = Cached::new(remote);
        cache.write("hot", Bytes::from_static(b"hot")).await?;
        for i in 0..3 * MAX_TAINTED_KEYS {
            let path = format!("dropped/{i}");
            // A write whose future is dropped mid-way ends like this.
            drop(cache.shared.begin_write(&path));
        }
        {
            let registry = cache.shared.registry();
            assert!(
                registry.tainted.len() <= MAX_TAINTED_KEYS,
                "{} tainted keys kept",
                registry.tainted.len()
            );
            assert!(registry.is_tainted("dropped/0"));
            assert!(registry.is_tainted(&format!("dropped/{}", 3 * MAX_TAINTED_KEYS - 1)));
        }
        // Every key is now read around the cache: each read fetches.
        for _ in 0..2 {
            assert_eq!(cache.read("hot").await?, "hot");
        }
        assert_eq!(cache.blocks_fetched(), 0, "reads went around the cache");
        cache.invalidate_all();
        for _ in 0..2 {
            assert_eq!(cache.read("hot").await?, "hot");
        }
        assert_eq!(
            cache.blocks_fetched(),
            1,
            "cached again after invalidate_all"
        );
        Ok(())
    }
}
