//! A bounded cache of open read handles, so reads do not open the file on
//! every call.
//!
//! Entries are invalidated when this storage publishes or deletes the key.
//! A reader that opened a file while an invalidation ran does not insert its
//! (possibly stale) handle: every invalidation bumps an epoch, and an insert
//! only happens if the epoch is the one seen before the open. Changes made by
//! other processes are not seen through a cached handle until it is evicted
//! (a cached handle still reads one whole version: files are replaced by
//! rename, never rewritten in place).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

/// An open file and the size it had when opened.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub(crate) file: Arc<File>,
    pub(crate) size: u64,
}

#[derive(Debug)]
struct Entry {
    handle: Handle,
    last_used: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Bumped by every invalidation.
    epoch: u64,
    /// Logical clock for least-recently-used eviction.
    clock: u64,
}

/// Capacity from which the cache is split into [`SHARDS`] independently
/// locked shards (below it, one shard keeps eviction exactly LRU).
const SHARDED_FROM: usize = 256;

/// Shards of a large cache, so that concurrent reads on different keys
/// rarely meet on one lock (reads look handles up on the tokio workers).
const SHARDS: usize = 16;

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
        Self { capacity, shards }
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

    /// The cached handle for `key`, or `None` together with the epoch to
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
            None => Err(state.epoch),
        }
    }

    /// Caches `handle` for `key` unless an invalidation of the key's shard
    /// ran since `epoch`.
    pub(crate) fn insert(&self, key: &str, handle: Handle, epoch: u64) {
        if self.capacity == 0 {
            return;
        }
        let shard = self.shard(key);
        let evicted = {
            let mut state = shard.lock();
            if state.epoch != epoch {
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

    /// Forgets `key` (its file was replaced or removed).
    pub(crate) fn invalidate(&self, key: &str) {
        let removed = {
            let mut state = self.shard(key).lock();
            state.epoch += 1;
            state.entries.remove(key)
        };
        drop(removed);
    }

    /// How many handles are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
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
        Handle {
            file: Arc::new(file),
            size: 0,
        }
    }

    #[test]
    fn bounded_and_lru() {
        let cache = HandleCache::new(2);
        for key in ["a", "b"] {
            let epoch = cache.get(key).expect_err("miss");
            cache.insert(key, handle(), epoch);
        }
        assert!(cache.get("a").is_ok()); // "b" is now the oldest
        let epoch = cache.get("c").expect_err("miss");
        cache.insert("c", handle(), epoch);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a").is_ok());
        assert!(cache.get("b").is_err());
        assert!(cache.get("c").is_ok());
    }

    #[test]
    fn invalidation_blocks_stale_insert() {
        let cache = HandleCache::new(8);
        let epoch = cache.get("k").expect_err("miss");
        cache.invalidate("k");
        cache.insert("k", handle(), epoch);
        assert!(
            cache.get("k").is_err(),
            "a handle opened before an invalidation must not be cached"
        );
    }

    #[test]
    fn sharded_cache_stays_bounded() {
        let cache = HandleCache::new(300);
        assert_eq!(cache.shards.len(), SHARDS);
        assert_eq!(cache.shards.iter().map(|s| s.capacity).sum::<usize>(), 300);
        let file = Arc::new(tempfile::tempfile().expect("temp file"));
        for i in 0..1000 {
            let key = format!("k{i}");
            let epoch = cache.get(&key).expect_err("miss");
            let handle = Handle {
                file: file.clone(),
                size: 0,
            };
            cache.insert(&key, handle, epoch);
        }
        assert!(cache.len() <= 300);
        assert!(cache.len() >= 300 - SHARDS);
        assert!(cache.get("k999").is_ok(), "the newest entry is kept");
    }
}
