//! The per-directory lock that makes "check the condition, then rename"
//! atomic across [`LocalStorage`](super::LocalStorage) instances and
//! processes, and the version stamps handed out under it.
//!
//! Every directory that holds objects gets a lock file, [`LOCK_NAME`]
//! (under the reserved prefix, so it is never listed, never readable as a
//! key, and skipped by `open`'s sweep). Each publish and each delete opens
//! it and holds `flock(LOCK_EX)` on it around its check and its rename or
//! unlink. The lock belongs to an open file description, so two threads of
//! one process exclude each other as two processes do, and a process that
//! dies lets go of it.
//!
//! The file also keeps the directory's high-water mark: the largest
//! modification time stamped on an object published there. A publish stamps
//! its file, before the rename, with a modification time later than that
//! mark and than the replaced object's, so that no two objects a directory
//! ever held share a modification time (the version includes it, see
//! [`version_of`]).

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::FileExt;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, Stat, Timespec, Timestamps};
use rustix::io::Errno;

use crate::error::{Error, Operation};
use crate::storage::WriteMode;

use super::version::{is_regular, version_of};
use super::LocalRoot;

/// The lock file of a directory: under [`RESERVED_PREFIX`](crate::path::RESERVED_PREFIX)
/// (a test checks it).
pub(crate) const LOCK_NAME: &str = ".seerstore-tmp.lock";

/// Whether `name` (a directory entry) is a directory's lock file.
pub(crate) fn is_lock_name(name: &[u8]) -> bool {
    name == LOCK_NAME.as_bytes()
}

const NANOS: u64 = 1_000_000_000;

/// Tries to stamp a modification time above the floor, stepping by whole
/// seconds (then doubling) where the filesystem keeps coarse timestamps.
const STAMP_ATTEMPTS: u32 = 8;

/// `flock(LOCK_EX)` on a directory's lock file, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    /// Opens (creating) the lock file of `dir` and waits for its lock.
    pub(crate) fn acquire(dir: BorrowedFd<'_>) -> io::Result<DirLock> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = rustix::fs::openat(dir, LOCK_NAME, flags, Mode::from_raw_mode(0o644))?;
        loop {
            match rustix::fs::flock(&fd, FlockOperation::LockExclusive) {
                Ok(()) => break,
                Err(e) if e == Errno::INTR => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(DirLock {
            file: File::from(fd),
        })
    }

    /// The high-water mark (nanoseconds since the epoch); 0 if unset.
    fn high_water(&self) -> u64 {
        let mut buf = [0u8; 8];
        match self.file.read_at(&mut buf, 0) {
            Ok(8) => u64::from_le_bytes(buf),
            _ => 0,
        }
    }

    /// Best effort and not fsynced: after a crash, the objects' own
    /// stamps and the clock still lie above every stamp that reached the
    /// disk, so only a crash together with a clock stepping back can
    /// reuse a stamp.
    fn raise_high_water(&self, stamp: u64) {
        if stamp > self.high_water() {
            let _ = self.file.write_at(&stamp.to_le_bytes(), 0);
        }
    }
}

/// What is renamed by [`rename_checked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A temp file of this storage (a write): known to be a regular file,
    /// stamped before the rename.
    TempFile,
    /// An object (a `rename`): must be a regular file, and is refused if it
    /// is a symlink, as `write` and `delete` refuse to touch one; stamped
    /// after the rename, so that a refused rename leaves it as it was.
    Object,
}

/// One checked rename: `from` in `from_dir` becomes `to` in `to_dir`.
#[derive(Debug)]
pub(crate) struct RenameStep<'a> {
    pub(crate) from_dir: BorrowedFd<'a>,
    pub(crate) from: &'a str,
    pub(crate) to_dir: BorrowedFd<'a>,
    pub(crate) to: &'a str,
    pub(crate) source: Source,
}

/// Why a checked rename did not happen. Nothing was renamed.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// `Create`: something is at the target.
    Exists(Option<io::Error>),
    /// `Update(v)`: the target's version is not `v`.
    Mismatch,
    /// [`Source::Object`]: no regular file at the source.
    SourceMissing(Option<io::Error>),
    /// [`Source::Object`]: the source is a symlink, which is never moved.
    SourceRefused(io::Error),
    /// The check or the rename failed.
    Io(io::Error),
}

impl Refusal {
    /// The error a write or rename reports, naming `key` (the source for
    /// the `Source*` refusals, else the destination).
    pub(crate) fn into_error(self, op: Operation, key: &str, mode: &WriteMode) -> Error {
        match self {
            Refusal::Exists(source) => Error::AlreadyExists {
                op,
                path: key.to_owned(),
                source: source.map(|e| Box::new(e) as _),
            },
            Refusal::Mismatch => Error::Precondition {
                op,
                path: key.to_owned(),
                expected: match mode {
                    WriteMode::Update(expected) => expected.clone(),
                    _ => String::new(),
                },
                source: None,
            },
            Refusal::SourceMissing(source) => Error::NotFound {
                op,
                path: key.to_owned(),
                source: source.map(|e| Box::new(e) as _),
            },
            Refusal::SourceRefused(e) | Refusal::Io(e) => Error::io(op, key, e),
        }
    }
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        Refusal::Io(e)
    }
}

