//! The README's first command: an LSM engine's storage calls on an embedded
//! default (a temporary local directory), no cloud account or server needed.
//!
//! ```text
//! cargo run --example quickstart            # a temporary directory
//! cargo run --example quickstart -- URL     # any URL seerstore::open takes
//! ```

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures::TryStreamExt;
use seerstore::WriteMode;

const BLOCK: usize = 4096;
const BLOCKS_PER_SST: usize = 256; // 1 MiB SSTables

/// An SSTable body whose every block is recognisable by (table, block).
fn sstable(table: u64) -> Bytes {
    let mut buf = BytesMut::with_capacity(BLOCK * BLOCKS_PER_SST);
    for block in 0..BLOCKS_PER_SST as u64 {
        for _ in 0..BLOCK / 16 {
            buf.put_u64(table);
            buf.put_u64(block);
        }
    }
    buf.freeze()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => format!("file://{}", temp.path().display()),
    };
    let storage = seerstore::open(&url).await?;
    println!("storage: {storage:?}");

    // Flush: four SSTables into L0, each written atomically and durably.
    let started = Instant::now();
    for table in 1..=4u64 {
        let key = format!("L0/{table:06}.sst");
        let meta = storage.write(&key, sstable(table)).await?;
        println!("wrote   {key}  {} bytes", meta.size);
    }
    // Compaction output: streamed through a writer, published on finish.
    let mut writer = storage.writer("L1/000005.sst").await?;
    for _ in 0..4 {
        writer.write(sstable(5)).await?;
    }
    let meta = writer.finish().await?;
    println!("wrote   L1/000005.sst  {} bytes (streamed)", meta.size);

    // Point lookups: block reads by range, single and batched.
    let block = storage
        .read_range("L0/000003.sst", 7 * 4096..8 * 4096)
        .await?;
    assert_eq!(
        &block[..16],
        &[0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7]
    );
    let ranges: Vec<_> = (0..16u64)
        .map(|b| b * 4096 * 3..b * 4096 * 3 + 4096)
        .collect();
    let blocks = storage.read_ranges("L1/000005.sst", &ranges).await?;
    println!("read    {} + {} blocks by range", 1, blocks.len());

    // Listing, by whole segments.
    let l0: Vec<_> = storage.list("L0").map_ok(|m| m.path).try_collect().await?;
    println!("list L0 {l0:?}");

    // The manifest: created once, then updated only from the version we read.
    let v1 = storage
        .write_with(
            "MANIFEST",
            Bytes::from(format!("{l0:?}")),
            WriteMode::Create,
        )
        .await?;
    let version = v1.version.clone().ok_or("this backend has no versions")?;
    let v2 = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"L1/000005.sst"),
            WriteMode::Update(version.clone()),
        )
        .await?;
    let stale = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"lost update"),
            WriteMode::Update(version),
        )
        .await;
    match stale {
        Err(e) if e.is_precondition() => {
            println!("manifest v1 -> v2 ok; a stale update is refused: {e}")
        }
        other => return Err(format!("a stale manifest update was not refused: {other:?}").into()),
    }
    assert_ne!(v1.version, v2.version);

    // Compaction done: the inputs go.
    for table in 1..=4u64 {
        storage.delete(&format!("L0/{table:06}.sst")).await?;
    }
    let left: Vec<_> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    println!("after compaction: {left:?}");
    println!("done in {:?}", started.elapsed());
    Ok(())
}
