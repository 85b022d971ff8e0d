//! `put_multipart`: object_store's [`MultipartUpload`] over a seerstore
//! [`StorageWriter`]. Parts reach the writer in `put_part` order; the
//! writer below bounds memory and keeps its own parts in flight
//! (`ObjectStorage`'s writer uploads several at once).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use async_trait::async_trait;
use object_store::{MultipartUpload, PutPayload, PutResult, UploadPart};

use crate::storage::StorageWriter;

use super::errors::{generic, put_result, to_os_error};
use super::OsResult;

/// A multipart upload over a [`StorageWriter`].
///
/// Parts are registered in the order `put_part` is called (object_store's
/// part order) and written to the writer in that order, whichever part
/// future is polled first: the first future polled writes every part
/// registered so far. Parts held back are the caller's own `PutPayload`s
/// (reference-counted, not copied).
pub(super) struct WriterUpload {
    key: String,
    shared: Arc<PartQueue>,
    next_index: usize,
}

struct PartQueue {
    /// Parts registered and not yet written, by index.
    pending: StdMutex<BTreeMap<usize, PutPayload>>,
    /// The writer, the index of the next part it takes, and the first error.
    writer: tokio::sync::Mutex<WriterState>,
}

struct WriterState {
    writer: Option<Box<dyn StorageWriter>>,
    next: usize,
    failed: Option<String>,
}

impl WriterUpload {
    pub(super) fn new(key: String, writer: Box<dyn StorageWriter>) -> Self {
        Self {
            key,
            shared: Arc::new(PartQueue {
                pending: StdMutex::new(BTreeMap::new()),
                writer: tokio::sync::Mutex::new(WriterState {
                    writer: Some(writer),
                    next: 0,
                    failed: None,
                }),
            }),
            next_index: 0,
        }
    }
}

impl PartQueue {
    /// Writes every registered part whose turn has come.
    async fn drain(&self, key: &str) -> OsResult<()> {
        let mut state = self.writer.lock().await;
        loop {
            if let Some(failed) = &state.failed {
                return Err(generic(format!("{key}: upload failed earlier: {failed}")));
            }
            let next = state.next;
            let part = {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                pending.remove(&next)
            };
            let Some(part) = part else { return Ok(()) };
            let Some(writer) = state.writer.as_mut() else {
                return Err(generic(format!(
                    "{key}: upload already completed or aborted"
                )));
            };
            for chunk in &part {
                if let Err(e) = writer.write(chunk.clone()).await {
                    state.failed = Some(e.to_string());
                    return Err(to_os_error(e));
                }
            }
            state.next += 1;
        }
    }
}

impl fmt::Debug for WriterUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterUpload")
            .field("key", &self.key)
            .field("parts", &self.next_index)
            .finish()
    }
}

#[async_trait]
impl MultipartUpload for WriterUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let index = self.next_index;
        self.next_index += 1;
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(index, data);
        let shared = Arc::clone(&self.shared);
        let key = self.key.clone();
        Box::pin(async move { shared.drain(&key).await })
    }

    async fn complete(&mut self) -> OsResult<PutResult> {
        self.shared.drain(&self.key).await?;
        let mut state = self.shared.writer.lock().await;
        if state.next != self.next_index {
            return Err(generic(format!(
                "{}: {} of {} parts written",
                self.key, state.next, self.next_index
            )));
        }
        let writer = state
            .writer
            .take()
            .ok_or_else(|| generic(format!("{}: upload already completed or aborted", self.key)))?;
        writer.finish().await.map(put_result).map_err(to_os_error)
    }

    async fn abort(&mut self) -> OsResult<()> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut state = self.shared.writer.lock().await;
        match state.writer.take() {
            Some(writer) => writer.abort().await.map_err(to_os_error),
            None => Ok(()),
        }
    }
}
