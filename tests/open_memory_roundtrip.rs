//! memory:// opens an in-memory store that round-trips, with our options applied.
use bytes::Bytes;
use futures::TryStreamExt;

#[tokio::test]
async fn memory_url_round_trip() -> seerstore::Result<()> {
    let storage =
        seerstore::open("memory:///tenant-1?max_retries=7&attempt_timeout_ms=250").await?;
    let debug = format!("{storage:?}");
    assert!(debug.contains("max_retries: 7"), "{debug}");
    assert!(debug.contains("250ms"), "{debug}");
    assert!(debug.contains("tenant-1"), "{debug}");

    storage
        .write("L0/1.sst", Bytes::from_static(b"abc"))
        .await?;
    assert_eq!(storage.read_range("L0/1.sst", 1..3).await?, "bc");
    let listed: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(listed, vec!["L0/1.sst".to_owned()]);

    // Each open is a fresh store.
    let other = seerstore::open("memory://").await?;
    assert!(!other.exists("L0/1.sst").await?);
    Ok(())
}

#[tokio::test]
async fn open_with_adds_and_overrides_options() -> seerstore::Result<()> {
    let storage = seerstore::open_with(
        "memory://?max_retries=1",
        [("max_retries", "4"), ("jitter", "false")],
    )
    .await?;
    let debug = format!("{storage:?}");
    assert!(debug.contains("max_retries: 4"), "{debug}");
    assert!(debug.contains("jitter: false"), "{debug}");
    Ok(())
}
