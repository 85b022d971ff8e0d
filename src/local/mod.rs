//! The local-disk backend: [`LocalStorage`], objects as files under a root
//! directory.
//!
//! The struct's rustdoc holds the user-facing contract; this module only
//! wires the submodules together.

mod append;
mod builder;
mod cold;
mod copy;
mod delete;
mod dirlock;
mod handles;
mod list;
mod listing;
mod page_cache;
mod publish;
mod read;
mod resolve;
mod version;
mod writer;

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use rustix::io::Errno;
use tokio::task::JoinHandle;

use crate::error::{Error, Operation, Result};
use crate::in_flight::InFlight;
use crate::path::{validate_path, validate_prefix};
use crate::storage::emulated::check_pair;
use crate::storage::{
    ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, StorageAppender, StorageWriter,
    WriteMode,
};

pub use builder::LocalStorageBuilder;
use handles::HandleCache;
use page_cache::InlineReads;
use read::Wanted;
use resolve::{read_flags, Resolver};
use version::{is_regular, meta_of};

/// Storage in a directory on local disk.
///
/// Cheap to clone: clones share the root handle and the handle cache.
///
/// # Where the blocking happens
///
/// Every call that may wait for the disk runs as ONE closure on tokio's
/// blocking pool (`spawn_blocking`): resolving the key, opening, reading or
/// writing, fsyncing and renaming. Async callers only validate the key and
/// await the task. The one exception: a read of a file whose handle is
/// cached is first tried on the calling worker with `preadv2(RWF_NOWAIT)`,
/// which copies from the page cache and never waits for the disk; what it
/// cannot serve goes to the blocking pool (see
/// [`LocalStorageBuilder::inline_reads`]). Such reads that must wait for
/// the disk are queued, and a few blocking-pool tasks serve the queue,
/// each keeping many of them in flight at the device (I/O started with
/// `posix_fadvise(WILLNEED)`, then read). Because the closure runs to its end even when the caller's future is
/// dropped, a cancelled `write` either publishes a whole object or nothing,
/// and never leaves its temporary file behind. [`LocalStorage::settle`] waits
/// for such orphaned tasks.
///
/// # Layout and limits
///
/// The key `a/b/c` is the file `<root>/a/b/c`. Filesystem semantics show
/// through in a few places, each reported as a typed error:
///
/// * a key cannot be both an object and a "directory": writing `a/b` while
///   `a` is an object fails with [`Error::Io`] of kind `NotADirectory`, and
///   writing `a` while objects live under `a/` fails with kind
///   `IsADirectory` (or [`Error::AlreadyExists`] for [`WriteMode::Create`]);
/// * deleting the last object of a directory leaves the empty directory;
/// * keys are resolved beneath the root (see [`LocalStorageBuilder::follow_symlinks`]):
///   a symlink leading outside the root is refused, a key naming a symlink
///   is never replaced or deleted (the call fails with kind `InvalidInput`),
///   and `list` does not descend into or report symlinks.
///
/// # Handle cache
///
/// Reads keep up to [`LocalStorage::DEFAULT_MAX_OPEN_FILES`] files open
/// (see [`LocalStorageBuilder::max_open_files`]), least recently used
/// evicted. A write or delete through this storage (or a clone) drops the
/// key's handle; a file replaced by another process or another
/// `LocalStorage` instance keeps being read, whole, in its old version until
/// its handle is evicted. `head` and `exists` always look afresh. Set
/// `max_open_files(0)` when several writers share one root.
///
/// Inline reads (see [`LocalStorageBuilder::inline_reads`]) look handles up
/// in a small per-thread copy of the cache (at most 64 handles per thread),
/// dropped as soon as this storage writes, deletes or evicts anything: a
/// read that starts after a write returned never sees the old file. An
/// evicted file may stay open until each worker thread that held a copy
/// next reads from this storage, so up to 64 descriptors per worker thread
/// can exceed `max_open_files`; and a read whose pages were not cached
/// keeps its file open until its turn on the blocking pool came.
///
/// # Temporary files
///
/// Unfinished writes live in `.seerstore-tmp.*` files beside their target
/// (the [`RESERVED_PREFIX`](crate::path::RESERVED_PREFIX), which no key may
/// use), each locked with `flock(LOCK_EX)` by its writer. [`LocalStorage::open`]
/// removes every such file it can lock (its owner is gone) and leaves the
/// others (a live process is writing). Each directory that holds objects
/// also keeps its lock file, `.seerstore-tmp.lock` (see below), which the
/// sweep leaves.
///
/// # Versions
///
/// [`ObjectMeta::version`] is `"{dev:x}-{ino:x}-{mtime}-{ctime}-{size}"` of
/// the file (each time as `secs.nanos`), made by one function for `head`,
/// `list`, write results and reads. A version never repeats for a key:
/// every write creates a new inode and, before renaming it into place,
/// stamps its modification time above every modification time its
/// directory has held (the high-water mark kept in the directory's lock
/// file, below) and above the replaced object's. So a freed inode number
/// handed back within one tick of a coarse ctime (ext4 before Linux 6.13)
/// still gets a new version, also after a delete and a re-creation. Where
/// the filesystem keeps coarse times the stamp steps by whole seconds, and
/// rapid rewrites push it ahead of the clock. What is left: a file whose
/// times this process may not set (not its owner), and a crash that loses
/// the mark's last update together with a clock stepped back.
///
/// # Conditional writes across processes
///
/// Every publish and every delete holds `flock(LOCK_EX)` on its directory's
/// lock file, `.seerstore-tmp.lock`, around its check and its rename or
/// unlink. So [`WriteMode::Update`] and [`WriteMode::Create`] are atomic
/// against every other write and delete of the key through any
/// `LocalStorage` on the root, in this process or another (`Create` also
/// renames with `renameat2(RENAME_NOREPLACE)`, or `link`, so it holds
/// against writers that do not lock). The lock file is under the reserved
/// prefix: never listed, never a key, and kept by `open`'s sweep.
///
/// If the directory fsync after the rename fails, the object is published
/// but may not survive a crash: the call returns [`Error::Io`] saying so
/// (its source has the fsync's kind and a message starting "the object was
/// published"). A retry of that `write_with` with the same bytes, through
/// any `LocalStorage` of this process, is then answered with that object
/// (its directory fsynced again) instead of a conflict with itself.
///
/// # The 0.2 calls
///
/// * [`read_with`](crate::Storage::read_with) takes data and metadata from ONE
///   open descriptor: the version is the `fstat` of the file the bytes come
///   from (taken when its handle was opened; a file is never rewritten in
///   place), so the two never disagree, even while the object is being
///   replaced. Served inline from the page cache like `read_range`. Through
///   a handle made stale by another instance or process it returns the old
///   version, data and metadata together; an answer that is an error
///   (`Precondition`, `NotModified`, `InvalidRange`) is always judged again
///   on a fresh open, and a failed `Update` drops the key's cached handle,
///   so a compare-and-swap loop sees the new version on its next read.
/// * [`list_with`](crate::Storage::list_with) with an offset walks each directory
///   in key order and skips, without a `stat` or an `open`, every object not
///   after the offset and every sub-directory whose keys all sort before
///   it: its cost follows the keys after the offset. Its keys come out
///   **sorted** (byte order), unlike `list`'s; each directory it enters is
///   read whole into memory (one name per entry). Without an offset it is
///   `list`.
/// * [`list_dir`](crate::Storage::list_dir) is one read of the prefix's directory
///   (plus a `stat` per object); symlinks and temporary files are never
///   listed, as in `list`. A sub-directory is listed only if it holds an
///   object at some depth (a read of it, and of its sub-directories until
///   one is found), so a prefix whose objects were all deleted is gone, as
///   on object stores.
/// * [`delete_many`](crate::Storage::delete_many) groups the keys by directory,
///   unlinks on up to four blocking-pool tasks at once, and fsyncs each
///   directory once per group instead of once per key.
/// * [`copy`](crate::Storage::copy) copies the source, through one descriptor,
///   into a temp file with `copy_file_range` (a reflink on filesystems that
///   share extents, btrfs or XFS; an in-kernel copy elsewhere), then
///   publishes it exactly as `write` does (fsync, rename per `mode`,
///   directory fsync).
/// * [`rename`](crate::Storage::rename) is one atomic `rename(2)` under the locks of
///   both keys (`renameat2(RENAME_NOREPLACE)` for `Create`; the version
///   check and the rename together for `Update`), then fsyncs of the
///   destination's directory and of the source's; both keys' cached handles
///   are dropped. A source that is a symlink is refused, never moved.
///
/// Copy and rename check the source and the destination's condition before
/// creating anything, so bad input (a missing source, a refused mode, an
/// invalid key, `from == to`) leaves the tree as it was.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> seerstore::Result<()> {
/// use bytes::Bytes;
/// use seerstore::{LocalStorage, Storage};
///
/// let dir = tempfile::tempdir().expect("temp dir");
/// let storage = LocalStorage::open(dir.path()).await?;
/// storage.write("L0/1.sst", Bytes::from_static(b"hello")).await?;
/// assert_eq!(storage.read_range("L0/1.sst", 1..3).await?, "el");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct LocalStorage {
    inner: Arc<LocalRoot>,
}

