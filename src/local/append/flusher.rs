//! The appended log's shared state and its flusher: the one blocking-pool
//! task that moves buffered appends into the file and flushes the device.
//!
//! Appends only copy into [`LogState::buffer`] under a short lock. The
//! flusher takes the whole buffer, writes it with one `pwrite` at the end
//! of the file and, when a `sync` asked for it, runs one `fdatasync` that
//! covers everything written so far. Every sync that arrived while that
//! flush ran is served by the next one, which the same task starts right
//! after: N committers share one device flush.
//!
//! # Gathering
//!
//! A flush wakes the committers it covered; each soon appends its next
//! record and syncs again. Starting the next flush on the first of them
//! would cover one committer and leave the rest to the flush after (two
//! flushes per round instead of one). So after a flush that covered `n`
//! syncs, the flusher waits until `n` syncs have arrived again (plus any
//! that were already waiting), or until the time of the last `fdatasync`
//! has passed (at most 2 ms), whichever comes first. One committer is
//! never delayed (its own sync completes the count), and a committer that
//! does not come back costs the others at most one flush's time.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

use crate::error::{Error, Operation};

use super::super::{spawn_tracked, LocalRoot};

/// Buffered bytes from which an append starts a write without a sync, so
/// that a log appended without syncs still reaches the file.
pub(super) const WRITE_THRESHOLD: usize = 1 << 20;

/// Bytes that may be buffered before appends wait for the flusher (in call
/// order). Eight writes' worth, so that a writer keeps ahead of the disk.
pub(super) const BUFFER_CAPACITY: usize = 8 * WRITE_THRESHOLD;

/// The longest a flush waits for expected committers (see the module docs).
const MAX_GATHER: Duration = Duration::from_millis(2);

/// `fdatasync` calls by appenders in this process.
pub(super) static DEVICE_FLUSHES: AtomicU64 = AtomicU64::new(0);

/// A failed write or flush, kept so that every caller gets it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    /// `"write"` or `"fdatasync"`.
    pub(super) during: &'static str,
    kind: io::ErrorKind,
    raw: Option<i32>,
    message: String,
}

impl Failure {
    fn new(during: &'static str, e: &io::Error) -> Self {
        Self {
            during,
            kind: e.kind(),
            raw: e.raw_os_error(),
            message: e.to_string(),
        }
    }

    /// The failure as a fresh `io::Error` (the errno where there was one).
    pub(super) fn to_io(&self) -> io::Error {
        match self.raw {
            Some(raw) => io::Error::from_raw_os_error(raw),
            None => io::Error::new(self.kind, self.message.clone()),
        }
    }
}

/// Why the appender takes no more appends.
#[derive(Debug, Clone)]
pub(super) enum Closed {
    Finished,
    Failed(Failure),
}

/// What the flusher publishes after each flush.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    /// Bytes known durable.
    pub(super) durable: u64,
    /// Set once a write or flush failed.
    pub(super) failure: Option<Failure>,
}

/// Everything behind the appender's lock.
#[derive(Debug, Default)]
pub(super) struct LogState {
    /// Appended bytes not yet handed to the file, in order.
    pub(super) buffer: Vec<u8>,
    /// The last written buffer, kept for reuse.
    spare: Vec<u8>,
    /// Permits of [`AppendLog::space`] the buffered bytes hold.
    pub(super) buffered_permits: usize,
    /// The end offset of everything appended (written and buffered).
    pub(super) end: u64,
    /// Bytes in the file.
    pub(super) written: u64,
    /// The highest durable length a `sync` asked for.
    pub(super) requested: u64,
    /// Bytes covered by a completed `fdatasync`.
    pub(super) durable: u64,
    /// Whether a flusher task runs (flushing or gathering).
    pub(super) flusher_running: bool,
    /// Syncs registered since the last flush took the buffer.
    pub(super) arrived: usize,
    /// Arrivals the gathering flusher waits for.
    expected: usize,
    /// Whether the flusher waits on [`AppendLog::arrivals`] right now.
    gathering: bool,
    /// The duration of the last `fdatasync`.
    last_flush: Duration,
    pub(super) closed: Option<Closed>,
    /// The appender was dropped: write what is buffered, gather no more.
    pub(super) dropped: bool,
}

/// The state an appender shares with its flusher.
#[derive(Debug)]
pub(super) struct AppendLog {
    pub(super) storage: Arc<LocalRoot>,
    pub(super) key: String,
    pub(super) file: File,
    state: Mutex<LogState>,
    /// Wakes a gathering flusher when a sync arrives.
    arrivals: Condvar,
    /// Buffer space in bytes; appends wait for it in call order (tokio's
    /// semaphore is fair), closed when the log closes.
    pub(super) space: Semaphore,
    /// The flusher's progress, for waiting syncs.
    pub(super) progress: watch::Sender<Progress>,
}

impl AppendLog {
    pub(super) fn new(storage: Arc<LocalRoot>, key: String, file: File) -> Self {
        Self {
            storage,
            key,
            file,
            state: Mutex::new(LogState::default()),
            arrivals: Condvar::new(),
            space: Semaphore::new(BUFFER_CAPACITY),
            progress: watch::Sender::new(Progress::default()),
        }
    }

