//! `list_with` with an offset (a sorted walk that skips what sorts before
//! the offset without reading it) and `list_dir` (one directory read).
//!
//! Keys sort by bytes. Within one directory whose keys start with `base`,
//! the key order of its entries is the order of `name` for an object and
//! of `name + "/"` for a sub-directory (every key below it continues with
//! a `/`), so a depth-first walk that visits each directory's entries in
//! that order yields the keys sorted. That lets the walk skip, without a
//! `stat` or an `open`:
//!
//! * an object whose key is not after the offset;
//! * a sub-directory `d/` that sorts before the offset and is not a prefix
//!   of it: every key below it sorts before the offset too.
//!
//! A directory the walk enters is read whole (its names are sorted in
//! memory): memory is one name per entry of each open level, bounded by
//! the widest directory on the path, not by the number of keys.
//!
//! Like `list`, neither ever reports or descends into a symlink, and never
//! reports temporary files or names no key could have.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;
use tokio::task::JoinHandle;

use crate::error::{Error, Operation, Result};
use crate::path::{validate_path, validate_prefix};
use crate::storage::{ListOptions, Listing, ObjectMeta};

use super::list::entry_name;
use super::resolve::dir_flags;
use super::version::{is_regular, meta_of};
use super::{spawn_tracked, LocalRoot};

/// The most keys in one batch of a `list_with` stream. Batches start at one
/// and double, so the first key comes out at once.
const MAX_BATCH: usize = 256;

/// `list_with(prefix, options)`: without an offset, plain `list`; with
/// one, the sorted walk, which yields the keys in byte order. An invalid
/// prefix or offset yields one `InvalidPath`.
pub(crate) fn list_with<'a>(
    inner: &Arc<LocalRoot>,
    prefix: &str,
    options: &ListOptions,
) -> BoxStream<'a, Result<ObjectMeta>> {
    let op = Operation::List;
    let checked = options.checked_offset().and_then(|offset| {
        let prefix = validate_prefix(op, prefix)?;
        Ok((prefix.to_owned(), offset.map(str::to_owned)))
    });
    let (prefix, offset) = match checked {
        Ok((_, None)) => return super::list::list(inner, prefix),
        Ok((prefix, Some(offset))) => (prefix, offset),
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    let walk = SortedWalk {
        stack: Vec::new(),
        prefix: Some(prefix),
        offset,
    };
    // One blocking-pool task per batch, the next read while the consumer
    // works through this one; a stream nobody polls holds no thread.
    let state = (inner.clone(), Some(read_batch(inner, walk, 1)), 1);
    stream::unfold(state, |(inner, pending, limit)| async move {
        let (walk, batch) = match pending?.await {
            Ok(done) => done,
            Err(join) => {
                let err = Error::io(Operation::List, "", std::io::Error::other(join));
                return Some((vec![Err(err)], (inner, None, limit)));
            }
        };
        let limit = (limit * 2).min(MAX_BATCH);
        let next = (!walk.is_done()).then(|| read_batch(&inner, walk, limit));
        Some((batch, (inner, next, limit)))
    })
    .flat_map(stream::iter)
    .boxed()
}

fn read_batch(
    inner: &Arc<LocalRoot>,
    mut walk: SortedWalk,
    limit: usize,
) -> JoinHandle<(SortedWalk, Vec<Result<ObjectMeta>>)> {
    spawn_tracked(inner, move |inner| {
        let batch = walk.next_batch(inner, limit);
        (walk, batch)
    })
}

/// `list_dir(prefix)`: one read of the prefix's directory. A missing
/// prefix, or one naming an object or a symlink, is an empty listing.
pub(crate) fn list_dir(inner: &LocalRoot, prefix: &str) -> Result<Listing> {
    let op = Operation::ListDir;
    let Some(dir) = open_prefix(inner, op, prefix)? else {
        return Ok(Listing::default());
    };
    let base = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let level = Level::read(op, dir, base, |_, _| true)?;
    let mut listing = Listing::default();
    let fd = level.fd()?;
    for entry in &level.entries {
        let key = format!("{}{}", level.base, entry.name);
        match entry.kind {
            // Only a directory that holds an object (at any depth) is a
            // sub-prefix: one whose objects were all deleted is not, as on
            // object stores.
            Kind::Dir => {
                if holds_an_object(op, fd, &entry.name, &format!("{key}/"))? {
                    listing.dirs.push(key);
                }
            }
            Kind::Object => {
                if let Some(meta) = object_meta(op, fd, &entry.name, key)? {
                    listing.objects.push(meta);
                }
            }
        }
    }
    // Objects come out in key order already; `dirs` sort as the plain
    // strings they are (`a` before `a-`), as `Listing` says.
    listing.dirs.sort_unstable();
    Ok(listing)
}

