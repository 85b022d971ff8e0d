//! Ranged reads: one GET of a range (its body read, its size checked),
//! retried, and the merging of nearby ranges that `read_ranges` fetches
//! together (never into one request longer than [`MAX_MERGED_RANGE`]).

use std::ops::Range;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetRange};

use crate::error::{Error, Operation, Result};
use crate::retry::{retry_read, Deadline};
use crate::storage::check_range;

use super::{body, from_object_store, ObjectStorage, MAX_MERGED_RANGE};

impl ObjectStorage {
    /// One attempt at a ranged GET of a non-empty range, body included.
    /// Returns the bytes and the object's size.
    pub(super) async fn get_range_once(
        &self,
        op: Operation,
        key: &str,
        location: &Path,
        range: &Range<u64>,
        deadline: Deadline,
    ) -> Result<(Bytes, u64)> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(location, options).await {
            Ok(result) => result,
            Err(err) => return Err(from_object_store(op, key, None, err)),
        };
        let size = result.meta.size;
        check_range(op, key, range, size)?;
        let bytes = body::collect(result, &deadline)
            .await
            .map_err(|e| from_object_store(op, key, None, e))?;
        let expected = range.end - range.start;
        if bytes.len() as u64 != expected {
            return Err(Error::io(
                op,
                key,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("asked for {expected} bytes, got {}", bytes.len()),
                ),
            ));
        }
        Ok((bytes, size))
    }

    pub(super) async fn get_range(
        &self,
        op: Operation,
        key: &str,
        location: &Path,
        range: Range<u64>,
    ) -> Result<(Bytes, u64)> {
        let range = &range;
        let result = retry_read(&self.retry, self.limit(), op, key, |_, deadline| {
            self.get_range_once(op, key, location, range, deadline)
        })
        .await;
        match result {
            // Stores disagree on a range past the end (S3 and GCS answer 416
            // or the tail, InMemory and LocalFileSystem error): a permanent
            // failure of a ranged read is checked against the size, with a
            // head retried on its own (not inside the failed attempt, where
            // one dropped connection would leave the error unexplained).
            Err(
                err @ Error::ObjectStore {
                    retryable: false, ..
                },
            ) => {
                if let Ok(meta) = self.head_location(op, key, location).await {
                    check_range(op, key, range, meta.size)?;
                }
                Err(err)
            }
            other => other,
        }
    }
}

/// Ranges merged when less than `coalesce` apart, sorted by start; no
/// merge makes a range longer than [`MAX_MERGED_RANGE`].
pub(super) fn merge_ranges(ranges: &[Range<u64>], coalesce: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| r.start < r.end).cloned().collect();
    // The longest first among equal starts, so the others fall inside it.
    sorted.sort_unstable_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            // Inside the last range, or near enough and short enough.
            Some(last)
                if range.end <= last.end
                    || (range.start <= last.end.saturating_add(coalesce)
                        && range.end - last.start <= MAX_MERGED_RANGE) =>
            {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}
