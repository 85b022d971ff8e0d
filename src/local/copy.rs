//! `copy` (into a temp file with `copy_file_range`, then the same publish
//! as `write`) and `rename` (one checked `rename(2)` between two keys).
//!
//! Both check what they can before anything is created (the source
//! exists, a `Create` or `Update` destination is as required), so that bad
//! input changes nothing; the final decision is the checked rename
//! ([`rename_checked`]) under the directories' locks.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result};
use crate::storage::{ObjectMeta, WriteMode};

use super::dirlock::{rename_checked, Refusal, RenameStep, Source};
use super::publish::TempFile;
use super::version::{is_regular, meta_of, version_of};
use super::{read_error, LocalRoot};

/// The buffer of the fallback copy (where `copy_file_range` cannot work,
/// e.g. across filesystems on old kernels).
const COPY_BUFFER: usize = 1 << 20;

/// `copy`: the source's bytes into a temp file beside `to` (reflinked
/// where the filesystem can), then [`TempFile::publish`]: fsync, checked
/// rename per `mode`, directory fsync. `from` and `to` are validated.
pub(crate) fn copy(
    inner: &LocalRoot,
    from: &str,
    to: &str,
    mode: &WriteMode,
) -> Result<ObjectMeta> {
    let op = Operation::Copy;
    // The source is read through one descriptor: the bytes copied are the
    // version it had when opened, even if it is replaced meanwhile.
    let (source, stat) = inner.open_object(op, from)?;
    check_target(inner, op, to, mode)?;
    let temp = TempFile::create(inner, to).map_err(|e| Error::io(op, to, e))?;
    let size = meta_of(from, &stat).size;
    copy_bytes(&source, &temp.file, size).map_err(|e| Error::io(op, to, e))?;
    temp.publish(inner, op, to, mode)
}

/// `rename`: `renameat(2)` of the source's file onto the destination's name
/// (`renameat2(RENAME_NOREPLACE)` for `Create`, a version check under the
/// lock for `Update`), then fsyncs of the destination's directory and, if
/// it is another one, the source's. `from` and `to` are validated.
pub(crate) fn rename(
    inner: &LocalRoot,
    from: &str,
    to: &str,
    mode: &WriteMode,
) -> Result<ObjectMeta> {
    let op = Operation::Rename;
    let root = inner.root_fd.as_fd();
    let (from_dir, from_name) = inner
        .resolver
        .open_parent(root, from, false)
        .map_err(|e| read_error(op, from, e))?;
    check_source(op, from, &from_dir, from_name)?;
    check_target(inner, op, to, mode)?;
    let (to_dir, to_name) = inner
        .resolver
        .open_parent(root, to, true)
        .map_err(|e| Error::io(op, to, e))?;
    let step = RenameStep {
        from_dir: from_dir.as_fd(),
        from: from_name,
        to_dir: to_dir.as_fd(),
        to: to_name,
        source: Source::Object,
    };
    let stat =
        rename_checked(inner, &step, &[from, to], mode).map_err(|refusal| match refusal {
            Refusal::SourceMissing(_) | Refusal::SourceRefused(_) => {
                refusal.into_error(op, from, mode)
            }
            refusal => refusal.into_error(op, to, mode),
        })?;
    let stat =
        stat.ok_or_else(|| Error::io(op, to, io::Error::other("renamed file not stated")))?;
    rustix::fs::fsync(&to_dir).map_err(|e| Error::io(op, to, e.into()))?;
    if parent(from) != parent(to) {
        rustix::fs::fsync(&from_dir).map_err(|e| Error::io(op, from, e.into()))?;
    }
    Ok(meta_of(to, &stat))
}

fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The source of a rename is a regular file; a symlink is refused as
/// `write` and `delete` refuse one; anything else is no object.
fn check_source(op: Operation, from: &str, dir: &impl AsFd, name: &str) -> Result<()> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if is_regular(&stat) => Ok(()),
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => Err(Error::io(
            op,
            from,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the source key names a symlink; seerstore does not move symlinks",
            ),
        )),
        Ok(_) => Err(Error::not_found(op, from)),
        Err(e) => Err(read_error(op, from, e.into())),
    }
}

/// Refuses early, before any directory is created, a destination that
/// `mode` would refuse: `Create` onto something, `Update(v)` onto
/// anything but an object of version `v`. The checked rename decides again
/// atomically.
fn check_target(inner: &LocalRoot, op: Operation, to: &str, mode: &WriteMode) -> Result<()> {
    if *mode == WriteMode::Overwrite {
        return Ok(());
    }
    let current = match inner.resolver.open_parent(inner.root_fd.as_fd(), to, false) {
        Ok((dir, name)) => match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Some(stat),
            Err(e) if e == Errno::NOENT || e == Errno::NOTDIR => None,
            Err(e) => return Err(Error::io(op, to, e.into())),
        },
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) =>
        {
            None
        }
        Err(e) => return Err(Error::io(op, to, e)),
    };
    let refusal = match mode {
        WriteMode::Create if current.is_some() => Refusal::Exists(None),
        WriteMode::Update(expected)
            if current
                .as_ref()
                .filter(|s| is_regular(s))
                .map(version_of)
                .as_deref()
                != Some(expected.as_str()) =>
        {
            Refusal::Mismatch
        }
        _ => return Ok(()),
    };
    Err(refusal.into_error(op, to, mode))
}

/// Copies the first `len` bytes of `source` into `target` (both at offset
/// 0) with `copy_file_range`, which shares extents (reflinks) where the
/// filesystem can and copies in the kernel otherwise; falls back to
/// `pread`/`pwrite` where the call is not available.
fn copy_bytes(source: &File, target: &File, len: u64) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut off_in = 0u64;
        let mut off_out = 0u64;
        while off_in < len {
            let chunk = usize::try_from(len - off_in)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            match rustix::fs::copy_file_range(
                source,
                Some(&mut off_in),
                target,
                Some(&mut off_out),
                chunk,
            ) {
                Ok(0) => return Err(shrank()),
                Ok(_) => {}
                Err(e) if e == Errno::INTR => {}
                // Not possible here (another filesystem on an old kernel, a
                // filesystem without it): copy through user space, once,
                // from the start.
                Err(e)
                    if off_in == 0
                        && (e == Errno::XDEV
                            || e == Errno::NOSYS
                            || e == Errno::INVAL
                            || e == Errno::OPNOTSUPP) =>
                {
                    return copy_through_buffer(source, target, len);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    copy_through_buffer(source, target, len)
}

fn copy_through_buffer(source: &File, target: &File, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; COPY_BUFFER.min(usize::try_from(len).unwrap_or(COPY_BUFFER))];
    let mut offset = 0u64;
    while offset < len {
        let want = usize::try_from(len - offset)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = source.read_at(&mut buf[..want], offset)?;
        if read == 0 {
            return Err(shrank());
        }
        target.write_all_at(&buf[..read], offset)?;
        offset += read as u64;
    }
    Ok(())
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the source ended before its size (it was changed in place)",
    )
}
