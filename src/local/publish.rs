//! Temporary files and publishing them under a key: the write path.
//!
//! A write creates `.seerstore-tmp.<pid>.<n>.<nanos>` in the target's
//! directory (`O_CREAT | O_EXCL`), takes an exclusive `flock` on it for as
//! long as it writes, fills and fsyncs it, renames it into place and fsyncs
//! the directory. [`TempFile`] unlinks itself when dropped unpublished, so
//! every error path (and a panic) leaves no litter.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result};
use crate::path::RESERVED_PREFIX;
use crate::storage::{ObjectMeta, WriteMode};

use super::dirlock::{rename_checked, RenameStep, Source};
use super::version::meta_of;
use super::LocalRoot;

/// Mode of new object files (before the umask).
const FILE_MODE: u32 = 0o644;

fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{RESERVED_PREFIX}.{}.{n}.{nanos:x}", std::process::id())
}

/// An unpublished temporary file, locked with `flock(LOCK_EX)` for its whole
/// life. Dropped unpublished, it unlinks itself (blocking: drop it on the
/// blocking pool).
#[derive(Debug)]
pub(crate) struct TempFile {
    /// The directory holding the temp file and, later, the object.
    pub(crate) dir: Arc<OwnedFd>,
    /// The temp file's name in `dir`.
    name: String,
    /// The object's last segment in `dir`.
    pub(crate) target: String,
    pub(crate) file: File,
    published: bool,
}

impl TempFile {
    /// Creates and locks a temp file beside `key` (making its directories).
    pub(crate) fn create(inner: &LocalRoot, key: &str) -> io::Result<TempFile> {
        let (dir, target) = inner
            .resolver
            .open_parent(inner.root_fd.as_fd(), key, true)?;
        let dir = Arc::new(dir);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let name = temp_name();
            let flags =
                OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
            let fd = match rustix::fs::openat(
                &*dir,
                name.as_str(),
                flags,
                Mode::from_raw_mode(FILE_MODE),
            ) {
                Ok(fd) => fd,
                Err(e) if e == Errno::EXIST && attempts < 8 => continue,
                Err(e) => return Err(e.into()),
            };
            let temp = TempFile {
                dir: dir.clone(),
                name,
                target: target.to_owned(),
                file: File::from(fd),
                published: false,
            };
            // Another process's `open` sweep may have found the file between
            // the create and the lock, locked it and unlinked it: then the
            // name no longer leads to our inode, and we start over.
            match rustix::fs::flock(&temp.file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(e) if e == Errno::WOULDBLOCK && attempts < 8 => continue,
                Err(e) => return Err(e.into()),
            }
            if temp.still_linked()? {
                return Ok(temp);
            }
            if attempts >= 8 {
                return Err(io::Error::other("temporary file kept vanishing"));
            }
        }
    }

    fn still_linked(&self) -> io::Result<bool> {
        let ours = rustix::fs::fstat(&self.file)?;
        match rustix::fs::statat(&*self.dir, self.name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(named) => Ok(named.st_ino == ours.st_ino && named.st_dev == ours.st_dev),
            Err(e) if e == Errno::NOENT => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether something (anything, even a dangling symlink) is at the key.
    pub(crate) fn target_exists(&self) -> io::Result<bool> {
        match rustix::fs::statat(&*self.dir, self.target.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(e) if e == Errno::NOENT => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends `data`.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Makes the contents durable, then publishes under the key per `mode`
    /// ([`rename_checked`]: atomic across instances and processes),
    /// invalidates the handle cache, fsyncs the directory and returns the
    /// object's metadata. On a refusal the temp file is removed (by
    /// `Drop`). If the directory fsync fails, the object IS published: the
    /// error says so (see [`published_not_durable`]).
    pub(crate) fn publish(
        mut self,
        inner: &LocalRoot,
        op: Operation,
        key: &str,
        mode: &WriteMode,
    ) -> Result<ObjectMeta> {
        let io_err = |e: io::Error| Error::io(op, key, e);
        self.file.sync_all().map_err(io_err)?;
        let dir = self.dir.clone();
        let step = RenameStep {
            from_dir: dir.as_fd(),
            from: &self.name,
            to_dir: dir.as_fd(),
            to: &self.target,
            source: Source::TempFile,
        };
        rename_checked(inner, &step, &[key], mode)
            .map_err(|refusal| refusal.into_error(op, key, mode))?;
        self.published = true;
        let stat = rustix::fs::fstat(&self.file).map_err(|e| Error::Io {
            op,
            path: key.to_owned(),
            source: published_not_durable(e.into()),
        })?;
        let meta = meta_of(key, &stat);
        if let Err(e) = fsync_dir_after_publish(&dir, key) {
            let version = meta.version.clone().unwrap_or_default();
            unacknowledged::remember(&dir, &self.target, version);
            return Err(Error::Io {
                op,
                path: key.to_owned(),
                source: published_not_durable(e),
            });
        }
        Ok(meta)
    }
}

/// The error of a write that published its object but could not make it
/// durable (the directory fsync failed): the object is visible now and may
/// or may not survive a crash. Keeps the kind of the cause.
pub(crate) fn published_not_durable(cause: io::Error) -> io::Error {
    io::Error::new(cause.kind(), PublishedNotDurable(cause))
}

/// See [`published_not_durable`].
#[derive(Debug)]
struct PublishedNotDurable(io::Error);

impl std::fmt::Display for PublishedNotDurable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the object was published, but its durability is unknown: {}",
            self.0
        )
    }
}

