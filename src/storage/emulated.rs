//! The default bodies of the 0.2 calls, built from the 0.1 calls, so that a
//! third-party backend keeps compiling and keeps the contract. Every
//! backend and wrapper of this crate overrides them with the native
//! operation; these are the slow path, each documented with what it costs.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::error::{Error, Operation, Result};
use crate::path::validate_path;

use super::{ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, Storage, WriteMode};

/// How often an emulated `read_with` tries when the object keeps being
/// replaced between its `head` and its read.
const CONSISTENT_READ_ATTEMPTS: u32 = 16;

/// Deletes of one emulated `delete_many` in flight at once.
pub(crate) const DELETE_CONCURRENCY: usize = 16;

/// `head`, the conditions, the read, and `head` again: the data is paired
/// with the version only if the version did not move during the read
/// (retried, with a short growing pause, when it did). A backend without
/// versions cannot tell; there the pairing is best effort.
pub(crate) async fn read_with<S: Storage + ?Sized>(
    storage: &S,
    path: &str,
    options: ReadOptions,
) -> Result<ReadResult> {
    let op = Operation::ReadWith;
    validate_path(op, path)?;
    if let Some(range) = &options.range {
        super::check_order(op, path, std::slice::from_ref(range))?;
    }
    for attempt in 0..CONSISTENT_READ_ATTEMPTS {
        let meta = storage.head(path).await.map_err(|e| e.relabel(op))?;
        options.check_conditions(op, &meta)?;
        let range = options.range_in(op, path, meta.size)?;
        let data = match storage.read_range(path, range.clone()).await {
            Ok(data) => data,
            // Replaced by a shorter object since the `head`: read it again.
            Err(e @ Error::InvalidRange { .. }) => {
                let after = storage.head(path).await.map_err(|e| e.relabel(op))?;
                if after.version == meta.version && after.size == meta.size {
                    return Err(e.relabel(op));
                }
                pause_before_rereading(attempt).await;
                continue;
            }
            Err(e) => return Err(e.relabel(op)),
        };
        if meta.version.is_none() {
            return Ok(ReadResult { meta, range, data });
        }
        let after = storage.head(path).await.map_err(|e| e.relabel(op))?;
        if after.version == meta.version {
            return Ok(ReadResult { meta, range, data });
        }
        pause_before_rereading(attempt).await;
    }
    Err(Error::Io {
        op,
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the object was replaced during every attempt to read it",
        ),
    })
}

/// The short, growing pause before an emulated `read_with` tries again on
/// an object that was replaced under it.
async fn pause_before_rereading(attempt: u32) {
    tokio::time::sleep(Duration::from_micros(100 << attempt.min(4))).await;
}

/// `list`, filtered: every key under the prefix is still listed (and
/// dropped) before the offset.
pub(crate) fn list_with<'a, S: Storage + ?Sized>(
    storage: &'a S,
    prefix: &str,
    options: ListOptions,
) -> BoxStream<'a, Result<ObjectMeta>> {
    let offset = match options.checked_offset() {
        Ok(offset) => offset.map(str::to_owned),
        Err(e) => return stream::once(async move { Err(e) }).boxed(),
    };
    match offset {
        None => storage.list(prefix),
        Some(offset) => storage
            .list(prefix)
            .try_filter(move |meta| futures::future::ready(meta.path > offset))
            .boxed(),
    }
}

/// The paths below `prefix` start after this many bytes (the prefix and
/// its `/`); `prefix` is already validated or empty.
pub(crate) fn below(prefix: &str) -> usize {
    let base = prefix.trim_end_matches('/');
    if base.is_empty() {
        0
    } else {
        base.len() + 1
    }
}

/// Folds a recursive listing into one level (see [`Listing`]).
pub(crate) fn fold_listing(prefix: &str, metas: Vec<ObjectMeta>) -> Listing {
    let skip = below(prefix);
    let mut objects = Vec::new();
    let mut dirs = BTreeSet::new();
    for meta in metas {
        match meta.path.get(skip..).and_then(|rest| rest.find('/')) {
            None => objects.push(meta),
            Some(slash) => {
                dirs.insert(meta.path[..skip + slash].to_owned());
            }
        }
    }
    objects.sort_by(|a, b| a.path.cmp(&b.path));
    Listing {
        objects,
        dirs: dirs.into_iter().collect(),
    }
}

