#![allow(missing_docs)] // criterion_group! generates undocumented functions
//! `Cached` on its hit path beside a plain in-memory map, its disk tier,
//! and its speedup over uncached reads from s3s-fs.
//!
//! `cargo bench --bench cache` (the `s3s_fs` group needs the test servers'
//! variables — `scripts/servers.sh start; source target/test-servers/env.sh`
//! — and the `aws` feature: `cargo bench --features aws --bench cache`;
//! without them it says so and is skipped).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use futures::FutureExt;
use seerstore::{Cached, ObjectStorage, Storage};

const OBJECT: usize = 16 << 20;
const BLOCK: u64 = 64 * 1024;
const READ: u64 = 4096;

/// A fixed sequence of 4 KiB-aligned read offsets inside the object.
fn offsets() -> Vec<u64> {
    let mut x: u64 = 1;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % (OBJECT as u64 / READ)) * READ
        })
        .collect()
}

fn object() -> Bytes {
    (0..OBJECT)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn hit_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = object();
    let offsets = offsets();
    let mut group = c.benchmark_group("hit_4k_read");

    // The baselines: the blocks in plain HashMaps, and the 4 KiB copied out
    // as the cache does for reads below its threshold. First looked up by
    // path (no allocation: a map per path), then by two integers.
    let blocks: Vec<Bytes> = (0..OBJECT as u64 / BLOCK)
        .map(|i| Bytes::copy_from_slice(&data[(i * BLOCK) as usize..((i + 1) * BLOCK) as usize]))
        .collect();
    let by_path: HashMap<String, HashMap<u64, Bytes>> = HashMap::from([(
        "L1/000042.sst".to_owned(),
        blocks
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .collect(),
    )]);
    let mut n = 0;
    group.bench_function("HashMap_by_path", |b| {
        b.iter(|| {
            n = (n + 1) % offsets.len();
            let offset = offsets[n];
            let block = &by_path[black_box("L1/000042.sst")][&(offset / BLOCK)];
            let at = (offset % BLOCK) as usize;
            black_box(Bytes::copy_from_slice(&block[at..at + READ as usize]))
        })
    });
    let by_ids: HashMap<(u64, u64), Bytes> = blocks
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, b)| ((42, i as u64), b))
        .collect();
    group.bench_function("HashMap_by_ids", |b| {
        b.iter(|| {
            n = (n + 1) % offsets.len();
            let offset = offsets[n];
            let block = &by_ids[&(black_box(42), offset / BLOCK)];
            let at = (offset % BLOCK) as usize;
            black_box(Bytes::copy_from_slice(&block[at..at + READ as usize]))
        })
    });

    let store = Arc::new(object_store::memory::InMemory::new());
    let cached = Cached::new(ObjectStorage::new(store)).with_capacity(64 << 20);
    rt.block_on(async {
        cached
            .write("L1/000042.sst", data.clone())
            .await
            .expect("write");
        cached.read("L1/000042.sst").await.expect("warm the cache");
    });
    group.bench_function("Cached", |b| {
        b.iter(|| {
            n = (n + 1) % offsets.len();
            let offset = offsets[n];
            // A hit completes without waiting: no runtime involved.
            let read = cached
                .read_range("L1/000042.sst", offset..offset + READ)
                .now_or_never()
                .expect("a hit does not wait");
            black_box(read.expect("read"))
        })
    });
    group.finish();
}

#[cfg(feature = "aws")]
fn s3s_store() -> Option<Arc<dyn object_store::ObjectStore>> {
    let var = |name: &str| std::env::var(format!("SEERSTORE_TEST_S3S_{name}")).ok();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(var("ENDPOINT")?)
        .with_allow_http(true)
        .with_region(var("REGION")?)
        .with_access_key_id(var("ACCESS_KEY_ID")?)
        .with_secret_access_key(var("SECRET_ACCESS_KEY")?)
        .with_bucket_name(var("BUCKET")?)
        .build()
        .ok()?;
    Some(Arc::new(store))
}

