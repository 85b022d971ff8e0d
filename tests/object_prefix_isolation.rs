//! Two prefixes on one store do not see each other.
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{ObjectStorage, Storage};

#[tokio::test]
async fn prefixes_are_isolated() -> seerstore::Result<()> {
    let store = Arc::new(object_store::memory::InMemory::new());
    let a = ObjectStorage::new(store.clone()).with_prefix("tenant-a");
    let b = ObjectStorage::new(store.clone()).with_prefix("tenant-a2/");
    let root = ObjectStorage::new(store);

    a.write("x", Bytes::from_static(b"a")).await?;
    b.write("x", Bytes::from_static(b"b")).await?;
    assert_eq!(a.read("x").await?, "a");
    assert_eq!(b.read("x").await?, "b");

    let listed: Vec<String> = a.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(listed, vec!["x".to_owned()]);
    let listed: Vec<String> = b.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(listed, vec!["x".to_owned()]);

    a.delete("x").await?;
    assert_eq!(b.read("x").await?, "b");
    let mut all: Vec<String> = root.list("").map_ok(|m| m.path).try_collect().await?;
    all.sort();
    assert_eq!(all, vec!["tenant-a2/x".to_owned()]);
    Ok(())
}
