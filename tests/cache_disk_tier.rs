//! `Cached::with_disk_tier`: blocks evicted from memory come back from
//! local disk instead of the inner storage, the tier stays within its
//! bytes, writes through the cache are never hidden by old files, a
//! missing or damaged file is only a miss, and the tier's directory is
//! removed on drop (and swept after a crash) without touching anything
//! else.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use seerstore::{Cached, ObjectStorage, Storage};

const BLOCK: u64 = 4096;
const BLOCKS: u64 = 64;
/// What the tier counts for one full 4 KiB block file.
const FILE_WEIGHT: u64 = 8192;

fn io(e: std::io::Error) -> seerstore::Error {
    seerstore::Error::io(seerstore::Operation::Open, "", e)
}

fn object(version: u8) -> Bytes {
    (0..BLOCK * BLOCKS)
        .map(|i| (i % 251) as u8 ^ version)
        .collect::<Vec<u8>>()
        .into()
}

/// A cache of 2 blocks in memory over a disk tier of `disk_blocks` blocks.
async fn cache(dir: &Path, disk_blocks: u64) -> seerstore::Result<Cached<ObjectStorage>> {
    let remote = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    Cached::new(remote)
        .with_block_size(BLOCK)
        .with_capacity(2 * (BLOCK + 64))
        .with_disk_tier(dir, disk_blocks * FILE_WEIGHT)
        .await
}

/// Reads every block of `key` one by one and checks it against
/// `expected`, letting each block's write to the disk tier finish before
/// the next read (so that none is skipped for too many in flight).
async fn read_all(storage: &Cached<ObjectStorage>, key: &str, expected: &Bytes) {
    for i in 0..BLOCKS {
        let range = i * BLOCK..(i + 1) * BLOCK;
        let got = storage.read_range(key, range.clone()).await.expect("read");
        assert_eq!(
            got,
            expected.slice(range.start as usize..range.end as usize),
            "block {i}"
        );
        storage.settle().await;
    }
}

/// Block files in the tier's directory.
fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("tier dir")
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_evicted_from_memory_are_read_from_disk() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().map_err(io)?;
    let storage = cache(dir.path(), 1024).await?;
    let data = object(1);
    storage.write("L1/000001.sst", data.clone()).await?;
    read_all(&storage, "L1/000001.sst", &data).await;
    assert_eq!(storage.blocks_fetched(), BLOCKS);
    storage.settle().await;
    assert_eq!(storage.disk_bytes(), BLOCKS * FILE_WEIGHT);
    // Memory holds 2 blocks: the second pass is served by the disk tier.
    read_all(&storage, "L1/000001.sst", &data).await;
    println!(
        "disk tier: {} blocks fetched, {} read from disk",
        storage.blocks_fetched(),
        storage.disk_hits()
    );
    assert_eq!(storage.blocks_fetched(), BLOCKS, "fetched again");
    assert!(
        storage.disk_hits() >= BLOCKS - 2,
        "{} disk hits",
        storage.disk_hits()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_stays_within_its_bytes() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().map_err(io)?;
    let storage = cache(dir.path(), 10).await?;
    let data = object(2);
    storage.write("big.sst", data.clone()).await?;
    read_all(&storage, "big.sst", &data).await;
    storage.settle().await;
    let tier = storage.disk_tier_dir().expect("a tier").to_owned();
    println!(
        "disk tier of 10 blocks: {} bytes, {} files after 64 blocks",
        storage.disk_bytes(),
        files(&tier)
    );
    assert!(storage.disk_bytes() <= 10 * FILE_WEIGHT);
    assert!(files(&tier) <= 10, "{} files", files(&tier));
    assert!(files(&tier) > 0, "nothing written");
    // Still correct, from whichever tier.
    read_all(&storage, "big.sst", &data).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_the_cache_is_never_hidden_by_old_files() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().map_err(io)?;
    let storage = cache(dir.path(), 1024).await?;
    let (old, new) = (object(3), object(4));
    storage.write("L0/5.sst", old.clone()).await?;
    read_all(&storage, "L0/5.sst", &old).await;
    storage.settle().await;
    storage.write("L0/5.sst", new.clone()).await?;
    read_all(&storage, "L0/5.sst", &new).await;
    assert_eq!(storage.read("L0/5.sst").await?, new);
    storage.delete("L0/5.sst").await?;
    let gone = storage.read_range("L0/5.sst", 0..10).await;
    assert!(matches!(gone, Err(e) if e.is_not_found()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_damaged_file_is_only_a_miss() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().map_err(io)?;
    let storage = cache(dir.path(), 1024).await?;
    let data = object(5);
    storage.write("x.sst", data.clone()).await?;
    read_all(&storage, "x.sst", &data).await;
    storage.settle().await;
    let tier = storage.disk_tier_dir().expect("a tier").to_owned();
    // Damage every file: half removed, half cut short or grown.
    for (n, entry) in std::fs::read_dir(&tier).map_err(io)?.flatten().enumerate() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        match n % 3 {
            0 => std::fs::remove_file(&path).map_err(io)?,
            1 => std::fs::write(&path, b"short").map_err(io)?,
            _ => std::fs::write(&path, vec![0u8; BLOCK as usize + 1]).map_err(io)?,
        }
    }
    let before = storage.blocks_fetched();
    read_all(&storage, "x.sst", &data).await;
    assert!(
        storage.blocks_fetched() >= before + BLOCKS - 2,
        "damaged files were trusted"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_directory_goes_with_the_cache_and_dead_ones_are_swept() -> seerstore::Result<()> {
    let parent = tempfile::tempdir().map_err(io)?;
    // A tier left by a process that died (its lock is free), and things
    // that are not tiers.
    let dead = parent.path().join("seerstore-cache-999999-1");
    std::fs::create_dir(&dead).map_err(io)?;
    std::fs::write(dead.join(".lock"), b"").map_err(io)?;
    std::fs::write(dead.join("0000000000000001-0000000000000000"), b"old").map_err(io)?;
    let keep = parent.path().join("keep-me");
    std::fs::create_dir(&keep).map_err(io)?;
    std::fs::write(parent.path().join("seerstore-cache-note.txt"), b"a file").map_err(io)?;

    let storage = cache(parent.path(), 16).await?;
    let tier = storage.disk_tier_dir().expect("a tier").to_owned();
    assert!(!dead.exists(), "the dead tier was not swept");
    assert!(keep.exists());
    assert!(parent.path().join("seerstore-cache-note.txt").exists());
    assert!(tier.starts_with(parent.path()) && tier.exists());

    // A second live tier under the same parent is left alone by the first.
    let other = cache(parent.path(), 16).await?;
    let other_dir = other.disk_tier_dir().expect("a tier").to_owned();
    assert!(tier.exists() && other_dir.exists());

    drop(storage);
    for _ in 0..100 {
        if !tier.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!tier.exists(), "the tier's directory outlived the cache");
    assert!(other_dir.exists());
    assert!(keep.exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_directory_is_a_clear_error() {
    let parent = tempfile::tempdir().expect("temp dir");
    let file = parent.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let remote = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    let err = Cached::new(remote)
        .with_disk_tier(&file, 1 << 20)
        .await
        .expect_err("a file is not a directory");
    let message = err.to_string();
    assert!(message.contains("a-file"), "{message}");
}
