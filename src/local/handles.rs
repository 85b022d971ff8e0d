//! A bounded cache of open read handles, so reads do not open the file on
//! every call.
//!
//! Entries are invalidated when this storage publishes or deletes the key,
//! before the rename (or unlink) and again after it ([`HandleCache::replacing`]);
//! in between nothing is cached for the key's shard, so a read that misses
//! opens the file afresh. A reader that opened a file while an invalidation
//! ran does not insert its (possibly stale) handle: every invalidation bumps
//! its shard's epoch, and an insert only happens if the epoch is the one seen before
//! the open. Changes made by
//! other processes are not seen through a cached handle until it is evicted
//! (a cached handle still reads one whole version: files are replaced by
//! rename, never rewritten in place).
//!
//! Reads on the tokio workers go through a small per-thread copy of the
//! cache ([`HandleCache::with_local`]): two workers reading one hot file
//! would otherwise bounce the shard's lock and the handle's reference count
//! between their cores on every read, which costs about as much as the
//! read itself. A per-thread entry is valid while the cache's generation
//! (bumped by every invalidation and eviction) is unchanged, so a read that
//! starts after a write returned never sees the old file. Each thread keeps
//! at most [`LOCAL_CAPACITY`] handles; they hold their files open until the
//! thread next reads from this storage (or fills up), so up to that many
//! descriptors per worker thread may outlive their eviction.
//!
//! The last copy of a handle is often dropped on a tokio worker (a thread's
//! copies are cleared there). Closing a file can block on some filesystems
//! (NFS flushes, FUSE round trips), so [`HandleFile`] closes on the blocking
//! pool whenever it is dropped on a runtime thread that is not running a
//! blocking task of this crate.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rustix::fs::Stat;

/// Tells the kernel that `file` is read at random, so that a read fetches
/// what it asks and no readahead (see
/// [`LocalStorageBuilder::readahead`](super::LocalStorageBuilder::readahead)).
/// Advice only: a filesystem that ignores it reads as before.
pub(crate) fn advise_random(file: &File) {
    let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::Random);
}

/// An open file, the size it had when opened, and its `fstat` at open.
///
/// The stat stays the file's own: objects are replaced by rename, never
/// rewritten in place, so the version taken from it is the version of
/// every byte read through this handle (what `read_with` pairs).
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub(crate) file: Arc<HandleFile>,
    pub(crate) size: u64,
    pub(crate) stat: Stat,
}

impl Handle {
    pub(crate) fn new(file: File, size: u64, stat: Stat) -> Handle {
        Handle {
            file: Arc::new(HandleFile(Some(file))),
            size,
            stat,
        }
    }
}

/// A cached file, closed on the blocking pool (see the module docs).
#[derive(Debug)]
pub(crate) struct HandleFile(Option<File>);

impl std::ops::Deref for HandleFile {
    type Target = File;

    fn deref(&self) -> &File {
        // `Some` until dropped.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl Drop for HandleFile {
    fn drop(&mut self) {
        let Some(file) = self.0.take() else { return };
        if !ON_BLOCKING_TASK.get() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                // If the runtime is shutting down the closure is dropped
                // unrun, which closes the file there: no worker is left.
                drop(runtime.spawn_blocking(move || on_blocking_task(|| close(file))));
                return;
            }
        }
        close(file);
    }
}

fn close(file: File) {
    #[cfg(test)]
    close_log::record(&file);
    drop(file);
}

