//! Listings and bulk deletes: `list`, `list_with_offset` →
//! [`Storage::list_with`]; `list_with_delimiter` → [`Storage::list_dir`];
//! `delete_stream` → [`Storage::delete_many`] in batches.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use futures::SinkExt;
use object_store::path::Path;
use object_store::ListResult;

use crate::storage::{ListOptions, Storage};

use super::errors::{generic, parse_listed, to_os_error, to_os_meta};
use super::OsResult;

/// Listed objects buffered ahead of the consumer.
const LIST_BUFFER: usize = 64;

/// Paths of one `delete_many` call: S3's `DeleteObjects` limit, so that a
/// batch below is at most one request there.
pub(super) const DELETE_BATCH: usize = 1000;

/// `storage.list_with(prefix, options)` as a `'static` stream: the listing
/// runs inside a future that owns the `Arc`, and hands items over a
/// bounded channel.
pub(super) fn owned_list(
    storage: Arc<dyn Storage>,
    prefix: String,
    options: ListOptions,
) -> BoxStream<'static, OsResult<object_store::ObjectMeta>> {
    let (mut tx, rx) = futures::channel::mpsc::channel(LIST_BUFFER);
    let producer = async move {
        let mut listing = match options.offset {
            None => storage.list(&prefix),
            Some(_) => storage.list_with(&prefix, options),
        };
        while let Some(item) = listing.next().await {
            let item = item.map_err(to_os_error).and_then(|meta| {
                let location = parse_listed(&meta.path)?;
                Ok(to_os_meta(location, &meta))
            });
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break; // The consumer went away, or the listing ended in an error.
            }
        }
    };
    let producer = stream::once(producer)
        .filter_map(|()| futures::future::ready(None::<OsResult<object_store::ObjectMeta>>));
    stream::select(producer, rx).boxed()
}

/// One level below `prefix`, from one `list_dir`.
pub(super) async fn list_with_delimiter(
    storage: &dyn Storage,
    prefix: Option<&Path>,
) -> OsResult<ListResult> {
    let base = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
    let listing = storage.list_dir(&base).await.map_err(to_os_error)?;
    let common_prefixes = listing
        .dirs
        .iter()
        .map(|dir| parse_listed(dir))
        .collect::<OsResult<Vec<_>>>()?;
    let objects = listing
        .objects
        .iter()
        .map(|meta| Ok(to_os_meta(parse_listed(&meta.path)?, meta)))
        .collect::<OsResult<Vec<_>>>()?;
    Ok(ListResult {
        common_prefixes,
        objects,
        extensions: Default::default(),
    })
}

/// Deletes the paths of `locations` in batches of up to [`DELETE_BATCH`]
/// (whatever the stream has ready), one `delete_many` each; results come
/// out in the order the paths came in, errors of the input stream in
/// their place.
pub(super) fn delete_stream(
    storage: Arc<dyn Storage>,
    locations: BoxStream<'static, OsResult<Path>>,
) -> BoxStream<'static, OsResult<Path>> {
    locations
        .ready_chunks(DELETE_BATCH)
        .then(move |batch| {
            let storage = Arc::clone(&storage);
            async move {
                let keys: Vec<String> = batch
                    .iter()
                    .filter_map(|item| item.as_ref().ok().map(|p| p.as_ref().to_owned()))
                    .collect();
                let mut results = storage.delete_many(&keys).await.into_iter();
                batch
                    .into_iter()
                    .map(|item| {
                        let path = item?;
                        match results.next() {
                            Some(Ok(())) => Ok(path),
                            Some(Err(e)) => Err(to_os_error(e)),
                            None => Err(generic(format!(
                                "{path}: delete_many returned fewer results than paths"
                            ))),
                        }
                    })
                    .collect::<Vec<_>>()
            }
        })
        .flat_map(stream::iter)
        .boxed()
}