impl fmt::Debug for LocalStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStorage")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

/// The opened root: its descriptor, the key resolver, the handle cache, the
/// read paths' state and the count of blocking tasks. Shared by the clones
/// of a [`LocalStorage`], its writers, appenders and blocking tasks.
#[derive(Debug)]
pub(crate) struct LocalRoot {
    root: PathBuf,
    pub(crate) root_fd: OwnedFd,
    pub(crate) resolver: Resolver,
    pub(crate) handles: HandleCache,
    /// Whether to try page-cache reads inline on the worker.
    inline_reads: InlineReads,
    /// Reads of cached handles that must wait for the disk.
    cold: cold::ColdReads,
    /// `false`: read handles are advised `POSIX_FADV_RANDOM`.
    readahead: bool,
    /// Blocking tasks started and not yet finished.
    tasks: Arc<InFlight>,
}

/// Runs `f` on the blocking pool, counted for [`LocalStorage::settle`].
pub(crate) fn spawn_tracked<T, F>(inner: &Arc<LocalRoot>, f: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce(&LocalRoot) -> T + Send + 'static,
{
    let entered = inner.tasks.enter();
    let inner = Arc::clone(inner);
    tokio::task::spawn_blocking(move || {
        let out = handles::on_blocking_task(|| f(&inner));
        // Counted until `f` returned; also dropped when the task never runs.
        drop(entered);
        out
    })
}

/// Awaits a blocking task, turning a panic or cancellation into an error.
pub(crate) async fn join<T>(op: Operation, key: &str, task: JoinHandle<Result<T>>) -> Result<T> {
    match task.await {
        Ok(result) => result,
        Err(join) => Err(Error::Io {
            op,
            path: key.to_owned(),
            source: io::Error::other(join),
        }),
    }
}

impl LocalStorage {
    /// Default bound of the open-handle cache
    /// ([`LocalStorageBuilder::max_open_files`]).
    pub const DEFAULT_MAX_OPEN_FILES: usize = 1024;

    /// Opens (creating if needed, with `create_dir_all`) the directory `root`
    /// with default options, and removes temporary files that crashed
    /// writers left anywhere under it: every `.seerstore-tmp.*` file whose
    /// `flock` can be taken (its writer is gone). Files locked by a live
    /// writer, in this or another process, are left alone. The sweep is best
    /// effort: a directory it cannot read is skipped.
    ///
    /// Errors: [`Error::Io`] (operation `open`) if the root cannot be created
    /// or opened.
    pub async fn open(root: impl AsRef<Path>) -> Result<LocalStorage> {
        Self::builder(root).open().await
    }

    /// Options for opening a storage at `root`.
    pub fn builder(root: impl AsRef<Path>) -> LocalStorageBuilder {
        LocalStorageBuilder::new(root.as_ref().to_path_buf())
    }

    /// The root directory, as given to [`open`](Self::open).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Waits until every blocking-pool task this storage (or a clone, or one
    /// of its writers) started has finished, including those whose futures
    /// were dropped: after a cancelled `write`, the write has then either
    /// landed or been cleaned up; after a dropped writer, its temp file is
    /// gone. Useful before shutdown and in tests. A `list` stream holds a
    /// blocking-pool task only while it reads its next batch, so an idle
    /// one does not keep this call waiting.
    pub async fn settle(&self) {
        self.inner.tasks.settle().await;
    }

    async fn run<T, F>(&self, op: Operation, key: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&LocalRoot) -> Result<T> + Send + 'static,
    {
        join(op, key, spawn_tracked(&self.inner, f)).await
    }
}

/// An error from resolving or opening `key` for reading: a missing file, or
/// a path through a non-directory (`a/b` with `a` a file), is `NotFound`.
fn read_error(op: Operation, key: &str, e: io::Error) -> Error {
    if e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) {
        return Error::NotFound {
            op,
            path: key.to_owned(),
            source: Some(Box::new(e)),
        };
    }
    Error::io(op, key, e)
}

