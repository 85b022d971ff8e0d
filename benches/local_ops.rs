//! `local_ops`: LocalStorage's own 0.2 calls beside what the trait's
//! default bodies do with the 0.1 calls, in one run: `list_with` of the last
//! 100 of 10,000 keys (native, and `list` filtered) beside listing all of
//! them; `copy` of 64 MiB beside `read` + `write`; `delete_many` of 1,000
//! keys beside 1,000 `delete`s, 16 at a time.
//!
//! `cargo bench --bench local_ops`

#![allow(missing_docs)] // criterion_group! makes undocumented items

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_main, BatchSize, Criterion};
use futures::TryStreamExt;
use seerstore::{ListOptions, LocalStorage, Storage, WriteMode};

const KEYS: usize = 10_000;
const DELETES: usize = 1_000;
const COPY_BYTES: usize = 64 << 20;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = rt.block_on(async {
        let storage = LocalStorage::open(dir.path()).await.expect("open");
        // 10,000 keys in directories of 1,000.
        for i in 0..KEYS {
            let key = format!("list/d{:02}/{i:06}.sst", i / 1000);
            storage
                .write(&key, "0123456789".into())
                .await
                .expect("write");
        }
        let big = Bytes::from(vec![7u8; COPY_BYTES]);
        storage.write("copy/src", big).await.expect("write");
        storage
    });
    let offset = format!("list/d09/{:06}.sst", KEYS - 101);
    let mut group = c.benchmark_group("local_ops");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    group.bench_function("list_with_offset_last_100/native", |b| {
        b.iter(|| {
            let options = ListOptions {
                offset: Some(offset.clone()),
            };
            // Inside the runtime: a listing starts its first read at once.
            let keys: Vec<_> = rt
                .block_on(async { storage.list_with("list", options).try_collect().await })
                .expect("list");
            assert_eq!(keys.len(), 100);
        })
    });
    group.bench_function("list_with_offset_last_100/list_filtered", |b| {
        b.iter(|| {
            let keys: Vec<_> = rt
                .block_on(async {
                    storage
                        .list("list")
                        .try_filter(|meta| futures::future::ready(meta.path > offset))
                        .try_collect()
                        .await
                })
                .expect("list");
            assert_eq!(keys.len(), 100);
        })
    });
    group.bench_function("list_all_10000", |b| {
        b.iter(|| {
            let keys: Vec<_> = rt
                .block_on(async { storage.list("list").try_collect().await })
                .expect("list");
            assert_eq!(keys.len(), KEYS);
        })
    });
    group.bench_function("copy_64MiB/native", |b| {
        b.iter(|| {
            rt.block_on(storage.copy("copy/src", "copy/native", WriteMode::Overwrite))
                .expect("copy");
        })
    });
    group.bench_function("copy_64MiB/read_write", |b| {
        b.iter(|| {
            rt.block_on(async {
                let data = storage.read("copy/src").await.expect("read");
                storage.write("copy/read_write", data).await.expect("write");
            })
        })
    });
    let keys = |name: &str| -> Vec<String> {
        (0..DELETES)
            .map(|i| format!("del/{name}/d{}/{i:05}", i % 4))
            .collect()
    };
    let fill = |paths: &[String]| {
        rt.block_on(async {
            for path in paths {
                storage.write(path, "x".into()).await.expect("write");
            }
        })
    };
    group.bench_function("delete_1000/delete_many", |b| {
        b.iter_batched(
            || {
                let paths = keys("many");
                fill(&paths);
                paths
            },
            |paths| {
                let results = rt.block_on(storage.delete_many(&paths));
                assert!(results.iter().all(Result::is_ok));
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("delete_1000/delete_16_at_a_time", |b| {
        b.iter_batched(
            || {
                let paths = keys("each");
                fill(&paths);
                paths
            },
            |paths| {
                rt.block_on(async {
                    for batch in paths.chunks(16) {
                        let deletes = batch.iter().map(|path| storage.delete(path));
                        for result in futures::future::join_all(deletes).await {
                            result.expect("delete");
                        }
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion_main!(benches);
