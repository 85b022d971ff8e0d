//! Block fetch and assembly for [`Cached`]: the entry made from a `head`,
//! which blocks a read needs, one fetch per missing block for concurrent
//! misses (single flight, through the disk tier when there is one), and
//! the bytes of each range cut from its blocks.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quick_cache::sync::GuardResult;

use crate::error::{Operation, Result};
use crate::storage::{check_range, Storage};

use super::{BlockKey, Cached, KeyEntry, NEXT_EPOCH, READ_ATTEMPTS};

impl<S: Storage> Cached<S> {
    /// The key's valid entry, made from a `head` if needed; `None` when the
    /// key is being written (the caller bypasses the cache).
    pub(super) async fn entry(&self, op: Operation, path: &str) -> Result<Option<Arc<KeyEntry>>> {
        if let Some(entry) = self.shared.entries.get(path) {
            if entry.is_valid() {
                return Ok(Some(entry));
            }
        }
        let token = NEXT_EPOCH.fetch_add(1, Ordering::Relaxed);
        {
            let mut registry = self.shared.registry();
            if registry.busy.contains_key(path) || registry.is_tainted(path) {
                return Ok(None);
            }
            registry
                .pending
                .entry(path.to_owned())
                .or_default()
                .push(token);
        }
        let head = self.inner.head(path).await;
        let mut registry = self.shared.registry();
        let ours = match registry.pending.get_mut(path) {
            Some(tokens) => match tokens.iter().position(|t| *t == token) {
                Some(at) => {
                    tokens.swap_remove(at);
                    if tokens.is_empty() {
                        registry.pending.remove(path);
                    }
                    true
                }
                None => false,
            },
            None => false,
        };
        let meta = head.map_err(|e| e.relabel(op))?;
        if !ours {
            return Ok(None); // Written meanwhile: this head may be stale.
        }
        if let Some(entry) = self.shared.entries.get(path) {
            if entry.is_valid() {
                return Ok(Some(entry)); // Another reader's head won.
            }
        }
        let entry = Arc::new(KeyEntry {
            epoch: token,
            meta,
            valid: AtomicBool::new(true),
        });
        self.shared
            .entries
            .insert(path.to_owned(), Arc::clone(&entry));
        drop(registry);
        Ok(Some(entry))
    }

    /// The byte range of block `index` of an object of `size` bytes.
    pub(super) fn block_range(&self, index: u64, size: u64) -> Range<u64> {
        let start = index * self.block_size;
        start..(start + self.block_size).min(size)
    }

    /// The blocks `indexes` (sorted, distinct) of the entry's object:
    /// cached ones, then one `read_ranges` for those this call claims, then
    /// those other readers are fetching.
    pub(super) async fn blocks(
        &self,
        path: &str,
        entry: &KeyEntry,
        indexes: &[u64],
    ) -> Result<BTreeMap<u64, Bytes>> {
        let size = entry.meta.size;
        let mut found = BTreeMap::new();
        let mut claimed = Vec::new();
        let mut others = Vec::new();
        for &index in indexes {
            let key = (entry.epoch, index);
            match self
                .shared
                .blocks
                .get_value_or_guard(&key, Some(Duration::ZERO))
            {
                GuardResult::Value(block) => {
                    found.insert(index, block);
                }
                GuardResult::Guard(guard) => claimed.push((index, guard)),
                GuardResult::Timeout => others.push(index),
            }
        }
        if let Some(disk) = &self.disk {
            // Claimed blocks the disk tier holds, at their length: read on
            // the blocking pool.
            let mut on_disk = Vec::new();
            let mut keys = Vec::new();
            for (index, guard) in std::mem::take(&mut claimed) {
                let key = (entry.epoch, index);
                let expected = self.block_range(index, size);
                match disk.len_of(key) {
                    Some(len) if len == expected.end - expected.start => {
                        keys.push((key, len));
                        on_disk.push((index, guard));
                    }
                    _ => claimed.push((index, guard)),
                }
            }
            if !on_disk.is_empty() {
                let tier = Arc::clone(disk);
                let read = tokio::task::spawn_blocking(move || tier.read_blocking(&keys))
                    .await
                    .unwrap_or_default();
                let mut read = read.into_iter();
                for (index, guard) in on_disk {
                    match read.next().flatten() {
                        Some(block) => {
                            let _ = guard.insert(block.clone());
                            found.insert(index, block);
                        }
                        None => claimed.push((index, guard)),
                    }
                }
                claimed.sort_unstable_by_key(|(index, _)| *index);
            }
        }
        if !claimed.is_empty() {
            let ranges: Vec<Range<u64>> = claimed
                .iter()
                .map(|(index, _)| self.block_range(*index, size))
                .collect();
            let fetched = self.inner.read_ranges(path, &ranges).await?;
            self.shared
                .fetched
                .fetch_add(ranges.len() as u64, Ordering::Relaxed);
            let mut fill = Vec::new();
            for ((index, guard), data) in claimed.into_iter().zip(fetched) {
                // Its own allocation: never pin a coalesced read's buffer.
                let block = Bytes::copy_from_slice(&data);
                let _ = guard.insert(block.clone());
                if self.disk.is_some() {
                    fill.push(((entry.epoch, index), block.clone()));
                }
                found.insert(index, block);
            }
            self.fill(fill);
        }
        for index in others {
            let key = (entry.epoch, index);
            let block = match self.shared.blocks.get_value_or_guard_async(&key).await {
                Ok(block) => block,
                Err(guard) => {
                    // The other reader failed; fetch it here.
                    let data = self
                        .inner
                        .read_range(path, self.block_range(index, size))
                        .await?;
                    self.shared.fetched.fetch_add(1, Ordering::Relaxed);
                    let block = Bytes::copy_from_slice(&data);
                    let _ = guard.insert(block.clone());
                    block
                }
            };
            found.insert(index, block);
        }
        Ok(found)
    }

