//! read_range edge cases, on InMemory and LocalFileSystem.
mod support;

use std::sync::Arc;

use object_store::ObjectStore;
use seerstore::{Error, ObjectStorage, Storage};

fn size_of(err: &Error) -> Option<Option<u64>> {
    match err {
        Error::InvalidRange { size, .. } => Some(*size),
        _ => None,
    }
}

async fn ranges(store: Arc<dyn ObjectStore>) -> seerstore::Result<()> {
    let storage = ObjectStorage::new(store);
    let data = support::data(100, 3);
    storage.write("obj", data.clone()).await?;

    assert_eq!(storage.read_range("obj", 0..100).await?, data);
    assert_eq!(storage.read_range("obj", 10..20).await?, data.slice(10..20));
    assert_eq!(
        storage.read_range("obj", 99..100).await?,
        data.slice(99..100)
    );
    assert!(storage.read_range("obj", 0..0).await?.is_empty());
    assert!(storage.read_range("obj", 50..50).await?.is_empty());
    assert!(storage.read_range("obj", 100..100).await?.is_empty());

    for range in [90..101, 100..101, 150..200, 101..101] {
        let err = storage
            .read_range("obj", range.clone())
            .await
            .expect_err("past the end");
        assert_eq!(size_of(&err), Some(Some(100)), "{range:?}: {err}");
    }
    let err = storage
        .read_range("obj", std::ops::Range { start: 20, end: 10 })
        .await
        .expect_err("inverted");
    assert!(matches!(err, Error::InvalidRange { .. }), "{err}");

    storage.write("empty", bytes::Bytes::new()).await?;
    assert!(storage.read_range("empty", 0..0).await?.is_empty());
    let err = storage
        .read_range("empty", 0..1)
        .await
        .expect_err("past end");
    assert_eq!(size_of(&err), Some(Some(0)), "{err}");
    Ok(())
}

#[tokio::test]
async fn range_edges_in_memory() -> seerstore::Result<()> {
    ranges(Arc::new(object_store::memory::InMemory::new())).await
}

#[tokio::test]
async fn range_edges_on_local_file_system() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("fs");
    ranges(Arc::new(fs)).await
}

#[tokio::test]
async fn a_range_past_the_end_is_invalid_even_when_the_size_check_is_retried(
) -> seerstore::Result<()> {
    // The ranged GET fails for good (InMemory refuses a range past the
    // end); the head that explains it fails once, as a dropped connection
    // would, and is retried on its own.
    let store = Arc::new(support::FaultStore::memory(vec![support::Rule::new(
        support::Method::Head,
        support::When::Call(1),
        support::Fault::Transient,
    )]));
    let storage = ObjectStorage::new(store.clone()).with_retry(support::quick_retry(3));
    storage.write("obj", support::data(100, 4)).await?;
    let err = storage
        .read_range("obj", 100..101)
        .await
        .expect_err("past the end");
    assert_eq!(size_of(&err), Some(Some(100)), "{err}");
    assert_eq!(store.calls(support::Method::Head), 2);
    Ok(())
}
