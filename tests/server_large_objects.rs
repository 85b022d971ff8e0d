//! A 256 MiB SSTable streamed through `writer()` to every server that
//! accepts writes (moto, s3s-fs, Azurite) and to local disk, read back by
//! ranges and compared, with the peak heap of the upload measured by a
//! counting allocator. Prints one line per backend for docs/TEST-SERVERS.md.
//!
//! One test in its own binary, so that the allocator counts this upload
//! alone.
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use common_servers::{unique_prefix, var, S3Server};
use peak_alloc::PeakAlloc;
use seerstore::{LocalStorage, Storage};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// 256 MiB; `SEERSTORE_LARGE_OBJECT_MIB` sets another size (the 1 GiB
/// figure in docs/PERFORMANCE.md was measured with 1024).
fn total() -> usize {
    std::env::var("SEERSTORE_LARGE_OBJECT_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(256)
        << 20
}
const CHUNK: usize = 1 << 20;
const PART_SIZE: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 4;

/// Chunk `i` of the object: 1 MiB that differs per chunk and per offset.
fn chunk(i: usize) -> Bytes {
    let mut out = Vec::with_capacity(CHUNK);
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    while out.len() < CHUNK {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    Bytes::from(out)
}

/// Streams the object, returning the peak heap above the level at the start
/// (in bytes) and the seconds it took.
async fn upload(storage: &dyn Storage, key: &str) -> (usize, f64) {
    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let started = Instant::now();
    let mut writer = storage.writer(key).await.expect("writer");
    for i in 0..total() / CHUNK {
        writer.write(chunk(i)).await.expect("writer.write");
    }
    let meta = writer.finish().await.expect("finish");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(meta.size, total() as u64);
    (HEAP.peak_usage().saturating_sub(base), secs)
}

/// Reads the object back in 1 MiB ranges, 16 at a time, and compares.
async fn verify(storage: &dyn Storage, key: &str) {
    assert_eq!(storage.head(key).await.expect("head").size, total() as u64);
    for batch in (0..total() / CHUNK).collect::<Vec<_>>().chunks(16) {
        let ranges: Vec<_> = batch
            .iter()
            .map(|&i| (i * CHUNK) as u64..((i + 1) * CHUNK) as u64)
            .collect();
        let got = storage
            .read_ranges(key, &ranges)
            .await
            .expect("read_ranges");
        for (&i, bytes) in batch.iter().zip(&got) {
            assert!(*bytes == chunk(i), "chunk {i} read back wrong");
        }
    }
    // And a range across a part boundary.
    let edge = PART_SIZE as u64;
    let got = storage
        .read_range(key, edge - 4..edge + 4)
        .await
        .expect("read_range");
    let mut want = chunk(PART_SIZE / CHUNK - 1).slice(CHUNK - 4..).to_vec();
    want.extend_from_slice(&chunk(PART_SIZE / CHUNK)[..4]);
    assert_eq!(got, want, "bytes across a part boundary");
}

fn options() -> [(&'static str, String); 2] {
    [
        ("part_size", PART_SIZE.to_string()),
        ("max_parts_in_flight", PARTS_IN_FLIGHT.to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_sstable_through_writer_on_every_backend() {
    let mut backends: Vec<(&str, Arc<dyn Storage>)> = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    backends.push((
        "local",
        Arc::new(LocalStorage::open(dir.path()).await.expect("local")),
    ));
    let s3 = |tag: &str, name: &'static str| {
        S3Server::from_env(name, tag).map(|server| (name, server.url(&unique_prefix("large"))))
    };
    for (name, url) in [s3("MOTO", "moto"), s3("S3S", "s3s-fs")]
        .into_iter()
        .flatten()
    {
        backends.push((
            name,
            seerstore::open_with(&url, options()).await.expect("open"),
        ));
    }
    if let (Some(endpoint), Some(container), Some(account), Some(key)) = (
        var("Azurite", "AZURITE_ENDPOINT"),
        var("Azurite", "AZURITE_CONTAINER"),
        var("Azurite", "AZURITE_ACCOUNT"),
        var("Azurite", "AZURITE_KEY"),
    ) {
        let url = format!("az://{container}/{}", unique_prefix("large"));
        let mut opts: Vec<(&str, String)> = options().into();
        opts.extend([
            ("endpoint", endpoint),
            ("allow_http", "true".into()),
            ("account_name", account),
            ("access_key", key),
        ]);
        backends.push((
            "Azurite",
            seerstore::open_with(&url, opts).await.expect("open"),
        ));
    }

    // Parts being uploaded plus the one filling, and slack for the HTTP
    // client's buffers and one chunk in the caller's hands.
    let bound = PART_SIZE * (PARTS_IN_FLIGHT + 1) + (16 << 20);
    for (name, storage) in backends {
        let key = "L6/000001.sst";
        let (peak, secs) = upload(&*storage, key).await;
        println!(
            "large object [{name}]: {} MiB in {secs:.1} s ({:.0} MB/s), peak heap {:.1} MiB (bound {} MiB)",
            total() >> 20,
            total() as f64 / secs / 1e6,
            peak as f64 / (1 << 20) as f64,
            bound >> 20
        );
        assert!(peak <= bound, "{name}: peak heap {peak} bytes over {bound}");
        verify(&*storage, key).await;
        storage.delete(key).await.expect("delete");
    }
}
