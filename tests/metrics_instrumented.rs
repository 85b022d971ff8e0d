//! Metrics: `Instrumented` counts calls, bytes, errors by kind and latency
//! per operation; the retry loop counts attempts and retries. Checked with
//! metrics-util's `DebuggingRecorder`, installed for this thread only.
#![cfg(feature = "metrics")]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use seerstore::{Instrumented, LocalStorage, ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

/// A metric as `name{label=value,...}` (labels sorted), so tests can look
/// one up by its full identity.
fn snapshot(snapshotter: &Snapshotter) -> BTreeMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(metrics: &BTreeMap<String, DebugValue>, id: &str) -> u64 {
    match metrics.get(id) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!(
            "{id}: {other:?}; have {:?}",
            metrics.keys().collect::<Vec<_>>()
        ),
    }
}

fn samples(metrics: &BTreeMap<String, DebugValue>, id: &str) -> usize {
    match metrics.get(id) {
        Some(DebugValue::Histogram(values)) => values.len(),
        other => panic!("{id}: {other:?}"),
    }
}

/// Runs `test` on a current-thread runtime with a recorder for this thread.
fn with_recorder<F, Fut>(paused: bool, test: F) -> BTreeMap<String, DebugValue>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = seerstore::Result<()>>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        builder.enable_all();
        if paused {
            builder.start_paused(true);
        }
        let runtime = builder.build().expect("runtime");
        runtime.block_on(test()).expect("test body");
    });
    snapshot(&snapshotter)
}

#[test]
fn calls_bytes_errors_and_latency_per_operation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    let metrics = with_recorder(false, || async move {
        let storage = Instrumented::new(LocalStorage::open(&root).await?).with_label("sst");
        storage
            .write("L0/1.sst", Bytes::from(vec![7u8; 100]))
            .await?;
        storage
            .write_with(
                "L0/2.sst",
                Bytes::from(vec![7u8; 20]),
                seerstore::WriteMode::Create,
            )
            .await?;
        storage.read_range("L0/1.sst", 10..40).await?;
        storage.read_ranges("L0/1.sst", &[0..5, 5..10]).await?;
        storage.read("L0/2.sst").await?;
        assert!(storage.read("L0/missing").await.unwrap_err().is_not_found());
        assert!(storage.read_range("L0/1.sst", 90..200).await.is_err());
        assert!(storage.write("../escape", Bytes::new()).await.is_err());
        let mut writer = storage.writer("L1/3.sst").await?;
        writer.write(Bytes::from(vec![1u8; 64])).await?;
        writer.write(Bytes::from(vec![1u8; 36])).await?;
        writer.finish().await?;
        let listed: Vec<_> = storage.list("L0").try_collect().await?;
        assert_eq!(listed.len(), 2);
        assert!(storage.exists("L0/1.sst").await?);
        storage.head("L0/1.sst").await?;
        storage.sync("L0/1.sst").await?;
        storage.delete("L0/2.sst").await?;
        Ok(())
    });
    let m = &metrics;
    assert_eq!(
        counter(m, "seerstore_operations_total{operation=write,storage=sst}"),
        3
    );
    assert_eq!(
        counter(m, "seerstore_operations_total{operation=read,storage=sst}"),
        2
    );
    assert_eq!(
        counter(
            m,
            "seerstore_operations_total{operation=read_range,storage=sst}"
        ),
        2
    );
    assert_eq!(
        counter(
            m,
            "seerstore_operations_total{operation=read_ranges,storage=sst}"
        ),
        1
    );
    // writer() and finish() are two calls.
    assert_eq!(
        counter(
            m,
            "seerstore_operations_total{operation=writer,storage=sst}"
        ),
        2
    );
    for op in ["list", "exists", "head", "sync", "delete"] {
        assert_eq!(
            counter(
                m,
                &format!("seerstore_operations_total{{operation={op},storage=sst}}")
            ),
            1,
            "{op}"
        );
    }

    assert_eq!(
        counter(
            m,
            "seerstore_written_bytes_total{operation=write,storage=sst}"
        ),
        120
    );
    assert_eq!(
        counter(
            m,
            "seerstore_written_bytes_total{operation=writer,storage=sst}"
        ),
        100
    );
    assert_eq!(
        counter(
            m,
            "seerstore_read_bytes_total{operation=read_range,storage=sst}"
        ),
        30
    );
    assert_eq!(
        counter(
            m,
            "seerstore_read_bytes_total{operation=read_ranges,storage=sst}"
        ),
        10
    );
    assert_eq!(
        counter(m, "seerstore_read_bytes_total{operation=read,storage=sst}"),
        20
    );

    assert_eq!(
        counter(
            m,
            "seerstore_errors_total{kind=not_found,operation=read,storage=sst}"
        ),
        1
    );
    assert_eq!(
        counter(
            m,
            "seerstore_errors_total{kind=invalid_range,operation=read_range,storage=sst}"
        ),
        1
    );
    assert_eq!(
        counter(
            m,
            "seerstore_errors_total{kind=invalid_path,operation=write,storage=sst}"
        ),
        1
    );
    assert_eq!(
        m.keys()
            .filter(|k| k.starts_with("seerstore_errors_total"))
            .count(),
        3
    );

    assert_eq!(
        samples(
            m,
            "seerstore_operation_duration_seconds{operation=write,storage=sst}"
        ),
        3
    );
    assert_eq!(
        samples(
            m,
            "seerstore_operation_duration_seconds{operation=list,storage=sst}"
        ),
        1
    );
    // A local storage has no retry loop.
    assert!(!m.keys().any(|k| k.starts_with("seerstore_attempts_total")));
}

