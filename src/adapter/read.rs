//! `get_opts`: one [`Storage::read_with`] per object_store read.
//!
//! A read of up to [`READ_CHUNK`] bytes is one `read_with`, whose answer
//! pairs the data with its version. A longer one starts with the first
//! chunk's `read_with` (which tells the size and the version) and streams
//! the rest in chunks, each read `if_match` that version: a consumer never
//! gets bytes of two versions, and a replaced object ends the stream with
//! `Precondition` instead.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, GetResultPayload};

use crate::error::Error;
use crate::storage::{ReadOptions, Storage};

use super::errors::{generic, to_os_error, to_os_meta};
use super::OsResult;

/// Reads longer than this are streamed in `read_with`s of this size, each
/// pinned to the first one's version (bounds the memory one read holds).
pub(super) const READ_CHUNK: u64 = 8 * 1024 * 1024;

/// The object_store read `options` of `location`, served by `storage`.
pub(super) async fn get_opts(
    storage: &Arc<dyn Storage>,
    location: &Path,
    options: GetOptions,
) -> OsResult<GetResult> {
    let key = location.as_ref();
    if let Some(range) = &options.range {
        range
            .is_valid()
            .map_err(|e| generic(format!("{key}: {e}")))?;
    }
    // seerstore keeps one version of each object, named by its version
    // token: asking for a version is asking that it be the current one.
    let if_match = options.if_match.clone().or(options.version.clone());
    let base = ReadOptions {
        if_match,
        if_none_match: options.if_none_match.clone(),
        ..Default::default()
    };
    let not_current = |e: Error| match (&options.version, e) {
        (Some(version), Error::Precondition { path, .. }) if options.if_match.is_none() => {
            object_store::Error::NotFound {
                path,
                source: format!(
                    "version {version:?} is not the current version; \
                     seerstore keeps only the current one"
                )
                .into(),
            }
        }
        (_, e) => to_os_error(e),
    };

    if options.head {
        let meta = storage.head(key).await.map_err(to_os_error)?;
        let os_meta = to_os_meta(location.clone(), &meta);
        base.check_conditions(crate::error::Operation::ReadWith, &meta)
            .map_err(not_current)?;
        check_dates(key, &options, &os_meta, meta.last_modified.is_some())?;
        return Ok(result(stream::empty().boxed(), os_meta, 0..meta.size));
    }

    // The first read: what object_store's range asks, at most one chunk,
    // cut at the object's end as object_store does.
    let (first, wanted_end) = match &options.range {
        None => (0..READ_CHUNK, None),
        Some(GetRange::Bounded(r)) => (r.start..r.end.min(r.start + READ_CHUNK), Some(r.end)),
        Some(GetRange::Offset(start)) => (*start..start.saturating_add(READ_CHUNK), None),
        Some(GetRange::Suffix(n)) => {
            // The size decides where a suffix starts: ask for it first.
            let meta = storage.head(key).await.map_err(to_os_error)?;
            let start = meta.size.saturating_sub(*n);
            (start..start.saturating_add(READ_CHUNK), None)
        }
    };
    let read = storage
        .read_with(
            key,
            ReadOptions {
                range: Some(first.clone()),
                clamp_to_size: true,
                ..base.clone()
            },
        )
        .await
        .map_err(not_current)?;
    let size = read.meta.size;
    let os_meta = to_os_meta(location.clone(), &read.meta);
    let bounded = matches!(
        options.range,
        Some(GetRange::Bounded(_)) | Some(GetRange::Offset(_))
    );
    if bounded && first.start >= size {
        return Err(generic(format!(
            "{key}: range starts at {} past the object's end ({size} bytes)",
            first.start
        )));
    }
    check_dates(key, &options, &os_meta, read.meta.last_modified.is_some())?;
    let end = wanted_end.map_or(size, |end| end.min(size));
    let whole = read.range.start..end;
    if read.range.end >= end {
        let data = read.data;
        return Ok(result(
            stream::once(async { Ok(data) }).boxed(),
            os_meta,
            whole,
        ));
    }
    let rest = chunks_after(
        Arc::clone(storage),
        key.to_owned(),
        read.range.end..end,
        read.meta.version.clone(),
    );
    let first_chunk = read.data;
    let payload = stream::once(async { Ok(first_chunk) }).chain(rest).boxed();
    Ok(result(payload, os_meta, whole))
}

/// `if_modified_since` / `if_unmodified_since`, against the metadata the
/// read returned (object_store's own rule, `check_preconditions`).
fn check_dates(
    key: &str,
    options: &GetOptions,
    os_meta: &object_store::ObjectMeta,
    has_date: bool,
) -> OsResult<()> {
    if options.if_modified_since.is_none() && options.if_unmodified_since.is_none() {
        return Ok(());
    }
    if !has_date {
        return Err(object_store::Error::NotSupported {
            source: format!("{key}: the backend reports no modification time").into(),
        });
    }
    let dates_only = GetOptions {
        if_modified_since: options.if_modified_since,
        if_unmodified_since: options.if_unmodified_since,
        ..Default::default()
    };
    dates_only.check_preconditions(os_meta)
}

fn result(
    payload: BoxStream<'static, OsResult<Bytes>>,
    meta: object_store::ObjectMeta,
    range: Range<u64>,
) -> GetResult {
    GetResult {
        payload: GetResultPayload::Stream(payload),
        meta,
        range,
        attributes: Default::default(),
        extensions: Default::default(),
    }
}

/// The chunks of `range`, each a `read_with` pinned to `version` (where the
/// backend has versions): a replaced object ends the stream with an error.
fn chunks_after(
    storage: Arc<dyn Storage>,
    key: String,
    range: Range<u64>,
    version: Option<String>,
) -> BoxStream<'static, OsResult<Bytes>> {
    stream::unfold(Some(range.start), move |next| {
        let storage = Arc::clone(&storage);
        let key = key.clone();
        let version = version.clone();
        let end = range.end;
        async move {
            let start = next?;
            if start >= end {
                return None;
            }
            let stop = (start + READ_CHUNK).min(end);
            let options = ReadOptions {
                range: Some(start..stop),
                if_match: version,
                ..Default::default()
            };
            match storage.read_with(&key, options).await {
                Ok(read) => Some((Ok(read.data), Some(stop))),
                Err(e) => Some((Err(to_os_error(e)), None)),
            }
        }
    })
    .boxed()
}