/// Whether the directory `name` in `parent` (keys below it start with
/// `base`) holds an object, at any depth. Stops at the first one found: in
/// the common case one directory read per sub-prefix.
fn holds_an_object(op: Operation, parent: BorrowedFd<'_>, name: &str, base: &str) -> Result<bool> {
    let dir = match rustix::fs::openat(parent, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty())
    {
        Ok(dir) => dir,
        Err(e) if is_gone(e) || e == Errno::LOOP => return Ok(false),
        Err(e) => return Err(Error::io(op, base.trim_end_matches('/'), e.into())),
    };
    let dir = Dir::new(dir).map_err(|e| Error::io(op, base.trim_end_matches('/'), e.into()))?;
    let level = Level::read(op, dir, base.to_owned(), |_, _| true)?;
    if level.entries.iter().any(|entry| entry.kind == Kind::Object) {
        return Ok(true);
    }
    let fd = level.fd()?;
    for entry in &level.entries {
        let below = format!("{base}{}/", entry.name);
        if holds_an_object(op, fd, &entry.name, &below)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The directory of `prefix` (validated or empty), `None` if there is none.
fn open_prefix(inner: &LocalRoot, op: Operation, prefix: &str) -> Result<Option<Dir>> {
    let root = inner.root_fd.as_fd();
    let io_err = |e: std::io::Error| Error::io(op, prefix, e);
    let dir = if prefix.is_empty() {
        rustix::fs::openat(root, ".", dir_flags(), Mode::empty()).map_err(|e| io_err(e.into()))?
    } else {
        let (parent, name) = match inner.resolver.open_parent(root, prefix, false) {
            Ok(found) => found,
            Err(e) if is_gone_io(&e) => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        match rustix::fs::openat(&parent, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(dir) => dir,
            // Missing, an object, or a symlink: no keys below it.
            Err(e) if is_gone(e) || e == Errno::LOOP => return Ok(None),
            Err(e) => return Err(io_err(e.into())),
        }
    };
    Dir::new(dir).map(Some).map_err(|e| io_err(e.into()))
}

fn is_gone(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::NOTDIR
}

fn is_gone_io(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
        || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error())
}

/// The metadata of the object `name` in `dir`; `None` if it is gone or
/// no longer a regular file.
fn object_meta(
    op: Operation,
    dir: BorrowedFd<'_>,
    name: &str,
    key: String,
) -> Result<Option<ObjectMeta>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if is_regular(&stat) => Ok(Some(meta_of(key, &stat))),
        Ok(_) => Ok(None),
        Err(e) if is_gone(e) => Ok(None),
        Err(e) => Err(Error::io(op, key, e.into())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Dir,
}

#[derive(Debug)]
struct Entry {
    name: String,
    kind: Kind,
}

/// One directory of the walk: its entries, sorted in key order, and the
/// next one to visit.
struct Level {
    dir: Dir,
    /// The key prefix of its entries (empty or ending in `/`).
    base: String,
    entries: Vec<Entry>,
    next: usize,
}

impl Level {
    /// Reads `dir` whole, keeping the entries `keep(key, kind)` accepts
    /// (the key of a directory ends in `/`), sorted in key order.
    fn read(
        op: Operation,
        mut dir: Dir,
        base: String,
        mut keep: impl FnMut(&str, Kind) -> bool,
    ) -> Result<Level> {
        let mut entries = Vec::new();
        let dir_error = |base: &str, e: Errno| Error::io(op, base.trim_end_matches('/'), e.into());
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| dir_error(&base, e))?;
            let Some(name) = entry_name(entry.file_name()) else {
                continue;
            };
            let mut key = format!("{base}{name}");
            // Names no key could have are not objects of this storage.
            if validate_path(op, &key).is_err() {
                continue;
            }
            // d_type saves a stat per entry; only "unknown" needs one.
            let file_type = match entry.file_type() {
                FileType::Unknown => {
                    let fd = dir.fd().map_err(|e| dir_error(&base, e))?;
                    match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(stat) => FileType::from_raw_mode(stat.st_mode),
                        Err(e) if is_gone(e) => continue,
                        Err(e) => return Err(Error::io(op, key, e.into())),
                    }
                }
                file_type => file_type,
            };
            let kind = match file_type {
                FileType::RegularFile => Kind::Object,
                FileType::Directory => {
                    key.push('/');
                    Kind::Dir
                }
                // Symlinks and special files are no objects.
                _ => continue,
            };
            if keep(&key, kind) {
                entries.push(Entry {
                    name: name.to_owned(),
                    kind,
                });
            }
        }
        entries.sort_unstable_by(key_order);
        Ok(Level {
            dir,
            base,
            entries,
            next: 0,
        })
    }

    fn fd(&self) -> Result<BorrowedFd<'_>> {
        self.dir
            .fd()
            .map_err(|e| Error::io(Operation::List, self.base.trim_end_matches('/'), e.into()))
    }
}

