//! Permanent failures are tried once.
mod support;

use std::sync::Arc;

use bytes::Bytes;
use seerstore::{Error, ObjectStorage, Storage, WriteMode};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_not_retried() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![
        Rule::new(Method::Get, When::Always, Fault::NotFound),
        Rule::new(Method::Put, When::Call(2), Fault::Precondition),
        Rule::new(Method::Put, When::Call(3), Fault::Permanent),
        Rule::new(Method::Head, When::Always, Fault::Permanent),
    ]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(5));

    assert!(storage
        .read("a")
        .await
        .expect_err("not found")
        .is_not_found());
    assert_eq!(store.calls(Method::Get), 1);

    let meta = storage.write("a", Bytes::from_static(b"v1")).await?;
    let version = meta.version.expect("InMemory has ETags");
    let err = storage
        .write_with("a", Bytes::from_static(b"v2"), WriteMode::Update(version))
        .await
        .expect_err("precondition");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_eq!(store.calls(Method::Put), 2);

    let err = storage
        .write("a", Bytes::from_static(b"v3"))
        .await
        .expect_err("permission denied");
    assert!(!err.is_retryable());
    assert_eq!(store.calls(Method::Put), 3);

    assert!(storage.head("a").await.is_err());
    assert_eq!(store.calls(Method::Head), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn bad_input_makes_no_request() {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone());
    for key in ["", "/a", "a//b", "../x", "a/"] {
        assert!(matches!(
            storage.read(key).await,
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(
            storage.write(key, Bytes::new()).await,
            Err(Error::InvalidPath { .. })
        ));
    }
    assert!(matches!(
        storage
            .read_range("a", std::ops::Range { start: 5, end: 2 })
            .await,
        Err(Error::InvalidRange { .. })
    ));
    assert_eq!(store.calls(Method::Get) + store.calls(Method::Put), 0);
    assert_eq!(store.calls(Method::Head), 0);
}