    /// The state; never held across an await or a system call on the file.
    pub(super) fn lock(&self) -> MutexGuard<'_, LogState> {
        // Every update keeps the state consistent before it can panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure a flusher will look at the state: wakes a gathering one,
    /// or returns `true` when the caller must [`start`](Self::start) one
    /// (after releasing the lock).
    pub(super) fn kick(&self, state: &mut LogState) -> bool {
        if state.flusher_running {
            // Wake it only when its wait is over: a futex call per arrival
            // would cost more than the gathering saves.
            if state.gathering
                && (state.arrived >= state.expected || state.buffer.len() >= WRITE_THRESHOLD)
            {
                self.arrivals.notify_one();
            }
            false
        } else {
            state.flusher_running = true;
            true
        }
    }

    /// Starts the flusher on the blocking pool (counted for
    /// `LocalStorage::settle`), or runs it here when there is no runtime
    /// (an appender dropped after its runtime).
    pub(super) fn start(self: &Arc<Self>) {
        let log = Arc::clone(self);
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(spawn_tracked(&self.storage, move |_| log.run()));
        } else {
            log.run();
        }
    }

    /// The error for a call refused because the log is closed.
    pub(super) fn closed_error(&self, op: Operation, closed: &Closed) -> Error {
        match closed {
            Closed::Finished => Error::Closed {
                op,
                path: self.key.clone(),
                reason: "the appender was finished".into(),
                source: None,
            },
            Closed::Failed(failure) => Error::Closed {
                op,
                path: self.key.clone(),
                reason: format!(
                    "an earlier {} of the appended data failed, so what the file holds past \
                     the last durable length is unknown; recover from the durable length \
                     and append to a new object",
                    failure.during
                ),
                source: Some(Box::new(failure.to_io())),
            },
        }
    }

    /// The flusher: writes and flushes while there is work, then stops.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            state = self.gather(state);
            let need_sync = state.requested > state.durable;
            let need_write = !state.buffer.is_empty()
                && (need_sync || state.dropped || state.buffer.len() >= WRITE_THRESHOLD);
            if state
                .closed
                .as_ref()
                .is_some_and(|c| matches!(c, Closed::Failed(_)))
                || (!need_sync && !need_write)
            {
                state.flusher_running = false;
                return;
            }
            let covered_syncs = std::mem::take(&mut state.arrived);
            let spare = std::mem::take(&mut state.spare);
            let mut data = std::mem::replace(&mut state.buffer, spare);
            let permits = std::mem::take(&mut state.buffered_permits);
            let offset = state.written;
            drop(state);

            let written = self.file.write_all_at(&data, offset);
            // Space is free again whatever happened (after a failure the
            // semaphore is closed and waiting appends fail).
            self.space.add_permits(permits);
            if !data.is_empty() {
                // Cached read handles know the old size.
                self.storage.handles.invalidate(&self.key);
            }
            if let Err(e) = written {
                self.fail(Failure::new("write", &e));
                return;
            }
            state = self.lock();
            state.written = offset + data.len() as u64;
            data.clear();
            if state.spare.capacity() < data.capacity() {
                state.spare = data;
            }
            if !need_sync {
                continue;
            }
            let covered = state.written;
            drop(state);

            let started = Instant::now();
            let flushed = rustix::fs::fdatasync(&self.file);
            let took = started.elapsed();
            DEVICE_FLUSHES.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = flushed {
                self.fail(Failure::new("fdatasync", &e.into()));
                return;
            }
            state = self.lock();
            state.durable = covered;
            state.last_flush = took;
            // Those just woken will be back, and those already waiting count
            // too: gather them all for the next flush.
            state.expected = state.arrived + covered_syncs;
            self.progress.send_modify(|p| p.durable = covered);
        }
    }

    /// Waits (on this blocking-pool thread) for the committers the last
    /// flush woke, at most that flush's time; see the module docs.
    fn gather<'a>(&'a self, mut state: MutexGuard<'a, LogState>) -> MutexGuard<'a, LogState> {
        let expected = state.expected;
        if expected == 0 {
            return state;
        }
        let deadline = Instant::now() + state.last_flush.min(MAX_GATHER);
        state.gathering = true;
        while state.arrived < expected
            && !state.dropped
            && state.closed.is_none()
            && state.buffer.len() < WRITE_THRESHOLD
        {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .arrivals
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        state.gathering = false;
        state.expected = 0;
        state
    }

    /// Closes the log after a failed write or flush and tells every waiter.
    fn fail(&self, failure: Failure) {
        let mut state = self.lock();
        state.closed = Some(Closed::Failed(failure.clone()));
        state.flusher_running = false;
        state.buffer = Vec::new();
        state.buffered_permits = 0;
        drop(state);
        self.space.close();
        self.progress
            .send_modify(|p| p.failure = Some(failure.clone()));
    }

    /// Wakes a gathering flusher (the appender was dropped or finished).
    pub(super) fn wake(&self) {
        self.arrivals.notify_all();
    }
}