impl LocalRoot {
    /// Opens `key` for reading and stats it; a non-regular file (e.g. a
    /// directory) is `NotFound`.
    fn open_object(&self, op: Operation, key: &str) -> Result<(File, rustix::fs::Stat)> {
        let fd = self
            .resolver
            .open(self.root_fd.as_fd(), key, read_flags())
            .map_err(|e| read_error(op, key, e))?;
        let file = File::from(fd);
        let stat = rustix::fs::fstat(&file).map_err(|e| Error::io(op, key, e.into()))?;
        if !is_regular(&stat) {
            return Err(Error::NotFound {
                op,
                path: key.to_owned(),
                source: Some(Box::new(io::Error::other("not a regular file"))),
            });
        }
        Ok((file, stat))
    }

    fn delete(&self, key: &str) -> Result<()> {
        delete::delete_in_dir(self, Operation::Delete, &[key])
            .pop()
            .unwrap_or(Ok(()))
    }

    fn sync(&self, key: &str) -> Result<()> {
        let op = Operation::Sync;
        let (file, _) = self.open_object(op, key)?;
        file.sync_all().map_err(|e| Error::io(op, key, e))?;
        let (dir, _) = self
            .resolver
            .open_parent(self.root_fd.as_fd(), key, false)
            .map_err(|e| read_error(op, key, e))?;
        rustix::fs::fsync(&dir).map_err(|e| Error::io(op, key, e.into()))
    }
}

