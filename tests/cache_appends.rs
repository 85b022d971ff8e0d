//! `Cached` over a growing object: an appender's key is read around the
//! cache while the appender lives, so no cached size or block goes stale;
//! after `finish` and drop, the key is cached again.

use bytes::Bytes;
use seerstore::{Cached, LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_through_cached_see_every_append() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cached = Cached::new(LocalStorage::open(dir.path()).await?).with_block_size(4096);
    let key = "wal/000001.log";
    let log = cached.appender(key).await?;
    log.append(Bytes::from_static(b"abc")).await?;
    log.sync().await?;
    // Would cache the size (3) and the first block.
    assert_eq!(cached.read_range(key, 0..3).await?, "abc");
    assert_eq!(cached.head(key).await?.size, 3);
    log.append(Bytes::from_static(b"def")).await?;
    log.sync().await?;
    assert_eq!(cached.head(key).await?.size, 6, "a stale cached size");
    assert_eq!(cached.read(key).await?, "abcdef", "a stale cached block");
    assert_eq!(cached.read_range(key, 3..6).await?, "def");
    assert_eq!(cached.blocks_fetched(), 0, "a growing object was cached");

    let meta = log.finish().await?;
    assert_eq!(meta.size, 6);
    drop(log);
    // Finished and dropped: an ordinary immutable object, cached again.
    assert_eq!(cached.read(key).await?, "abcdef");
    assert_eq!(cached.read(key).await?, "abcdef");
    assert_eq!(
        cached.blocks_fetched(),
        1,
        "the finished object is not cached"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appender_dropped_unfinished_keeps_its_key_uncached() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cached = Cached::new(LocalStorage::open(dir.path()).await?).with_block_size(4096);
    let key = "wal/000002.log";
    let log = cached.appender(key).await?;
    log.append(Bytes::from_static(b"synced")).await?;
    log.sync().await?;
    drop(log);
    assert_eq!(cached.read(key).await?, "synced");
    assert_eq!(
        cached.blocks_fetched(),
        0,
        "cached while bytes may still land"
    );
    cached.invalidate(key);
    assert_eq!(cached.read(key).await?, "synced");
    assert_eq!(cached.blocks_fetched(), 1);
    Ok(())
}
