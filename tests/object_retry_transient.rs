//! Transient faults are retried up to the limit, then the error is returned.
mod support;

use std::sync::Arc;

use bytes::Bytes;
use seerstore::{ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

#[tokio::test(start_paused = true)]
async fn transient_faults_are_retried_up_to_the_limit() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![
        Rule::new(Method::Put, When::Always, Fault::Transient),
        Rule::new(Method::Get, When::Always, Fault::Transient),
    ]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));

    let err = storage
        .write("a", Bytes::from_static(b"x"))
        .await
        .expect_err("every put fails");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(store.calls(Method::Put), 4);

    let err = storage.read("a").await.expect_err("every get fails");
    assert!(err.is_retryable());
    assert_eq!(store.calls(Method::Get), 4);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn fewer_faults_than_retries_succeed() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![
        Rule::new(Method::Put, When::Calls(1, 2), Fault::Transient),
        Rule::new(Method::Get, When::Calls(1, 3), Fault::Transient),
        Rule::new(Method::Delete, When::Call(1), Fault::Transient),
    ]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));
    storage.write("a", Bytes::from_static(b"abc")).await?;
    assert_eq!(store.calls(Method::Put), 3);
    assert_eq!(storage.read("a").await?, "abc");
    assert_eq!(store.calls(Method::Get), 4);
    storage.delete("a").await?;
    assert_eq!(store.calls(Method::Delete), 2);
    assert!(!storage.exists("a").await?);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn zero_retries_is_one_attempt() {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Head,
        When::Always,
        Fault::Transient,
    )]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(0));
    assert!(storage.head("a").await.is_err());
    assert_eq!(store.calls(Method::Head), 1);
}