// The `Storage` impl: these bodies, each in its span.
crate::trace::traced_storage! {
    LocalStorage, "local";
    /// A cached handle is first read inline (see
    /// [`LocalStorageBuilder::inline_reads`]); otherwise, or for what the
    /// page cache could not serve, the cold-read queue or one blocking-pool
    /// task.
    read_range;
    /// From one handle: a cached one is read inline range by range, and
    /// whatever the page cache could not serve is read in ONE blocking-pool
    /// task; an uncached one is opened and read in one blocking-pool task.
    read_ranges;
    read;
    /// Always stats the file afresh (never from the handle cache), so the
    /// version is current.
    head;
    exists;
    write;
    /// Temp file → write → fsync → rename (per `mode`) → fsync of the
    /// directory, all in one blocking task that runs to its end even if this
    /// future is dropped. See [`LocalStorage`] for versions and the
    /// atomicity of each mode.
    write_with;
    writer;
    delete;
    list;
    sync;
    /// Data and metadata from one descriptor (see [`LocalStorage`],
    /// "0.2 calls"): a cached handle is read inline as in `read_range`.
    read_with;
    /// With an offset, a sorted walk that never reads what sorts before it.
    list_with;
    /// One read of the prefix's directory.
    list_dir;
    /// Grouped by directory on a few blocking-pool tasks, one directory
    /// fsync per group.
    delete_many;
    /// `copy_file_range` into a temp file, published as `write` publishes.
    copy;
    /// One atomic `rename(2)`, checked per `mode`.
    rename;
    /// Creates the file with `O_EXCL` (fsynced with its directory before
    /// this returns) and keeps it open. Appends are buffered in memory and
    /// written, one `pwrite` per group, by a flusher on the blocking pool
    /// right before its `fdatasync`: concurrent `sync`s share one device
    /// flush, and `head` and reads see what reached the file (everything
    /// appended before the last sync started). The file is an ordinary
    /// object at its key (no temporary name; `open`'s sweep never touches
    /// it). Cancellation, errors and the refusal after a failed
    /// `fdatasync` are described in `src/local/append/mod.rs` and
    /// `docs/RELIABILITY.md`.
    appender;
}

