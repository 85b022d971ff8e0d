//! A remote-SSTable stack: `Instrumented` over `ObjectStorage`, with the
//! spot where a read cache goes.
//!
//! ```text
//! cargo run --example cache_and_metrics --features metrics
//! ```
//!
//! ```text
//! Instrumented("caller")        calls as the engine sees them (hits included)
//!   └─ [read cache goes here]
//!        └─ Instrumented("store")   calls that reach the object store
//!             └─ ObjectStorage ─► retry loop (attempts, retries) ─► object_store
//! ```
//!
//! Metrics are printed with metrics-util's debugging recorder so the
//! example needs no exporter; see `examples/prometheus.rs` for one.

use std::sync::Arc;

use bytes::Bytes;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seerstore::{Instrumented, ObjectStorage, RetryConfig, Storage};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install()?;

    // Any object_store works here; InMemory keeps the example offline.
    let remote = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()))
        .with_prefix("tenant-1/sst")
        .with_retry(RetryConfig::default());
    let store_side = Instrumented::new(remote).with_label("store");

    // ---- READ CACHE: wrap `store_side` here once the `Cached` wrapper is
    // available, e.g.
    //     let cached = Cached::new(store_side, /* capacity, block size */);
    // and build the caller-side layer over `cached` instead. Until then the
    // two Instrumented layers count the same calls.
    let middle = store_side;
    // ---- end of the cache's spot.

    let storage = Instrumented::new(middle).with_label("caller");

    storage
        .write("L0/000001.sst", Bytes::from(vec![1u8; 256 * 1024]))
        .await?;
    for round in 0..3 {
        for block in 0..16u64 {
            let block = storage
                .read_range("L0/000001.sst", block * 4096..(block + 1) * 4096)
                .await?;
            assert_eq!(block.len(), 4096, "round {round}");
        }
    }

    let mut lines: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let value = match value {
                DebugValue::Counter(n) => n.to_string(),
                DebugValue::Histogram(samples) => format!("{} samples", samples.len()),
                DebugValue::Gauge(_) => return None,
            };
            Some(format!("{}{{{}}} {value}", key.name(), labels.join(",")))
        })
        .collect();
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
