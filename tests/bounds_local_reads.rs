//! 10,000 concurrent `read_range` calls on LocalStorage, over more files
//! than the handle cache holds, complete without exhausting file
//! descriptors or the blocking pool.
//!
//! The bounds: open descriptors stay below the ones open before the run
//! plus `max_open_files` (cached handles) plus the per-thread copies of
//! the cache on each worker (at most 64 each, which may outlive their
//! eviction until that worker reads again; `LocalStorage`'s rustdoc,
//! "Handle cache") plus `max_blocking_threads` (one open in flight per
//! blocking thread) plus a small slack; the blocking pool never grows past
//! `max_blocking_threads` — calls beyond it queue.
//! The descriptor count is sampled from `/proc/self/fd` by a thread that
//! loops for as long as the reads run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

const FILES: usize = 500;
const READS: usize = 10_000;
const MAX_OPEN_FILES: usize = 128;
const MAX_BLOCKING_THREADS: usize = 32;
const WORKERS: usize = 2;
/// Handles each thread's copy of the cache keeps (documented).
const PER_THREAD_COPIES: usize = 64;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn ten_thousand_concurrent_reads_stay_within_descriptor_bounds() -> seerstore::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    if std::fs::read_dir("/proc/self/fd").is_err() {
        // Without /proc the count would read 0 and the bound hold vacuously.
        let msg = "SKIPPED descriptor bound: /proc/self/fd is not readable";
        assert!(std::env::var("CI").is_err(), "{msg}");
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{msg}");
        return Ok(());
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        let storage = Arc::new(
            LocalStorage::builder(tmp.path())
                .max_open_files(MAX_OPEN_FILES)
                .open()
                .await?,
        );
        for i in 0..FILES {
            let data = Bytes::from(format!("{i:08}").repeat(64));
            storage.write(&format!("sst/{i:05}.sst"), data).await?;
        }
        let baseline = open_fds();
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut peak = 0;
                while !done.load(Ordering::Acquire) {
                    peak = peak.max(open_fds());
                    std::thread::yield_now();
                }
                peak
            })
        };
        let mut tasks = Vec::with_capacity(READS);
        for n in 0..READS {
            let storage = storage.clone();
            tasks.push(tokio::spawn(async move {
                // A scattered file order, so the cache keeps evicting.
                let i = n.wrapping_mul(7919) % FILES;
                let got = storage
                    .read_range(&format!("sst/{i:05}.sst"), 8..16)
                    .await?;
                assert_eq!(got, format!("{i:08}"));
                seerstore::Result::Ok(())
            }));
        }
        let mut ok = 0;
        for task in tasks {
            task.await.expect("read task")?;
            ok += 1;
        }
        done.store(true, Ordering::Release);
        let peak = sampler.join().expect("sampler");
        let copies = WORKERS * PER_THREAD_COPIES;
        let bound = baseline + MAX_OPEN_FILES + copies + MAX_BLOCKING_THREADS + 16;
        eprintln!(
            "bounds: {ok} concurrent read_range over {FILES} files: peak {peak} open fds \
             (baseline {baseline}, bound {bound}: cache {MAX_OPEN_FILES} + worker copies \
             {copies} + blocking threads {MAX_BLOCKING_THREADS} + 16)"
        );
        assert_eq!(ok, READS);
        assert!(peak <= bound, "peak {peak} open descriptors over {bound}");
        Ok(())
    })
}