impl From<Errno> for Refusal {
    fn from(e: Errno) -> Self {
        Refusal::Io(e.into())
    }
}

/// The locks of a step's directories: the destination's (which keeps the
/// high-water mark), and the source's if it is another directory. Two
/// directories are locked in (device, inode) order, so that renames in
/// opposite directions cannot deadlock; one directory is locked once (two
/// flocks of one lock file from one thread would wait on each other).
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn lock_dirs(step: &RenameStep<'_>) -> io::Result<(DirLock, Option<DirLock>)> {
    let id = |dir: BorrowedFd<'_>| -> io::Result<(u64, u64)> {
        let stat = rustix::fs::fstat(dir)?;
        Ok((stat.st_dev as u64, stat.st_ino as u64))
    };
    let (from, to) = (id(step.from_dir)?, id(step.to_dir)?);
    if from == to {
        return Ok((DirLock::acquire(step.to_dir)?, None));
    }
    if from < to {
        let source = DirLock::acquire(step.from_dir)?;
        Ok((DirLock::acquire(step.to_dir)?, Some(source)))
    } else {
        let target = DirLock::acquire(step.to_dir)?;
        Ok((target, Some(DirLock::acquire(step.from_dir)?)))
    }
}

/// THE publish step, for writes and renames alike. Under the lock of each
/// directory involved: checks the source ([`Source::Object`]), checks
/// `mode` against the target, stamps the file with a fresh modification
/// time (see the module docs), and renames, with nothing cached for `keys`
/// (the source and destination keys) meanwhile
/// ([`HandleCache::replacing`](super::handles::HandleCache::replacing)).
/// The caller fsyncs the directories afterwards (outside the lock: the lock orders renames, the
/// fsync makes them durable). On `Ok`, `from` no longer names the object;
/// for [`Source::Object`] the target's `stat` after the rename is returned
/// (taken under the lock, so it is the renamed file's).
///
/// `Overwrite` refuses to replace a symlink; `Create` is also atomic
/// against writers that do not take the lock (`renameat2(RENAME_NOREPLACE)`,
/// or `link` + `unlink` where that rename is missing); `Update(v)` needs the
/// target to be a regular file of version `v` (a mismatch also drops the
/// target's cached handle: it may be a file another process replaced, and a
/// compare-and-swap loop reading through it would never see the new
/// version).
pub(crate) fn rename_checked(
    inner: &LocalRoot,
    step: &RenameStep<'_>,
    keys: &[&str],
    mode: &WriteMode,
) -> Result<Option<Stat>, Refusal> {
    let (lock, _source_lock) = lock_dirs(step)?;
    if step.source == Source::Object {
        match rustix::fs::statat(step.from_dir, step.from, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if is_regular(&stat) => {}
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                return Err(Refusal::SourceRefused(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the source key names a symlink; seerstore does not move symlinks",
                )))
            }
            Ok(_) => return Err(Refusal::SourceMissing(None)),
            Err(e) if e == Errno::NOENT || e == Errno::NOTDIR => {
                return Err(Refusal::SourceMissing(Some(e.into())))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let current = match rustix::fs::statat(step.to_dir, step.to, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Some(stat),
        Err(e) if e == Errno::NOENT => None,
        Err(e) => return Err(e.into()),
    };
    match mode {
        WriteMode::Overwrite => {
            if current
                .as_ref()
                .is_some_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink)
            {
                return Err(Refusal::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the key names a symlink; seerstore does not replace symlinks",
                )));
            }
        }
        WriteMode::Create => {
            if current.is_some() {
                return Err(Refusal::Exists(None));
            }
        }
        WriteMode::Update(expected) => {
            let version = current.as_ref().filter(|s| is_regular(s)).map(version_of);
            if version.as_deref() != Some(expected.as_str()) {
                if let Some(target_key) = keys.last() {
                    inner.handles.invalidate(target_key);
                }
                return Err(Refusal::Mismatch);
            }
        }
    }
    let floor = current
        .as_ref()
        .filter(|s| is_regular(s))
        .map_or(0, mtime_nanos)
        .max(lock.high_water());
    let mut stamped = match step.source {
        Source::TempFile => stamp(step.from_dir, step.from, floor)?,
        Source::Object => None,
    };
    // Nothing is cached for the keys from here until the rename is done,
    // so a read racing it never keeps a handle on the replaced file.
    let replacing: Vec<_> = keys
        .iter()
        .map(|key| inner.handles.replacing(key))
        .collect();
    match mode {
        WriteMode::Create => rename_noreplace(step)?,
        _ => rustix::fs::renameat(step.from_dir, step.from, step.to_dir, step.to)?,
    }
    if step.source == Source::Object {
        // Published already: a stamp that fails leaves the version to the
        // inode and the rename's ctime, never an error for a done rename.
        stamped = stamp(step.to_dir, step.to, floor).unwrap_or(None);
    }
    if let Some(stamped) = stamped {
        lock.raise_high_water(stamped);
    }
    drop(replacing);
    Ok(match step.source {
        Source::TempFile => None,
        Source::Object => Some(rustix::fs::statat(
            step.to_dir,
            step.to,
            AtFlags::SYMLINK_NOFOLLOW,
        )?),
    })
}

