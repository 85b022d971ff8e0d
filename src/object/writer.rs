//! The streaming writer of [`ObjectStorage`](super::ObjectStorage).
//!
//! Data is buffered up to one part. If `finish` comes first, the object is
//! written with one retried `put` (no multipart upload for small objects).
//! Otherwise a multipart upload is started and each full part is uploaded in
//! a spawned task, at most `max_parts_in_flight` at a time, so memory stays
//! below `part_size × (max_parts_in_flight + 1)`.
//!
//! Each part upload and the completion are bounded by `attempt_timeout`.
//! Parts are not retried: object_store's `MultipartUpload::put_part` numbers
//! the part at the call, so a part cannot be re-sent under the same number.
//! A failed part aborts the upload and fails the writer.
//!
//! On error, on `abort`, and when the writer is dropped without `finish` or
//! `abort`, the multipart upload is aborted. The drop case spawns the abort
//! on the current tokio runtime (`Handle::try_current`); dropped outside a
//! runtime, the upload is left to the bucket's lifecycle rules.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, PutPayload};
use tokio::task::JoinSet;

use super::classify::from_object_store;
use super::keys::encode_version;
use crate::error::{Error, Operation, Result};
use crate::retry::{retry, RetryConfig};
use crate::storage::{ObjectMeta, StorageWriter};

const OP: Operation = Operation::Writer;

/// A multipart upload in progress.
struct Upload {
    upload: Box<dyn MultipartUpload>,
    parts: JoinSet<object_store::Result<()>>,
}

pub(crate) struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    location: Path,
    key: String,
    retry: RetryConfig,
    part_size: usize,
    max_parts_in_flight: usize,
    /// Data not yet handed to a part.
    buffer: VecDeque<Bytes>,
    buffered: usize,
    size: u64,
    upload: Option<Upload>,
    failed: bool,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("store", &self.store)
            .field("key", &self.key)
            .field("size", &self.size)
            .field("multipart", &self.upload.is_some())
            .finish()
    }
}