    /// Writes fetched blocks to the disk tier in the background, if there
    /// is one and it is not already writing [`disk::MAX_FILLS`] batches.
    pub(super) fn fill(&self, blocks: Vec<(BlockKey, Bytes)>) {
        let Some(disk) = &self.disk else { return };
        if blocks.is_empty() {
            return;
        }
        let Some(slot) = disk.start_fill() else {
            return;
        };
        tokio::task::spawn_blocking(move || slot.tier().fill_blocking(&blocks));
    }

    /// Cuts `range` out of the blocks that cover it.
    pub(super) fn assemble(&self, range: &Range<u64>, blocks: &BTreeMap<u64, Bytes>) -> Bytes {
        let len = (range.end - range.start) as usize;
        if len == 0 {
            return Bytes::new();
        }
        let first = range.start / self.block_size;
        let last = (range.end - 1) / self.block_size;
        let offset = |pos: u64, index: u64| (pos - index * self.block_size) as usize;
        if first == last {
            let block = &blocks[&first];
            let slice = block.slice(offset(range.start, first)..offset(range.end, first));
            return if len < self.copy_threshold {
                Bytes::copy_from_slice(&slice)
            } else {
                slice
            };
        }
        let mut out = BytesMut::with_capacity(len);
        for index in first..=last {
            let block = &blocks[&index];
            let from = if index == first {
                offset(range.start, index)
            } else {
                0
            };
            let to = if index == last {
                offset(range.end, index)
            } else {
                block.len()
            };
            out.extend_from_slice(&block[from..to]);
        }
        out.freeze()
    }

    /// Block indexes covering `ranges` (non-empty ones), sorted, distinct.
    pub(super) fn indexes(&self, ranges: &[Range<u64>]) -> Vec<u64> {
        let mut indexes: Vec<u64> = ranges
            .iter()
            .filter(|r| r.start < r.end)
            .flat_map(|r| (r.start / self.block_size)..=((r.end - 1) / self.block_size))
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// The common hit, without the general path's allocations: one
    /// non-empty range inside one cached block.
    pub(super) fn single_block_hit(
        &self,
        entry: &KeyEntry,
        ranges: &[Range<u64>],
    ) -> Option<Bytes> {
        let [range] = ranges else { return None };
        if range.start >= range.end {
            return None;
        }
        let index = range.start / self.block_size;
        if (range.end - 1) / self.block_size != index {
            return None;
        }
        let block = self.shared.blocks.get(&(entry.epoch, index))?;
        if !entry.is_valid() {
            return None; // Written meanwhile: the general path starts again.
        }
        let from = (range.start - index * self.block_size) as usize;
        let to = (range.end - index * self.block_size) as usize;
        Some(if to - from < self.copy_threshold {
            Bytes::copy_from_slice(&block[from..to])
        } else {
            block.slice(from..to)
        })
    }

    /// `ranges` through the cache: `None` when the cache must be bypassed
    /// (the key is being written, or kept being written during the reads).
    pub(super) async fn cached_ranges(
        &self,
        op: Operation,
        path: &str,
        ranges: &[Range<u64>],
    ) -> Result<Option<Vec<Bytes>>> {
        for _ in 0..READ_ATTEMPTS {
            let Some(entry) = self.entry(op, path).await? else {
                return Ok(None);
            };
            for range in ranges {
                check_range(op, path, range, entry.meta.size)?;
            }
            if let Some(hit) = self.single_block_hit(&entry, ranges) {
                return Ok(Some(vec![hit]));
            }
            let blocks = self.blocks(path, &entry, &self.indexes(ranges)).await?;
            if !entry.is_valid() {
                continue; // Written while we read: start again.
            }
            return Ok(Some(
                ranges.iter().map(|r| self.assemble(r, &blocks)).collect(),
            ));
        }
        Ok(None)
    }
}