impl std::error::Error for PublishedNotDurable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Fsyncs `dir` after `key` was renamed into it.
fn fsync_dir_after_publish(dir: &OwnedFd, key: &str) -> io::Result<()> {
    #[cfg(test)]
    if failpoint::take_dir_fsync(key) {
        return Err(io::Error::from_raw_os_error(Errno::IO.raw_os_error()));
    }
    let _ = key;
    rustix::fs::fsync(dir).map_err(io::Error::from)
}

/// `write_with`: temp file, data, publish per `mode`. A conflict (the key
/// exists, or its version moved on) is checked against an earlier write of
/// these very bytes that published but reported an error (a lost answer):
/// that write is then made durable and reported as this call's success.
pub(crate) fn write_object(
    inner: &LocalRoot,
    op: Operation,
    key: &str,
    data: &[u8],
    mode: &WriteMode,
) -> Result<ObjectMeta> {
    let mut temp = TempFile::create(inner, key).map_err(|e| Error::io(op, key, e))?;
    let dir = temp.dir.clone();
    let target = temp.target.clone();
    // Fail a doomed create before writing the data; the rename still
    // decides atomically.
    let doomed =
        *mode == WriteMode::Create && temp.target_exists().map_err(|e| Error::io(op, key, e))?;
    let result = if doomed {
        Err(Error::AlreadyExists {
            op,
            path: key.to_owned(),
            source: None,
        })
    } else {
        temp.write_all(data).map_err(|e| Error::io(op, key, e))?;
        temp.publish(inner, op, key, mode)
    };
    match result {
        Err(e) if e.is_already_exists() || e.is_precondition() => {
            unacknowledged::recover(&dir, &target, op, key, data, e)
        }
        other => other,
    }
}

/// Writes that published and then reported an error, remembered so that
/// the caller's retry is not told its own write conflicts.
mod unacknowledged {
    use std::collections::VecDeque;
    use std::fs::File;
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::sync::Mutex;

    use rustix::fs::{Mode, OFlags};

    use crate::error::{Error, Operation, Result};
    use crate::local::resolve::read_flags;
    use crate::local::version::{is_regular, meta_of, version_of};
    use crate::storage::ObjectMeta;

    /// Entries kept, oldest dropped first: a retry follows its failure
    /// closely.
    const KEPT: usize = 256;

    /// (device, directory inode, name, version), process-wide so that a
    /// retry through another `LocalStorage` of the same root is covered.
    type Entry = (u64, u64, String, String);

