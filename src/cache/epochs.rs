//! How [`Cached`](super::Cached) stays correct under its own writes: one
//! [`KeyEntry`] per key (its size, version and epoch; blocks are keyed by
//! the epoch, so invalidating an entry orphans its blocks), and the
//! [`Registry`] of writes in progress, heads in flight and keys whose
//! dropped writes may still land (tainted).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use quick_cache::{Lifecycle, Weighter};

use crate::storage::ObjectMeta;

use super::{BLOCK_OVERHEAD, DEFAULT_META_ENTRIES, MAX_TAINTED_KEYS};

/// Blocks are keyed by `(epoch, block index)`.
pub(super) type BlockKey = (u64, u64);

/// Source of epochs (and head tokens), unique in the process: a disk tier
/// outlives the memory cache it serves when that is rebuilt
/// (`with_capacity`, `with_block_size`), and its file names must never
/// meet an epoch twice.
pub(super) static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

#[derive(Clone)]
pub(super) struct BlockWeighter;

impl Weighter<BlockKey, Bytes> for BlockWeighter {
    fn weight(&self, _key: &BlockKey, block: &Bytes) -> u64 {
        block.len() as u64 + BLOCK_OVERHEAD
    }
}

/// What the cache knows of one key.
#[derive(Debug)]
pub(super) struct KeyEntry {
    /// Unique for the life of the cache; blocks are cached under it.
    pub(super) epoch: u64,
    pub(super) meta: ObjectMeta,
    /// Cleared when the key is written or deleted, or the entry evicted.
    pub(super) valid: AtomicBool,
}

impl KeyEntry {
    pub(super) fn is_valid(&self) -> bool {
        self.valid.load(Ordering::Acquire)
    }

    pub(super) fn invalidate(&self) {
        self.valid.store(false, Ordering::Release);
    }
}

/// Marks an evicted metadata entry invalid, so a read still using it
/// starts again instead of trusting an entry no write can reach.
#[derive(Clone, Default)]
pub(super) struct InvalidateOnEvict;

impl Lifecycle<String, Arc<KeyEntry>> for InvalidateOnEvict {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: String, entry: Arc<KeyEntry>) {
        entry.invalidate();
    }
}

pub(super) type BlockCache = quick_cache::sync::Cache<BlockKey, Bytes, BlockWeighter>;
pub(super) type EntryCache = quick_cache::sync::Cache<
    String,
    Arc<KeyEntry>,
    quick_cache::UnitWeighter,
    quick_cache::DefaultHashBuilder,
    InvalidateOnEvict,
>;

/// Keys being written, and heads in flight that may still become entries.
#[derive(Default)]
pub(super) struct Registry {
    /// Writes (and deletes) in progress per key.
    pub(super) busy: HashMap<String, usize>,
    /// Tokens of heads in flight per key; a write clears them.
    pub(super) pending: HashMap<String, Vec<u64>>,
    /// Keys whose write was dropped mid-way (it may still land): read
    /// around the cache until [`Cached::invalidate`]. At most
    /// [`MAX_TAINTED_KEYS`]; one more sets `all_tainted` instead.
    pub(super) tainted: HashSet<String>,
    /// More keys were tainted than the set holds: every key is read
    /// around the cache until [`Cached::invalidate_all`].
    pub(super) all_tainted: bool,
}

impl Registry {
    /// Marks `path` as written by a dropped write, within the bound.
    pub(super) fn taint(&mut self, path: &str) {
        if self.all_tainted || self.tainted.contains(path) {
            return;
        }
        if self.tainted.len() >= MAX_TAINTED_KEYS {
            // Forgetting a tainted key could serve a stale entry once its
            // write lands; tainting everything cannot, and frees the set.
            self.tainted = HashSet::new();
            self.all_tainted = true;
            return;
        }
        self.tainted.insert(path.to_owned());
    }

    pub(super) fn is_tainted(&self, path: &str) -> bool {
        self.all_tainted || self.tainted.contains(path)
    }
}

/// The state shared by a [`Cached`] and its writers.
pub(super) struct CacheState {
    pub(super) blocks: BlockCache,
    pub(super) entries: EntryCache,
    pub(super) registry: Mutex<Registry>,
    /// Blocks fetched from the inner storage.
    pub(super) fetched: AtomicU64,
}

impl CacheState {
    pub(super) fn new(capacity: u64, block_size: u64) -> Self {
        let estimated_blocks = (capacity / block_size.max(1)).clamp(16, 1 << 24) as usize;
        Self {
            blocks: BlockCache::with_weighter(estimated_blocks, capacity, BlockWeighter),
            entries: EntryCache::with(
                DEFAULT_META_ENTRIES,
                DEFAULT_META_ENTRIES as u64,
                quick_cache::UnitWeighter,
                quick_cache::DefaultHashBuilder::default(),
                InvalidateOnEvict,
            ),
            registry: Mutex::new(Registry::default()),
            fetched: AtomicU64::new(0),
        }
    }

    pub(super) fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets `path` under the registry lock: heads in flight will not
    /// become entries, and readers of the old entry start again.
    pub(super) fn forget(&self, registry: &mut Registry, path: &str) {
        registry.pending.remove(path);
        if let Some((_, entry)) = self.entries.remove(path) {
            entry.invalidate();
        }
    }

    /// Before a write of `path` reaches the inner storage; the guard ends
    /// it.
    pub(super) fn begin_write<'a>(self: &'a Arc<Self>, path: &'a str) -> WriteGuard<'a> {
        let mut registry = self.registry();
        *registry.busy.entry(path.to_owned()).or_insert(0) += 1;
        self.forget(&mut registry, path);
        WriteGuard {
            shared: self,
            path,
            ended: false,
        }
    }

    /// After a write of `path` ended, whatever its outcome (a failed write
    /// may still have landed). A write whose future was dropped may land
    /// later still: its key stays uncached until [`Cached::invalidate`].
    pub(super) fn end_write(&self, path: &str, cancelled: bool) {
        let mut registry = self.registry();
        if let Some(count) = registry.busy.get_mut(path) {
            *count -= 1;
            if *count == 0 {
                registry.busy.remove(path);
            }
        }
        if cancelled {
            registry.taint(path);
        }
        self.forget(&mut registry, path);
    }
}

/// Ends a write in the registry, also when its future is dropped.
pub(super) struct WriteGuard<'a> {
    pub(super) shared: &'a CacheState,
    pub(super) path: &'a str,
    pub(super) ended: bool,
}

impl WriteGuard<'_> {
    pub(super) fn end(mut self) {
        self.ended = true;
        self.shared.end_write(self.path, false);
    }

    /// Leaves the write in progress: whoever takes it over (an appender)
    /// calls `end_write` when it ends.
    pub(super) fn hand_over(mut self) {
        self.ended = true;
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.end_write(self.path, true);
        }
    }
}
