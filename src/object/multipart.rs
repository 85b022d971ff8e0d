//! One multipart upload of an [`ObjectWriter`](super::writer::ObjectWriter):
//! how it is started (numbered parts through a `MultipartStore`, or
//! object_store's generic `MultipartUpload`), the parts that landed, the
//! time bound on each part request, and the abort that runs when the upload
//! is dropped unsettled.

use std::sync::Arc;

use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, MultipartUpload, ObjectStore};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::classify::from_object_store;
use crate::error::{Operation, Result};
use crate::retry::{retry, Deadline, RetryConfig};

const OP: Operation = Operation::Writer;

/// How the parts of an upload reach the store.
pub(super) enum Sink {
    /// object_store's generic upload: each part is sent once.
    Generic(Box<dyn MultipartUpload>),
    /// A `MultipartStore` upload: parts numbered by us, each retried.
    Numbered {
        store: Arc<dyn MultipartStore>,
        id: MultipartId,
        /// Each part sent so far, by number, once it has landed.
        parts: Vec<Option<SentPart>>,
    },
    /// Completed or aborted: nothing is left to clean up.
    Settled,
}

/// A part of a numbered upload that landed.
#[derive(Debug, Clone)]
pub(super) struct SentPart {
    pub(super) id: PartId,
    pub(super) md5: [u8; 16],
}

/// A multipart upload in progress. Dropped unsettled, it aborts itself.
pub(super) struct OpenMultipart {
    pub(super) sink: Sink,
    /// Parts uploading; each yields its number and what landed (numbered sinks).
    pub(super) tasks: JoinSet<Result<Option<(usize, SentPart)>>>,
    pub(super) location: Path,
    pub(super) key: String,
    pub(super) retry: RetryConfig,
    pub(super) limit: Option<Arc<Semaphore>>,
    /// Spawned by `drop` to abort: never spawns again, even when the runtime
    /// drops it unfinished at shutdown.
    pub(super) orphan: bool,
}

impl OpenMultipart {
    /// Stops the part uploads and aborts the upload at the store; settled
    /// once the store answered (either way).
    pub(super) async fn abort(&mut self) -> Result<()> {
        self.tasks.abort_all();
        let (location, key, limit) = (&self.location, self.key.as_str(), self.limit.as_deref());
        let outcome = match &mut self.sink {
            Sink::Generic(generic) => {
                let _permit = crate::retry::permit(limit).await;
                generic
                    .abort()
                    .await
                    .map_err(|e| from_object_store(OP, key, None, e))
            }
            Sink::Numbered { store, id, .. } => {
                retry(&self.retry, limit, OP, key, |_| {
                    let (store, id) = (&*store, &*id);
                    async move {
                        store
                            .abort_multipart(location, id)
                            .await
                            .map_err(|e| from_object_store(OP, key, None, e))
                    }
                })
                .await
            }
            Sink::Settled => Ok(()),
        };
        self.sink = Sink::Settled;
        outcome
    }
}

impl Drop for OpenMultipart {
    fn drop(&mut self) {
        if self.orphan || matches!(self.sink, Sink::Settled) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut orphan = OpenMultipart {
            sink: std::mem::replace(&mut self.sink, Sink::Settled),
            tasks: std::mem::take(&mut self.tasks),
            location: self.location.clone(),
            key: self.key.clone(),
            retry: self.retry.clone(),
            limit: self.limit.clone(),
            orphan: true,
        };
        handle.spawn(async move {
            // Nobody is left to report a failed abort to; the bucket's
            // lifecycle rules are the last resort.
            let _ = orphan.abort().await;
        });
    }
}

/// Runs `request`, which sends `upload` bytes, within `timeout` plus the
/// time to send them at the slowest rate allowed (once it holds a slot of
/// `limit`; see [`Deadline`]); running out is a retryable `TimedOut` error,
/// so a stalled part cannot hang `finish`.
pub(super) async fn bounded<T>(
    limit: Option<&Semaphore>,
    timeout: Option<std::time::Duration>,
    upload: u64,
    request: impl std::future::Future<Output = object_store::Result<T>>,
) -> object_store::Result<T> {
    let _permit = crate::retry::permit(limit).await;
    let Some(timeout) = timeout else {
        return request.await;
    };
    match Deadline::start(Some(timeout), upload).bound(request).await {
        Some(outcome) => outcome,
        None => Err(object_store::Error::Generic {
            store: "seerstore",
            source: Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("multipart request timed out after {timeout:?}"),
            )),
        }),
    }
}

/// Starts a multipart upload (retried; see the module docs).
pub(super) async fn start_upload(
    store: &Arc<dyn ObjectStore>,
    multipart: Option<&Arc<dyn MultipartStore>>,
    location: &Path,
    key: &str,
    config: &RetryConfig,
    limit: Option<&Semaphore>,
) -> Result<Sink> {
    if let Some(multipart) = multipart {
        let id = retry(config, limit, OP, key, |_| async move {
            multipart
                .create_multipart(location)
                .await
                .map_err(|e| from_object_store(OP, key, None, e))
        })
        .await?;
        return Ok(Sink::Numbered {
            store: Arc::clone(multipart),
            id,
            parts: Vec::new(),
        });
    }
    let upload = retry(config, limit, OP, key, |_| async move {
        store
            .put_multipart_opts(location, Default::default())
            .await
            .map_err(|e| from_object_store(OP, key, None, e))
    })
    .await?;
    Ok(Sink::Generic(upload))
}