    static ENTRIES: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());

    fn entries() -> std::sync::MutexGuard<'static, VecDeque<Entry>> {
        ENTRIES.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn dir_id(dir: &OwnedFd) -> Option<(u64, u64)> {
        let stat = rustix::fs::fstat(dir).ok()?;
        Some((stat.st_dev as u64, stat.st_ino as u64))
    }

    pub(super) fn remember(dir: &OwnedFd, name: &str, version: String) {
        let Some((dev, ino)) = dir_id(dir) else {
            return;
        };
        let mut entries = entries();
        if entries.len() >= KEPT {
            entries.pop_front();
        }
        entries.push_back((dev, ino, name.to_owned(), version));
    }

    /// `conflict`, unless the object at `name` is a remembered write
    /// holding exactly `data`: then it is fsynced into its directory and
    /// returned as this call's result.
    pub(super) fn recover(
        dir: &OwnedFd,
        name: &str,
        op: Operation,
        key: &str,
        data: &[u8],
        conflict: Error,
    ) -> Result<ObjectMeta> {
        let Some((dev, ino)) = dir_id(dir) else {
            return Err(conflict);
        };
        if !entries()
            .iter()
            .any(|(d, i, n, _)| (*d, *i) == (dev, ino) && n == name)
        {
            return Err(conflict);
        }
        let flags = read_flags() | OFlags::NOFOLLOW;
        let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) else {
            return Err(conflict);
        };
        let mut file = File::from(fd);
        let Ok(stat) = rustix::fs::fstat(&file) else {
            return Err(conflict);
        };
        let version = version_of(&stat);
        let position = entries()
            .iter()
            .position(|(d, i, n, v)| (*d, *i) == (dev, ino) && n == name && *v == version);
        let Some(position) = position else {
            return Err(conflict);
        };
        let size_matches =
            is_regular(&stat) && u64::try_from(data.len()).ok() == Some(meta_of(key, &stat).size);
        let mut current = Vec::with_capacity(data.len());
        if !size_matches || file.read_to_end(&mut current).is_err() || current != data {
            return Err(conflict);
        }
        rustix::fs::fsync(dir).map_err(|e| Error::io(op, key, e.into()))?;
        entries().remove(position);
        Ok(meta_of(key, &stat))
    }
}

/// Failure injection for the unit tests.
#[cfg(test)]
pub(crate) mod failpoint {
    use std::sync::Mutex;

    static FAIL_DIR_FSYNC: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// The next directory fsync after publishing `key` fails with `EIO`.
    pub(crate) fn fail_dir_fsync(key: &str) {
        FAIL_DIR_FSYNC
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(key.to_owned());
    }

    pub(super) fn take_dir_fsync(key: &str) -> bool {
        let mut keys = FAIL_DIR_FSYNC.lock().unwrap_or_else(|p| p.into_inner());
        match keys.iter().position(|k| k == key) {
            Some(at) => {
                keys.remove(at);
                true
            }
            None => false,
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = rustix::fs::unlinkat(&*self.dir, self.name.as_str(), AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalStorage, Storage};
    use bytes::Bytes;

    /// A failed directory fsync after the rename: the error says the object
    /// is published, and retrying the same conditional write succeeds
    /// instead of conflicting with itself; other bytes still conflict.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn published_but_not_durable_is_said_and_retry_succeeds() -> Result<()> {
        let tmp = tempfile::tempdir().expect("temp dir");
        let storage = LocalStorage::open(tmp.path()).await?;
        let key = "lost/CURRENT";
        failpoint::fail_dir_fsync(key);
        let data = Bytes::from_static(b"MANIFEST-000002");
        let err = storage
            .write_with(key, data.clone(), WriteMode::Create)
            .await
            .expect_err("the fsync failed");
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(err.to_string().contains("published"), "{err}");
        assert_eq!(storage.read(key).await?, data, "it is visible");
        let other = storage
            .write_with(
                key,
                Bytes::from_static(b"MANIFEST-000003"),
                WriteMode::Create,
            )
            .await;
        assert!(
            matches!(other, Err(Error::AlreadyExists { .. })),
            "{other:?}"
        );
        let retried = storage
            .write_with(key, data.clone(), WriteMode::Create)
            .await?;
        assert_eq!(retried.version, storage.head(key).await?.version);

        // Update: the retry of an update whose answer was lost.
        let base = retried.version.clone().unwrap_or_default();
        failpoint::fail_dir_fsync(key);
        let next = Bytes::from_static(b"MANIFEST-000004");
        storage
            .write_with(key, next.clone(), WriteMode::Update(base.clone()))
            .await
            .expect_err("the fsync failed");
        let retried = storage
            .write_with(key, next, WriteMode::Update(base.clone()))
            .await?;
        assert_eq!(retried.version, storage.head(key).await?.version);
        // Once acknowledged, it is no longer taken for a lost answer.
        let again = storage
            .write_with(
                key,
                Bytes::from_static(b"MANIFEST-000004"),
                WriteMode::Update(base),
            )
            .await;
        assert!(
            matches!(again, Err(Error::Precondition { .. })),
            "{again:?}"
        );
        Ok(())
    }
}
