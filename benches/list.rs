//! `list`: seerstore beside object_store, tokio::fs and plain threads, in
//! one run (see `common` for the peers and `examples/bench.rs` for a
//! runner with tables and ratios).

#![allow(missing_docs)] // criterion_group! makes undocumented items

mod common;

use std::time::Duration;

use criterion::{criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    common::criterion_group(c, common::Workload::List, Duration::from_secs(3));
}

criterion::criterion_group!(benches, bench);
criterion_main!(benches);