impl ObjectWriter {
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        location: Path,
        key: String,
        retry: RetryConfig,
        part_size: usize,
        max_parts_in_flight: usize,
    ) -> Self {
        Self {
            store,
            location,
            key,
            retry,
            part_size: part_size.max(1),
            max_parts_in_flight: max_parts_in_flight.max(1),
            buffer: VecDeque::new(),
            buffered: 0,
            size: 0,
            upload: None,
            failed: false,
        }
    }

    fn classify(&self, err: object_store::Error) -> Error {
        from_object_store(OP, &self.key, None, err)
    }

    fn poisoned(&self) -> Error {
        Error::io(
            OP,
            self.key.clone(),
            std::io::Error::other("the writer failed earlier and its upload was aborted"),
        )
    }

    /// Takes exactly `len` buffered bytes (zero-copy) as one part.
    fn take_part(&mut self, len: usize) -> PutPayload {
        let mut part = Vec::new();
        let mut missing = len;
        while missing > 0 {
            let Some(mut chunk) = self.buffer.pop_front() else {
                break;
            };
            if chunk.len() > missing {
                self.buffer.push_front(chunk.split_off(missing));
            }
            missing -= chunk.len();
            part.push(chunk);
        }
        self.buffered -= len - missing;
        part.into_iter().collect()
    }

    /// Uploads every full part in the buffer, starting the upload if needed.
    async fn flush_full_parts(&mut self) -> Result<()> {
        while self.buffered >= self.part_size {
            if self.upload.is_none() {
                let store = &self.store;
                let location = &self.location;
                let key = &self.key;
                let upload = retry(&self.retry, OP, key, |_| async move {
                    store
                        .put_multipart_opts(location, Default::default())
                        .await
                        .map_err(|e| from_object_store(OP, key, None, e))
                })
                .await?;
                self.upload = Some(Upload {
                    upload,
                    parts: JoinSet::new(),
                });
            }
            self.wait_for_parts(self.max_parts_in_flight - 1).await?;
            let part = self.take_part(self.part_size);
            self.spawn_part(part);
        }
        Ok(())
    }

    /// Uploads `part` in a task of its own, bounded by the attempt timeout.
    fn spawn_part(&mut self, part: PutPayload) {
        let timeout = self.retry.attempt_timeout;
        if let Some(upload) = self.upload.as_mut() {
            let put = upload.upload.put_part(part);
            upload.parts.spawn(bounded(timeout, put));
        }
    }

    /// Waits until at most `in_flight` parts are still uploading.
    async fn wait_for_parts(&mut self, in_flight: usize) -> Result<()> {
        let Some(upload) = self.upload.as_mut() else {
            return Ok(());
        };
        while upload.parts.len() > in_flight {
            match upload.parts.join_next().await {
                Some(Ok(Ok(()))) | None => {}
                Some(Ok(Err(e))) => return Err(self.classify(e)),
                Some(Err(join)) => return Err(self.classify(join.into())),
            }
        }
        Ok(())
    }

    /// Aborts the multipart upload, if any.
    async fn abort_upload(&mut self) -> Result<()> {
        if let Some(mut upload) = self.upload.take() {
            upload.parts.abort_all();
            upload.upload.abort().await.map_err(|e| self.classify(e))?;
        }
        Ok(())
    }

    /// On error, aborts the upload and keeps the first error.
    async fn or_abort<T>(&mut self, outcome: Result<T>) -> Result<T> {
        if outcome.is_err() {
            self.failed = true;
            // The write error matters more than a failure to clean up.
            let _ = self.abort_upload().await;
        }
        outcome
    }

    async fn finish_upload(&mut self) -> Result<ObjectMeta> {
        let Some(_) = self.upload.as_ref() else {
            let payload: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
            self.buffered = 0;
            let store = &self.store;
            let location = &self.location;
            let key = &self.key;
            let result = retry(&self.retry, OP, key, |_| {
                let payload = payload.clone();
                async move {
                    store
                        .put_opts(location, payload, Default::default())
                        .await
                        .map_err(|e| from_object_store(OP, key, None, e))
                }
            })
            .await?;
            return Ok(self.meta(result));
        };
        if self.buffered > 0 {
            let last = self.take_part(self.buffered);
            self.spawn_part(last);
        }
        self.wait_for_parts(0).await?;
        let Some(mut upload) = self.upload.take() else {
            return Err(self.poisoned());
        };
        match bounded(self.retry.attempt_timeout, upload.upload.complete()).await {
            Ok(result) => Ok(self.meta(result)),
            Err(e) => {
                self.upload = Some(upload);
                Err(self.classify(e))
            }
        }
    }

    fn meta(&self, result: object_store::PutResult) -> ObjectMeta {
        ObjectMeta::new(self.key.clone(), self.size).with_version(encode_version(
            result.e_tag.as_deref(),
            result.version.as_deref(),
        ))
    }
}

#[async_trait]
impl StorageWriter for ObjectWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if self.failed {
            return Err(self.poisoned());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        self.size += chunk.len() as u64;
        self.buffered += chunk.len();
        self.buffer.push_back(chunk);
        let outcome = self.flush_full_parts().await;
        self.or_abort(outcome).await
    }

    async fn finish(mut self: Box<Self>) -> Result<ObjectMeta> {
        if self.failed {
            return Err(self.poisoned());
        }
        let outcome = self.finish_upload().await;
        self.or_abort(outcome).await
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.buffer.clear();
        self.buffered = 0;
        self.abort_upload().await
    }
}

/// Runs `request` within `timeout`; running out is a retryable
/// `TimedOut` error, so a stalled part cannot hang `finish`.
async fn bounded<T>(
    timeout: Option<std::time::Duration>,
    request: impl std::future::Future<Output = object_store::Result<T>>,
) -> object_store::Result<T> {
    let Some(timeout) = timeout else {
        return request.await;
    };
    match tokio::time::timeout(timeout, request).await {
        Ok(outcome) => outcome,
        Err(_) => Err(object_store::Error::Generic {
            store: "seerstore",
            source: Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("multipart request timed out after {timeout:?}"),
            )),
        }),
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        let Some(mut upload) = self.upload.take() else {
            return;
        };
        upload.parts.abort_all();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                // Nobody is left to report a failed abort to; the bucket's
                // lifecycle rules are the last resort.
                let _ = upload.upload.abort().await;
            });
        }
    }
}
