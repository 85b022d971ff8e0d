//! Local disk: `LocalStorage` in a directory, with the calls an LSM engine
//! makes — SSTables streamed in, blocks read back, a manifest updated
//! conditionally, a WAL segment synced, obsolete tables deleted.
//!
//! ```text
//! cargo run --example local               # a temporary directory
//! cargo run --example local -- /some/dir  # a directory of yours (created)
//! ```

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{LocalStorage, Storage, WriteMode};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let root = match std::env::args().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => temp.path().to_owned(),
    };
    // Keeps up to 256 read handles open; writes are fsynced and renamed
    // into place, so a crash leaves the old object or the new one.
    let storage = LocalStorage::builder(&root)
        .max_open_files(256)
        .open()
        .await?;
    println!("{storage:?}");

    // A flush: stream an SSTable block by block (bounded memory).
    let mut writer = storage.writer("L0/000001.sst").await?;
    for block in 0..64u8 {
        writer.write(Bytes::from(vec![block; 4096])).await?;
    }
    let sst = writer.finish().await?;
    println!("wrote {} ({} bytes)", sst.path, sst.size);

    // Point reads: a few blocks in one call (one blocking-pool task).
    let blocks = storage
        .read_ranges("L0/000001.sst", &[4096..8192, 40960..45056])
        .await?;
    assert_eq!(blocks[1][0], 10);

    // The manifest: created once, then only replaced from the version read.
    let v1 = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"L0: 000001"),
            WriteMode::Create,
        )
        .await?;
    let version = v1.version.ok_or("local files have versions")?;
    storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"L0: 000001, 000002"),
            WriteMode::Update(version.clone()),
        )
        .await?;
    let stale = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"lost"),
            WriteMode::Update(version),
        )
        .await;
    assert!(stale.is_err_and(|e| e.is_precondition()));

    // A WAL segment: written, then made durable explicitly.
    storage
        .write("wal/000003.log", Bytes::from_static(b"put k v"))
        .await?;
    storage.sync("wal/000003.log").await?;

    // Compaction removes obsolete tables; deleting twice is fine.
    storage.delete("L0/000001.sst").await?;
    storage.delete("L0/000001.sst").await?;

    let mut keys: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    keys.sort();
    println!("keys: {keys:?}");
    assert_eq!(keys, ["MANIFEST", "wal/000003.log"]);
    Ok(())
}
