//! Keys come back from list exactly as written.
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStore;
use seerstore::{ObjectStorage, Storage};

const KEYS: &[&str] = &[
    "with space/file name.sst",
    "percent%20not-decoded%",
    "hash#tag",
    "plus+sign",
    "equals=sign&amp",
    "ünïcödé/ключ/鍵",
    "quote\"brace{}",
    "star*question?",
    "tilde~caret^",
    "a.b/c..d/.hidden",
];

async fn round_trip(store: Arc<dyn ObjectStore>, keys: &[&str]) -> seerstore::Result<()> {
    let storage = ObjectStorage::new(store).with_prefix("p");
    for (i, key) in keys.iter().enumerate() {
        storage
            .write(key, Bytes::from(vec![i as u8; i + 1]))
            .await?;
    }
    let mut listed: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    listed.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(storage.read(key).await?.len(), i + 1, "{key}");
        assert_eq!(storage.head(key).await?.path, *key);
    }
    Ok(())
}

#[tokio::test]
async fn keys_round_trip_in_memory() -> seerstore::Result<()> {
    round_trip(Arc::new(object_store::memory::InMemory::new()), KEYS).await
}

#[tokio::test]
async fn keys_round_trip_on_local_file_system() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("fs");
    round_trip(Arc::new(fs), KEYS).await
}
