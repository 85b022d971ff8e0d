//! The MANIFEST compare-and-swap recipe: read the manifest with its version
//! in one call (`read_with`), decode, change, write it back on the
//! condition that nobody else did (`write_with(Update(version))`), and
//! start over on `Precondition`. Eight tasks bump one counter at once; no
//! increment is lost.
//!
//! `cargo run --example manifest_cas [file:///abs/dir | memory:// | s3://...]`

use std::sync::Arc;

use bytes::Bytes;
use seerstore::{ReadOptions, Storage, WriteMode};

const MANIFEST: &str = "MANIFEST";

/// Applies `change` to the manifest atomically; returns the new contents.
async fn update_manifest(
    storage: &dyn Storage,
    change: impl Fn(u64) -> u64,
) -> seerstore::Result<u64> {
    loop {
        // Data and version of the same object, in one request.
        let current = storage.read_with(MANIFEST, ReadOptions::default()).await?;
        let version = current
            .meta
            .version
            .clone()
            .expect("this backend has versions");
        let value: u64 = std::str::from_utf8(&current.data)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .expect("a manifest this example wrote");
        let next = change(value);
        match storage
            .write_with(
                MANIFEST,
                Bytes::from(next.to_string()),
                WriteMode::Update(version),
            )
            .await
        {
            Ok(_) => return Ok(next),
            // Someone else won the race: read the new manifest, try again.
            Err(e) if e.is_precondition() => continue,
            Err(e) => return Err(e),
        }
    }
}

#[tokio::main]
async fn main() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("file://{}", dir.path().display()));
    let storage: Arc<dyn Storage> = seerstore::open(&url).await?;
    storage
        .write_with(MANIFEST, Bytes::from_static(b"0"), WriteMode::Create)
        .await?;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let storage = storage.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    update_manifest(&*storage, |n| n + 1).await?;
                }
                Ok::<_, seerstore::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task")?;
    }
    let last = update_manifest(&*storage, |n| n).await?;
    println!("manifest after 8 x 25 concurrent increments: {last}");
    assert_eq!(last, 200);
    storage.delete(MANIFEST).await?;
    Ok(())
}