/// Sets the modification time of `from` above `floor` and returns the time
/// the filesystem kept; `None` where the file's times cannot be set (not
/// its owner: the version then rests on the inode and ctime alone).
fn stamp(dir: BorrowedFd<'_>, from: &str, floor: u64) -> Result<Option<u64>, Refusal> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut want = now.max(floor.saturating_add(1));
    let mut step = NANOS;
    let mut kept = 0;
    for _ in 0..STAMP_ATTEMPTS {
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT,
            },
            last_modification: timespec(want),
        };
        match rustix::fs::utimensat(dir, from, &times, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(()) => {}
            Err(e) if e == Errno::PERM || e == Errno::ACCESS => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        kept = mtime_nanos(&rustix::fs::statat(dir, from, AtFlags::SYMLINK_NOFOLLOW)?);
        if kept > floor {
            return Ok(Some(kept));
        }
        // The filesystem rounded the time down to the floor's tick.
        want = floor.saturating_add(step);
        step = step.saturating_mul(2);
    }
    Ok(Some(kept))
}

/// `renameat2(RENAME_NOREPLACE)`, or `link` + `unlink` where the filesystem
/// (or the OS) has no such rename. Both fail with `EEXIST` if the key
/// exists, atomically.
fn rename_noreplace(step: &RenameStep<'_>) -> Result<(), Refusal> {
    let exists = |e: Errno| {
        if e == Errno::EXIST {
            Refusal::Exists(Some(e.into()))
        } else {
            Refusal::Io(e.into())
        }
    };
    let (from_dir, from, to_dir, to) = (step.from_dir, step.from, step.to_dir, step.to);
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    match rustix::fs::renameat_with(
        from_dir,
        from,
        to_dir,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => return Ok(()),
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
        Err(e) => return Err(exists(e)),
    }
    rustix::fs::linkat(from_dir, from, to_dir, to, AtFlags::empty()).map_err(exists)?;
    // Best effort: a leftover second link is an unlocked temp file once
    // its writer lets go of it, which the next `open` sweeps.
    let _ = rustix::fs::unlinkat(from_dir, from, AtFlags::empty());
    Ok(())
}

/// The modification time in nanoseconds since the epoch (0 before it).
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn mtime_nanos(stat: &Stat) -> u64 {
    let secs = u64::try_from(stat.st_mtime as i64).unwrap_or(0);
    let nanos = u64::try_from(stat.st_mtime_nsec as i64).unwrap_or(0);
    secs.saturating_mul(NANOS).saturating_add(nanos)
}

#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn timespec(nanos: u64) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(nanos / NANOS).unwrap_or(i64::MAX) as _,
        tv_nsec: (nanos % NANOS) as _,
    }
}

/// Whether a lock file may stand in `dir` (used by tests of the layout).
#[cfg(test)]
pub(crate) fn has_lock(dir: &std::path::Path) -> bool {
    dir.join(LOCK_NAME).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::RESERVED_PREFIX;
    use std::os::fd::AsFd;

    #[test]
    fn lock_name_is_reserved() {
        assert!(LOCK_NAME.starts_with(RESERVED_PREFIX));
        assert!(crate::path::validate_path(Operation::Read, LOCK_NAME).is_err());
        assert!(is_lock_name(LOCK_NAME.as_bytes()));
    }

    /// On a filesystem that keeps coarse times, the stamp still moves
    /// past the floor; here the floor is put a second ahead of the clock.
    #[test]
    fn stamps_exceed_the_floor_and_raise_the_mark() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let dir = rustix::fs::open(
            tmp.path(),
            super::super::resolve::dir_flags(),
            Mode::empty(),
        )?;
        std::fs::write(tmp.path().join("a"), b"x")?;
        let future = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(io::Error::other)?
            .as_nanos() as u64
            + 5 * NANOS;
        let got = stamp(dir.as_fd(), "a", future)
            .map_err(|_| io::Error::other("stamp"))?
            .ok_or_else(|| io::Error::other("not stamped"))?;
        assert!(got > future);
        let lock = DirLock::acquire(dir.as_fd())?;
        lock.raise_high_water(got);
        assert_eq!(lock.high_water(), got);
        lock.raise_high_water(1);
        assert_eq!(lock.high_water(), got, "the mark never goes down");
        assert!(has_lock(tmp.path()));
        Ok(())
    }
}
