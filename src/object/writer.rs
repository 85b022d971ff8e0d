//! The streaming writer of [`ObjectStorage`](super::ObjectStorage).
//!
//! Data is buffered up to one part. If `finish` comes first, the object is
//! written with one retried `put` (no multipart upload for small objects).
//! Otherwise a multipart upload is started and each full part is uploaded in
//! a spawned task, at most `max_parts_in_flight` at a time, so memory stays
//! below `part_size × (max_parts_in_flight + 1)`.
//!
//! How parts are sent depends on what the storage was given:
//!
//! * a [`MultipartStore`] (stores made by `seerstore::open`, or
//!   `ObjectStorage::with_multipart_store`): each part goes out under its own
//!   number and is retried like any request, each attempt bounded by
//!   `attempt_timeout`; completing the upload is retried too. A retried
//!   completion that fails (the upload is gone: an earlier attempt may have
//!   landed) counts as done only if the object at the key is provably this
//!   upload (see `landed`: its S3 ETag, computed from the md5 of each part,
//!   or its bytes read back against those md5s); otherwise `finish` fails
//!   with [`Error::OutcomeUnknown`];
//! * otherwise object_store's generic `MultipartUpload`, whose `put_part`
//!   numbers the part at the call, so a part cannot be re-sent: a failed or
//!   stalled part (bounded by `attempt_timeout`) aborts the upload and fails
//!   the writer.
//!
//! On error, on `abort`, and when the writer is dropped without `finish` or
//! `abort`, the multipart upload is aborted. The upload aborts itself when
//! it is dropped unsettled (neither completed nor aborted), wherever that
//! happens: a dropped writer, and also a `finish` or `abort` future dropped
//! at any await point (while parts finish, while completing, while
//! aborting). The drop case spawns the abort on the current tokio runtime
//! (`Handle::try_current`); dropped outside a runtime, the upload is left
//! to the bucket's lifecycle rules. A retried
//! creation of the upload whose first answer was lost leaves that first
//! upload to the lifecycle rules as well.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, MultipartUpload, ObjectStore, PutPayload};
use tokio::task::JoinSet;

use super::classify::from_object_store;
use super::keys::encode_version;
use super::landed::{self, PartsDigest, Written};
use super::multipart::{bounded, start_upload, OpenMultipart, SentPart, Sink};
use crate::error::{Error, Operation, Result};
use crate::retry::{retry, retry_read, retry_write, Deadline, RetryConfig};
use crate::storage::{ObjectMeta, StorageWriter};
use tokio::sync::Semaphore;

const OP: Operation = Operation::Writer;

