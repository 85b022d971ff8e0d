//! A seeded fraction of failing reads: retries hide them, deterministically.
mod support;

use std::sync::Arc;

use bytes::Bytes;
use seerstore::{ObjectStorage, Storage};
use support::{quick_retry, Fault, FaultStore, Method, Rule, When};

async fn run(seed: u64) -> seerstore::Result<(u32, usize)> {
    let store = Arc::new(FaultStore::new(
        Arc::new(object_store::memory::InMemory::new()),
        vec![Rule::new(
            Method::Get,
            When::Fraction(0.3),
            Fault::Transient,
        )],
        seed,
    ));
    let storage = ObjectStorage::new(store.clone()).with_retry(quick_retry(10));
    storage.write("k", Bytes::from_static(b"payload")).await?;
    let mut ok = 0;
    for _ in 0..50 {
        assert_eq!(storage.read_range("k", 1..4).await?, "ayl");
        ok += 1;
    }
    Ok((store.calls(Method::Get), ok))
}

#[tokio::test(start_paused = true)]
async fn seeded_faults_are_retried_and_reproducible() -> seerstore::Result<()> {
    let (calls, ok) = run(7).await?;
    assert_eq!(ok, 50);
    assert!(calls > 50, "some reads were retried ({calls} calls)");
    assert_eq!(run(7).await?.0, calls, "same seed, same calls");
    Ok(())
}
