//! A conditional write whose answer was lost after it landed is reported as
//! success on retry; a real conflict is still a conflict.
mod support;

use std::sync::Arc;

use bytes::Bytes;
use seerstore::{Error, ObjectStorage, Storage, WriteMode};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

#[tokio::test(start_paused = true)]
async fn lost_answer_to_landed_create_is_success() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Put,
        When::Call(1),
        Fault::LandThenLose,
    )]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));
    let meta = storage
        .write_with("MANIFEST", Bytes::from_static(b"v1"), WriteMode::Create)
        .await?;
    assert_eq!(store.calls(Method::Put), 2);
    assert_eq!(meta.size, 2);
    assert!(meta.version.is_some());
    assert_eq!(storage.read("MANIFEST").await?, "v1");
    // The version reported is the object's: an update with it succeeds.
    storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"v2"),
            WriteMode::Update(meta.version.unwrap_or_default()),
        )
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn lost_answer_to_landed_update_is_success() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Put,
        When::Call(2),
        Fault::LandThenLose,
    )]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));
    let v1 = storage.write("MANIFEST", Bytes::from_static(b"v1")).await?;
    let v2 = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"v2"),
            WriteMode::Update(v1.version.clone().unwrap_or_default()),
        )
        .await?;
    assert_eq!(store.calls(Method::Put), 3);
    assert_ne!(v2.version, v1.version);
    assert_eq!(storage.read("MANIFEST").await?, "v2");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn real_conflict_is_still_a_conflict() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![Rule::new(
        Method::Put,
        When::Call(2),
        Fault::Transient,
    )]));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(3));
    // Someone else's bytes are there already.
    storage
        .write("MANIFEST", Bytes::from_static(b"theirs"))
        .await?;
    let err = storage
        .write_with("MANIFEST", Bytes::from_static(b"ours"), WriteMode::Create)
        .await
        .expect_err("conflict");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(store.calls(Method::Put), 3);
    assert_eq!(storage.read("MANIFEST").await?, "theirs");

    // And an update from a stale version is still a precondition failure.
    let err = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"ours"),
            WriteMode::Update("e:stale".into()),
        )
        .await
        .expect_err("stale");
    assert!(err.is_precondition(), "{err}");
    Ok(())
}
