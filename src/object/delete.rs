//! `delete_many`: every valid path in one object_store `delete_stream`,
//! which the store batches (S3 `DeleteObjects`, 1,000 keys a request;
//! Azure blob batch, 256; GCS and `LocalFileSystem` one delete each, a few
//! at once), and the paths whose deletion failed transiently sent again.
//!
//! `delete_stream` answers in the order of its input, one answer per path,
//! except that a batch request that fails as a whole answers with ONE error
//! for all its paths. An `Ok` names its path, an error does not; so the
//! answers are laid over the paths in order: the paths between two `Ok`s
//! take the errors between them, one each when the counts agree, else in
//! proportion (several failed batches in a row share their errors evenly),
//! and an error shared by several paths is given to each of them with the
//! store's error as its cause.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use object_store::path::Path;

use crate::error::{Error, Operation, Result};
use crate::retry::{count_attempt, on_retry, permit, RetryState};

use super::{from_object_store, ObjectStorage};

const OP: Operation = Operation::DeleteMany;

/// A path still to delete: its index in the caller's slice and its
/// object path.
type Pending = (usize, Path);

impl ObjectStorage {
    /// The body of `delete_many`. One attempt is one `delete_stream` of
    /// every path still pending, holding one slot of the concurrency limit
    /// and bounded as a whole by the attempt timeout; paths that failed
    /// transiently are retried together with the crate's backoff, the
    /// others keep their result.
    pub(super) async fn delete_batch(&self, paths: &[String]) -> Vec<Result<()>> {
        let mut results: Vec<Result<()>> = Vec::with_capacity(paths.len());
        let mut pending: Vec<Pending> = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            match self.prefix.object_path(OP, path) {
                Ok(location) => {
                    pending.push((index, location));
                    // Replaced by the answer below.
                    results.push(Ok(()));
                }
                Err(invalid) => results.push(Err(invalid)),
            }
        }
        let mut retries = RetryState::new(&self.retry);
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let answers = self.delete_once(attempt, paths, &pending).await;
            let mut again: Vec<(Pending, Error)> = Vec::new();
            for (item, answer) in pending.into_iter().zip(answers) {
                match answer {
                    Err(err) if err.is_retryable() => again.push((item, err)),
                    done => results[item.0] = done,
                }
            }
            let delay = match again.first() {
                Some(_) => retries.next_delay(),
                None => break,
            };
            let Some(delay) = delay else {
                for ((index, _), err) in again {
                    results[index] = Err(err);
                }
                break;
            };
            if let Some((_, cause)) = again.first() {
                on_retry(OP, attempt, cause, delay);
            }
            tokio::time::sleep(delay).await;
            pending = again.into_iter().map(|(item, _)| item).collect();
        }
        results
    }

    /// One `delete_stream` of `pending`: one result per pending path, in
    /// its order.
    async fn delete_once(
        &self,
        attempt: u32,
        paths: &[String],
        pending: &[Pending],
    ) -> Vec<Result<()>> {
        let _permit = permit(self.limit()).await;
        crate::trace::record_attempt(attempt);
        count_attempt(OP);
        let locations: Vec<object_store::Result<Path>> = pending
            .iter()
            .map(|(_, location)| Ok(location.clone()))
            .collect();
        let mut answers_stream = self.store.delete_stream(stream::iter(locations).boxed());
        let deadline = self
            .retry
            .attempt_timeout
            .map(|timeout| (tokio::time::Instant::now() + timeout, timeout));
        let mut answers = Vec::with_capacity(pending.len());
        let mut timed_out = None;
        loop {
            let next = match deadline {
                Some((at, timeout)) => {
                    match tokio::time::timeout_at(at, answers_stream.next()).await {
                        Ok(next) => next,
                        Err(_elapsed) => {
                            timed_out = Some(timeout);
                            break;
                        }
                    }
                }
                None => answers_stream.next().await,
            };
            match next {
                Some(answer) => answers.push(answer),
                None => break,
            }
        }
        let keys: Vec<&str> = pending
            .iter()
            .map(|(index, _)| paths[*index].as_str())
            .collect();
        Attribution::new(&keys, timed_out).lay(pending, answers)
    }
}

