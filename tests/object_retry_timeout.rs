//! A hung attempt is cut by the attempt timeout and retried.
mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use seerstore::{Error, ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

#[tokio::test(start_paused = true)]
async fn hung_attempt_times_out_and_is_retried() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![
        Rule::new(Method::Get, When::Call(1), Fault::Hang),
        Rule::new(Method::Put, When::Always, Fault::Hang),
    ]));
    let retry = quick_retry(2).with_attempt_timeout(Some(Duration::from_secs(2)));
    let storage = ObjectStorage::new(store.clone()).with_retry(retry);

    store
        .inner()
        .put_opts(
            &"k".into(),
            Bytes::from_static(b"data").into(),
            Default::default(),
        )
        .await
        .expect("seed");
    assert_eq!(storage.read("k").await?, "data");
    assert_eq!(store.calls(Method::Get), 2);

    let err = storage
        .write("k", Bytes::from_static(b"new"))
        .await
        .expect_err("every put hangs");
    assert!(
        matches!(err, Error::Timeout { timeout, .. } if timeout == Duration::from_secs(2)),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(store.calls(Method::Put), 3);
    Ok(())
}
