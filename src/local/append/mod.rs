//! [`LocalStorage::appender`](crate::Storage::appender): an object that grows
//! by appends, with group commit.
//!
//! # How appends reach the disk
//!
//! ```text
//! append ──copy──► buffer ──┐            (under a short lock, no I/O)
//! append ──copy──► buffer ──┤
//! sync ─── request ─────────┼─► flusher: pwrite(buffer) ─► fdatasync ─► wake syncs
//! sync ─── request ─────────┘   (one blocking-pool task, loops while asked)
//! ```
//!
//! An append copies its bytes into an in-memory buffer and returns its end
//! offset at once; no append waits for the disk (unless
//! [`BUFFER_CAPACITY`](flusher::BUFFER_CAPACITY) bytes are already waiting).
//! A sync registers the length it needs and waits for the flusher, a single
//! task on tokio's blocking pool that writes the whole buffer with one
//! `pwrite` right before each `fdatasync`: a record is in the file before
//! the flush that must cover it starts, and one flush covers every
//! committer that arrived while the previous one ran (see [`flusher`] for
//! how it gathers them).
//!
//! Bytes buffered but not yet written are not visible to readers: `head`
//! and reads show what reached the file, which is everything appended
//! before the last sync started, and more whenever
//! [`WRITE_THRESHOLD`](flusher::WRITE_THRESHOLD) bytes were buffered.
//! Buffering was chosen by measurement: writing each append through on its
//! own (`pwrite` per append behind a lock) measured 0.22–0.25 flushes per
//! commit at 16 committers, because records arrived in the file after the
//! flush that should have covered them had started.

mod flusher;

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result};
use crate::storage::{ObjectMeta, StorageAppender};

use super::version::meta_of;
use super::{join, spawn_tracked, LocalRoot, LocalStorage};
use flusher::{AppendLog, Closed, BUFFER_CAPACITY, DEVICE_FLUSHES, WRITE_THRESHOLD};

/// Mode of new appended files (before the umask), as for written objects.
const FILE_MODE: u32 = 0o644;

const OP: Operation = Operation::Append;

impl LocalStorage {
    /// `fdatasync` calls made by the appenders of every [`LocalStorage`] in
    /// this process so far: the device flushes behind
    /// [`StorageAppender::sync`], for measuring group commit (flushes per
    /// commit fall towards `1/N` with `N` concurrent committers).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> seerstore::Result<()> {
    /// use seerstore::{LocalStorage, Storage};
    ///
    /// let dir = tempfile::tempdir().expect("temp dir");
    /// let storage = LocalStorage::open(dir.path()).await?;
    /// let wal = storage.appender("wal/000001.log").await?;
    /// let before = LocalStorage::append_flushes();
    /// wal.append("record".into()).await?;
    /// assert_eq!(wal.sync().await?, 6);
    /// assert!(LocalStorage::append_flushes() > before);
    /// # Ok(()) }
    /// ```
    pub fn append_flushes() -> u64 {
        DEVICE_FLUSHES.load(Ordering::Relaxed)
    }
}

/// Creates `key` for appends: `O_CREAT | O_EXCL` (so `AlreadyExists` if
/// anything is there), then the file and its directory entry fsynced.
/// Runs on the blocking pool.
pub(super) fn create(inner: &Arc<LocalRoot>, key: &str) -> Result<LocalAppender> {
    let io_err = |e: io::Error| Error::io(OP, key, e);
    let (dir, name) = inner
        .resolver
        .open_parent(inner.root_fd.as_fd(), key, true)
        .map_err(io_err)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = match rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(FILE_MODE)) {
        Ok(fd) => fd,
        // EEXIST covers a file, a directory and a symlink at the key.
        Err(e) if e == Errno::EXIST => {
            return Err(Error::AlreadyExists {
                op: OP,
                path: key.to_owned(),
                source: Some(Box::new(io::Error::from(e))),
            })
        }
        Err(e) => return Err(io_err(e.into())),
    };
    let file = File::from(fd);
    // The empty file and its name survive a crash before `appender` returns.
    file.sync_all().map_err(io_err)?;
    rustix::fs::fsync(&dir).map_err(|e| io_err(e.into()))?;
    // A handle cached for an earlier object of this name is stale.
    inner.handles.invalidate(key);
    Ok(LocalAppender {
        log: Arc::new(AppendLog::new(Arc::clone(inner), key.to_owned(), file)),
    })
}

