//! `list` (a walker that reads one batch per blocking-pool task) and
//! `open`'s sweep of temporary files left by dead writers.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use tokio::task::JoinHandle;

use crate::error::{Error, Operation, Result};
use crate::path::{validate_path, validate_prefix, RESERVED_PREFIX};
use crate::storage::ObjectMeta;

use super::dirlock::is_lock_name;
use super::resolve::{dir_flags, read_flags};
use super::version::{is_regular, meta_of};
use super::{spawn_tracked, LocalRoot};

/// The most entries in one batch, so memory does not grow with the number
/// of keys. Batches start at one entry and double, so the first key comes
/// out at once.
const MAX_BATCH: usize = 1024;

/// Lists every object under `prefix`, by whole segments. Missing prefix →
/// empty stream; invalid prefix → one `InvalidPath`.
pub(crate) fn list<'a>(inner: &Arc<LocalRoot>, prefix: &str) -> BoxStream<'a, Result<ObjectMeta>> {
    list_after(inner, prefix, None)
}

/// Like [`list`], yielding only keys that sort after `start_after` (byte
/// order); subdirectories whose keys all sort before it are not read.
///
/// Each batch is read by ONE blocking-pool task, which ends with the batch:
/// a stream nobody polls holds no thread, only its open directories. While
/// the consumer works through one batch, the next is read (one ahead).
pub(crate) fn list_after<'a>(
    inner: &Arc<LocalRoot>,
    prefix: &str,
    start_after: Option<String>,
) -> BoxStream<'a, Result<ObjectMeta>> {
    let op = Operation::List;
    let prefix = match validate_prefix(op, prefix) {
        Ok(prefix) => prefix.to_owned(),
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let walker = Walker {
        stack: Vec::new(),
        prefix: Some(prefix),
        start_after,
    };
    let state = Prefetch {
        pending: Some(read_batch(inner, walker, 1)),
        inner: inner.clone(),
        limit: 1,
    };
    stream::unfold(state, |mut state| async move {
        let task = state.pending.take()?;
        let (walker, batch) = match task.await {
            Ok(done) => done,
            Err(join) => {
                let err = Error::io(Operation::List, "", std::io::Error::other(join));
                return Some((vec![Err(err)], state));
            }
        };
        if !walker.is_done() {
            state.limit = (state.limit * 2).min(MAX_BATCH);
            state.pending = Some(read_batch(&state.inner, walker, state.limit));
        }
        Some((batch, state))
    })
    .flat_map(stream::iter)
    .boxed()
}

/// A listing between batches: the batch being read, if any.
struct Prefetch {
    inner: Arc<LocalRoot>,
    pending: Option<JoinHandle<(Walker, Vec<Result<ObjectMeta>>)>>,
    /// Size of the next batch: 1, 2, 4, ... up to [`MAX_BATCH`].
    limit: usize,
}

fn read_batch(
    inner: &Arc<LocalRoot>,
    mut walker: Walker,
    limit: usize,
) -> JoinHandle<(Walker, Vec<Result<ObjectMeta>>)> {
    spawn_tracked(inner, move |inner| {
        let batch = walker.next_batch(inner, limit);
        (walker, batch)
    })
}

/// Whether no key under `base` (ending in `/`) sorts after `start_after`:
/// they all share `base`, and `start_after` already differs from it, upward.
fn skips_subtree(start_after: Option<&str>, base: &str) -> bool {
    start_after.is_some_and(|after| after > base && !after.starts_with(base))
}

fn is_gone(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::NOTDIR
}

/// A depth-first walk that can stop after any entry and resume on another
/// thread: it holds one open directory per level, with the key prefix of
/// its entries (empty or ending in `/`).
pub(crate) struct Walker {
    stack: Vec<(Dir, String)>,
    /// The prefix still to be opened (before the first batch).
    prefix: Option<String>,
    /// Keys up to this one are skipped.
    start_after: Option<String>,
}

impl Walker {
    fn is_done(&self) -> bool {
        self.prefix.is_none() && self.stack.is_empty()
    }

    /// Up to `limit` entries (objects, and errors, which do not end the
    /// walk); fewer only at the end.
    fn next_batch(&mut self, inner: &LocalRoot, limit: usize) -> Vec<Result<ObjectMeta>> {
        let mut out = Vec::with_capacity(limit.min(MAX_BATCH));
        if let Some(prefix) = self.prefix.take() {
            self.open_prefix(inner, &prefix, &mut out);
        }
        while out.len() < limit {
            if !self.step(&mut out) {
                break;
            }
        }
        out
    }

    fn push_dir(&mut self, dir: OwnedFd, base: String, out: &mut Vec<Result<ObjectMeta>>) {
        match Dir::new(dir) {
            Ok(iter) => self.stack.push((iter, base)),
            Err(e) => out.push(Err(Error::io(
                Operation::List,
                base.trim_end_matches('/'),
                e.into(),
            ))),
        }
    }

