//! The local-disk tier below [`Cached`](super::Cached)'s memory: blocks
//! fetched from the inner storage are also written to files in a local
//! directory, bounded by bytes, so that data larger than memory is read
//! from local disk instead of fetched again.
//!
//! * **Disposable**: the tier lives in a directory of its own,
//!   `seerstore-cache-<pid>-<nanos>` under the directory the user names,
//!   locked with `flock` while in use and removed when the cache is
//!   dropped. Directories left by processes that died are removed by the
//!   next tier opened under the same parent (their lock is free). Files are
//!   written without fsync: after a crash there is nothing to trust, and
//!   nothing is trusted.
//! * **Same keys as memory**: files are named by the block's `(epoch,
//!   index)`, epochs being unique in the process, so a write through the
//!   cache (which gives the key a new epoch) makes the old files
//!   unreachable exactly as it does the old memory blocks; they go with
//!   eviction.
//! * **Bounded**: an in-memory index (quick_cache, weighted by file size
//!   rounded up to 4 KiB) decides what stays; evicted files are unlinked
//!   after the index's lock is released. All file I/O runs on tokio's
//!   blocking pool; a lookup in the index is all a read does on a worker.
//! * **Best effort**: a file that is missing or short (removed behind the
//!   cache's back, or evicted between lookup and read) is a miss; writing a
//!   file that fails is skipped. At most [`MAX_FILLS`] fills run at once;
//!   beyond that, blocks are not written to disk.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use rustix::fs::FlockOperation;

use super::BlockKey;
use crate::error::{Error, Operation, Result};
use crate::in_flight::{Entered, InFlight};

/// Fills (block writes to disk) allowed in flight at once.
pub(super) const MAX_FILLS: usize = 64;
/// Prefix of the directories tiers make under the user's directory.
const DIR_PREFIX: &str = "seerstore-cache-";
const LOCK_FILE: &str = ".lock";

/// File size rounded up to a filesystem block, plus an inode's worth.
#[derive(Clone)]
struct FileWeighter;

impl Weighter<BlockKey, u64> for FileWeighter {
    fn weight(&self, _key: &BlockKey, len: &u64) -> u64 {
        len.div_ceil(4096) * 4096 + 4096
    }
}

/// Files of evicted entries, unlinked once the index's lock is released.
#[derive(Default)]
pub(super) struct Evicted(Vec<PathBuf>);

impl Drop for Evicted {
    fn drop(&mut self) {
        for path in self.0.drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[derive(Clone)]
struct Unlink {
    dir: Arc<PathBuf>,
}

impl Lifecycle<BlockKey, u64> for Unlink {
    type RequestState = Evicted;

    fn on_evict(&self, state: &mut Evicted, key: BlockKey, _len: u64) {
        state.0.push(file_path(&self.dir, key));
    }
}

type Index = quick_cache::sync::Cache<BlockKey, u64, FileWeighter, DefaultHashBuilder, Unlink>;

fn file_path(dir: &Path, (epoch, index): BlockKey) -> PathBuf {
    dir.join(format!("{epoch:016x}-{index:016x}"))
}

/// A tier's directory, its lock, and the index of its files.
pub(super) struct DiskTier {
    dir: Arc<PathBuf>,
    capacity: u64,
    /// Held (with its `flock`) for the tier's life.
    _lock: File,
    index: Index,
    /// Fills running, at most [`MAX_FILLS`].
    fills: Arc<InFlight>,
    hits: AtomicU64,
    next_temp: AtomicU64,
}

impl std::fmt::Debug for DiskTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskTier")
            .field("dir", &self.dir)
            .field("capacity", &self.capacity)
            .field("bytes", &self.index.weight())
            .finish_non_exhaustive()
    }
}

