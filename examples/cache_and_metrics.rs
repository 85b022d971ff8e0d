//! A remote-SSTable stack: a read cache between two `Instrumented` layers
//! over `ObjectStorage`, so the metrics show hits (caller side) apart from
//! requests (store side).
//!
//! ```text
//! cargo run --example cache_and_metrics --features metrics
//! ```
//!
//! ```text
//! Instrumented("caller")        calls as the engine sees them (hits included)
//!   └─ Cached                   64 KiB blocks, bounded by bytes
//!        └─ Instrumented("store")   calls that reach the object store
//!             └─ ObjectStorage ─► retry loop (attempts, retries) ─► object_store
//! ```
//!
//! Metrics are printed with metrics-util's debugging recorder so the
//! example needs no exporter; see `examples/prometheus.rs` for one.

use std::sync::Arc;

use bytes::Bytes;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seerstore::{Cached, Instrumented, ObjectStorage, RetryConfig, Storage};

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

    // The cache: repeated block reads stop at this layer, so the store side
    // counts one ranged read per 64 KiB block while the caller side counts
    // every call.
    let cached = Cached::new(store_side).with_capacity(64 << 20);
    let storage = Instrumented::new(cached).with_label("caller");

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