/// The appender of [`LocalStorage`]: see the [module docs](self) and
/// [`StorageAppender`].
///
/// # Cancellation
///
/// * `append` hands its bytes over in one step that cannot be interrupted:
///   a dropped `append` future either returned its offset (its bytes are
///   appended whole, and reach the file before any later append's) or
///   appended nothing. The only point it can wait at is buffer space, when
///   more than 8 MiB are waiting for the disk; dropped there, it appended
///   nothing.
/// * A dropped `sync` or `finish` future stops waiting; the flush it asked
///   for still runs. A dropped `finish` has closed the appender all the same.
/// * Dropping the appender writes (but does not sync) what is buffered.
///
/// # Errors
///
/// A failed `pwrite` or `fdatasync` (`EIO`, `ENOSPC`) is returned as
/// [`Error::Io`] to every `sync` waiting for it. From then on every call
/// fails with [`Error::Closed`] (the failure as its source): after a failed
/// `fdatasync` the kernel may have dropped the dirty pages, so what the file
/// holds past the last durable length is unknowable, and appending more
/// would only hide that. Recover from the last durable length.
///
/// # Other writers
///
/// `delete`, or a `write` of the same key, unlinks or replaces the file by
/// name; this appender keeps writing to the file it created, which then has
/// no name.
#[derive(Debug)]
pub(crate) struct LocalAppender {
    log: Arc<AppendLog>,
}

impl LocalAppender {
    /// `Err` when the log is closed to `op`.
    fn check_open(&self, op_closed: Option<&Closed>) -> Result<()> {
        match op_closed {
            Some(closed) => Err(self.log.closed_error(OP, closed)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl StorageAppender for LocalAppender {
    /// Copies `data` into the buffer; the flusher writes it. Waits only for
    /// buffer space (fairly, in call order).
    async fn append(&self, data: Bytes) -> Result<u64> {
        let log = &self.log;
        if data.is_empty() {
            let state = log.lock();
            self.check_open(state.closed.as_ref())?;
            return Ok(state.end);
        }
        // At most WRITE_THRESHOLD permits per append: the flusher is
        // started at that many buffered bytes, so whoever waits here is
        // always woken by a write in flight or one about to start.
        let want = data.len().min(WRITE_THRESHOLD).min(BUFFER_CAPACITY);
        let permits = u32::try_from(want).unwrap_or(u32::MAX);
        let permit = match log.space.acquire_many(permits).await {
            Ok(permit) => permit,
            Err(_closed) => {
                let state = log.lock();
                let closed = state.closed.clone().unwrap_or(Closed::Finished);
                return Err(log.closed_error(OP, &closed));
            }
        };
        let mut state = log.lock();
        self.check_open(state.closed.as_ref())?; // the permit goes back on drop
        permit.forget();
        state.buffered_permits += permits as usize;
        state.buffer.extend_from_slice(&data);
        state.end += data.len() as u64;
        let end = state.end;
        let start = state.buffer.len() >= WRITE_THRESHOLD && log.kick(&mut state);
        drop(state);
        if start {
            log.start();
        }
        Ok(end)
    }

    /// Registers the length appended so far and waits for the flush that
    /// covers it (group commit). Returns the durable length, at least the
    /// end offset of every append that returned before this call.
    async fn sync(&self) -> Result<u64> {
        let log = &self.log;
        let mut progress = log.progress.subscribe();
        let target = {
            let mut state = log.lock();
            if let Some(closed @ Closed::Failed(_)) = &state.closed {
                return Err(log.closed_error(OP, closed));
            }
            let target = state.end;
            if state.durable >= target {
                return Ok(state.durable);
            }
            state.requested = state.requested.max(target);
            state.arrived += 1;
            let start = log.kick(&mut state);
            drop(state);
            if start {
                log.start();
            }
            target
        };
        let seen = progress
            .wait_for(|p| p.durable >= target || p.failure.is_some())
            .await
            .map(|p| p.clone());
        match seen {
            Ok(p) if p.durable >= target => Ok(p.durable),
            // Short of the target only on a failure (the predicate).
            Ok(p) => Err(match p.failure {
                Some(failure) => Error::io(OP, &log.key, failure.to_io()),
                None => Error::io(OP, &log.key, io::Error::other("sync ended early")),
            }),
            // The sender lives in `log`, which this appender holds.
            Err(_) => Err(Error::io(OP, &log.key, io::Error::other("flusher gone"))),
        }
    }

    /// Closes the appender to appends, syncs, and returns the object's
    /// metadata (its version reflects the final size).
    async fn finish(&self) -> Result<ObjectMeta> {
        let log = &self.log;
        {
            let mut state = log.lock();
            match &state.closed {
                Some(closed @ Closed::Failed(_)) => return Err(log.closed_error(OP, closed)),
                Some(Closed::Finished) => {}
                None => state.closed = Some(Closed::Finished),
            }
        }
        log.space.close();
        log.wake();
        self.sync().await?;
        let storage = Arc::clone(&log.storage);
        let log = Arc::clone(log);
        let key = log.key.clone();
        let task = spawn_tracked(&storage, move |_| {
            let stat =
                rustix::fs::fstat(&log.file).map_err(|e| Error::io(OP, &log.key, e.into()))?;
            Ok(meta_of(log.key.clone(), &stat))
        });
        join(OP, &key, task).await
    }
}

impl Drop for LocalAppender {
    fn drop(&mut self) {
        let log = &self.log;
        let mut state = log.lock();
        state.dropped = true;
        let failed = matches!(state.closed, Some(Closed::Failed(_)));
        let start = !state.buffer.is_empty() && !failed && log.kick(&mut state);
        drop(state);
        log.wake();
        if start {
            log.start();
        }
    }
}
