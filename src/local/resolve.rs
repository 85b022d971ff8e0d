//! Resolving keys beneath the storage root, so that no key (and no symlink a
//! key passes through) can name anything outside it.
//!
//! On Linux every open goes through `openat2(root_fd, key, ..,
//! RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: the kernel refuses absolute
//! symlinks, `..` escapes and `/proc` magic links, while symlinks that stay
//! inside the root are followed. Where `openat2` is missing (`ENOSYS`, Linux
//! before 5.6, or any other unix) or the storage was built with
//! [`LocalStorageBuilder::follow_symlinks`](super::LocalStorageBuilder::follow_symlinks)
//! `(false)`, keys are walked one component at a time with
//! `openat(.., O_NOFOLLOW)`, which refuses *every* symlink, even one that
//! points inside the root.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{mkdirat, openat, Mode, OFlags};
use rustix::io::Errno;

/// Set once `openat2` returned `ENOSYS`; from then on every open walks.
static OPENAT2_MISSING: AtomicBool = AtomicBool::new(false);

/// Mode of directories created for keys (before the umask).
const DIR_MODE: u32 = 0o755;

/// Flags for opening a directory we may list, fsync or create entries in.
pub(crate) fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// Flags for opening a file to read or stat it. `NONBLOCK` keeps a FIFO
/// planted under the root from hanging the open; it changes nothing for
/// regular files.
pub(crate) fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
}

/// How keys are resolved beneath the root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolver {
    /// Follow symlinks that stay inside the root (needs `openat2`).
    pub(crate) follow_symlinks: bool,
}

impl Resolver {
    /// Opens `rel` (a validated key or key prefix, never empty) beneath
    /// `root` with `flags`.
    pub(crate) fn open(
        &self,
        root: BorrowedFd<'_>,
        rel: &str,
        flags: OFlags,
    ) -> io::Result<OwnedFd> {
        if self.follow_symlinks && !OPENAT2_MISSING.load(Ordering::Relaxed) {
            match openat2_beneath(root, rel, flags) {
                Err(e) if e == Errno::NOSYS => OPENAT2_MISSING.store(true, Ordering::Relaxed),
                // Some seccomp profiles (older container runtimes) answer
                // EPERM for syscalls they do not know; an open without
                // O_NOATIME or write access has no other EPERM. The walk is
                // stricter, so falling back is never less safe.
                Err(e) if e == Errno::PERM => {}
                other => return other.map_err(|e| explain(e, rel)),
            }
        }
        walk(root, rel, flags).map_err(|e| explain(e, rel))
    }

    /// Opens the directory holding `key` and returns it with the key's last
    /// segment. With `create`, missing directories are made one component at
    /// a time (`mkdirat` on the parent's fd, tolerating `EEXIST`), and each
    /// parent of a new directory is fsynced so the new entry is durable
    /// (also on `EEXIST`: whoever made it may have died before its fsync).
    pub(crate) fn open_parent<'k>(
        &self,
        root: BorrowedFd<'_>,
        key: &'k str,
        create: bool,
    ) -> io::Result<(OwnedFd, &'k str)> {
        let Some((parent, name)) = key.rsplit_once('/') else {
            let root_dir = openat(root, ".", dir_flags(), Mode::empty())?;
            return Ok((root_dir, key));
        };
        match self.open(root, parent, dir_flags()) {
            Ok(dir) => return Ok((dir, name)),
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Slow path: create what is missing, component by component, each
        // time reopening the whole prefix beneath the root so that the same
        // symlink rules hold for every step.
        let mut dir = openat(root, ".", dir_flags(), Mode::empty())?;
        let mut end = 0;
        for component in parent.split('/') {
            end += component.len();
            let prefix = &parent[..end];
            end += 1;
            match self.open(root, prefix, dir_flags()) {
                Ok(next) => dir = next,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match mkdirat(&dir, component, Mode::from_raw_mode(DIR_MODE)) {
                        // EEXIST: a racing writer made it and may have died
                        // before its fsync; ours makes the entry durable
                        // before anything is published beneath it.
                        Ok(()) => rustix::fs::fsync(&dir)?,
                        Err(e) if e == Errno::EXIST => rustix::fs::fsync(&dir)?,
                        Err(e) => return Err(explain(e, prefix)),
                    }
                    dir = self.open(root, prefix, dir_flags())?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((dir, name))
    }
}

/// Creates the storage root and its missing ancestors (as
/// `create_dir_all`), and fsyncs the parent of each directory made, so that
/// a root made here survives a crash with what is later written into it.
/// The parent of a root that already existed is fsynced too, best effort:
/// the process that made it may have died before its own fsync.
pub(crate) fn create_root(root: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = root;
    loop {
        match std::fs::metadata(at) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(at);
                match at.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                    _ => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    for dir in missing.iter().rev() {
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    for dir in missing.iter().rev() {
        rustix::fs::fsync(open_dir(parent_of(dir))?)?;
    }
    if missing.is_empty() {
        if let Ok(parent) = open_dir(parent_of(root)) {
            let _ = rustix::fs::fsync(parent);
        }
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare relative name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, dir_flags(), Mode::empty())?)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn openat2_beneath(root: BorrowedFd<'_>, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    use rustix::fs::ResolveFlags;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    // The kernel answers EAGAIN when a concurrent rename may have let a
    // lookup escape; the contract then is to try again.
    let mut attempts = 0;
    loop {
        match rustix::fs::openat2(root, rel, flags, Mode::empty(), resolve) {
            Err(e) if e == Errno::AGAIN && attempts < 16 => attempts += 1,
            other => return other,
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn openat2_beneath(_root: BorrowedFd<'_>, _rel: &str, _flags: OFlags) -> Result<OwnedFd, Errno> {
    Err(Errno::NOSYS)
}

/// The fallback: one `openat(.., O_NOFOLLOW)` per component. A symlink
/// anywhere on the way fails with `ELOOP` (or `ENOTDIR`).
fn walk(root: BorrowedFd<'_>, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    let mut components = rel.split('/').peekable();
    let mut dir: Option<OwnedFd> = None;
    while let Some(component) = components.next() {
        let at = match &dir {
            Some(fd) => fd.as_fd(),
            None => root,
        };
        let last = components.peek().is_none();
        let component_flags = if last { flags } else { dir_flags() };
        match openat(
            at,
            component,
            component_flags | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) if last => return Ok(fd),
            Ok(fd) => dir = Some(fd),
            // With O_DIRECTORY, Linux reports a symlink as ENOTDIR; say
            // ELOOP, so that it is not taken for "no such object".
            Err(e) if e == Errno::NOTDIR && is_symlink(at, component) => return Err(Errno::LOOP),
            Err(e) => return Err(e),
        }
    }
    Err(Errno::INVAL)
}

fn is_symlink(dir: BorrowedFd<'_>, name: &str) -> bool {
    rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|stat| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Symlink
    })
}

/// Turns an errno into an `io::Error`, with a message for the errnos that
/// mean "this key crosses a symlink we refuse", which the bare strerror
/// ("Invalid cross-device link") would hide. The kind is kept.
fn explain(errno: Errno, rel: &str) -> io::Error {
    let base = io::Error::from(errno);
    if errno == Errno::XDEV || errno == Errno::LOOP {
        io::Error::new(
            base.kind(),
            format!("{rel:?} resolves through a symlink that is refused (it leaves the storage root, or symlinks are not followed): {base}"),
        )
    } else {
        base
    }
}
