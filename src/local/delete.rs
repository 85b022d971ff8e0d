//! `delete` and `delete_many`: unlinks grouped by directory, each
//! directory fsynced once per group rather than once per object.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result};
use crate::path::validate_path;

use super::dirlock::DirLock;
use super::{join, spawn_tracked, LocalRoot, LocalStorage};

/// Blocking-pool tasks one `delete_many` runs at once: a few, so that a
/// large batch overlaps its fsyncs without taking the whole pool.
const DELETE_TASKS: usize = 4;

impl LocalStorage {
    /// The body of [`Storage::delete_many`](crate::Storage::delete_many):
    /// the valid keys grouped by directory, the groups spread over up to
    /// [`DELETE_TASKS`] blocking-pool tasks; one directory fsync per group.
    pub(super) async fn delete_many_local(&self, paths: &[String]) -> Vec<Result<()>> {
        let op = Operation::DeleteMany;
        let mut results: Vec<Option<Result<()>>> = (0..paths.len()).map(|_| None).collect();
        let mut by_dir: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
        for (index, path) in paths.iter().enumerate() {
            match validate_path(op, path) {
                Ok(key) => {
                    let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir);
                    by_dir.entry(dir).or_default().push((index, key.to_owned()));
                }
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        let valid: usize = by_dir.values().map(Vec::len).sum();
        let per_task = valid.div_ceil(DELETE_TASKS).max(1);
        // Each task gets whole groups (pieces of at most `per_task` keys).
        let mut tasks: Vec<Vec<Vec<(usize, String)>>> = vec![Vec::new()];
        let mut load = 0;
        for group in by_dir.into_values() {
            for piece in group.chunks(per_task) {
                if load >= per_task {
                    tasks.push(Vec::new());
                    load = 0;
                }
                load += piece.len();
                if let Some(task) = tasks.last_mut() {
                    task.push(piece.to_vec());
                }
            }
        }
        let mut running = Vec::with_capacity(tasks.len());
        for groups in tasks {
            let indices: Vec<usize> = groups.iter().flatten().map(|(i, _)| *i).collect();
            let task = spawn_tracked(&self.inner, move |inner| {
                let mut done = Vec::new();
                for group in groups {
                    let keys: Vec<&str> = group.iter().map(|(_, key)| key.as_str()).collect();
                    let outcomes = delete_in_dir(inner, op, &keys);
                    done.extend(group.iter().map(|(i, _)| *i).zip(outcomes));
                }
                Ok(done)
            });
            running.push((indices, task));
        }
        for (indices, task) in running {
            match join(op, "", task).await {
                Ok(done) => {
                    for (index, outcome) in done {
                        results[index] = Some(outcome);
                    }
                }
                Err(e) => {
                    for index in indices {
                        let failed = Error::Io {
                            op,
                            path: paths[index].clone(),
                            source: io::Error::other(e.to_string()),
                        };
                        results[index] = Some(Err(failed));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Ok(())))
            .collect()
    }
}

/// Deletes `keys`, all in one directory (validated keys with the same
/// parent): one result per key, in order. The directory is opened once and
/// fsynced once, after the last unlink; if that fsync fails, every key
/// unlinked here reports it. A missing key (or directory) is `Ok`.
pub(crate) fn delete_in_dir(inner: &LocalRoot, op: Operation, keys: &[&str]) -> Vec<Result<()>> {
    let Some(first) = keys.first() else {
        return Vec::new();
    };
    let dir = match inner
        .resolver
        .open_parent(inner.root_fd.as_fd(), first, false)
    {
        Ok((dir, _)) => dir,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) =>
        {
            return keys.iter().map(|_| Ok(())).collect();
        }
        Err(e) => {
            return keys
                .iter()
                .map(|key| Err(Error::io(op, *key, same_error(&e))))
                .collect();
        }
    };
    // The lock every publish into `dir` takes: a delete racing an `Update`
    // (through any instance or process) happens wholly before or after its
    // check and rename. One lock for the whole group.
    let lock = match DirLock::acquire(dir.as_fd()) {
        Ok(lock) => lock,
        Err(e) => {
            return keys
                .iter()
                .map(|key| Err(Error::io(op, *key, same_error(&e))))
                .collect();
        }
    };
    let mut results: Vec<Result<bool>> = keys
        .iter()
        .map(|key| {
            let name = key.rsplit_once('/').map_or(*key, |(_, name)| name);
            unlink_object(inner, op, dir.as_fd(), name, key)
        })
        .collect();
    drop(lock);
    if results.iter().any(|r| matches!(r, Ok(true))) {
        if let Err(e) = rustix::fs::fsync(&dir) {
            for (result, key) in results.iter_mut().zip(keys) {
                if matches!(result, Ok(true)) {
                    *result = Err(Error::io(op, *key, e.into()));
                }
            }
        }
    }
    results.into_iter().map(|r| r.map(|_| ())).collect()
}

/// A copy of `e` for each key it failed (`io::Error` is not `Clone`): the
/// same OS error where there is one, else the same kind and message.
fn same_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// Unlinks the object `name` in `dir` (the key `key`; the caller holds
/// the directory's lock) and drops its cached handle: `Ok(true)` if a file was removed,
/// `Ok(false)` if there was no object. A symlink is refused, never removed.
fn unlink_object(
    inner: &LocalRoot,
    op: Operation,
    dir: BorrowedFd<'_>,
    name: &str,
    key: &str,
) -> Result<bool> {
    let io_err = |e: io::Error| Error::io(op, key, e);
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(e) if e == Errno::NOENT => return Ok(false),
        Err(e) => return Err(io_err(e.into())),
        Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => {}
            FileType::Symlink => {
                return Err(io_err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the key names a symlink; seerstore does not delete symlinks",
                )))
            }
            // A directory (or other non-object) is no object: nothing to delete.
            _ => return Ok(false),
        },
    }
    let replacing = inner.handles.replacing(key);
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => {}
        Err(e) if e == Errno::NOENT => return Ok(false),
        Err(e) => return Err(io_err(e.into())),
    }
    drop(replacing);
    Ok(true)
}
