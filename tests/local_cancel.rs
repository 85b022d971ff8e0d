//! Dropped writers, aborted writers and cancelled write futures leave no
//! temp file and nothing (or a whole object) at the key.
//!
//! `LocalStorage::settle` waits for the blocking tasks that outlive their
//! futures, so the checks are deterministic.

mod support;

use std::time::Duration;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn dropped_writer_leaves_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let mut writer = storage.writer("L0/dropped").await?;
    for _ in 0..3 {
        writer.write(Bytes::from(vec![1u8; 1 << 20])).await?;
    }
    assert_eq!(support::temp_files(tmp.path())?.len(), 1);
    drop(writer);
    storage.settle().await;
    assert_eq!(support::temp_files(tmp.path())?.len(), 0);
    assert!(!storage.exists("L0/dropped").await?);
    Ok(())
}

#[test]
fn writer_dropped_outside_a_runtime_cleans_up_inline() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let (storage, writer) = runtime.block_on(async {
        let storage = LocalStorage::open(tmp.path()).await?;
        let mut writer = storage.writer("k").await?;
        writer.write(Bytes::from_static(b"abc")).await?;
        Ok::<_, seerstore::Error>((storage, writer))
    })?;
    assert_eq!(support::temp_files(tmp.path())?.len(), 1);
    drop(writer); // no runtime is current here
    assert_eq!(support::temp_files(tmp.path())?.len(), 0);
    drop(storage);
    Ok(())
}

#[tokio::test]
async fn aborted_writer_leaves_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    storage.write("k", Bytes::from_static(b"old")).await?;
    let mut writer = storage.writer("k").await?;
    writer.write(Bytes::from(vec![2u8; 3 << 20])).await?;
    writer.abort().await?;
    assert_eq!(support::temp_files(tmp.path())?.len(), 0);
    assert_eq!(storage.read("k").await?, "old");
    Ok(())
}

#[tokio::test]
async fn cancelled_writer_write_poisons_the_writer() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let mut writer = storage.writer("k").await?;
    let chunk = Bytes::from(vec![3u8; 4 << 20]);
    let outcome = tokio::time::timeout(Duration::ZERO, writer.write(chunk)).await;
    if outcome.is_err() {
        // The chunk may or may not have landed: the writer must refuse to
        // publish a possibly partial object.
        assert!(writer.finish().await.is_err());
    } else {
        writer.finish().await?;
        assert_eq!(storage.read("k").await?.len(), 4 << 20);
    }
    storage.settle().await;
    assert_eq!(support::temp_files(tmp.path())?.len(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_writes_are_whole_or_absent() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let mut cancelled = 0;
    for i in 0..20u8 {
        let key = format!("w/{i}");
        let data = Bytes::from(vec![i; 2 << 20]);
        let write = storage.write(&key, data);
        if tokio::time::timeout(Duration::ZERO, write).await.is_err() {
            cancelled += 1;
        }
    }
    // Overwrites cancelled over an existing object: old or new, whole.
    storage
        .write("w/0", Bytes::from(vec![100u8; 1 << 20]))
        .await?;
    for _ in 0..5 {
        let write = storage.write("w/0", Bytes::from(vec![200u8; 3 << 20]));
        let _ = tokio::time::timeout(Duration::ZERO, write).await;
    }
    storage.settle().await;
    assert!(cancelled > 0, "a zero timeout should cancel some writes");
    assert_eq!(support::temp_files(tmp.path())?.len(), 0);
    for i in 1..20u8 {
        match storage.read(&format!("w/{i}")).await {
            Ok(data) => assert_eq!(data, vec![i; 2 << 20]),
            Err(e) => assert!(e.is_not_found(), "{e}"),
        }
    }
    let data = storage.read("w/0").await?;
    let v = data[0];
    assert!(v == 100 || v == 200);
    assert_eq!(data.len(), if v == 100 { 1 << 20 } else { 3 << 20 });
    assert!(data.iter().all(|&b| b == v));
    Ok(())
}