impl crate::trace::Untraced for LocalStorage {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        let op = Operation::ReadRange;
        let key = validate_path(op, path)?;
        let mut out = self
            .read_through(op, path, key, Wanted::Range(&range))
            .await?;
        Ok(out.pop().unwrap_or_default())
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let op = Operation::ReadRanges;
        let key = validate_path(op, path)?;
        if ranges.is_empty() {
            // What calling `read_range` for each of no ranges gives.
            return Ok(Vec::new());
        }
        self.read_through(op, path, key, Wanted::Ranges(ranges))
            .await
            .map(read::Buffers::into_vec)
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        let op = Operation::Read;
        let key = validate_path(op, path)?;
        let mut out = self.read_through(op, path, key, Wanted::Whole).await?;
        Ok(out.pop().unwrap_or_default())
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let op = Operation::Head;
        let key = validate_path(op, path)?.to_owned();
        self.run(op, path, move |inner| {
            let (_, stat) = inner.open_object(op, &key)?;
            Ok(meta_of(&key, &stat))
        })
        .await
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let op = Operation::Exists;
        let key = validate_path(op, path)?.to_owned();
        self.run(op, path, move |inner| match inner.open_object(op, &key) {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        let op = Operation::Write;
        let key = validate_path(op, path)?.to_owned();
        self.run(op, path, move |inner| {
            publish::write_object(inner, op, &key, &data, &mode)
        })
        .await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        let op = Operation::Writer;
        let key = validate_path(op, path)?.to_owned();
        let writer = writer::LocalWriter::create(self.inner.clone(), key).await?;
        Ok(Box::new(writer))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let op = Operation::Delete;
        let key = validate_path(op, path)?.to_owned();
        self.run(op, path, move |inner| inner.delete(&key)).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        list::list(&self.inner, prefix)
    }

    async fn sync(&self, path: &str) -> Result<()> {
        let op = Operation::Sync;
        let key = validate_path(op, path)?.to_owned();
        self.run(op, path, move |inner| inner.sync(&key)).await
    }

    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        self.read_with_local(path, options).await
    }

    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        listing::list_with(&self.inner, prefix, &options)
    }

    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        let op = Operation::ListDir;
        let prefix = validate_prefix(op, prefix)?.to_owned();
        self.run(op, &prefix.clone(), move |inner| {
            listing::list_dir(inner, &prefix)
        })
        .await
    }

    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        self.delete_many_local(paths).await
    }

    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        let op = Operation::Copy;
        let (from, to) = check_pair(op, from, to)?;
        let (from, to) = (from.to_owned(), to.to_owned());
        self.run(op, &to.clone(), move |inner| {
            copy::copy(inner, &from, &to, &mode)
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        let op = Operation::Rename;
        let (from, to) = check_pair(op, from, to)?;
        let (from, to) = (from.to_owned(), to.to_owned());
        self.run(op, &to.clone(), move |inner| {
            copy::rename(inner, &from, &to, &mode)
        })
        .await
    }

    async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
        let op = Operation::Append;
        let key = validate_path(op, path)?.to_owned();
        let inner = Arc::clone(&self.inner);
        let task = spawn_tracked(&self.inner, move |_| append::create(&inner, &key));
        let appender: Arc<dyn StorageAppender> = Arc::new(join(op, path, task).await?);
        Ok(appender)
    }
}
