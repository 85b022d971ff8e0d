//! Disk I/O that may wait runs on tokio's blocking pool, never on the
//! worker thread.
//!
//! The runtime gets one blocking thread, which the test occupies. Every
//! storage call must then stay pending (queued for the pool) while the
//! worker is free; had a call done its I/O inline on the worker, it would
//! complete at once. Releasing the pool lets them all finish.
//!
//! With inline reads on (the default), a read of a cached handle that the
//! page cache serves may complete on the worker (`preadv2(RWF_NOWAIT)`
//! cannot wait for the disk, CONTRACT.md allows it); everything else must
//! still wait. With `inline_reads(false)` nothing may complete.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn storage_calls_wait_for_the_blocking_pool() -> TestResult {
    storage_calls_with_a_busy_pool(false)
}

#[test]
fn only_page_cache_reads_may_skip_the_blocking_pool() -> TestResult {
    storage_calls_with_a_busy_pool(true)
}

fn storage_calls_with_a_busy_pool(inline_reads: bool) -> TestResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .max_blocking_threads(1)
        .build()?;
    runtime.block_on(async {
        let tmp = tempfile::tempdir()?;
        let storage = LocalStorage::builder(tmp.path())
            .inline_reads(inline_reads)
            .open()
            .await?;
        storage.write("k", Bytes::from_static(b"value")).await?;
        storage.read("k").await?; // cached handle: still must not read inline

        let (release, gate) = std::sync::mpsc::channel::<()>();
        let occupied = tokio::task::spawn_blocking(move || gate.recv());

        // With inline reads, these two may complete on the worker.
        let reads = {
            let storage = storage.clone();
            tokio::spawn(async move {
                let read = storage.read("k").await?;
                let range = storage.read_range("k", 1..3).await?;
                let ranges = storage.read_ranges("k", &[0..1, 4..5]).await?;
                Ok::<_, seerstore::Error>((read, range, ranges))
            })
        };
        if !inline_reads {
            assert_pending(&reads).await;
        }
        let calls = {
            let storage = storage.clone();
            tokio::spawn(async move {
                let head = storage.head("k").await?;
                storage.write("k2", Bytes::from_static(b"x")).await?;
                let listed = storage.list("").count().await;
                storage.delete("k2").await?;
                Ok::<_, seerstore::Error>((head.size, listed))
            })
        };
        assert_pending(&calls).await;

        release.send(())?;
        occupied.await??;
        let (read, range, ranges) = reads.await??;
        let (size, listed) = calls.await??;
        assert_eq!(read, "value");
        assert_eq!(range, "al");
        assert_eq!(ranges, vec!["v", "e"]);
        assert_eq!(size, 5);
        assert_eq!(listed, 2);
        Ok(())
    })
}

/// Asserts that `task` does not finish while the worker is free to run it
/// (it is waiting for the blocking pool).
async fn assert_pending<T>(task: &tokio::task::JoinHandle<T>) {
    let early = tokio::time::timeout(Duration::from_millis(200), async {
        while !task.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        early.is_err(),
        "storage calls completed while the blocking pool was busy"
    );
}
