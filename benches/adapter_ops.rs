//! `adapter_ops`: the object_store calls that the 0.2 trait made single
//! seerstore calls, through `ObjectStoreAdapter` over `LocalStorage`, beside
//! object_store's own `LocalFileSystem` on the same directory tree, in one
//! run: `list_with_offset` of the last 100 of 10,000 keys (and of all of
//! them, to show the cost does not depend on the keys before the offset),
//! `delete_stream` of 1,000 keys, `copy` of 64 MiB.
//!
//! `cargo bench --bench adapter_ops`

#![allow(missing_docs)] // criterion_group! makes undocumented items

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_main, BatchSize, Criterion};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use seerstore::{LocalStorage, ObjectStoreAdapter};

const KEYS: usize = 10_000;
const DELETES: usize = 1_000;
const COPY_BYTES: usize = 64 << 20;

struct Peers {
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    stores: Vec<(&'static str, Arc<dyn ObjectStore>)>,
}

fn peers() -> Peers {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let stores = runtime.block_on(async {
        let local = LocalStorage::open(&root).await.expect("open");
        let adapter: Arc<dyn ObjectStore> = Arc::new(ObjectStoreAdapter::new(Arc::new(local)));
        let object_store: Arc<dyn ObjectStore> = Arc::new(
            LocalFileSystem::new_with_prefix(&root)
                .expect("LocalFileSystem")
                .with_fsync(true),
        );
        // 10,000 keys in directories of 1,000, written once, listed by both.
        for i in 0..KEYS {
            let path = Path::from(format!("list/d{:02}/{i:06}.sst", i / 1000));
            adapter.put(&path, "0123456789".into()).await.expect("put");
        }
        adapter
            .put(
                &Path::from("copy/src"),
                Bytes::from(vec![7u8; COPY_BYTES]).into(),
            )
            .await
            .expect("put");
        vec![("adapter", adapter), ("object_store", object_store)]
    });
    Peers {
        runtime,
        _dir: dir,
        stores,
    }
}

fn bench(c: &mut Criterion) {
    let peers = peers();
    let rt = &peers.runtime;
    let prefix = Path::from("list");
    let last_100 = Path::from(format!("list/d09/{:06}.sst", KEYS - 101));
    let mut group = c.benchmark_group("adapter_ops");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    for (name, store) in &peers.stores {
        group.bench_function(format!("list_with_offset_last_100/{name}"), |b| {
            b.iter(|| {
                let n = rt.block_on(
                    store
                        .list_with_offset(Some(&prefix), &last_100)
                        .try_fold(0usize, |n, _| async move { Ok(n + 1) }),
                );
                assert_eq!(n.expect("list"), 100);
            })
        });
        group.bench_function(format!("list_all_10000/{name}"), |b| {
            b.iter(|| {
                let n = rt.block_on(store.list(Some(&prefix)).count());
                assert_eq!(n, KEYS);
            })
        });
        group.bench_function(format!("delete_stream_1000/{name}"), |b| {
            b.iter_batched(
                || {
                    let paths: Vec<Path> = (0..DELETES)
                        .map(|i| Path::from(format!("del/{name}/{i:05}")))
                        .collect();
                    rt.block_on(async {
                        for path in &paths {
                            store.put(path, "x".into()).await.expect("put");
                        }
                    });
                    paths
                },
                |paths| {
                    let locations = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
                    let deleted = rt.block_on(store.delete_stream(locations).count());
                    assert_eq!(deleted, DELETES);
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("copy_64MiB/{name}"), |b| {
            let to = Path::from(format!("copy/{name}"));
            b.iter(|| {
                rt.block_on(store.copy(&Path::from("copy/src"), &to))
                    .expect("copy");
            })
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion_main!(benches);
