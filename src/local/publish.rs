//! Temporary files and publishing them under a key: the write path.
//!
//! A write creates `.seerstore-tmp.<pid>.<n>.<nanos>` in the target's
//! directory (`O_CREAT | O_EXCL`), takes an exclusive `flock` on it for as
//! long as it writes, fills and fsyncs it, renames it into place and fsyncs
//! the directory. [`TempFile`] unlinks itself when dropped unpublished, so
//! every error path (and a panic) leaves no litter.

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result};
use crate::path::RESERVED_PREFIX;
use crate::storage::{ObjectMeta, WriteMode};

use super::Inner;

/// Mode of new object files (before the umask).
const FILE_MODE: u32 = 0o644;

/// Per-key locks held around "check condition → rename", so that
/// conditional writes are atomic against every other publish and delete of
/// the same key in this process.
#[derive(Debug)]
pub(crate) struct KeyLocks {
    shards: Vec<Mutex<()>>,
}

impl KeyLocks {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    pub(crate) fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let len = self.shards.len() as u64;
        let index = usize::try_from(hasher.finish() % len).unwrap_or(0);
        // The guarded data is `()`: a poisoned lock protects nothing broken.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The version token of a file: `"{dev:x}-{ino:x}-{ctime_s}.{ctime_ns}-{size}"`.
/// Every write creates a new inode and the rename sets its ctime, so a
/// replaced object gets a new token. Written by hand: `list` makes one per
/// key, and `format!` costs as much as the `stat` behind it.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
pub(crate) fn version_of(stat: &Stat) -> String {
    let mut out = String::with_capacity(64);
    push_hex(&mut out, stat.st_dev as u64);
    out.push('-');
    push_hex(&mut out, stat.st_ino as u64);
    out.push('-');
    push_signed(&mut out, stat.st_ctime as i64);
    out.push('.');
    let nanos = stat.st_ctime_nsec as u64;
    let mut digits = [b'0'; 9];
    let mut n = nanos % 1_000_000_000;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(digits.iter().map(|&d| char::from(d)));
    out.push('-');
    push_signed(&mut out, stat.st_size as i64);
    out
}

fn push_hex(out: &mut String, value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut at = buf.len();
    let mut v = value;
    loop {
        at -= 1;
        buf[at] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&d| char::from(d)));
}

fn push_signed(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut v = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&d| char::from(d)));
}

/// Metadata of the regular file `key` from its `stat`.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
pub(crate) fn meta_of(key: impl Into<String>, stat: &Stat) -> ObjectMeta {
    let secs = stat.st_mtime as i64;
    let nanos = u32::try_from(stat.st_mtime_nsec as i64).unwrap_or(0);
    let last_modified = u64::try_from(secs)
        .ok()
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::new(secs, nanos)));
    ObjectMeta::new(key, u64::try_from(stat.st_size as i64).unwrap_or(0))
        .with_version(Some(version_of(stat)))
        .with_last_modified(last_modified.or(Some(SystemTime::UNIX_EPOCH)))
}

/// Whether `stat` describes a regular file.
pub(crate) fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

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
    pub(crate) fn create(inner: &Inner, key: &str) -> io::Result<TempFile> {
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

    /// Makes the contents durable, then publishes under the key per `mode`,
    /// invalidates the handle cache, fsyncs the directory and returns the
    /// object's metadata. On error the temp file is removed (by `Drop`).
    pub(crate) fn publish(
        mut self,
        inner: &Inner,
        op: Operation,
        key: &str,
        mode: &WriteMode,
    ) -> Result<ObjectMeta> {
        let io_err = |e: io::Error| Error::io(op, key, e);
        self.file.sync_all().map_err(io_err)?;
        let dir = self.dir.clone();
        let stat = {
            let _guard = inner.key_locks.lock(key);
            let replacing = inner.handles.replacing(key);
            match mode {
                WriteMode::Overwrite => {
                    self.refuse_symlink_target().map_err(io_err)?;
                    rustix::fs::renameat(&*dir, self.name.as_str(), &*dir, self.target.as_str())
                        .map_err(|e| io_err(e.into()))?;
                }
                WriteMode::Create => self.publish_create().map_err(|e| match e.kind() {
                    io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                        op,
                        path: key.to_owned(),
                        source: Some(Box::new(e)),
                    },
                    _ => io_err(e),
                })?,
                WriteMode::Update(expected) => {
                    let current = match rustix::fs::statat(
                        &*dir,
                        self.target.as_str(),
                        AtFlags::SYMLINK_NOFOLLOW,
                    ) {
                        Ok(stat) if is_regular(&stat) => Some(version_of(&stat)),
                        Ok(_) => None,
                        Err(e) if e == Errno::NOENT => None,
                        Err(e) => return Err(io_err(e.into())),
                    };
                    if current.as_deref() != Some(expected.as_str()) {
                        return Err(Error::Precondition {
                            op,
                            path: key.to_owned(),
                            expected: expected.clone(),
                            source: None,
                        });
                    }
                    rustix::fs::renameat(&*dir, self.name.as_str(), &*dir, self.target.as_str())
                        .map_err(|e| io_err(e.into()))?;
                }
            }
            self.published = true;
            drop(replacing);
            rustix::fs::fstat(&self.file).map_err(|e| io_err(e.into()))?
        };
        rustix::fs::fsync(&*dir).map_err(|e| io_err(e.into()))?;
        Ok(meta_of(key, &stat))
    }

    /// Renaming over a symlink would not follow it (nothing outside the root
    /// could change), but it would silently turn a link into a file; refuse.
    fn refuse_symlink_target(&self) -> io::Result<()> {
        match rustix::fs::statat(&*self.dir, self.target.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the key names a symlink; seerstore does not replace symlinks",
                ))
            }
            Ok(_) => Ok(()),
            Err(e) if e == Errno::NOENT => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `renameat2(RENAME_NOREPLACE)`, or `link` + `unlink` of the temp file
    /// where the filesystem (or the OS) has no such rename. Both fail with
    /// `EEXIST` if the key exists, atomically.
    fn publish_create(&mut self) -> io::Result<()> {
        let dir = &*self.dir;
        #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
        match rustix::fs::renameat_with(
            dir,
            self.name.as_str(),
            dir,
            self.target.as_str(),
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
            Err(e) => return Err(e.into()),
        }
        rustix::fs::linkat(
            dir,
            self.name.as_str(),
            dir,
            self.target.as_str(),
            AtFlags::empty(),
        )?;
        // The object is published; the temp name is now a second link to it.
        self.published = true;
        // Best effort: a leftover second link is an unlocked temp file once
        // this process lets go of it, which the next `open` sweeps.
        let _ = rustix::fs::unlinkat(dir, self.name.as_str(), AtFlags::empty());
        Ok(())
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

    /// The hand-written token is the documented format.
    #[test]
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn version_matches_the_documented_format() {
        let file = tempfile::tempfile().expect("temp file");
        let stat = rustix::fs::fstat(&file).expect("stat");
        let expected = format!(
            "{:x}-{:x}-{}.{:09}-{}",
            stat.st_dev as u64,
            stat.st_ino as u64,
            stat.st_ctime as i64,
            stat.st_ctime_nsec as u64,
            stat.st_size as i64
        );
        assert_eq!(version_of(&stat), expected);
        let mut out = String::new();
        push_signed(&mut out, -12);
        push_hex(&mut out, 0);
        push_hex(&mut out, 0xabc);
        assert_eq!(out, "-120abc");
    }
}