#[test]
fn attempts_are_counted_below_the_retry_and_calls_above_it() {
    let metrics = with_recorder(true, || async {
        let store = FaultStore::memory(vec![
            Rule::new(Method::Get, When::Calls(1, 2), Fault::Transient),
            Rule::new(Method::Put, When::Call(2), Fault::Permanent),
        ]);
        let storage =
            Instrumented::new(ObjectStorage::new(Arc::new(store)).with_retry(quick_retry(3)))
                .with_label("remote");
        storage.write("a", Bytes::from_static(b"abcd")).await?;
        assert_eq!(storage.read("a").await?, "abcd");
        assert!(storage.write("b", Bytes::from_static(b"x")).await.is_err());
        Ok(())
    });
    let m = &metrics;
    // Above the retry: one read call, one success.
    assert_eq!(
        counter(
            m,
            "seerstore_operations_total{operation=read,storage=remote}"
        ),
        1
    );
    assert!(
        !m.contains_key("seerstore_errors_total{kind=object_store,operation=read,storage=remote}")
    );
    // Below it: three attempts, two retries caused by object store errors.
    assert_eq!(counter(m, "seerstore_attempts_total{operation=read}"), 3);
    assert_eq!(
        counter(
            m,
            "seerstore_retries_total{cause=object_store,operation=read}"
        ),
        2
    );
    // A permanent failure is one attempt and no retry, one error above.
    assert_eq!(counter(m, "seerstore_attempts_total{operation=write}"), 2);
    assert!(!m
        .keys()
        .any(|k| k.starts_with("seerstore_retries_total") && k.contains("operation=write")));
    assert_eq!(
        counter(
            m,
            "seerstore_errors_total{kind=object_store,operation=write,storage=remote}"
        ),
        1
    );
    assert_eq!(
        counter(
            m,
            "seerstore_written_bytes_total{operation=write,storage=remote}"
        ),
        4
    );
}

#[test]
fn describe_registers_units() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        seerstore::instrumented::describe();
        metrics::counter!(seerstore::instrumented::READ_BYTES).increment(1);
    });
    let (_, unit, description, _) = snapshotter.snapshot().into_vec().pop().expect("one metric");
    assert_eq!(unit, Some(metrics::Unit::Bytes));
    assert!(description.is_some());
}

#[test]
fn wraps_the_storage_open_returns() {
    let metrics = with_recorder(false, || async {
        let shared: Arc<dyn Storage> = seerstore::open("memory:///t").await?;
        let storage = Instrumented::new(shared.clone());
        storage.write("k", Bytes::from_static(b"abc")).await?;
        assert_eq!(shared.read("k").await?, "abc");
        Ok(())
    });
    assert_eq!(
        counter(
            &metrics,
            "seerstore_written_bytes_total{operation=write,storage=default}"
        ),
        3
    );
}