/// The key order of two entries of one directory: a directory sorts as
/// its name followed by `/`. Compared as bytes, like keys.
fn key_order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    fn sort_bytes(entry: &Entry) -> impl Iterator<Item = u8> + '_ {
        let slash: &[u8] = match entry.kind {
            Kind::Dir => b"/",
            Kind::Object => b"",
        };
        entry.name.bytes().chain(slash.iter().copied())
    }
    sort_bytes(a).cmp(sort_bytes(b))
}

/// Whether no key under `base` (ending in `/`) sorts after `offset`: they
/// all start with `base`, which already sorts before `offset` and is not a
/// prefix of it.
fn skips_subtree(offset: &str, base: &str) -> bool {
    base < offset && !offset.starts_with(base)
}

/// The walk of `list_with` with an offset: resumable after any key, on
/// another blocking-pool task.
struct SortedWalk {
    stack: Vec<Level>,
    /// The prefix still to be opened (before the first batch).
    prefix: Option<String>,
    /// Only keys after this one are listed.
    offset: String,
}

impl SortedWalk {
    fn is_done(&self) -> bool {
        self.prefix.is_none() && self.stack.is_empty()
    }

    /// Up to `limit` items (objects, and errors, which do not end the
    /// walk); fewer only at the end.
    fn next_batch(&mut self, inner: &LocalRoot, limit: usize) -> Vec<Result<ObjectMeta>> {
        let mut out = Vec::with_capacity(limit);
        if let Some(prefix) = self.prefix.take() {
            let base = if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            };
            if prefix.is_empty() || !skips_subtree(&self.offset, &base) {
                match open_prefix(inner, Operation::List, &prefix) {
                    Ok(Some(dir)) => self.enter(dir, base, &mut out),
                    Ok(None) => {}
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        while out.len() < limit && self.step(&mut out) {}
        out
    }

    fn enter(&mut self, dir: Dir, base: String, out: &mut Vec<Result<ObjectMeta>>) {
        let offset = self.offset.as_str();
        let keep = |key: &str, kind: Kind| match kind {
            Kind::Object => key > offset,
            Kind::Dir => !skips_subtree(offset, key),
        };
        match Level::read(Operation::List, dir, base, keep) {
            Ok(level) => self.stack.push(level),
            Err(e) => out.push(Err(e)),
        }
    }

    /// Visits one entry of the innermost directory (adding at most one
    /// item to `out`); `false` at the end of the walk.
    fn step(&mut self, out: &mut Vec<Result<ObjectMeta>>) -> bool {
        let op = Operation::List;
        let Some(level) = self.stack.last_mut() else {
            return false;
        };
        let Some(entry) = level.entries.get(level.next) else {
            self.stack.pop();
            return true;
        };
        level.next += 1;
        let key = format!("{}{}", level.base, entry.name);
        let fd = match level.fd() {
            Ok(fd) => fd,
            Err(e) => {
                out.push(Err(e));
                self.stack.pop();
                return true;
            }
        };
        match entry.kind {
            Kind::Object => match object_meta(op, fd, &entry.name, key) {
                Ok(Some(meta)) => out.push(Ok(meta)),
                Ok(None) => {}
                Err(e) => out.push(Err(e)),
            },
            Kind::Dir => {
                let opened = rustix::fs::openat(
                    fd,
                    entry.name.as_str(),
                    dir_flags() | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .and_then(Dir::new);
                match opened {
                    Ok(sub) => self.enter(sub, format!("{key}/"), out),
                    Err(e) if is_gone(e) || e == Errno::LOOP => {}
                    Err(e) => out.push(Err(Error::io(op, key, e.into()))),
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_sort_as_their_keys() {
        let entry = |name: &str, kind| Entry {
            name: name.to_owned(),
            kind,
        };
        let mut entries = [
            entry("a0", Kind::Object),
            entry("a", Kind::Dir),
            entry("a.b", Kind::Object),
            entry("a-", Kind::Dir),
        ];
        entries.sort_unstable_by(key_order);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        // Keys: "a-/..", "a.b", "a/..", "a0".
        assert_eq!(names, ["a-", "a.b", "a", "a0"]);
    }

    #[test]
    fn skipped_subtrees_hold_no_key_after_the_offset() {
        assert!(skips_subtree("b", "a/"));
        assert!(!skips_subtree("a/x", "a/"), "the offset is inside");
        assert!(!skips_subtree("a", "a/"), "every key below sorts after");
        assert!(skips_subtree("a0", "a/"), "'/' sorts before '0'");
    }
}