impl DiskTier {
    /// Makes a tier of `capacity` bytes in a new directory under `parent`
    /// (created if missing), after removing the directories of tiers whose
    /// process is gone. Blocking: call it on the blocking pool.
    pub(super) fn open_blocking(parent: &Path, capacity: u64, block_size: u64) -> Result<Self> {
        let io = |e: std::io::Error| Error::io(Operation::Open, parent.display().to_string(), e);
        std::fs::create_dir_all(parent).map_err(io)?;
        sweep(parent);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("{DIR_PREFIX}{}-{nanos}", std::process::id());
        // Made under a name the sweep skips, locked, then renamed: another
        // process's sweep never sees it unlocked.
        let making = parent.join(format!(".{name}"));
        std::fs::create_dir(&making).map_err(io)?;
        let lock = File::create(making.join(LOCK_FILE)).map_err(io)?;
        rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| io(e.into()))?;
        let dir = parent.join(name);
        std::fs::rename(&making, &dir).map_err(io)?;
        let estimated = (capacity / block_size.max(1)).clamp(16, 1 << 24) as usize;
        let dir = Arc::new(dir);
        let index = Index::with(
            estimated,
            capacity,
            FileWeighter,
            DefaultHashBuilder::default(),
            Unlink { dir: dir.clone() },
        );
        Ok(Self {
            dir,
            capacity,
            _lock: lock,
            index,
            fills: Arc::new(InFlight::default()),
            hits: AtomicU64::new(0),
            next_temp: AtomicU64::new(0),
        })
    }

    /// The tier's own directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes the tier's files weigh (rounded up per file).
    pub(super) fn bytes(&self) -> u64 {
        self.index.weight()
    }

    /// Blocks served from disk so far.
    pub(super) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The length of block `key` if the tier holds it (a lookup in memory;
    /// the file may still be gone when read).
    pub(super) fn len_of(&self, key: BlockKey) -> Option<u64> {
        self.index.get(&key)
    }

    /// Reads blocks `keys` (with the lengths [`len_of`](Self::len_of)
    /// gave) from their files; `None` for each that is missing or not of
    /// that length. Blocking.
    pub(super) fn read_blocking(&self, keys: &[(BlockKey, u64)]) -> Vec<Option<Bytes>> {
        keys.iter()
            .map(|&(key, len)| {
                let mut buf = vec![0u8; usize::try_from(len).ok()?];
                let read = File::open(file_path(&self.dir, key))
                    .and_then(|mut file| file.read_exact(&mut buf).map(|()| file))
                    .and_then(|mut file| {
                        // One byte more means the file is not ours.
                        let mut extra = [0u8; 1];
                        match file.read(&mut extra)? {
                            0 => Ok(()),
                            _ => Err(std::io::ErrorKind::InvalidData.into()),
                        }
                    });
                match read {
                    Ok(()) => {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        Some(Bytes::from(buf))
                    }
                    Err(_) => {
                        self.index.remove(&key);
                        let _ = std::fs::remove_file(file_path(&self.dir, key));
                        None
                    }
                }
            })
            .collect()
    }

    /// Waits until no fill is running.
    pub(super) async fn settle(&self) {
        self.fills.settle().await;
    }

    /// Takes a fill slot, or `None` when [`MAX_FILLS`] are running.
    pub(super) fn start_fill(self: &Arc<Self>) -> Option<FillSlot> {
        let entered = self.fills.try_enter(MAX_FILLS)?;
        Some(FillSlot {
            _entered: entered,
            tier: Arc::clone(self),
        })
    }

    /// Writes `blocks` to their files (temp file, then rename) and records
    /// them. Blocking.
    pub(super) fn fill_blocking(&self, blocks: &[(BlockKey, Bytes)]) {
        for (key, data) in blocks {
            if self.index.get(key).is_some() {
                continue;
            }
            let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
            let temp = self.dir.join(format!(".tmp-{n}"));
            let written = File::create(&temp)
                .and_then(|mut file| file.write_all(data))
                .and_then(|()| std::fs::rename(&temp, file_path(&self.dir, *key)));
            match written {
                // Evictions this causes unlink their files here, on the
                // blocking pool, once the index's lock is released.
                Ok(()) => self.index.insert(*key, data.len() as u64),
                Err(_) => {
                    let _ = std::fs::remove_file(&temp);
                }
            }
        }
    }
}

/// A running fill; frees its slot when dropped.
pub(super) struct FillSlot {
    /// Dropped first: the slot is free before the tier may go.
    _entered: Entered,
    tier: Arc<DiskTier>,
}

impl FillSlot {
    pub(super) fn tier(&self) -> &DiskTier {
        &self.tier
    }
}

impl Drop for DiskTier {
    fn drop(&mut self) {
        let dir = self.dir.as_ref().clone();
        let remove = move || {
            let _ = std::fs::remove_dir_all(&dir);
        };
        // Never remove a directory tree on a runtime worker.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

/// Removes the tier directories under `parent` whose lock is free (their
/// process is gone); leaves everything else alone.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if let Some(making) = name.strip_prefix('.') {
            // Left half-made by a process that died between making and
            // renaming it (a live one renames it within moments).
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60));
            if making.starts_with(DIR_PREFIX) && old {
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        }
        if !name.starts_with(DIR_PREFIX) {
            continue;
        }
        let Ok(lock) = File::open(path.join(LOCK_FILE)) else {
            continue; // Not ours, or being made: leave it.
        };
        if rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
