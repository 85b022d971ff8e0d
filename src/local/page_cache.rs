//! The page-cache read attempt: reads served on the calling (worker)
//! thread with `RWF_NOWAIT`, never waiting for the disk, with the blocking
//! pool as the fallback; and [`InlineReads`], the policy that backs off
//! from the attempt after a streak of misses.
//!
//! One `spawn_blocking` per read costs more than a 4 KiB read from the page
//! cache itself (a queue hop, a thread wake-up and a second wake-up back).
//! `preadv2` with `RWF_NOWAIT` copies what the page cache holds and fails
//! with `EAGAIN` (or returns short) instead of starting disk I/O, so it may
//! run on a tokio worker without blocking it (CONTRACT.md, "Reads"). What it
//! could not serve is read on the blocking pool into the same buffer.
//!
//! Where the kernel or the filesystem does not support `RWF_NOWAIT`
//! (`EOPNOTSUPP`, `ENOSYS`, `EINVAL`), the storage remembers it and stops
//! trying: every read then goes to the blocking pool, as with
//! [`LocalStorageBuilder::inline_reads(false)`](super::LocalStorageBuilder::inline_reads).
//! While the page cache stays cold, [`InlineReads`] skips the attempt for
//! a growing number of reads (see its docs for why and how long).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The most bytes one call reads inline; the rest of a larger read goes to
/// the blocking pool, so that a worker never spends long copying.
pub(crate) const INLINE_READ_MAX: usize = 256 * 1024;

/// Inline attempts in a row that found the page cache cold before the
/// storage stops trying for a while.
const MISS_STREAK: u32 = 8;

/// Reads that skip the attempt after a first such streak.
const SKIP_AFTER_STREAK: u32 = 64;

/// The longest back-off: each streak that follows a back-off without a hit
/// doubles the next one, up to this.
const SKIP_MAX: u32 = 4096;

/// Whether `RWF_NOWAIT` reads are worth trying on this storage's files.
///
/// When the page cache is cold (a working set larger than memory), an
/// inline attempt costs a syscall that fails, and it still starts the
/// kernel's readahead from the worker thread; measured here, that made
/// cold random reads about 30% slower than going to the blocking pool
/// directly. So after [`MISS_STREAK`] misses in a row, the next
/// [`SKIP_AFTER_STREAK`] reads skip the attempt, and while the files stay
/// cold each further streak doubles the back-off (up to [`SKIP_MAX`]):
/// a working set larger than memory then pays the failed syscall on fewer
/// than 1% of its reads. A hit touches none of these counters (no shared
/// memory written on the fast path) unless a streak was building.
#[derive(Debug)]
pub(crate) struct InlineReads {
    supported: AtomicBool,
    /// Misses in a row.
    streak: AtomicU32,
    /// Reads left that skip the attempt.
    skip: AtomicU32,
    /// The back-off the next streak starts.
    next_skip: AtomicU32,
}

impl InlineReads {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            supported: AtomicBool::new(enabled && cfg!(all(target_os = "linux"))),
            streak: AtomicU32::new(0),
            skip: AtomicU32::new(0),
            next_skip: AtomicU32::new(SKIP_AFTER_STREAK),
        }
    }

    /// Whether reads of cached handles go this way at all (inline reads on,
    /// and `RWF_NOWAIT` not found missing).
    pub(crate) fn supported(&self) -> bool {
        self.supported.load(Ordering::Relaxed)
    }

    /// Whether to attempt this read inline (not backing off after misses).
    fn attempt(&self) -> bool {
        if !self.supported() {
            return false;
        }
        if self.skip.load(Ordering::Relaxed) == 0 {
            return true;
        }
        // Backing off after a streak of misses; races only shift a count.
        let _ = self
            .skip
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        false
    }

    /// Notes whether an inline attempt served the whole read.
    fn record(&self, hit: bool) {
        if hit {
            if self.streak.load(Ordering::Relaxed) != 0 {
                self.streak.store(0, Ordering::Relaxed);
            }
            if self.next_skip.load(Ordering::Relaxed) != SKIP_AFTER_STREAK {
                self.next_skip.store(SKIP_AFTER_STREAK, Ordering::Relaxed);
            }
        } else if self.streak.fetch_add(1, Ordering::Relaxed) + 1 >= MISS_STREAK {
            self.streak.store(0, Ordering::Relaxed);
            let skip = self.next_skip.load(Ordering::Relaxed);
            self.skip.store(skip, Ordering::Relaxed);
            self.next_skip
                .store((skip * 2).min(SKIP_MAX), Ordering::Relaxed);
        }
    }

    fn disable(&self) {
        self.supported.store(false, Ordering::Relaxed);
    }

    /// Fills as much of `buf` as the page cache holds, from `offset`,
    /// without waiting for the disk (and without a syscall while backing
    /// off after misses). Returns how many bytes were filled (from the
    /// front); fewer than `buf.len()` means the rest must be read on the
    /// blocking pool with [`read_rest`]. Never blocks on disk I/O.
    pub(crate) fn fill(&self, file: &File, offset: u64, buf: &mut [u8]) -> usize {
        if !self.attempt() {
            return 0;
        }
        let mut filled = 0;
        while filled < buf.len() && self.supported.load(Ordering::Relaxed) {
            let Ok(at) = u64::try_from(filled) else {
                break;
            };
            match nowait_read(file, offset + at, &mut buf[filled..]) {
                Ok(0) => break, // end of file: the blocking read reports it
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_unsupported(&e) => self.disable(),
                // EAGAIN (not in the page cache) and any real error: the
                // blocking read retries and reports.
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            self.record(filled == buf.len());
        }
        filled
    }
}

