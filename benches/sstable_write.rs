//! `sstable_write`: durable 64 MiB objects through `write` and through
//! `writer()` (1 MiB chunks), beside object_store (`with_fsync(true)`),
//! tokio::fs and std on a plain thread, in one run (see `common` for the
//! peers and `examples/bench.rs` for a runner with tables and ratios).

#![allow(missing_docs)] // criterion_group! makes undocumented items

mod common;

use std::time::Duration;

use criterion::{criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    common::criterion_group(c, common::Workload::SstableWrite, Duration::from_secs(5));
    common::criterion_group(c, common::Workload::SstableWriter, Duration::from_secs(5));
}

criterion::criterion_group!(benches, bench);
criterion_main!(benches);
