//! `list` (a blocking-pool walker feeding a bounded channel) and `open`'s
//! sweep of temporary files left by dead writers.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use tokio::sync::mpsc;

use crate::error::{Error, Operation, Result};
use crate::path::{validate_path, validate_prefix, RESERVED_PREFIX};
use crate::storage::ObjectMeta;

use super::publish::{is_regular, meta_of};
use super::resolve::{dir_flags, read_flags};
use super::{spawn_tracked, Inner};

/// Batches queued ahead of the consumer.
const LIST_CHANNEL: usize = 4;

/// The most entries in one batch: at most `LIST_CHANNEL + 1` batches exist
/// at once, so memory does not grow with the number of keys. Batches start
/// at one entry and double, so the first key comes out at once.
const MAX_BATCH: usize = 256;

/// Lists every object under `prefix`, by whole segments. Missing prefix →
/// empty stream; invalid prefix → one `InvalidPath`.
pub(crate) fn list<'a>(inner: &Arc<Inner>, prefix: &str) -> BoxStream<'a, Result<ObjectMeta>> {
    let op = Operation::List;
    let prefix = match validate_prefix(op, prefix) {
        Ok(prefix) => prefix.to_owned(),
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let (sender, receiver) = mpsc::channel(LIST_CHANNEL);
    // The task ends early when the receiver (the stream) is dropped.
    drop(spawn_tracked(inner, move |inner| {
        let mut batch = Batch::new(sender);
        walk_prefix(inner, &prefix, &mut batch);
        batch.flush();
    }));
    // One channel hop per batch, not per key: the hop (a wake-up of the
    // consumer) costs more than reading an entry.
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|batch| (batch, receiver))
    })
    .flat_map(stream::iter)
    .boxed()
}

/// Entries gathered by the walker and sent to the stream in batches.
struct Batch {
    sender: mpsc::Sender<Vec<Result<ObjectMeta>>>,
    items: Vec<Result<ObjectMeta>>,
    /// Size of the next batch: 1, 2, 4, ... up to [`MAX_BATCH`].
    limit: usize,
}

impl Batch {
    fn new(sender: mpsc::Sender<Vec<Result<ObjectMeta>>>) -> Self {
        Self {
            sender,
            items: Vec::with_capacity(1),
            limit: 1,
        }
    }

    /// Queues `item`, sending the batch when full; `false` once nobody
    /// listens.
    fn send(&mut self, item: Result<ObjectMeta>) -> bool {
        self.items.push(item);
        if self.items.len() < self.limit {
            return true;
        }
        self.limit = (self.limit * 2).min(MAX_BATCH);
        self.flush()
    }

    /// Sends what is queued; `false` once nobody listens.
    fn flush(&mut self) -> bool {
        if self.items.is_empty() {
            return !self.sender.is_closed();
        }
        let items = std::mem::replace(&mut self.items, Vec::with_capacity(self.limit));
        self.sender.blocking_send(items).is_ok()
    }
}

type Sender = Batch;

/// Queues `item`; `false` once nobody listens.
fn send(sender: &mut Sender, item: Result<ObjectMeta>) -> bool {
    sender.send(item)
}

fn is_gone(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::NOTDIR
}

fn walk_prefix(inner: &Inner, prefix: &str, sender: &mut Sender) {
    let op = Operation::List;
    let root = inner.root_fd.as_fd();
    if prefix.is_empty() {
        match rustix::fs::openat(root, ".", dir_flags(), Mode::empty()) {
            Ok(dir) => walk(dir, String::new(), sender),
            Err(e) => {
                send(sender, Err(Error::io(op, prefix, e.into())));
            }
        }
        return;
    }
    // Keys strictly below the prefix: a directory is walked; an object whose
    // key equals the prefix is not listed (as on object stores), and a
    // symlink is neither followed nor reported.
    let (dir, name) = match inner.resolver.open_parent(root, prefix, false) {
        Ok(found) => found,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) =>
        {
            return
        }
        Err(e) => {
            send(sender, Err(Error::io(op, prefix, e)));
            return;
        }
    };
    let stat = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(e) if is_gone(e) => return,
        Err(e) => {
            send(sender, Err(Error::io(op, prefix, e.into())));
            return;
        }
    };
    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
        match rustix::fs::openat(&dir, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(sub) => walk(sub, format!("{prefix}/"), sender),
            Err(e) if is_gone(e) => {}
            Err(e) => {
                send(sender, Err(Error::io(op, prefix, e.into())));
            }
        }
    }
}

/// Depth-first walk of `dir`, whose keys start with `base` (empty or ending
/// in `/`). Holds one fd per level.
fn walk(dir: OwnedFd, base: String, sender: &mut Sender) {
    let op = Operation::List;
    let mut stack = match Dir::new(dir) {
        Ok(iter) => vec![(iter, base)],
        Err(e) => {
            send(sender, Err(Error::io(op, base, e.into())));
            return;
        }
    };
    while let Some((iter, base)) = stack.last_mut() {
        let entry = match iter.read() {
            None => {
                stack.pop();
                continue;
            }
            Some(Err(e)) => {
                let item = Err(Error::io(op, base.trim_end_matches('/'), e.into()));
                stack.pop();
                if !send(sender, item) {
                    return;
                }
                continue;
            }
            Some(Ok(entry)) => entry,
        };
        let Some(name) = entry_name(entry.file_name()) else {
            continue;
        };
        let key = format!("{base}{name}");
        // Names no key could have (non-UTF-8, control characters, ...) are
        // not objects of this storage.
        if validate_path(op, &key).is_err() {
            continue;
        }
        let Ok(fd) = iter.fd() else { continue };
        let stat = match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(e) if is_gone(e) => continue,
            Err(e) => {
                if !send(sender, Err(Error::io(op, key, e.into()))) {
                    return;
                }
                continue;
            }
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => {
                let sent = send(sender, Ok(meta_of(key, &stat)));
                if !sent {
                    return;
                }
            }
            FileType::Directory => {
                match rustix::fs::openat(fd, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
                    Ok(sub) => match Dir::new(sub) {
                        Ok(sub) => stack.push((sub, format!("{key}/"))),
                        Err(e) => {
                            if !send(sender, Err(Error::io(op, key, e.into()))) {
                                return;
                            }
                        }
                    },
                    Err(e) if is_gone(e) => {}
                    Err(e) => {
                        if !send(sender, Err(Error::io(op, key, e.into()))) {
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
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
pub(crate) fn sweep(inner: &Inner) {
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
        let is_temp = bytes.starts_with(RESERVED_PREFIX.as_bytes());
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