/// Whether an error says `RWF_NOWAIT` is not available here at all.
fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::OPNOTSUPP.raw_os_error()
            || code == rustix::io::Errno::NOSYS.raw_os_error()
            || code == rustix::io::Errno::INVAL.raw_os_error()
    )
}

#[cfg(target_os = "linux")]
fn nowait_read(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut slices = [io::IoSliceMut::new(buf)];
    rustix::io::preadv2(
        file,
        &mut slices,
        offset,
        rustix::io::ReadWriteFlags::NOWAIT,
    )
    .map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn nowait_read(_file: &File, _offset: u64, _buf: &mut [u8]) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The blocking half of a read: fills `buf[filled..]` from
/// `offset + filled` (the inline attempt filled the front). Run it on the
/// blocking pool.
pub(crate) fn read_rest(file: &File, offset: u64, buf: &mut [u8], filled: usize) -> io::Result<()> {
    let at = u64::try_from(filled)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))?;
    file.read_exact_at(&mut buf[filled..], offset + at)
}

/// A zeroed buffer of the range's length (already checked against the
/// file's size), allocated once per read.
pub(crate) fn buffer_for(range: &std::ops::Range<u64>) -> io::Result<Vec<u8>> {
    let len = usize::try_from(range.end - range.start)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range larger than memory"))?;
    Ok(vec![0u8; len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample_file(len: usize) -> (File, Vec<u8>) {
        let mut file = tempfile::tempfile().expect("temp file");
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        file.write_all(&data).expect("write");
        (file, data)
    }

    #[test]
    fn read_rest_completes_any_prefix() {
        let (file, data) = sample_file(10_000);
        for filled in [0, 1, 4096, 9_999, 10_000] {
            let mut buf = vec![0u8; 10_000];
            buf[..filled].copy_from_slice(&data[..filled]);
            read_rest(&file, 0, &mut buf, filled).expect("read");
            assert_eq!(buf, data, "filled = {filled}");
        }
        let mut buf = vec![0u8; 100];
        read_rest(&file, 5_000, &mut buf, 0).expect("read");
        assert_eq!(buf, &data[5_000..5_100]);
    }

    #[test]
    fn disabled_reads_nothing_inline() {
        let (file, _) = sample_file(4096);
        let support = InlineReads::new(false);
        let mut buf = vec![0u8; 4096];
        assert_eq!(support.fill(&file, 0, &mut buf), 0);
    }

    #[test]
    fn a_streak_of_misses_backs_off() {
        let support = InlineReads::new(true);
        if !support.supported() {
            return; // not Linux
        }
        let mut back_off = SKIP_AFTER_STREAK;
        for _ in 0..8 {
            for _ in 0..MISS_STREAK {
                assert!(support.attempt(), "tries between back-offs");
                support.record(false);
            }
            let skipped = (0..back_off).filter(|_| !support.attempt()).count();
            assert_eq!(skipped, back_off as usize);
            back_off = (back_off * 2).min(SKIP_MAX);
        }
        assert_eq!(back_off, SKIP_MAX, "the back-off grows to its bound");
        assert!(support.attempt(), "tries again after the back-off");
        support.record(false);
        support.record(true);
        assert_eq!(
            support.streak.load(Ordering::Relaxed),
            0,
            "a hit ends a streak"
        );
        assert_eq!(
            support.next_skip.load(Ordering::Relaxed),
            SKIP_AFTER_STREAK,
            "a hit resets the back-off"
        );
    }

    #[test]
    fn fill_returns_only_correct_bytes() {
        let (file, data) = sample_file(3 * 4096 + 7);
        let support = InlineReads::new(true);
        let mut buf = vec![0u8; 2 * 4096];
        let filled = support.fill(&file, 4096 + 3, &mut buf);
        assert!(filled <= buf.len());
        assert_eq!(&buf[..filled], &data[4096 + 3..4096 + 3 + filled]);
        read_rest(&file, 4096 + 3, &mut buf, filled).expect("read");
        assert_eq!(buf, &data[4096 + 3..4096 + 3 + 2 * 4096]);
    }

    /// Pages dropped from the page cache cannot be read without waiting:
    /// the inline attempt must stop short and leave them to the blocking
    /// read. (Skipped on tmpfs, where pages cannot be dropped.)
    #[cfg(target_os = "linux")]
    #[test]
    fn evicted_pages_are_not_read_inline() {
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("evicted");
        let data: Vec<u8> = (0..64 * 1024).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let file = File::open(&path).expect("open");
        file.sync_all().expect("fsync");
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        let fs_type = rustix::fs::fstatfs(&file).expect("statfs").f_type as i64;
        if fs_type == TMPFS_MAGIC {
            return;
        }
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
        let support = InlineReads::new(true);
        let mut buf = vec![0u8; data.len()];
        let filled = support.fill(&file, 0, &mut buf);
        assert!(
            filled < buf.len(),
            "an evicted file was read whole without waiting for the disk"
        );
        read_rest(&file, 0, &mut buf, filled).expect("read");
        assert_eq!(buf, data);
    }
}