/// A recursive `list` of the whole subtree, folded: costs the subtree, not
/// the level.
pub(crate) async fn list_dir<S: Storage + ?Sized>(storage: &S, prefix: &str) -> Result<Listing> {
    let metas: Vec<ObjectMeta> = storage
        .list(prefix)
        .map_err(|e| e.relabel(Operation::ListDir))
        .try_collect()
        .await?;
    Ok(fold_listing(prefix, metas))
}

/// One `delete` per path, in batches of [`DELETE_CONCURRENCY`] at once,
/// results in order.
pub(crate) async fn delete_many<S: Storage + ?Sized>(
    storage: &S,
    paths: &[String],
) -> Vec<Result<()>> {
    let mut results = Vec::with_capacity(paths.len());
    for batch in paths.chunks(DELETE_CONCURRENCY) {
        // A plain loop, not a stream combinator: a closure over `&String`
        // would not be general enough for `async_trait`'s `Send` bound.
        let mut deletes = Vec::with_capacity(batch.len());
        for path in batch {
            deletes.push(storage.delete(path));
        }
        results.extend(futures::future::join_all(deletes).await);
    }
    results
}

/// Validates both keys of a copy or rename and refuses one onto itself.
pub(crate) fn check_pair<'a>(
    op: Operation,
    from: &'a str,
    to: &'a str,
) -> Result<(&'a str, &'a str)> {
    let from = validate_path(op, from)?;
    let to = validate_path(op, to)?;
    if from == to {
        return Err(Error::invalid_path(
            op,
            to,
            "source and destination are the same key",
        ));
    }
    Ok((from, to))
}

/// `read_with` of the source and `write_with` of the destination: every
/// byte through the client, the whole object in memory.
pub(crate) async fn copy<S: Storage + ?Sized>(
    storage: &S,
    from: &str,
    to: &str,
    mode: WriteMode,
) -> Result<ObjectMeta> {
    copy_read(storage, Operation::Copy, from, to, mode)
        .await
        .map(|(_, written)| written)
}

/// The copy of [`copy`] and [`rename`]: returns the source's metadata as
/// read and the destination's as written.
async fn copy_read<S: Storage + ?Sized>(
    storage: &S,
    op: Operation,
    from: &str,
    to: &str,
    mode: WriteMode,
) -> Result<(ObjectMeta, ObjectMeta)> {
    check_pair(op, from, to)?;
    let source = storage
        .read_with(from, ReadOptions::default())
        .await
        .map_err(|e| e.relabel(op))?;
    let written = storage
        .write_with(to, source.data, mode)
        .await
        .map_err(|e| e.relabel(op))?;
    Ok((source.meta, written))
}

/// [`copy`], then a delete of the source only if its version is still the
/// one copied. Not atomic: between the steps both keys hold the object, and
/// a source replaced in that window may still be deleted by a backend
/// without conditional deletes (the window is one `head`).
pub(crate) async fn rename<S: Storage + ?Sized>(
    storage: &S,
    from: &str,
    to: &str,
    mode: WriteMode,
) -> Result<ObjectMeta> {
    let op = Operation::Rename;
    let (copied, written) = copy_read(storage, op, from, to, mode).await?;
    delete_if_unchanged(storage, op, &copied).await?;
    Ok(written)
}

/// Deletes `copied.path` only if its version is still `copied.version`: a
/// source replaced after it was copied is kept, and the call reports
/// [`Error::Precondition`] (the copy at the destination stays).
pub(crate) async fn delete_if_unchanged<S: Storage + ?Sized>(
    storage: &S,
    op: Operation,
    copied: &ObjectMeta,
) -> Result<()> {
    match storage.head(&copied.path).await {
        Ok(now) if now.version == copied.version => storage
            .delete(&copied.path)
            .await
            .map_err(|e| e.relabel(op)),
        Ok(_) => Err(Error::Precondition {
            op,
            path: copied.path.clone(),
            expected: copied.version.clone().unwrap_or_default(),
            source: Some("the source was replaced after it was copied; it is kept".into()),
        }),
        // Deleted meanwhile by someone else: nothing left to delete.
        Err(Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.relabel(op)),
    }
}

/// The body of [`Storage::appender`] on backends without appends.
pub(crate) fn appends_not_supported(path: &str, backend: &str) -> Error {
    Error::NotSupported {
        op: Operation::Append,
        path: path.to_owned(),
        what: format!("appends ({backend} has no append operation)"),
        source: None,
    }
}
