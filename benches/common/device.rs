//! The device as a peer of cold reads, and what each run costs beyond its
//! wall time: bytes fetched from the device, requests in flight at it, and
//! CPU time.
//!
//! The device peer reads the same blocks with `O_DIRECT` `pread` on
//! `concurrency` OS threads: no page cache, no async runtime, so what it
//! reaches is what the device gives at that queue depth. Linux only, like
//! the counters (`/proc/self/io`, `/proc/diskstats`, `/proc/self/stat`);
//! where they are missing they read as zero.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// The alignment `O_DIRECT` asks of buffers, offsets and lengths (the
/// logical block size is at most this on the devices benchmarked).
const DIRECT_ALIGN: usize = 4096;

/// Opens `path` for `O_DIRECT` reads.
pub(crate) fn open_direct(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
}

/// A buffer of `len` bytes aligned for `O_DIRECT`, without unsafe code: a
/// `Vec` one alignment longer, of which the aligned window is used.
pub(crate) struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    pub(crate) fn new(len: usize) -> AlignedBuf {
        let storage = vec![0u8; len + DIRECT_ALIGN];
        let start = storage.as_ptr().align_offset(DIRECT_ALIGN);
        assert!(start + len <= storage.len(), "cannot align the buffer");
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// One `O_DIRECT` read of `buf.len()` bytes at `offset` (both aligned).
pub(crate) fn direct_read(file: &File, buf: &mut AlignedBuf, offset: u64) {
    file.read_exact_at(buf.as_mut_slice(), offset)
        .expect("O_DIRECT pread");
}

/// A snapshot of the counters; the difference of two is one run's cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Bytes this process caused to be fetched from storage
    /// (`read_bytes` of `/proc/self/io`, readahead included).
    pub device_read_bytes: u64,
    /// Milliseconds requests spent in flight at the devices, summed over
    /// requests (`/proc/diskstats`, field 11, all whole disks): over a
    /// wall-clock interval, the average queue depth. Device-wide, so other
    /// processes' I/O counts too.
    pub queue_ms: u64,
    /// User plus system CPU time of this process, in clock ticks.
    pub cpu_ticks: u64,
}

impl Counters {
    /// The counters now.
    pub fn now() -> Counters {
        Counters {
            device_read_bytes: proc_io_read_bytes().unwrap_or(0),
            queue_ms: diskstats_queue_ms().unwrap_or(0),
            cpu_ticks: cpu_ticks().unwrap_or(0),
        }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            device_read_bytes: self
                .device_read_bytes
                .saturating_sub(earlier.device_read_bytes),
            queue_ms: self.queue_ms.saturating_sub(earlier.queue_ms),
            cpu_ticks: self.cpu_ticks.saturating_sub(earlier.cpu_ticks),
        }
    }

    /// Average requests in flight at the devices over `elapsed`.
    pub fn queue_depth(&self, elapsed: Duration) -> f64 {
        self.queue_ms as f64 / (elapsed.as_secs_f64() * 1e3)
    }

    /// CPU time, from clock ticks (100 per second on Linux).
    pub fn cpu(&self) -> Duration {
        Duration::from_secs_f64(self.cpu_ticks as f64 / 100.0)
    }
}

fn proc_io_read_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("read_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Field 11 ("weighted ms doing I/O") summed over whole disks: virtio,
/// SCSI and NVMe names without a partition suffix.
fn diskstats_queue_ms() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/diskstats").ok()?;
    let mut total = 0;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = fields.get(2) else { continue };
        let whole_disk = ["vd", "sd", "xvd"]
            .iter()
            .any(|p| name.starts_with(p) && !name.ends_with(|c: char| c.is_ascii_digit()))
            || (name.starts_with("nvme") && !name.contains('p'));
        if whole_disk {
            total += fields.get(13).and_then(|v| v.parse::<u64>().ok())?;
        }
    }
    Some(total)
}

/// utime + stime of `/proc/self/stat` (fields 14 and 15, after the command
/// name in parentheses).
fn cpu_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}
