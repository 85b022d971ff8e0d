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

use std::collections::HashMap;
use std::fs::File;
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

/// The handle cache; `capacity == 0` disables it.
#[derive(Debug)]
pub(crate) struct HandleCache {
    capacity: usize,
    state: Mutex<State>,
}

impl HandleCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every update is a single insert or remove), so poisoning is moot.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached handle for `key`, or `None` together with the epoch to
    /// pass to [`insert`](Self::insert) after opening the file.
    pub(crate) fn get(&self, key: &str) -> Result<Handle, u64> {
        let mut state = self.lock();
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

    /// Caches `handle` for `key` unless an invalidation ran since `epoch`.
    pub(crate) fn insert(&self, key: &str, handle: Handle, epoch: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut state = self.lock();
        if state.epoch != epoch {
            return;
        }
        if state.entries.len() >= self.capacity && !state.entries.contains_key(key) {
            // O(capacity), only on a miss with a full cache.
            let oldest = state
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                state.entries.remove(&oldest);
            }
        }
        state.clock += 1;
        let last_used = state.clock;
        state
            .entries
            .insert(key.to_owned(), Entry { handle, last_used });
    }

    /// Forgets `key` (its file was replaced or removed).
    pub(crate) fn invalidate(&self, key: &str) {
        let mut state = self.lock();
        state.epoch += 1;
        state.entries.remove(key);
    }

    /// How many handles are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
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
}
