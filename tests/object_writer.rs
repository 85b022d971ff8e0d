//! The streaming writer: small objects in one put, large ones in parts;
//! abort, errors and drop abort the upload; nothing visible before finish.
mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use seerstore::{ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn small_object_is_one_put() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone()).with_part_size(5 * MIB);
    let mut writer = storage.writer("small").await?;
    writer.write(Bytes::from_static(b"hello ")).await?;
    writer.write(Bytes::new()).await?;
    writer.write(Bytes::from_static(b"world")).await?;
    assert!(
        !storage.exists("small").await?,
        "nothing visible before finish"
    );
    let meta = writer.finish().await?;
    assert_eq!((meta.path.as_str(), meta.size), ("small", 11));
    assert_eq!(storage.read("small").await?, "hello world");
    assert_eq!(store.calls(Method::PutMultipart), 0);
    assert_eq!(store.calls(Method::Put), 1);
    Ok(())
}

#[tokio::test]
async fn large_object_is_uploaded_in_parts() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone())
        .with_part_size(5 * MIB)
        .with_max_parts_in_flight(2);
    let data = support::data(15 * MIB, 5);
    let mut writer = storage.writer("big").await?;
    // Uneven chunks, one of them spanning two parts.
    for chunk in [0..MIB, MIB..(8 * MIB), (8 * MIB)..(15 * MIB)] {
        writer.write(data.slice(chunk)).await?;
    }
    assert!(
        !storage.exists("big").await?,
        "nothing visible before finish"
    );
    let meta = writer.finish().await?;
    assert_eq!(meta.size, 15 * MIB as u64);
    assert_eq!(store.calls(Method::PutMultipart), 1);
    assert_eq!(store.counters.parts.load(Ordering::SeqCst), 3);
    assert_eq!(store.counters.completes.load(Ordering::SeqCst), 1);
    assert_eq!(store.counters.aborts.load(Ordering::SeqCst), 0);
    assert_eq!(storage.read("big").await?, data);
    Ok(())
}

#[tokio::test]
async fn abort_aborts_the_upload() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone()).with_part_size(5 * MIB);
    let mut writer = storage.writer("aborted").await?;
    writer.write(support::data(6 * MIB, 1)).await?;
    writer.abort().await?;
    assert_eq!(store.counters.aborts.load(Ordering::SeqCst), 1);
    assert!(!storage.exists("aborted").await?);

    // A small writer aborted has no upload to abort, and writes nothing.
    let mut writer = storage.writer("small").await?;
    writer.write(Bytes::from_static(b"x")).await?;
    writer.abort().await?;
    assert!(!storage.exists("small").await?);
    assert_eq!(store.calls(Method::Put), 0);
    Ok(())
}

#[tokio::test]
async fn drop_aborts_the_upload() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone()).with_part_size(5 * MIB);
    let mut writer = storage.writer("dropped").await?;
    writer.write(support::data(6 * MIB, 2)).await?;
    drop(writer);
    // The abort was spawned on this runtime; let it run.
    for _ in 0..100 {
        if store.counters.aborts.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(store.counters.aborts.load(Ordering::SeqCst), 1);
    assert_eq!(store.counters.completes.load(Ordering::SeqCst), 0);
    assert!(!storage.exists("dropped").await?);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn failed_small_put_is_retried_then_reported() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![
        Rule::new(Method::Put, When::Call(1), Fault::Transient),
        Rule::new(Method::Put, When::Calls(2, 10), Fault::Permanent),
    ]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));
    let mut writer = storage.writer("k").await?;
    writer.write(Bytes::from_static(b"x")).await?;
    let err = writer.finish().await.expect_err("permission denied");
    assert!(!err.is_retryable());
    assert_eq!(store.calls(Method::Put), 2);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn failed_part_aborts_the_upload() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::PutPart,
        When::Call(2),
        Fault::Permanent,
    )]));
    let storage = ObjectStorage::new(store.clone()).with_part_size(MIB);
    let mut writer = storage.writer("k").await?;
    let mut failed = None;
    for i in 0..4 {
        if let Err(e) = writer.write(support::data(MIB, i)).await {
            failed = Some(e);
            break;
        }
    }
    let err = match failed {
        Some(e) => e,
        None => writer.finish().await.expect_err("a part failed"),
    };
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(store.counters.aborts.load(Ordering::SeqCst), 1);
    assert_eq!(store.counters.completes.load(Ordering::SeqCst), 0);
    assert!(!storage.exists("k").await?);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn stalled_part_times_out_and_aborts() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::PutPart,
        When::Call(1),
        Fault::Hang,
    )]));
    let storage = ObjectStorage::new(store.clone())
        .with_part_size(MIB)
        .with_retry(quick_retry(0).with_attempt_timeout(Some(std::time::Duration::from_secs(1))));
    let mut writer = storage.writer("k").await?;
    writer.write(support::data(MIB + 1, 1)).await?;
    let err = writer.finish().await.expect_err("the part hangs");
    assert!(err.is_retryable(), "a timeout: {err}");
    assert_eq!(store.counters.aborts.load(Ordering::SeqCst), 1);
    Ok(())
}
