//! list: relative keys, whole segments, resume after a transient error.
mod support;

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use seerstore::{Error, ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

async fn keys(storage: &ObjectStorage, prefix: &str) -> seerstore::Result<Vec<String>> {
    let mut keys: Vec<String> = storage
        .list(prefix)
        .map_ok(|m| m.path)
        .try_collect()
        .await?;
    keys.sort();
    Ok(keys)
}

#[tokio::test]
async fn lists_relative_keys_by_whole_segments() -> seerstore::Result<()> {
    let storage =
        ObjectStorage::new(Arc::new(object_store::memory::InMemory::new())).with_prefix("db");
    for key in ["L0/a", "L0/b", "L00/c", "L0x", "MANIFEST"] {
        storage.write(key, Bytes::from_static(b"1")).await?;
    }
    assert_eq!(keys(&storage, "L0").await?, vec!["L0/a", "L0/b"]);
    assert_eq!(keys(&storage, "L0/").await?, vec!["L0/a", "L0/b"]);
    assert_eq!(
        keys(&storage, "").await?,
        vec!["L0/a", "L0/b", "L00/c", "L0x", "MANIFEST"]
    );
    assert!(keys(&storage, "nothing").await?.is_empty());
    let metas: Vec<_> = storage.list("L00").try_collect().await?;
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].size, 1);
    assert!(metas[0].version.is_some());

    let first = storage.list("../x").next().await;
    assert!(matches!(first, Some(Err(Error::InvalidPath { .. }))));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn resumes_after_a_transient_error() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![
        Rule::new(Method::List, When::Call(1), Fault::TransientAfter(2)),
        Rule::new(Method::List, When::Call(2), Fault::TransientAfter(1)),
    ]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));
    let expected: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
    for key in &expected {
        storage.write(key, Bytes::from_static(b"1")).await?;
    }
    let listed: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(listed, expected, "no key lost or repeated");
    assert_eq!(store.calls(Method::List), 3);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_the_retries_and_yields_the_error() {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::List,
        When::Always,
        Fault::TransientAfter(0),
    )]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(2));
    let items: Vec<_> = storage.list("").collect().await;
    assert_eq!(items.len(), 1);
    assert!(items[0].as_ref().is_err_and(|e| e.is_retryable()));
    assert_eq!(store.calls(Method::List), 3);
}
