//! Disk I/O runs on tokio's blocking pool, never on the worker thread.
//!
//! The runtime gets one blocking thread, which the test occupies. Every
//! storage call must then stay pending (queued for the pool) while the
//! worker is free; had a call done its I/O inline on the worker, it would
//! complete at once. Releasing the pool lets them all finish.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn storage_calls_wait_for_the_blocking_pool() -> TestResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .max_blocking_threads(1)
        .build()?;
    runtime.block_on(async {
        let tmp = tempfile::tempdir()?;
        let storage = LocalStorage::open(tmp.path()).await?;
        storage.write("k", Bytes::from_static(b"value")).await?;
        storage.read("k").await?; // cached handle: still must not read inline

        let (release, gate) = std::sync::mpsc::channel::<()>();
        let occupied = tokio::task::spawn_blocking(move || gate.recv());

        let calls = {
            let storage = storage.clone();
            tokio::spawn(async move {
                let read = storage.read("k").await?;
                let range = storage.read_range("k", 1..3).await?;
                let head = storage.head("k").await?;
                storage.write("k2", Bytes::from_static(b"x")).await?;
                let listed = storage.list("").count().await;
                storage.delete("k2").await?;
                Ok::<_, seerstore::Error>((read, range, head.size, listed))
            })
        };
        let early = tokio::time::timeout(Duration::from_millis(200), async {
            while !calls.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            early.is_err(),
            "storage calls completed while the blocking pool was busy"
        );

        release.send(())?;
        occupied.await??;
        let (read, range, size, listed) = calls.await??;
        assert_eq!(read, "value");
        assert_eq!(range, "al");
        assert_eq!(size, 5);
        assert_eq!(listed, 2);
        Ok(())
    })
}
