//! A streaming upload is never left dangling: `finish` or `abort` dropped at
//! any of its await points (while parts finish, while completing, while
//! aborting) aborts the multipart upload, as dropping the writer does.
//!
//! A counting `MultipartStore` over `InMemory` keeps the set of uploads in
//! progress; each of its calls yields once, so every call is an await point
//! at which the future can be dropped. The test drops the future after 0,
//! 1, 2, ... polls until one run completes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload, PutResult};
use seerstore::{ObjectStorage, RetryConfig, Storage};

#[derive(Debug)]
struct Counting {
    inner: Arc<InMemory>,
    open: Mutex<HashSet<MultipartId>>,
}

impl Counting {
    fn in_progress(&self) -> usize {
        self.open.lock().expect("lock").len()
    }
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl MultipartStore for Counting {
    async fn create_multipart(&self, path: &Path) -> object_store::Result<MultipartId> {
        tokio::task::yield_now().await;
        let id = self.inner.create_multipart(path).await?;
        self.open.lock().expect("lock").insert(id.clone());
        Ok(id)
    }

    async fn put_part(
        &self,
        path: &Path,
        id: &MultipartId,
        part_idx: usize,
        data: PutPayload,
    ) -> object_store::Result<PartId> {
        tokio::task::yield_now().await;
        self.inner.put_part(path, id, part_idx, data).await
    }

    async fn complete_multipart(
        &self,
        path: &Path,
        id: &MultipartId,
        parts: Vec<PartId>,
    ) -> object_store::Result<PutResult> {
        tokio::task::yield_now().await;
        let result = self.inner.complete_multipart(path, id, parts).await?;
        self.open.lock().expect("lock").remove(id);
        tokio::task::yield_now().await;
        Ok(result)
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> object_store::Result<()> {
        tokio::task::yield_now().await;
        self.inner.abort_multipart(path, id).await?;
        self.open.lock().expect("lock").remove(id);
        Ok(())
    }
}

fn storage() -> (ObjectStorage, Arc<Counting>) {
    let memory = Arc::new(InMemory::new());
    let counting = Arc::new(Counting {
        inner: memory.clone(),
        open: Mutex::new(HashSet::new()),
    });
    let storage = ObjectStorage::new(memory)
        .with_multipart_store(counting.clone())
        .with_part_size(4)
        .with_retry(RetryConfig::none());
    (storage, counting)
}

/// Lets the aborts spawned by drops run (bounded; no sleeping).
async fn settle(counting: &Counting) {
    for _ in 0..1000 {
        if counting.in_progress() == 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
}

const DATA: &[u8] = b"0123456789";

#[tokio::test(flavor = "current_thread")]
async fn dropping_finish_at_any_await_point_leaves_no_upload() -> seerstore::Result<()> {
    let mut dropped_after_start = 0;
    for polls in 0..200 {
        let (storage, counting) = storage();
        let mut writer = storage.writer("L0/1.sst").await?;
        // Two full parts upload now; the last two bytes wait for finish.
        writer.write(Bytes::from_static(DATA)).await?;
        let mut finish = writer.finish();
        let mut outcome = None;
        for _ in 0..polls {
            if let Poll::Ready(result) = futures::poll!(&mut finish) {
                outcome = Some(result);
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(finish);
        settle(&counting).await;
        assert_eq!(
            counting.in_progress(),
            0,
            "finish dropped after {polls} polls left an upload in progress"
        );
        match outcome {
            Some(result) => {
                result?;
                assert_eq!(storage.read("L0/1.sst").await?, DATA);
                // Every await point before completion was dropped at once.
                assert!(dropped_after_start > 3, "{dropped_after_start}");
                return Ok(());
            }
            None => dropped_after_start += 1,
        }
    }
    panic!("finish never completed");
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_abort_at_any_await_point_leaves_no_upload() -> seerstore::Result<()> {
    for polls in 0..200 {
        let (storage, counting) = storage();
        let mut writer = storage.writer("L0/1.sst").await?;
        writer.write(Bytes::from_static(DATA)).await?;
        assert_eq!(counting.in_progress(), 1);
        let mut abort = writer.abort();
        let mut outcome = None;
        for _ in 0..polls {
            if let Poll::Ready(result) = futures::poll!(&mut abort) {
                outcome = Some(result);
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(abort);
        settle(&counting).await;
        assert_eq!(
            counting.in_progress(),
            0,
            "abort dropped after {polls} polls"
        );
        assert!(!storage.exists("L0/1.sst").await?);
        if let Some(result) = outcome {
            return result;
        }
    }
    panic!("abort never completed");
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_writer_leaves_no_upload() -> seerstore::Result<()> {
    let (storage, counting) = storage();
    let mut writer = storage.writer("L0/1.sst").await?;
    writer.write(Bytes::from_static(DATA)).await?;
    assert_eq!(counting.in_progress(), 1);
    drop(writer);
    settle(&counting).await;
    assert_eq!(counting.in_progress(), 0);
    Ok(())
}
