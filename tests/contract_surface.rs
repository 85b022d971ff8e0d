//! The public surface CONTRACT.md fixes, written as outside code would
//! write it: if a name or a signature drifts, this file stops compiling.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{
    Error, LocalStorage, ObjectMeta, ObjectStorage, Result, RetryConfig, Storage, StorageWriter,
    WriteMode,
};

#[tokio::test]
async fn the_contract_surface_compiles_and_works() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}", dir.path().display());
    let s: Arc<dyn Storage> = seerstore::open(&url).await?;

    let _local = LocalStorage::open(dir.path().join("other")).await?;
    let arc_dyn_object_store: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::memory::InMemory::new());
    let remote = ObjectStorage::new(arc_dyn_object_store)
        .with_prefix("tenant-1/sst")
        .with_retry(RetryConfig::default());
    let as_os: Arc<dyn object_store::ObjectStore> =
        Arc::new(seerstore::ObjectStoreAdapter::new(s.clone()));
    assert!(!format!("{as_os}").is_empty());

    // Every trait method, through `dyn Storage`, with the contract's types.
    let meta: ObjectMeta = s
        .write("L0/000123.sst", Bytes::from_static(b"0123456789"))
        .await?;
    let (_path, _size, version): (String, u64, Option<String>) =
        (meta.path, meta.size, meta.version);
    let range: Range<u64> = 2..5;
    assert_eq!(s.read_range("L0/000123.sst", range).await?, "234");
    assert_eq!(
        s.read_ranges("L0/000123.sst", &[0..1, 9..10]).await?,
        ["0", "9"]
    );
    assert_eq!(s.read("L0/000123.sst").await?.len(), 10);
    assert_eq!(s.head("L0/000123.sst").await?.size, 10);
    assert!(s.exists("L0/000123.sst").await?);
    let version = version.expect("local objects have versions");
    for mode in [
        WriteMode::Overwrite,
        WriteMode::Update(version),
        WriteMode::Create,
    ] {
        let outcome = s
            .write_with("MANIFEST", Bytes::from_static(b"m"), mode)
            .await;
        match outcome {
            Ok(_) => {}
            Err(Error::Precondition { .. } | Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let mut w: Box<dyn StorageWriter> = s.writer("L1/1.sst").await?;
    w.write(Bytes::from_static(b"abc")).await?;
    let _: ObjectMeta = w.finish().await?;
    let w = s.writer("L1/2.sst").await?;
    w.abort().await?;
    s.delete("L1/1.sst").await?;
    let listed: Vec<ObjectMeta> = s.list("").try_collect().await?;
    assert!(!listed.is_empty());
    s.sync("L0/000123.sst").await?;
    assert!(remote.exists("x").await.is_ok());

    // Errors: the named variants (struct variants), predicates.
    let e = s.read("missing").await.expect_err("missing");
    assert!(e.is_not_found() && !e.is_retryable());
    assert!(matches!(e, Error::NotFound { .. }));
    assert!(matches!(
        s.read("/abs").await,
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        s.read_range("L0/000123.sst", 0..11).await,
        Err(Error::InvalidRange { .. })
    ));

    // RetryConfig: the seed's knobs and defaults as public fields.
    let config = RetryConfig::default();
    let RetryConfig {
        max_retries,
        initial_backoff,
        max_backoff,
        jitter,
        attempt_timeout,
        ..
    } = config.clone();
    assert_eq!((max_retries, jitter), (3, true));
    assert_eq!(
        (initial_backoff, max_backoff),
        (Duration::from_millis(100), Duration::from_secs(5))
    );
    assert!(attempt_timeout.is_some(), "on by default");
    assert_eq!(RetryConfig::none().max_retries, 0);
    assert!(RetryConfig::aggressive().max_retries > 3);
    let _custom = RetryConfig {
        max_retries: 0,
        ..RetryConfig::default()
    };
    Ok(())
}

/// Object safety, as a compile-time check.
fn _object_safe(_: Box<dyn Storage>, _: Box<dyn StorageWriter>) {}