/// Lays `delete_stream`'s answers over the paths asked for (see the module
/// docs).
struct Attribution<'a> {
    keys: &'a [&'a str],
    timed_out: Option<std::time::Duration>,
    out: Vec<Option<Result<()>>>,
}

impl<'a> Attribution<'a> {
    fn new(keys: &'a [&'a str], timed_out: Option<std::time::Duration>) -> Self {
        Self {
            keys,
            timed_out,
            out: keys.iter().map(|_| None).collect(),
        }
    }

    fn lay(
        mut self,
        pending: &[Pending],
        answers: Vec<object_store::Result<Path>>,
    ) -> Vec<Result<()>> {
        let mut next = 0;
        let mut gap = Vec::new();
        for answer in answers {
            match answer {
                Ok(location) => {
                    // A path we did not ask for (or asked for before) is no
                    // answer to any pending path.
                    let Some(offset) = pending[next..].iter().position(|(_, l)| *l == location)
                    else {
                        continue;
                    };
                    let at = next + offset;
                    self.settle(next, at, std::mem::take(&mut gap));
                    self.out[at] = Some(Ok(()));
                    next = at + 1;
                }
                Err(err) => gap.push(err),
            }
        }
        if self.timed_out.is_some() {
            // The errors of the tail cannot be told from the paths that got
            // no answer: all of them are retried.
            gap.clear();
        }
        self.settle(next, pending.len(), gap);
        let keys = self.keys;
        self.out
            .into_iter()
            .zip(keys)
            .map(|(result, key)| result.unwrap_or_else(|| Err(no_answer(key))))
            .collect()
    }

    /// Gives the paths `start..end` (no `Ok` among them) the errors
    /// answered for them.
    fn settle(&mut self, start: usize, end: usize, errors: Vec<object_store::Error>) {
        let paths = end.saturating_sub(start);
        if paths == 0 || errors.is_empty() {
            // No path for these errors, or no answer for these paths: the
            // latter stay `None`, settled by `lay` (timeout or no answer).
            if let Some(timeout) = self.timed_out {
                for index in start..end {
                    self.out[index] = Some(Err(Error::Timeout {
                        op: OP,
                        path: self.keys[index].to_owned(),
                        timeout,
                    }));
                }
            }
            return;
        }
        let shares = errors.len();
        let mut index = start;
        for (share, err) in errors.into_iter().enumerate() {
            // Paths `i` of the gap with `i * shares / paths == share`.
            let upto = start + ((share + 1) * paths).div_ceil(shares);
            let upto = upto.min(end);
            let group = index..upto;
            index = upto;
            let Some(first) = group.clone().next() else {
                continue;
            };
            let classified = from_object_store(OP, self.keys[first], None, err);
            if group.len() == 1 {
                self.out[first] = Some(absent_is_deleted(classified));
                continue;
            }
            if classified.is_not_found() {
                for at in group {
                    self.out[at] = Some(Ok(()));
                }
                continue;
            }
            let status = classified.status();
            let retryable = classified.is_retryable();
            let cause = Arc::new(classified);
            let others = group.len() - 1;
            for at in group {
                self.out[at] = Some(Err(Error::ObjectStore {
                    op: OP,
                    path: self.keys[at].to_owned(),
                    status,
                    retryable,
                    source: object_store::Error::Generic {
                        store: "seerstore",
                        source: Box::new(BatchFailure {
                            others,
                            cause: Arc::clone(&cause),
                        }),
                    },
                }));
            }
        }
    }
}

/// A missing path is deleted (LocalFileSystem, GCS and Azure answer
/// `NotFound`, S3 and InMemory `Ok`).
fn absent_is_deleted(result: Error) -> Result<()> {
    match result {
        Error::NotFound { .. } => Ok(()),
        err => Err(err),
    }
}

/// The store gave no answer at all for a path (a `delete_stream` that
/// ended early): retried like a dropped connection.
fn no_answer(key: &str) -> Error {
    Error::io(
        OP,
        key,
        std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the store's delete_stream gave no answer for this path",
        ),
    )
}

/// One failure of a batch request, given to each of its paths.
#[derive(Debug)]
struct BatchFailure {
    others: usize,
    cause: Arc<Error>,
}

impl std::fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the batch request for this path and {} others failed: {}",
            self.others, self.cause
        )
    }
}

impl std::error::Error for BatchFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.cause.as_ref())
    }
}
