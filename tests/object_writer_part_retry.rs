//! Streaming uploads through a `MultipartStore`: each part is retried on
//! its own, a lost answer to the completion is not an error, and an
//! abandoned upload is aborted. The store is InMemory behind a wrapper that
//! injects the faults declared by each test and counts calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload, PutResult};
use seerstore::{ObjectStorage, RetryConfig, Storage};

/// A transient transport failure, as the HTTP client reports one.
fn reset() -> object_store::Error {
    object_store::Error::Generic {
        store: "faults",
        source: Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )),
    }
}

#[derive(Debug, Default)]
struct Faults {
    /// Part numbers whose first attempt fails (each once).
    fail_part_once: Mutex<Vec<usize>>,
    /// Complete the upload, then lose the answer (once).
    lose_complete_answer: Mutex<bool>,
    put_part_calls: AtomicUsize,
    complete_calls: AtomicUsize,
    abort_calls: AtomicUsize,
}

#[derive(Debug)]
struct FaultyMultipart {
    inner: Arc<InMemory>,
    faults: Arc<Faults>,
}

#[async_trait]
impl MultipartStore for FaultyMultipart {
    async fn create_multipart(&self, path: &Path) -> object_store::Result<MultipartId> {
        self.inner.create_multipart(path).await
    }

    async fn put_part(
        &self,
        path: &Path,
        id: &MultipartId,
        part_idx: usize,
        data: PutPayload,
    ) -> object_store::Result<PartId> {
        self.faults.put_part_calls.fetch_add(1, Ordering::SeqCst);
        let fail = {
            let mut once = self.faults.fail_part_once.lock().expect("fault rules");
            match once.iter().position(|p| *p == part_idx) {
                Some(i) => {
                    once.remove(i);
                    true
                }
                None => false,
            }
        };
        if fail {
            return Err(reset());
        }
        self.inner.put_part(path, id, part_idx, data).await
    }

    async fn complete_multipart(
        &self,
        path: &Path,
        id: &MultipartId,
        parts: Vec<PartId>,
    ) -> object_store::Result<PutResult> {
        self.faults.complete_calls.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.complete_multipart(path, id, parts).await?;
        let mut lose = self
            .faults
            .lose_complete_answer
            .lock()
            .expect("fault rules");
        if *lose {
            *lose = false;
            return Err(reset());
        }
        Ok(result)
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> object_store::Result<()> {
        self.faults.abort_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.abort_multipart(path, id).await
    }
}

const PART: usize = 5 << 20;

fn storage(faults: &Arc<Faults>) -> (ObjectStorage, Arc<InMemory>) {
    let memory = Arc::new(InMemory::new());
    let multipart = Arc::new(FaultyMultipart {
        inner: memory.clone(),
        faults: faults.clone(),
    });
    let storage = ObjectStorage::new(memory.clone())
        .with_multipart_store(multipart)
        .with_part_size(PART)
        .with_max_parts_in_flight(2)
        .with_retry(
            RetryConfig::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_jitter(false),
        );
    (storage, memory)
}

fn object(len: usize) -> Bytes {
    (0..len).map(|i| (i % 253) as u8).collect::<Vec<_>>().into()
}

async fn stream(storage: &ObjectStorage, key: &str, data: &Bytes) -> seerstore::Result<u64> {
    let mut writer = storage.writer(key).await?;
    for chunk in data.chunks(1 << 20) {
        writer.write(Bytes::copy_from_slice(chunk)).await?;
    }
    Ok(writer.finish().await?.size)
}

#[tokio::test]
async fn a_failed_part_is_retried_under_its_own_number() -> seerstore::Result<()> {
    let faults = Arc::new(Faults::default());
    *faults.fail_part_once.lock().expect("fault rules") = vec![0, 2];
    let (storage, _) = storage(&faults);
    let data = object(3 * PART + 123);
    assert_eq!(
        stream(&storage, "L1/big.sst", &data).await?,
        data.len() as u64
    );
    assert_eq!(storage.read("L1/big.sst").await?, data);
    // Four parts, two of them sent twice.
    assert_eq!(faults.put_part_calls.load(Ordering::SeqCst), 6);
    assert_eq!(faults.abort_calls.load(Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn a_part_failing_past_the_retry_limit_aborts_the_upload() -> seerstore::Result<()> {
    let faults = Arc::new(Faults::default());
    // Part 1 fails on every one of its 1 + 3 attempts.
    *faults.fail_part_once.lock().expect("fault rules") = vec![1, 1, 1, 1];
    let (storage, _) = storage(&faults);
    let err = stream(&storage, "L1/big.sst", &object(3 * PART))
        .await
        .expect_err("part 1 never lands");
    assert!(
        err.is_retryable(),
        "the last error is the transient one: {err}"
    );
    assert_eq!(
        faults.abort_calls.load(Ordering::SeqCst),
        1,
        "upload aborted"
    );
    assert!(!storage.exists("L1/big.sst").await?, "nothing published");
    Ok(())
}

#[tokio::test]
async fn a_lost_answer_to_the_completion_is_not_an_error() -> seerstore::Result<()> {
    let faults = Arc::new(Faults::default());
    *faults.lose_complete_answer.lock().expect("fault rules") = true;
    let (storage, _) = storage(&faults);
    let data = object(2 * PART + 1);
    assert_eq!(
        stream(&storage, "L1/big.sst", &data).await?,
        data.len() as u64
    );
    assert_eq!(storage.read("L1/big.sst").await?, data);
    assert_eq!(
        faults.complete_calls.load(Ordering::SeqCst),
        2,
        "completion retried once"
    );
    Ok(())
}

#[tokio::test]
async fn a_dropped_writer_aborts_its_upload() -> seerstore::Result<()> {
    let faults = Arc::new(Faults::default());
    let (storage, _) = storage(&faults);
    let mut writer = storage.writer("L1/dropped.sst").await?;
    writer.write(object(PART + 10)).await?;
    drop(writer);
    // The abort runs on a spawned task; give it turns until it has run.
    for _ in 0..100 {
        if faults.abort_calls.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(faults.abort_calls.load(Ordering::SeqCst), 1);
    assert!(!storage.exists("L1/dropped.sst").await?);
    Ok(())
}

#[tokio::test]
async fn memory_url_streams_through_numbered_parts() -> seerstore::Result<()> {
    // open("memory://") uses InMemory's MultipartStore side; a multi-part
    // object must round-trip through it.
    let storage =
        seerstore::open_with("memory://", [("part_size", (5u64 << 20).to_string())]).await?;
    let data = object(2 * PART + 7);
    let mut writer = storage.writer("x.sst").await?;
    writer.write(data.clone()).await?;
    assert_eq!(writer.finish().await?.size, data.len() as u64);
    assert_eq!(storage.read("x.sst").await?, data);
    Ok(())
}
