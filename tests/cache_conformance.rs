//! The conformance suite through `Cached`, around the backends that need no
//! server: LocalStorage and ObjectStorage over InMemory, each with the
//! capabilities it declares in tests/conformance.rs, and over InMemory with
//! a disk tier below a tiny memory cache. Small blocks (4 KiB)
//! make every check's objects span many blocks.

use std::sync::Arc;

use seerstore::conformance::{run, Capabilities};
use seerstore::{Cached, LocalStorage, ObjectStorage, Storage};

mod expected;

/// As for ObjectStorage over InMemory (tests/conformance.rs): `rename` is
/// a copy then a delete.
fn in_memory() -> Capabilities {
    Capabilities::all()
        .atomic_rename(false)
        .conditional_copy(true, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_local_storage() -> seerstore::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| seerstore::Error::io(seerstore::Operation::Open, "", e))?;
    let local = LocalStorage::open(dir.path()).await?;
    let storage: Arc<dyn Storage> = Arc::new(Cached::new(local).with_block_size(4096));
    // As for LocalStorage itself (tests/conformance.rs).
    let caps = Capabilities::all()
        .file_and_dir_keys(false)
        .sync_checks_existence(true)
        .key_limits(1024, 255)
        .appends(true)
        .atomic_rename(true);
    let report = run(storage, &caps).await;
    println!("conformance[cached local]:\n{report}");
    report.assert_outcomes(&expected::LOCAL);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_in_memory() -> seerstore::Result<()> {
    let store = Arc::new(object_store::memory::InMemory::new());
    let remote = ObjectStorage::new(store).with_prefix("tenant-1/sst");
    let storage: Arc<dyn Storage> = Arc::new(Cached::new(remote).with_block_size(4096));
    let report = run(storage, &in_memory()).await;
    println!("conformance[cached memory]:\n{report}");
    report.assert_outcomes(&expected::object_store(&[]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_in_memory_default_blocks_small_capacity() -> seerstore::Result<()> {
    // Default 64 KiB blocks, and a cache smaller than the large-object
    // check's object: eviction happens mid-suite.
    let store = Arc::new(object_store::memory::InMemory::new());
    let storage: Arc<dyn Storage> =
        Arc::new(Cached::new(ObjectStorage::new(store)).with_capacity(1 << 20));
    let report = run(storage, &in_memory()).await;
    println!("conformance[cached memory, 1 MiB]:\n{report}");
    report.assert_outcomes(&expected::object_store(&[]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_in_memory_with_a_disk_tier() -> seerstore::Result<()> {
    // A memory cache of a few 4 KiB blocks over a 4 MiB disk tier: most
    // blocks come back from disk, so the disk tier is held to every check.
    let dir =
        tempfile::tempdir().map_err(|e| seerstore::Error::io(seerstore::Operation::Open, "", e))?;
    let store = Arc::new(object_store::memory::InMemory::new());
    let storage: Arc<dyn Storage> = Arc::new(
        Cached::new(ObjectStorage::new(store))
            .with_block_size(4096)
            .with_capacity(8 * (4096 + 64))
            .with_disk_tier(dir.path(), 4 << 20)
            .await?,
    );
    let report = run(storage, &in_memory()).await;
    println!("conformance[cached memory, disk tier]:\n{report}");
    report.assert_outcomes(&expected::object_store(&[]));
    Ok(())
}