pub(crate) struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    multipart: Option<Arc<dyn MultipartStore>>,
    location: Path,
    key: String,
    retry: RetryConfig,
    /// The storage's bound on requests in flight, if any.
    limit: Option<Arc<Semaphore>>,
    part_size: usize,
    max_parts_in_flight: usize,
    /// Data not yet handed to a part.
    buffer: VecDeque<Bytes>,
    buffered: usize,
    size: u64,
    upload: Option<OpenMultipart>,
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
    pub(crate) fn new(storage: &super::ObjectStorage, location: Path, key: String) -> Self {
        Self {
            store: Arc::clone(&storage.store),
            multipart: storage.multipart.clone(),
            location,
            key,
            retry: storage.retry.clone(),
            limit: storage.limit.clone(),
            part_size: storage.part_size.max(1),
            max_parts_in_flight: storage.max_parts_in_flight.max(1),
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
                let sink = start_upload(
                    &self.store,
                    self.multipart.as_ref(),
                    &self.location,
                    &self.key,
                    &self.retry,
                    self.limit.as_deref(),
                )
                .await?;
                self.upload = Some(OpenMultipart {
                    sink,
                    tasks: JoinSet::new(),
                    location: self.location.clone(),
                    key: self.key.clone(),
                    retry: self.retry.clone(),
                    limit: self.limit.clone(),
                    orphan: false,
                });
            }
            self.wait_for_parts(self.max_parts_in_flight - 1).await?;
            let part = self.take_part(self.part_size);
            self.spawn_part(part);
        }
        Ok(())
    }

    /// Uploads `part` in a task of its own.
    fn spawn_part(&mut self, part: PutPayload) {
        let Some(upload) = self.upload.as_mut() else {
            return;
        };
        let key = self.key.clone();
        let len = part.content_length() as u64;
        match &mut upload.sink {
            Sink::Settled => {}
            Sink::Generic(generic) => {
                let put = generic.put_part(part);
                let timeout = self.retry.attempt_timeout;
                let limit = self.limit.clone();
                upload.tasks.spawn(async move {
                    bounded(limit.as_deref(), timeout, len, put)
                        .await
                        .map(|()| None)
                        .map_err(|e| from_object_store(OP, &key, None, e))
                });
            }
            Sink::Numbered { store, id, parts } => {
                let index = parts.len();
                parts.push(None);
                let (store, id) = (Arc::clone(store), id.clone());
                let (location, config) = (self.location.clone(), self.retry.clone());
                let limit = self.limit.clone();
                upload.tasks.spawn(async move {
                    // The md5 is the evidence a retried completion checks
                    // the object against; hashed off the runtime's workers,
                    // while the part uploads.
                    let hashing = {
                        let part = part.clone();
                        tokio::task::spawn_blocking(move || landed::md5(&part))
                    };
                    let limit = limit.as_deref();
                    let part_id = retry_write(&config, limit, OP, &key, len, |_, _| {
                        let (store, id, location, key, part) =
                            (&store, &id, &location, &key, part.clone());
                        async move {
                            store
                                .put_part(location, id, index, part)
                                .await
                                .map_err(|e| from_object_store(OP, key, None, e))
                        }
                    })
                    .await?;
                    let md5 = hashing
                        .await
                        .map_err(|join| from_object_store(OP, &key, None, join.into()))?;
                    Ok(Some((index, SentPart { id: part_id, md5 })))
                });
            }
        }
    }

    /// Waits until at most `in_flight` parts are still uploading.
    async fn wait_for_parts(&mut self, in_flight: usize) -> Result<()> {
        let Some(upload) = self.upload.as_mut() else {
            return Ok(());
        };
        while upload.tasks.len() > in_flight {
            match upload.tasks.join_next().await {
                None | Some(Ok(Ok(None))) => {}
                Some(Ok(Ok(Some((index, sent))))) => {
                    if let Sink::Numbered { parts, .. } = &mut upload.sink {
                        if let Some(slot) = parts.get_mut(index) {
                            *slot = Some(sent);
                        }
                    }
                }
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(join)) => return Err(from_object_store(OP, &self.key, None, join.into())),
            }
        }
        Ok(())
    }

    /// Aborts the multipart upload, if any.
    async fn abort_upload(&mut self) -> Result<()> {
        // Dropped mid-abort, the taken upload aborts itself.
        match self.upload.take() {
            Some(mut upload) => upload.abort().await,
            None => Ok(()),
        }
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
            let len = payload.content_length() as u64;
            let limit = self.limit.as_deref();
            let result = retry_write(&self.retry, limit, OP, key, len, |_, _| {
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
        // Held here while completing: if this future is dropped, the
        // upload is dropped unsettled and aborts itself.
        let Some(mut upload) = self.upload.take() else {
            return Err(self.poisoned());
        };
        let result = match &mut upload.sink {
            Sink::Numbered { store, id, parts } => {
                match parts.iter().cloned().collect::<Option<Vec<SentPart>>>() {
                    Some(parts) => {
                        let store = Arc::clone(store);
                        self.complete_numbered(store.as_ref(), id, parts).await
                    }
                    None => Err(self.poisoned()),
                }
            }
            Sink::Generic(generic) => {
                let (limit, timeout) = (self.limit.as_deref(), self.retry.attempt_timeout);
                match bounded(limit, timeout, 0, generic.complete()).await {
                    Ok(result) => Ok(self.meta(result)),
                    Err(e) => Err(self.classify(e)),
                }
            }
            Sink::Settled => Err(self.poisoned()),
        };
        match result {
            Ok(meta) => {
                upload.sink = Sink::Settled;
                Ok(meta)
            }
            Err(e) => {
                self.upload = Some(upload);
                Err(e)
            }
        }
    }

    /// Completes a numbered upload, retried. Completing is not
    /// idempotent: a retry that fails may follow an earlier attempt that
    /// landed and lost its answer, so it counts as done only if the object
    /// at the key is provably this upload; otherwise the outcome is
    /// [`Error::OutcomeUnknown`].
    async fn complete_numbered(
        // `&mut`: the writer is `Send` but not `Sync`.
        &mut self,
        multipart: &dyn MultipartStore,
        id: &MultipartId,
        parts: Vec<SentPart>,
    ) -> Result<ObjectMeta> {
        let (location, key, limit) = (&self.location, self.key.as_str(), self.limit.as_deref());
        let digest = PartsDigest {
            part_size: self.part_size as u64,
            parts: parts.iter().map(|p| p.md5).collect(),
            size: self.size,
        };
        let ids: Vec<PartId> = parts.into_iter().map(|p| p.id).collect();
        let attempts = AtomicU32::new(0);
        let completed = retry(&self.retry, limit, OP, key, |_| {
            attempts.fetch_add(1, Ordering::Relaxed);
            let ids = ids.clone();
            async move {
                multipart
                    .complete_multipart(location, id, ids)
                    .await
                    .map_err(|e| from_object_store(OP, key, None, e))
            }
        })
        .await;
        let err = match completed {
            Ok(result) => return Ok(self.meta(result)),
            Err(e) if attempts.load(Ordering::Relaxed) > 1 && !e.is_retryable() => e,
            Err(e) => return Err(e),
        };
        let store = self.store.as_ref();
        let digest = &digest;
        let ours = retry_read(
            &self.retry,
            limit,
            OP,
            key,
            |_, deadline: Deadline| async move {
                landed::landed(store, location, Written::Parts(digest), &deadline)
                    .await
                    .map_err(|e| from_object_store(OP, key, None, e))
            },
        )
        .await;
        match ours {
            Ok(Some(head)) => Ok(ObjectMeta::new(key, self.size).with_version(encode_version(
                head.e_tag.as_deref(),
                head.version.as_deref(),
            ))),
            // Missing, another object, or nothing could be read: no proof.
            Ok(None) | Err(_) => Err(Error::OutcomeUnknown {
                op: OP,
                path: key.to_owned(),
                source: Box::new(err),
            }),
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
