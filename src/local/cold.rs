//! Reads that must wait for the disk, queued per storage and served by a
//! few blocking-pool tasks that keep many requests in flight at the device.
//!
//! One `spawn_blocking` per cold read costs more than the read: measured on
//! a 2-core VM at 64 reads in flight, 68 µs of CPU per 4 KiB cold read
//! against 22 µs for plain threads doing `pread`, most of it spent on the
//! blocking pool's one mutex and its condition variable (about two
//! `futex` and 1.4 `sched_yield` calls per read). And a blocking `pread`
//! keeps only one request of its thread at the device, so the queue depth
//! reached is the number of threads that happen to be awake.
//!
//! Here a cold read is queued instead, and a [`ColdReads`] task (at most
//! [`DRAINERS_MAX`] per storage, started on demand, each a blocking-pool
//! task that ends when the queue is empty) takes queued reads in batches:
//! `posix_fadvise(WILLNEED)` on each range starts its I/O without waiting
//! for it, and then each read's `pread` waits for its pages, oldest first,
//! while newly queued reads are advised as they arrive. So one thread keeps
//! up to [`IN_FLIGHT_PER_DRAINER`] reads at the device, with two cheap
//! syscalls per read. CONTRACT.md allows it: "one blocking-pool task may
//! serve a batch of queued reads".

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::handles::HandleFile;
use super::page_cache::read_rest;
use super::{spawn_tracked, LocalRoot};

/// Blocking-pool tasks draining one storage's queue at most: together up
/// to 128 reads in flight, more than a device's queue (64 on NVMe and
/// virtio defaults reach their limit).
const DRAINERS_MAX: usize = 8;

/// Reads one drainer has advised and not yet finished, at most. A drainer
/// finishes its reads oldest first, so one that the device served early
/// waits for those before it: a small window bounds that wait, and more
/// drainers make up the depth.
const IN_FLIGHT_PER_DRAINER: usize = 16;

/// Queued reads not yet taken from which one more drainer is started (the
/// drainers are full, or busy waiting for their oldest reads).
const BACKLOG_FOR_ANOTHER: usize = 4;

/// The largest read sent through the queue; larger ones are few and long,
/// and take a blocking-pool task of their own.
pub(crate) const QUEUED_READ_MAX: usize = 1 << 20;

/// One queued read: `buf[filled..]` from `offset + filled`.
struct Job {
    file: Arc<HandleFile>,
    offset: u64,
    buf: Vec<u8>,
    filled: usize,
    done: oneshot::Sender<io::Result<Vec<u8>>>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    drainers: usize,
}

/// A storage's queue of cold reads.
#[derive(Default)]
pub(crate) struct ColdReads {
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for ColdReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = self.lock();
        f.debug_struct("ColdReads")
            .field("queued", &queue.jobs.len())
            .field("drainers", &queue.drainers)
            .finish()
    }
}

impl ColdReads {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every update is a single push, pop or count change: a panic while
        // holding the lock cannot leave the queue inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Fills `buf[filled..]` from `offset + filled` of `file` through the cold
/// queue of `inner`, and returns the whole buffer. Never blocks the calling
/// thread. If the caller's future is dropped, the read still runs (and
/// [`LocalStorage::settle`](super::LocalStorage::settle) waits for it).
pub(crate) async fn read(
    inner: &Arc<LocalRoot>,
    file: Arc<HandleFile>,
    offset: u64,
    buf: Vec<u8>,
    filled: usize,
) -> io::Result<Vec<u8>> {
    let (done, result) = oneshot::channel();
    let job = Job {
        file,
        offset,
        buf,
        filled,
        done,
    };
    let start_drainer = {
        let mut queue = inner.cold.lock();
        queue.jobs.push_back(job);
        let start = queue.drainers == 0
            || (queue.drainers < DRAINERS_MAX && queue.jobs.len() > BACKLOG_FOR_ANOTHER);
        if start {
            queue.drainers += 1;
        }
        start
    };
    if start_drainer {
        // Counted in `drainers` until it returns, or is dropped unrun (the
        // runtime shutting down), so that later reads start another.
        let mut slot = DrainerSlot {
            inner: inner.clone(),
            counted: true,
        };
        drop(spawn_tracked(inner, move |_| drain(&mut slot)));
    }
    result
        .await
        .unwrap_or_else(|_| Err(io::Error::other("cold read task ended without an answer")))
}

/// One drainer's place in [`Queue::drainers`].
struct DrainerSlot {
    inner: Arc<LocalRoot>,
    /// Still counted: the drainer did not give its place up under the lock.
    counted: bool,
}

impl Drop for DrainerSlot {
    fn drop(&mut self) {
        if self.counted {
            self.inner.cold.lock().drainers -= 1;
        }
    }
}

/// A drainer: takes queued reads while it has room, starts their I/O, and
/// finishes the oldest, until the queue and its own reads are empty.
fn drain(slot: &mut DrainerSlot) {
    let mut in_flight: VecDeque<Job> = VecDeque::new();
    loop {
        let taken = {
            let mut queue = slot.inner.cold.lock();
            let room = IN_FLIGHT_PER_DRAINER.saturating_sub(in_flight.len());
            let n = room.min(queue.jobs.len());
            if n == 0 && in_flight.is_empty() {
                // Under the lock: a read queued after this starts a drainer.
                queue.drainers -= 1;
                slot.counted = false;
                return;
            }
            queue.jobs.drain(..n).collect::<Vec<_>>()
        };
        for job in taken {
            will_need(&job.file, job.offset, &job.buf, job.filled);
            in_flight.push_back(job);
        }
        if let Some(mut job) = in_flight.pop_front() {
            let result = read_rest(&job.file, job.offset, &mut job.buf, job.filled);
            // A receiver gone (the caller's future dropped) wants nothing.
            let _ = job.done.send(result.map(|()| job.buf));
        }
    }
}

/// Starts reading the pages of `buf[filled..]` (at `offset + filled`) into
/// the page cache without waiting for them. Advice only: if it fails, the
/// read itself reports any error.
fn will_need(file: &File, offset: u64, buf: &[u8], filled: usize) {
    let (Ok(at), Ok(len)) = (
        u64::try_from(filled),
        u64::try_from(buf.len().saturating_sub(filled)),
    ) else {
        return;
    };
    if let Some(len) = std::num::NonZeroU64::new(len) {
        let _ = rustix::fs::fadvise(file, offset + at, Some(len), rustix::fs::Advice::WillNeed);
    }
}

/// The part of one range of a read that the page cache could not serve:
/// (index in the read's output, offset, buffer, bytes already filled).
pub(crate) type Remainder = (usize, u64, Vec<u8>, usize);

/// [`read_rest`] for several reads of one file on one thread: all their
/// I/O is started first, so they wait for the disk together.
pub(crate) fn read_rests(file: &File, reads: &mut [Remainder]) -> io::Result<()> {
    if reads.len() > 1 {
        for (_, offset, buf, filled) in reads.iter() {
            will_need(file, *offset, buf, *filled);
        }
    }
    for (_, offset, buf, filled) in reads.iter_mut() {
        read_rest(file, *offset, buf, *filled)?;
    }
    Ok(())
}