    fn open_prefix(&mut self, inner: &LocalRoot, prefix: &str, out: &mut Vec<Result<ObjectMeta>>) {
        let op = Operation::List;
        let root = inner.root_fd.as_fd();
        if prefix.is_empty() {
            match rustix::fs::openat(root, ".", dir_flags(), Mode::empty()) {
                Ok(dir) => self.push_dir(dir, String::new(), out),
                Err(e) => out.push(Err(Error::io(op, prefix, e.into()))),
            }
            return;
        }
        // Keys strictly below the prefix: a directory is walked; an object
        // whose key equals the prefix is not listed (as on object stores),
        // and a symlink is neither followed nor reported.
        let (dir, name) = match inner.resolver.open_parent(root, prefix, false) {
            Ok(found) => found,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) =>
            {
                return
            }
            Err(e) => {
                out.push(Err(Error::io(op, prefix, e)));
                return;
            }
        };
        let stat = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(e) if is_gone(e) => return,
            Err(e) => {
                out.push(Err(Error::io(op, prefix, e.into())));
                return;
            }
        };
        let base = format!("{prefix}/");
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory
            && !skips_subtree(self.start_after.as_deref(), &base)
        {
            match rustix::fs::openat(&dir, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
                Ok(sub) => self.push_dir(sub, base, out),
                Err(e) if is_gone(e) => {}
                Err(e) => out.push(Err(Error::io(op, prefix, e.into()))),
            }
        }
    }

    /// Reads one entry of the innermost directory (adding at most one item
    /// to `out`); `false` at the end of the walk.
    fn step(&mut self, out: &mut Vec<Result<ObjectMeta>>) -> bool {
        let op = Operation::List;
        let Some((iter, base)) = self.stack.last_mut() else {
            return false;
        };
        let entry = match iter.read() {
            None => {
                self.stack.pop();
                return true;
            }
            Some(Err(e)) => {
                out.push(Err(Error::io(op, base.trim_end_matches('/'), e.into())));
                self.stack.pop();
                return true;
            }
            Some(Ok(entry)) => entry,
        };
        let Some(name) = entry_name(entry.file_name()) else {
            return true;
        };
        let key = format!("{base}{name}");
        // Names no key could have (non-UTF-8, control characters, ...) are
        // not objects of this storage.
        if validate_path(op, &key).is_err() {
            return true;
        }
        let Ok(fd) = iter.fd() else { return true };
        let stat = match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(e) if is_gone(e) => return true,
            Err(e) => {
                out.push(Err(Error::io(op, key, e.into())));
                return true;
            }
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile
                if self
                    .start_after
                    .as_deref()
                    .is_none_or(|after| key.as_str() > after) =>
            {
                out.push(Ok(meta_of(key, &stat)));
            }
            FileType::Directory => {
                let base = format!("{key}/");
                if skips_subtree(self.start_after.as_deref(), &base) {
                    return true;
                }
                match rustix::fs::openat(fd, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
                    Ok(sub) => self.push_dir(sub, base, out),
                    Err(e) if is_gone(e) => {}
                    Err(e) => out.push(Err(Error::io(op, key, e.into()))),
                }
            }
            _ => {}
        }
        true
    }
}

/// The entry's name as UTF-8, without `.`, `..` and temp files.
pub(crate) fn entry_name(name: &CStr) -> Option<&str> {
    let name = name.to_str().ok()?;
    if name == "." || name == ".." || name.starts_with(RESERVED_PREFIX) {
        return None;
    }
    Some(name)
}

/// Removes every temp file under the root whose `flock` can be taken (its
/// writer died); leaves those a live writer holds. Best effort: unreadable
/// directories and failing entries are skipped.
pub(crate) fn sweep(inner: &LocalRoot) {
    let Ok(root) = rustix::fs::openat(inner.root_fd.as_fd(), ".", dir_flags(), Mode::empty())
    else {
        return;
    };
    let Ok(root) = Dir::new(root) else { return };
    let mut stack = vec![root];
    while let Some(iter) = stack.last_mut() {
        let entry = match iter.read() {
            None | Some(Err(_)) => {
                stack.pop();
                continue;
            }
            Some(Ok(entry)) => entry,
        };
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let Ok(fd) = iter.fd() else { continue };
        // The directory's lock file is no temp file: it outlives writers.
        let is_temp = bytes.starts_with(RESERVED_PREFIX.as_bytes()) && !is_lock_name(bytes);
        // d_type saves a stat per object; only "unknown" needs one.
        let kind = match entry.file_type() {
            FileType::Unknown => match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => FileType::from_raw_mode(stat.st_mode),
                Err(_) => continue,
            },
            kind => kind,
        };
        match kind {
            FileType::Directory => {
                if let Ok(sub) =
                    rustix::fs::openat(fd, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty())
                {
                    if let Ok(sub) = Dir::new(sub) {
                        stack.push(sub);
                    }
                }
            }
            FileType::RegularFile if is_temp => remove_if_abandoned(fd, name),
            _ => {}
        }
    }
}

/// Unlinks the temp file `name` if no one holds its lock. The lock is taken
/// on our own open of the file; the unlink happens only if the name still
/// leads to that same inode.
fn remove_if_abandoned(dir: std::os::fd::BorrowedFd<'_>, name: &CStr) {
    let Ok(file) = rustix::fs::openat(dir, name, read_flags() | OFlags::NOFOLLOW, Mode::empty())
    else {
        return;
    };
    if rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        return; // a live writer holds it
    }
    let (Ok(ours), Ok(named)) = (
        rustix::fs::fstat(&file),
        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW),
    ) else {
        return;
    };
    if is_regular(&ours) && ours.st_ino == named.st_ino && ours.st_dev == named.st_dev {
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
}
