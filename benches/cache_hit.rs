#![allow(missing_docs)] // criterion_group! generates undocumented functions
//! The hit path of the cache crates `Cached` could use, beside a plain
//! `HashMap`: one lookup of a 64 KiB block by `(epoch, index)` and a clone
//! of its `Bytes`, over 16,384 resident blocks, in a fixed pseudo-random
//! order. Single-threaded; the concurrent caches pay for their locks.
//!
//! `cargo bench --bench cache_hit`

use std::collections::HashMap;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};

const BLOCKS: u64 = 16_384;
const BLOCK: usize = 64 * 1024;

/// A fixed sequence of block indexes (xorshift, seed 1).
fn order() -> Vec<u64> {
    let mut x: u64 = 1;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % BLOCKS
        })
        .collect()
}

fn hit_path(c: &mut Criterion) {
    // One shared buffer: the benchmark measures lookups, not memory.
    let block = Bytes::from(vec![7u8; BLOCK]);
    let order = order();
    let mut group = c.benchmark_group("block_hit");

    let map: HashMap<(u64, u64), Bytes> = (0..BLOCKS).map(|i| ((1, i), block.clone())).collect();
    let mut n = 0;
    group.bench_function("HashMap", |b| {
        b.iter(|| {
            n = (n + 1) % order.len();
            black_box(map.get(&(1, order[n])).cloned())
        })
    });

    let quick: quick_cache::sync::Cache<(u64, u64), Bytes> =
        quick_cache::sync::Cache::new(2 * BLOCKS as usize);
    for i in 0..BLOCKS {
        quick.insert((1, i), block.clone());
    }
    group.bench_function("quick_cache", |b| {
        b.iter(|| {
            n = (n + 1) % order.len();
            black_box(quick.get(&(1, order[n])))
        })
    });

    let moka: moka::sync::Cache<(u64, u64), Bytes> = moka::sync::Cache::new(2 * BLOCKS);
    for i in 0..BLOCKS {
        moka.insert((1, i), block.clone());
    }
    moka.run_pending_tasks();
    group.bench_function("moka", |b| {
        b.iter(|| {
            n = (n + 1) % order.len();
            black_box(moka.get(&(1, order[n])))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = hit_path
}
criterion_main!(benches);