#[cfg(not(feature = "aws"))]
fn s3s_store() -> Option<Arc<dyn object_store::ObjectStore>> {
    None
}

/// A `Cached` that holds 2 blocks in memory over a disk tier holding the
/// whole object in `dir`, warmed (every block fetched once and written to
/// disk).
fn disk_tiered(
    rt: &tokio::runtime::Runtime,
    remote: ObjectStorage,
    dir: &std::path::Path,
) -> Cached<ObjectStorage> {
    rt.block_on(async {
        let cached = Cached::new(remote)
            .with_capacity(2 * (BLOCK + 64))
            .with_disk_tier(dir, 2 * OBJECT as u64)
            .await
            .expect("disk tier");
        cached.read("L1/000042.sst").await.expect("warm the tier");
        // Wait for the background fills to land (not a guessed sleep).
        cached.settle().await;
        cached
    })
}

/// 4 KiB reads served by the disk tier (file in the page cache, read on
/// the blocking pool) beside memory hits and the uncached in-memory store.
fn disk_tier(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let offsets = offsets();
    let remote = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    rt.block_on(remote.write("L1/000042.sst", object()))
        .expect("write");
    let memory = Cached::new(remote.clone()).with_capacity(64 << 20);
    rt.block_on(memory.read("L1/000042.sst")).expect("warm");
    let dir = tempfile::tempdir().expect("temp dir");
    let tiered = disk_tiered(&rt, remote.clone(), dir.path());
    let mut group = c.benchmark_group("disk_tier_4k_read");
    let mut n = 0;
    for (name, storage) in [
        ("memory_hit", &memory as &dyn Storage),
        ("disk_tier_hit", &tiered),
        ("uncached_in_memory_store", &remote),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                n = (n + 1) % offsets.len();
                let offset = offsets[n];
                rt.block_on(storage.read_range("L1/000042.sst", offset..offset + READ))
                    .expect("read")
            })
        });
    }
    group.finish();
    let hits = tiered.disk_hits();
    assert!(hits > 0, "the disk tier served nothing");
}

fn s3s_fs(c: &mut Criterion) {
    let Some(store) = s3s_store() else {
        eprintln!(
            "SKIPPED group s3s_fs: needs the `aws` feature and SEERSTORE_TEST_S3S_* \
             (scripts/servers.sh start; source target/test-servers/env.sh)"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let prefix = format!("seerstore-bench/cache-{}", std::process::id());
    let remote = ObjectStorage::new(store).with_prefix(&prefix);
    let cached = Cached::new(remote.clone()).with_capacity(64 << 20);
    let offsets = offsets();
    rt.block_on(async {
        remote
            .write("L1/000042.sst", object())
            .await
            .expect("write");
        cached.read("L1/000042.sst").await.expect("warm the cache");
    });
    let mut group = c.benchmark_group("s3s_fs_4k_read");
    let mut n = 0;
    group.bench_function("uncached", |b| {
        b.iter(|| {
            n = (n + 1) % offsets.len();
            let offset = offsets[n];
            rt.block_on(remote.read_range("L1/000042.sst", offset..offset + READ))
                .expect("read")
        })
    });
    group.bench_function("cached", |b| {
        b.iter(|| {
            n = (n + 1) % offsets.len();
            let offset = offsets[n];
            rt.block_on(cached.read_range("L1/000042.sst", offset..offset + READ))
                .expect("read")
        })
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let tiered = disk_tiered(&rt, remote.clone(), dir.path());
    group.bench_function("disk_tier", |b| {
        b.iter(|| {
            n = (n + 1) % offsets.len();
            let offset = offsets[n];
            rt.block_on(tiered.read_range("L1/000042.sst", offset..offset + READ))
                .expect("read")
        })
    });
    group.finish();
    rt.block_on(async {
        let _ = remote.delete("L1/000042.sst").await;
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = hit_path, disk_tier, s3s_fs
}
criterion_main!(benches);
