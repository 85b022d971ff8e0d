//! Listings: `list` and `list_with` (one resumable stream, started at the
//! offset on the server) and `list_dir` (one delimiter listing).

use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;

use crate::error::{Error, Operation, Result};
use crate::retry::{retry, RetryState};
use crate::storage::{ListOptions, Listing, ObjectMeta};

use super::{classify, from_object_store, ObjectStorage};

impl ObjectStorage {
    /// The body of `list` and `list_with`: the keys under `prefix`, after
    /// `options.offset` when there is one. The offset is a key, mapped
    /// under the storage prefix like any key, and handed to object_store's
    /// `list_with_offset` (S3's `start-after`, GCS's `startOffset`), so the
    /// listing starts there on stores that can.
    pub(super) fn list_after(
        &self,
        prefix: &str,
        options: &ListOptions,
    ) -> BoxStream<'_, Result<ObjectMeta>> {
        let start = self.prefix.list_path(prefix).and_then(|list_path| {
            let offset = match options.checked_offset()? {
                Some(offset) => Some(self.prefix.object_path(Operation::List, offset)?),
                None => None,
            };
            Ok((list_path, offset))
        });
        let (list_path, offset) = match start {
            Ok(start) => start,
            Err(e) => {
                return stream::once(async move { Err(e) }).boxed();
            }
        };
        crate::retry::count_attempt(Operation::List);
        let inner = match &offset {
            Some(offset) => self.store.list_with_offset(list_path.as_ref(), offset),
            None => self.store.list(list_path.as_ref()),
        };
        let state = ListState {
            inner,
            list_path,
            list_prefix: prefix.to_owned(),
            // A resumed listing starts after the last key yielded, which is
            // the offset until a key has been.
            last: offset.clone(),
            after: offset,
            retries: RetryState::new(&self.retry),
            attempt: 0,
            done: false,
        };
        stream::unfold(state, move |mut state| async move {
            let item = state.next(self).await?;
            Some((item, state))
        })
        .boxed()
    }

    /// The body of `list_dir`: one `list_with_delimiter` (object_store
    /// follows its pages), retried as a whole; objects and common prefixes
    /// mapped back to keys from the root, each sorted.
    pub(super) async fn list_level(&self, prefix: &str) -> Result<Listing> {
        let op = Operation::ListDir;
        let list_path = self.prefix.list_path(prefix).map_err(|e| e.relabel(op))?;
        let list_path = list_path.as_ref();
        let level = retry(&self.retry, self.limit(), op, prefix, |_| async move {
            self.store
                .list_with_delimiter(list_path)
                .await
                .map_err(|e| from_object_store(op, prefix, None, e))
        })
        .await;
        let level = match level {
            // Nothing is below an object (a store on a filesystem answers
            // `NotADirectory`).
            Err(e) if classify::lists_below_an_object(&e) => return Ok(Listing::default()),
            other => other?,
        };
        let mut objects: Vec<ObjectMeta> = level
            .objects
            .iter()
            .filter_map(|meta| Some(self.meta(&self.listed_key(&meta.location)?, meta)))
            .collect();
        objects.sort_by(|a, b| a.path.cmp(&b.path));
        let mut dirs: Vec<String> = level
            .common_prefixes
            .iter()
            .filter_map(|dir| self.listed_key(dir))
            .collect();
        dirs.sort();
        dirs.dedup();
        Ok(Listing { objects, dirs })
    }

    /// The key of a listed object path, if it is one this crate could have
    /// written (under the prefix, a valid key); others are skipped.
    fn listed_key(&self, location: &Path) -> Option<String> {
        let key = self.prefix.relative_key(location)?;
        crate::path::validate_path(Operation::List, &key).ok()?;
        Some(key)
    }
}

/// A listing that resumes after transient errors.
struct ListState {
    inner: BoxStream<'static, object_store::Result<object_store::ObjectMeta>>,
    list_path: Option<Path>,
    list_prefix: String,
    last: Option<Path>,
    /// The offset asked for: nothing at or before it is yielded.
    after: Option<Path>,
    retries: RetryState,
    /// Listing requests that failed so far (the one running is `attempt + 1`).
    attempt: u32,
    done: bool,
}

impl ListState {
    async fn next(&mut self, storage: &ObjectStorage) -> Option<Result<ObjectMeta>> {
        let op = Operation::List;
        loop {
            if self.done {
                return None;
            }
            // A slot while the next entry is awaited (which may send a
            // request for the next page); never while the caller holds the
            // stream or during the delay before a retry.
            let permit = crate::retry::permit(storage.limit()).await;
            let next = match storage.retry.attempt_timeout {
                Some(timeout) => match tokio::time::timeout(timeout, self.inner.next()).await {
                    Ok(next) => next
                        .map(|r| r.map_err(|e| from_object_store(op, &self.list_prefix, None, e))),
                    Err(_) => Some(Err(Error::Timeout {
                        op,
                        path: self.list_prefix.clone(),
                        timeout,
                    })),
                },
                None => self
                    .inner
                    .next()
                    .await
                    .map(|r| r.map_err(|e| from_object_store(op, &self.list_prefix, None, e))),
            };
            drop(permit);
            match next {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(meta)) => {
                    if self
                        .after
                        .as_ref()
                        .is_some_and(|after| meta.location <= *after)
                    {
                        // A store that ignores the offset (fake-gcs-server
                        // and start-after) still lists exactly what is asked.
                        continue;
                    }
                    self.last = Some(meta.location.clone());
                    let Some(key) = storage.listed_key(&meta.location) else {
                        continue;
                    };
                    return Some(Ok(storage.meta(&key, &meta)));
                }
                Some(Err(err)) if classify::lists_below_an_object(&err) => {
                    self.done = true;
                    return None;
                }
                Some(Err(err)) => {
                    let delay = if err.is_retryable() {
                        self.retries.next_delay()
                    } else {
                        None
                    };
                    let Some(delay) = delay else {
                        self.done = true;
                        return Some(Err(err));
                    };
                    self.attempt += 1;
                    crate::retry::on_retry(op, self.attempt, &err, delay);
                    tokio::time::sleep(delay).await;
                    crate::retry::count_attempt(op);
                    self.inner = match &self.last {
                        Some(last) => storage
                            .store
                            .list_with_offset(self.list_path.as_ref(), last),
                        None => storage.store.list(self.list_path.as_ref()),
                    };
                }
            }
        }
    }
}
