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

use super::publish::{is_regular, version_of};

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

/// Why a checked rename did not happen. Nothing was published.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// `Create`: something is at the target.
    Exists(Option<io::Error>),
    /// `Update(v)`: the target's version is not `v`.
    Mismatch,
    /// The check or the rename failed.
    Io(io::Error),
}

impl Refusal {
    /// The error a write or rename of `key` reports.
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
            Refusal::Io(e) => Error::io(op, key, e),
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

/// THE publish step, for writes and renames alike: under `dir`'s lock,
/// checks `mode` against `target`, stamps `from` with a fresh modification
/// time (see the module docs), and renames `from` to `target` in `dir`.
/// On `Ok`, `from` no longer names the object. The caller fsyncs `dir`
/// afterwards (outside the lock: the lock orders renames, the fsync makes
/// them durable).
///
/// `Overwrite` refuses to replace a symlink; `Create` is also atomic
/// against writers that do not take the lock (`renameat2(RENAME_NOREPLACE)`,
/// or `link` + `unlink` where that rename is missing); `Update(v)` needs the
/// target to be a regular file of version `v`.
pub(crate) fn rename_checked(
    dir: BorrowedFd<'_>,
    from: &str,
    target: &str,
    mode: &WriteMode,
) -> Result<(), Refusal> {
    let lock = DirLock::acquire(dir)?;
    let current = match rustix::fs::statat(dir, target, AtFlags::SYMLINK_NOFOLLOW) {
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
                return Err(Refusal::Mismatch);
            }
        }
    }
    let floor = current
        .as_ref()
        .filter(|s| is_regular(s))
        .map_or(0, mtime_nanos)
        .max(lock.high_water());
    let stamp = stamp(dir, from, floor)?;
    match mode {
        WriteMode::Create => rename_noreplace(dir, from, target)?,
        _ => rustix::fs::renameat(dir, from, dir, target)?,
    }
    if let Some(stamp) = stamp {
        lock.raise_high_water(stamp);
    }
    Ok(())
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
fn rename_noreplace(dir: BorrowedFd<'_>, from: &str, target: &str) -> Result<(), Refusal> {
    let exists = |e: Errno| {
        if e == Errno::EXIST {
            Refusal::Exists(Some(e.into()))
        } else {
            Refusal::Io(e.into())
        }
    };
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    match rustix::fs::renameat_with(dir, from, dir, target, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
        Err(e) => return Err(exists(e)),
    }
    rustix::fs::linkat(dir, from, dir, target, AtFlags::empty()).map_err(exists)?;
    // Best effort: a leftover second link is an unlocked temp file once
    // its writer lets go of it, which the next `open` sweeps.
    let _ = rustix::fs::unlinkat(dir, from, AtFlags::empty());
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
