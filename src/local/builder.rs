//! [`LocalStorageBuilder`]: the options of [`LocalStorage::open`], and the
//! open itself (root created and fsynced into its parent, temp files of
//! dead writers swept), on the blocking pool.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Operation, Result};
use crate::in_flight::InFlight;

use super::handles::HandleCache;
use super::page_cache::InlineReads;
use super::resolve::{self, dir_flags, Resolver};
use super::{cold, list, LocalRoot, LocalStorage};

/// Options for opening a [`LocalStorage`]; from [`LocalStorage::builder`].
#[derive(Debug, Clone)]
pub struct LocalStorageBuilder {
    root: PathBuf,
    max_open_files: usize,
    follow_symlinks: bool,
    sweep: bool,
    inline_reads: bool,
    readahead: bool,
}

impl LocalStorageBuilder {
    /// The defaults of [`LocalStorage::builder`].
    pub(super) fn new(root: PathBuf) -> Self {
        LocalStorageBuilder {
            root,
            max_open_files: LocalStorage::DEFAULT_MAX_OPEN_FILES,
            follow_symlinks: true,
            sweep: true,
            inline_reads: true,
            readahead: false,
        }
    }

    /// Whether [`open`](Self::open) sweeps temporary files left by dead
    /// writers (default `true`). The sweep walks the whole tree under the
    /// root; a short-lived reader (a command-line tool looking at one
    /// object) may skip it, and leaves the cleanup to the database that
    /// owns the directory.
    #[must_use]
    pub fn sweep(mut self, sweep: bool) -> Self {
        self.sweep = sweep;
        self
    }

    /// How many read handles to keep open (least recently used evicted);
    /// `0` opens the file on every read. Default
    /// [`LocalStorage::DEFAULT_MAX_OPEN_FILES`].
    #[must_use]
    pub fn max_open_files(mut self, max_open_files: usize) -> Self {
        self.max_open_files = max_open_files;
        self
    }

    /// Whether reads follow symlinks that stay inside the root (default
    /// `true`, Linux 5.6+ only: `openat2` with `RESOLVE_BENEATH |
    /// RESOLVE_NO_MAGICLINKS`). With `false`, or where `openat2` is missing,
    /// keys are resolved one component at a time with `O_NOFOLLOW`, which
    /// refuses every symlink. Either way nothing outside the root is reached.
    #[must_use]
    pub fn follow_symlinks(mut self, follow_symlinks: bool) -> Self {
        self.follow_symlinks = follow_symlinks;
        self
    }

    /// Whether reads of files with a cached handle are first tried on the
    /// calling tokio worker with `preadv2(RWF_NOWAIT)` (default `true`,
    /// Linux only). Such a read copies only what the page cache holds and
    /// never waits for the disk; what it cannot serve (pages not cached, a
    /// kernel or filesystem without `RWF_NOWAIT`) is read on the blocking
    /// pool as before. At most 256 KiB per call is copied inline. A read
    /// that must open the file always runs on the blocking pool.
    ///
    /// With `false`, every read runs on the blocking pool (one
    /// `spawn_blocking` per call): slower for page-cache hits, for users who
    /// want no file I/O at all on their workers.
    #[must_use]
    pub fn inline_reads(mut self, inline_reads: bool) -> Self {
        self.inline_reads = inline_reads;
        self
    }

    /// Whether the kernel may read ahead of what is asked on read handles
    /// (default `false`: each handle is opened with
    /// `posix_fadvise(POSIX_FADV_RANDOM)`, as RocksDB does for SSTables).
    /// SSTable block reads are random: readahead would fetch pages nobody
    /// asks for and keep the device busy with them once the data outgrows
    /// memory. Large reads are still read in large requests. Set `true` for
    /// objects read front to back in small pieces.
    #[must_use]
    pub fn readahead(mut self, readahead: bool) -> Self {
        self.readahead = readahead;
        self
    }

    /// Creates the root directory if needed, opens it and sweeps temporary
    /// files left by dead writers (see [`LocalStorage::open`]).
    pub async fn open(self) -> Result<LocalStorage> {
        let root_name = self.root.display().to_string();
        let task = tokio::task::spawn_blocking(move || open_blocking(self));
        match task.await {
            Ok(result) => result.map_err(|e| Error::io(Operation::Open, root_name, e)),
            Err(join) => Err(Error::Io {
                op: Operation::Open,
                path: root_name,
                source: io::Error::other(join),
            }),
        }
    }
}

fn open_blocking(builder: LocalStorageBuilder) -> io::Result<LocalStorage> {
    resolve::create_root(&builder.root)?;
    let sweep = builder.sweep;
    let root_fd = rustix::fs::open(&builder.root, dir_flags(), rustix::fs::Mode::empty())?;
    let inner = LocalRoot {
        root: builder.root,
        root_fd,
        resolver: Resolver {
            follow_symlinks: builder.follow_symlinks,
        },
        handles: HandleCache::new(builder.max_open_files),
        inline_reads: InlineReads::new(builder.inline_reads),
        cold: cold::ColdReads::default(),
        readahead: builder.readahead,
        tasks: Arc::new(InFlight::default()),
    };
    if sweep {
        list::sweep(&inner);
    }
    Ok(LocalStorage {
        inner: Arc::new(inner),
    })
}
