//! `copy` (server-side, object_store's `copy_opts`) and `rename` (a copy,
//! then a delete of the source only if it is still the version copied).

use object_store::path::Path;
use object_store::{CopyMode, CopyOptions};

use crate::error::{Error, Operation, Result};
use crate::retry::retry;
use crate::storage::emulated::{check_pair, delete_if_unchanged};
use crate::storage::{ObjectMeta, WriteMode};

use super::{from_object_store, store_head, ObjectStorage};

impl ObjectStorage {
    /// The body of `copy` (and the copy of `rename`, under `op`): one
    /// server-side copy, retried, then a head of the destination for the
    /// metadata to return (object_store's copy answers nothing).
    pub(super) async fn copy_server_side(
        &self,
        op: Operation,
        from: &str,
        to: &str,
        mode: &WriteMode,
    ) -> Result<ObjectMeta> {
        let (from, to) = check_pair(op, from, to)?;
        let source = &self.prefix.object_path(op, from)?;
        let dest = &self.prefix.object_path(op, to)?;
        let mode = match mode {
            WriteMode::Overwrite => CopyMode::Overwrite,
            WriteMode::Create => CopyMode::Create,
            WriteMode::Update(_) => return Err(update_not_supported(op, to)),
        };
        retry(&self.retry, self.limit(), op, to, |attempt| {
            self.copy_once(op, attempt, (from, source), (to, dest), mode)
        })
        .await?;
        self.head_location(op, to, dest).await
    }

    async fn copy_once(
        &self,
        op: Operation,
        attempt: u32,
        (from, source): (&str, &Path),
        (to, dest): (&str, &Path),
        mode: CopyMode,
    ) -> Result<()> {
        let options = CopyOptions {
            mode,
            ..CopyOptions::default()
        };
        let err = match self.store.copy_opts(source, dest, options).await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        match err {
            object_store::Error::NotFound { .. } => Err(from_object_store(op, from, None, err)),
            object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. }
                if mode == CopyMode::Create =>
            {
                Err(Error::NotSupported {
                    op,
                    path: to.to_owned(),
                    what: "WriteMode::Create: the store has no atomic copy-if-not-exists \
                           (an S3 store needs `copy_if_not_exists` configured, e.g. \
                           S3CopyIfNotExists::Multipart)"
                        .to_owned(),
                    source: Some(Box::new(err)),
                })
            }
            err => {
                let err = from_object_store(op, to, None, err);
                // An earlier attempt may have landed and lost its answer.
                if attempt >= 2 && err.is_already_exists() && self.copy_landed(source, dest).await {
                    return Ok(());
                }
                Err(err)
            }
        }
    }

    /// Whether the destination holds what the source holds, as far as the
    /// store tells without reading bytes: same size and same ETag. S3 keeps
    /// the ETag of a single-request copy; a copy by multipart upload (S3's
    /// `copy_if_not_exists = multipart`) or InMemory gets a new one, and
    /// there a lost answer is reported as `AlreadyExists`.
    async fn copy_landed(&self, source: &Path, dest: &Path) -> bool {
        let (source, dest) = futures::join!(
            store_head(self.store.as_ref(), source),
            store_head(self.store.as_ref(), dest)
        );
        match (source, dest) {
            (Ok(source), Ok(dest)) => {
                source.size == dest.size && source.e_tag.is_some() && source.e_tag == dest.e_tag
            }
            _ => false,
        }
    }

    /// The body of `rename`: head the source (version `v`), copy it
    /// server-side, then delete it only if a second head still finds `v`.
    pub(super) async fn rename_by_copy(
        &self,
        from: &str,
        to: &str,
        mode: &WriteMode,
    ) -> Result<ObjectMeta> {
        let op = Operation::Rename;
        let (from, to) = check_pair(op, from, to)?;
        if let WriteMode::Update(_) = mode {
            return Err(update_not_supported(op, to));
        }
        let source = self.prefix.object_path(op, from)?;
        let copied = self.head_location(op, from, &source).await?;
        let written = self.copy_server_side(op, from, to, mode).await?;
        // Versions never repeat, so `v` at both heads means the copy read
        // `v`; a source replaced since the first head is kept.
        delete_if_unchanged(self, op, &copied).await?;
        Ok(written)
    }
}

/// object_store 0.14 has no copy conditional on the destination's version,
/// and a check of the destination before the copy would not be atomic.
fn update_not_supported(op: Operation, to: &str) -> Error {
    Error::NotSupported {
        op,
        path: to.to_owned(),
        what: "WriteMode::Update: object_store 0.14 has no copy conditional on the \
               destination's version"
            .to_owned(),
        source: None,
    }
}
