//! Conditional writes: Create, Update, bad tokens, unsupported stores, races.
use std::sync::Arc;

use bytes::Bytes;
use seerstore::{Error, ObjectStorage, Storage, WriteMode};

#[tokio::test]
async fn create_and_update_in_memory() -> seerstore::Result<()> {
    let storage = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    let v1 = storage
        .write_with("M", Bytes::from_static(b"1"), WriteMode::Create)
        .await?;
    let err = storage
        .write_with("M", Bytes::from_static(b"2"), WriteMode::Create)
        .await
        .expect_err("exists");
    assert!(err.is_already_exists(), "{err}");

    let token = v1.version.clone().expect("version");
    let v2 = storage
        .write_with(
            "M",
            Bytes::from_static(b"2"),
            WriteMode::Update(token.clone()),
        )
        .await?;
    assert_ne!(v2.version, v1.version);
    let err = storage
        .write_with(
            "M",
            Bytes::from_static(b"3"),
            WriteMode::Update(token.clone()),
        )
        .await
        .expect_err("stale");
    assert!(
        matches!(&err, Error::Precondition { expected, .. } if *expected == token),
        "{err}"
    );
    assert_eq!(storage.head("M").await?.version, v2.version);

    let err = storage
        .write_with(
            "M",
            Bytes::from_static(b"4"),
            WriteMode::Update("garbage".into()),
        )
        .await
        .expect_err("undecodable token");
    assert!(err.is_precondition(), "{err}");
    assert_eq!(storage.read("M").await?, "2", "nothing written");
    Ok(())
}

#[tokio::test]
async fn racing_creates_have_one_winner() -> seerstore::Result<()> {
    let storage = Arc::new(ObjectStorage::new(Arc::new(
        object_store::memory::InMemory::new(),
    )));
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let storage = Arc::clone(&storage);
            tokio::spawn(async move {
                storage
                    .write_with("LOCK", Bytes::from(vec![i]), WriteMode::Create)
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(_) => wins += 1,
            Err(e) => assert!(e.is_already_exists(), "{e}"),
        }
    }
    assert_eq!(wins, 1);
    Ok(())
}

#[tokio::test]
async fn update_without_store_support_is_not_supported() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("fs");
    let storage = ObjectStorage::new(Arc::new(fs));
    let meta = storage
        .write_with("M", Bytes::from_static(b"1"), WriteMode::Create)
        .await?;
    assert!(storage
        .write_with("M", Bytes::from_static(b"x"), WriteMode::Create)
        .await
        .expect_err("exists")
        .is_already_exists());
    let err = storage
        .write_with(
            "M",
            Bytes::from_static(b"2"),
            WriteMode::Update(meta.version.unwrap_or_else(|| "e:x".into())),
        )
        .await
        .expect_err("LocalFileSystem has no conditional update");
    assert!(matches!(err, Error::NotSupported { .. }), "{err}");
    assert_eq!(storage.read("M").await?, "1", "never silently overwritten");
    Ok(())
}