thread_local! {
    /// Set while this thread runs a blocking-pool task of this crate.
    static ON_BLOCKING_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` marked as a blocking-pool task: handles dropped in it close
/// inline. Every blocking task of the local backend runs through this.
pub(crate) fn on_blocking_task<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_BLOCKING_TASK.set(self.0);
        }
    }
    let _reset = Reset(ON_BLOCKING_TASK.replace(true));
    f()
}

/// Where each file was closed, for the tests.
#[cfg(test)]
pub(crate) mod close_log {
    use std::fs::File;
    use std::sync::Mutex;

    /// (inode, closed on a runtime thread outside a blocking task).
    static LOG: Mutex<Vec<(u64, bool)>> = Mutex::new(Vec::new());
    static CLOSED: tokio::sync::Notify = tokio::sync::Notify::const_new();

    pub(super) fn record(file: &File) {
        use std::os::unix::fs::MetadataExt;
        let on_worker =
            !super::ON_BLOCKING_TASK.get() && tokio::runtime::Handle::try_current().is_ok();
        if let Ok(meta) = file.metadata() {
            LOG.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((meta.ino(), on_worker));
        }
        CLOSED.notify_waiters();
    }

    /// Forgets closes of inode `ino` (inode numbers are reused).
    pub(crate) fn forget(ino: u64) {
        LOG.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(i, _)| *i != ino);
    }

    /// Waits until the file with inode `ino` was closed; whether that was
    /// on a worker.
    pub(crate) async fn closed_on_worker(ino: u64) -> bool {
        loop {
            let notified = CLOSED.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = LOG
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|(i, _)| *i == ino)
                .map(|(_, on_worker)| *on_worker);
            if let Some(on_worker) = found {
                return on_worker;
            }
            notified.await;
        }
    }
}

#[derive(Debug)]
struct Entry {
    handle: Handle,
    last_used: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Guards inserts into this shard: bumped by every invalidation, so a
    /// handle opened before one (maybe of the old file) is not cached.
    shard_epoch: u64,
    /// Keys of this shard being replaced or removed right now: no handle is
    /// cached while any is.
    replacing: u32,
    /// Logical clock for least-recently-used eviction.
    clock: u64,
}

/// Capacity from which the cache is split into [`SHARDS`] independently
/// locked shards (below it, one shard keeps eviction exactly LRU).
const SHARDED_FROM: usize = 256;

/// Shards of a large cache, so that concurrent reads on different keys
/// rarely meet on one lock (reads look handles up on the tokio workers).
const SHARDS: usize = 16;

/// Handles one thread keeps, over all storages.
pub(crate) const LOCAL_CAPACITY: usize = 64;

/// Per-thread hits between two refreshes of the shared entry's recency.
const TOUCH_EVERY: u32 = 64;

/// Source of [`HandleCache`] ids, never reused (unlike addresses).
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Default)]
struct LocalEntries {
    /// The cache's [`thread_cache_generation`](HandleCache::thread_cache_generation)
    /// these handles were copied at.
    thread_cache_generation: u64,
    handles: HashMap<Box<str>, (Handle, u32)>,
}

/// One thread's copies, by cache id.
#[derive(Default)]
struct LocalHandles {
    caches: HashMap<u64, LocalEntries>,
    len: usize,
}

thread_local! {
    static LOCAL: RefCell<LocalHandles> = RefCell::new(LocalHandles::default());
}

/// One independently locked part of the cache, with its share of the bound.
#[derive(Debug)]
struct Shard {
    capacity: usize,
    state: Mutex<State>,
}

/// The handle cache; `capacity == 0` disables it. A large cache is split
/// into shards by a hash of the key, each bounded by its share of the
/// capacity and evicting its own least recently used entry; the total never
/// exceeds `capacity`.
#[derive(Debug)]
pub(crate) struct HandleCache {
    id: u64,
    /// Guards the per-thread copies: bumped (under the shard's lock, after
    /// the change) by every invalidation and eviction, so copies taken
    /// before are stale.
    thread_cache_generation: AtomicU64,
    capacity: usize,
    shards: Vec<Shard>,
}

impl HandleCache {
    pub(crate) fn new(capacity: usize) -> Self {
        let count = if capacity >= SHARDED_FROM { SHARDS } else { 1 };
        let shards = (0..count)
            .map(|i| Shard {
                // Shares that sum to `capacity` exactly.
                capacity: capacity / count + usize::from(i < capacity % count),
                state: Mutex::new(State::default()),
            })
            .collect();
        Self {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            thread_cache_generation: AtomicU64::new(0),
            capacity,
            shards,
        }
    }

    /// Runs `f` on the cached handle of `key`, from this thread's copy of
    /// the cache where it is current (no shared memory written), else from
    /// the shared cache (copying it here). `None` on a miss: nothing is
    /// opened. Never blocks on I/O: meant for the tokio workers.
    pub(crate) fn with_local<R>(&self, key: &str, f: impl FnOnce(&Handle) -> R) -> Option<R> {
        let thread_cache_generation = self.thread_cache_generation.load(Ordering::Acquire);
        LOCAL.with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                // Re-entered from `f` (it does not); use the shared cache.
                return self.get(key).ok().map(|handle| f(&handle));
            };
            let local = &mut *local;
            let entries = local.caches.entry(self.id).or_default();
            if entries.thread_cache_generation != thread_cache_generation {
                local.len -= entries.handles.len();
                entries.handles.clear();
                entries.thread_cache_generation = thread_cache_generation;
            }
            if let Some((handle, hits)) = entries.handles.get_mut(key) {
                *hits = hits.wrapping_add(1);
                if *hits % TOUCH_EVERY == 0 {
                    // Keep the shared entry recent, so eviction still
                    // follows use.
                    let _ = self.get(key);
                }
                return Some(f(handle));
            }
            let handle = self.get(key).ok()?;
            if local.len >= LOCAL_CAPACITY {
                // Also drops copies of storages that are gone.
                local.caches.clear();
                local.len = 0;
            }
            let entries = local.caches.entry(self.id).or_default();
            entries.thread_cache_generation = thread_cache_generation;
            let out = f(&handle);
            entries.handles.insert(key.into(), (handle, 0));
            local.len += 1;
            Some(out)
        })
    }

    fn shard(&self, key: &str) -> &Shard {
        let index = if self.shards.len() == 1 {
            0
        } else {
            let mut hasher = DefaultHasher::new();
            key.hash(&mut hasher);
            let len = self.shards.len() as u64;
            usize::try_from(hasher.finish() % len).unwrap_or(0)
        };
        &self.shards[index]
    }

    /// The cached handle for `key`, or `None` together with the shard epoch to
    /// pass to [`insert`](Self::insert) after opening the file. Cheap and
    /// never blocks on I/O: safe on a tokio worker.
    pub(crate) fn get(&self, key: &str) -> Result<Handle, u64> {
        let mut state = self.shard(key).lock();
        state.clock += 1;
        let now = state.clock;
        match state.entries.get_mut(key) {
            Some(entry) => {
                entry.last_used = now;
                Ok(entry.handle.clone())
            }
            None => Err(state.shard_epoch),
        }
    }

    /// Caches `handle` for `key` unless an invalidation of the key's shard
    /// ran since `shard_epoch`.
    pub(crate) fn insert(&self, key: &str, handle: Handle, shard_epoch: u64) {
        if self.capacity == 0 {
            return;
        }
        let shard = self.shard(key);
        let evicted = {
            let mut state = shard.lock();
            if state.shard_epoch != shard_epoch || state.replacing > 0 {
                return;
            }
            let mut evicted = None;
            if state.entries.len() >= shard.capacity && !state.entries.contains_key(key) {
                // O(shard capacity), only on a miss with a full shard.
                let oldest = state
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.last_used)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    evicted = state.entries.remove(&oldest);
                    self.thread_cache_generation.fetch_add(1, Ordering::Release);
                }
            }
            state.clock += 1;
            let last_used = state.clock;
            state
                .entries
                .insert(key.to_owned(), Entry { handle, last_used });
            evicted
        };
        // Closing a file (the last reference) happens outside the lock.
        drop(evicted);
    }

    /// Forgets `key` now and again when the guard drops, and caches nothing
    /// for its shard in between: hold it across the rename or unlink that
    /// replaces or removes the file. Forgetting only afterwards would leave
    /// a window in which a reader whose `head` already saw the new file
    /// still got the old one from the cache (and `read_with` built from
    /// `head` and a read would pair one version's bytes with another's).
    pub(crate) fn replacing<'a>(&'a self, key: &'a str) -> Replacing<'a> {
        self.forget(key, |state| state.replacing += 1);
        Replacing { cache: self, key }
    }

    /// Forgets `key`'s handle now: for a change that needs no guard (a
    /// failed `Update` that saw another file, a file grown by an appender).
    pub(crate) fn invalidate(&self, key: &str) {
        self.forget(key, |_| {});
    }

    /// Drops `key`'s entry after `change`, bumping the shard's epoch and the
    /// cache's generation.
    fn forget(&self, key: &str, change: impl FnOnce(&mut State)) {
        let removed = {
            let mut state = self.shard(key).lock();
            change(&mut state);
            state.shard_epoch += 1;
            let removed = state.entries.remove(key);
            self.thread_cache_generation.fetch_add(1, Ordering::Release);
            removed
        };
        drop(removed);
    }

    /// How many handles are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
    }
}

/// A key being replaced or removed; see [`HandleCache::replacing`].
#[must_use = "the key counts as replaced until the guard drops"]
pub(crate) struct Replacing<'a> {
    cache: &'a HandleCache,
    key: &'a str,
}

impl Drop for Replacing<'_> {
    fn drop(&mut self) {
        self.cache.forget(self.key, |state| {
            state.replacing = state.replacing.saturating_sub(1);
        });
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every update is a single insert or remove), so poisoning is moot.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> Handle {
        let file = tempfile::tempfile().expect("temp file");
        let stat = rustix::fs::fstat(&file).expect("fstat");
        Handle::new(file, 0, stat)
    }

    #[test]
    fn bounded_and_lru() {
        let cache = HandleCache::new(2);
        for key in ["a", "b"] {
            let shard_epoch = cache.get(key).expect_err("miss");
            cache.insert(key, handle(), shard_epoch);
        }
        assert!(cache.get("a").is_ok()); // "b" is now the oldest
        let shard_epoch = cache.get("c").expect_err("miss");
        cache.insert("c", handle(), shard_epoch);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a").is_ok());
        assert!(cache.get("b").is_err());
        assert!(cache.get("c").is_ok());
    }

    #[test]
    fn invalidation_blocks_stale_insert() {
        let cache = HandleCache::new(8);
        let shard_epoch = cache.get("k").expect_err("miss");
        drop(cache.replacing("k"));
        cache.insert("k", handle(), shard_epoch);
        assert!(
            cache.get("k").is_err(),
            "a handle opened before an invalidation must not be cached"
        );
    }

    #[test]
    fn nothing_is_cached_while_a_key_is_replaced() {
        let cache = HandleCache::new(8);
        let replacing = cache.replacing("k");
        // A reader opens the old file after the first invalidation, before
        // the rename: its handle must not be served once the rename is done.
        let shard_epoch = cache.get("k").expect_err("miss");
        cache.insert("k", handle(), shard_epoch);
        // (the rename happens here)
        assert!(
            cache.get("k").is_err(),
            "a handle opened while the key was being replaced was cached"
        );
        drop(replacing);
        let shard_epoch = cache.get("k").expect_err("miss");
        cache.insert("k", handle(), shard_epoch);
        assert!(
            cache.get("k").is_ok(),
            "caching resumes after the replacement"
        );
    }

    #[test]
    fn thread_copies_follow_invalidation() {
        let cache = HandleCache::new(8);
        assert_eq!(
            cache.with_local("k", |h| h.size),
            None,
            "a miss opens nothing"
        );
        let shard_epoch = cache.get("k").expect_err("miss");
        let mut first = handle();
        first.size = 1;
        cache.insert("k", first, shard_epoch);
        assert_eq!(cache.with_local("k", |h| h.size), Some(1));
        assert_eq!(cache.with_local("k", |h| h.size), Some(1), "from the copy");
        drop(cache.replacing("k"));
        assert_eq!(cache.with_local("k", |h| h.size), None, "the copy is stale");
        let shard_epoch = cache.get("k").expect_err("miss");
        let mut second = handle();
        second.size = 2;
        cache.insert("k", second, shard_epoch);
        assert_eq!(cache.with_local("k", |h| h.size), Some(2));
    }

    #[test]
    fn sharded_cache_stays_bounded() {
        let cache = HandleCache::new(300);
        assert_eq!(cache.shards.len(), SHARDS);
        assert_eq!(cache.shards.iter().map(|s| s.capacity).sum::<usize>(), 300);
        let shared = handle();
        for i in 0..1000 {
            let key = format!("k{i}");
            let shard_epoch = cache.get(&key).expect_err("miss");
            cache.insert(&key, shared.clone(), shard_epoch);
        }
        assert!(cache.len() <= 300);
        assert!(cache.len() >= 300 - SHARDS);
        assert!(cache.get("k999").is_ok(), "the newest entry is kept");
    }

    /// The last copy of a handle, dropped on a worker (a thread's copies
    /// are cleared after an invalidation), is closed on the blocking pool.
    #[test]
    fn last_copy_closes_off_the_workers() -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()?;
        // Named, so that its inode number is not reused while the test runs.
        let named = tempfile::NamedTempFile::new()?;
        let file = named.reopen()?;
        let ino = file.metadata()?.ino();
        close_log::forget(ino);
        let cache = Arc::new(HandleCache::new(8));
        let shard_epoch = cache.get("k").expect_err("miss");
        let stat = rustix::fs::fstat(&file)?;
        cache.insert("k", Handle::new(file, 3, stat), shard_epoch);
        let on_worker = runtime.block_on(async move {
            let worker = cache.clone();
            tokio::spawn(async move {
                assert_eq!(worker.with_local("k", |h| h.size), Some(3));
                worker.invalidate("k"); // the shared entry goes
                assert_eq!(worker.with_local("k", |h| h.size), None); // and the copy
            })
            .await
            .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(close_log::closed_on_worker(ino).await)
        })?;
        assert!(!on_worker, "a cached file was closed on a tokio worker");
        drop(named);
        Ok(())
    }
}
