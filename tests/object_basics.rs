//! ObjectStorage basics over InMemory and LocalFileSystem.
mod support;

use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use seerstore::{Error, ObjectStorage, Storage};

async fn basics(store: Arc<dyn ObjectStore>) -> seerstore::Result<()> {
    let storage = ObjectStorage::new(store).with_prefix("db");
    assert!(storage
        .read("L0/1.sst")
        .await
        .expect_err("missing")
        .is_not_found());
    assert!(storage
        .head("L0/1.sst")
        .await
        .expect_err("missing")
        .is_not_found());
    assert!(!storage.exists("L0/1.sst").await?);
    assert!(storage
        .read_range("L0/1.sst", 0..1)
        .await
        .expect_err("missing")
        .is_not_found());
    assert!(storage
        .read_range("L0/1.sst", 0..0)
        .await
        .expect_err("missing")
        .is_not_found());

    let data = support::data(1000, 7);
    let meta = storage.write("L0/1.sst", data.clone()).await?;
    assert_eq!(meta.path, "L0/1.sst");
    assert_eq!(meta.size, 1000);
    assert!(meta.version.is_some());

    assert_eq!(storage.read("L0/1.sst").await?, data);
    let head = storage.head("L0/1.sst").await?;
    assert_eq!((head.path.as_str(), head.size), ("L0/1.sst", 1000));
    assert_eq!(head.version, meta.version);
    assert!(head.last_modified.is_some());
    assert!(storage.exists("L0/1.sst").await?);
    storage.sync("L0/1.sst").await?;
    assert!(matches!(
        storage.sync("../x").await,
        Err(Error::InvalidPath { .. })
    ));

    storage
        .write("L0/1.sst", Bytes::from_static(b"new"))
        .await?;
    assert_eq!(storage.read("L0/1.sst").await?, "new");

    storage.delete("L0/1.sst").await?;
    storage.delete("L0/1.sst").await?;
    assert!(!storage.exists("L0/1.sst").await?);
    Ok(())
}

#[tokio::test]
async fn basics_in_memory() -> seerstore::Result<()> {
    basics(Arc::new(object_store::memory::InMemory::new())).await
}

#[tokio::test]
async fn basics_on_local_file_system() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("fs");
    basics(Arc::new(fs)).await
}

#[tokio::test]
async fn invalid_prefix_fails_on_use_not_at_construction() {
    let store = Arc::new(object_store::memory::InMemory::new());
    let storage = ObjectStorage::new(store.clone()).with_prefix("a//b");
    assert!(matches!(
        storage.read("k").await,
        Err(Error::InvalidPath { .. })
    ));
    assert!(ObjectStorage::new(store.clone())
        .try_with_prefix("../x")
        .is_err());
    let debug = format!("{:?}", ObjectStorage::new(store).with_prefix("tenant-1"));
    assert!(
        debug.contains("tenant-1") && debug.contains("InMemory"),
        "{debug}"
    );
}
