//! `read_with`: one GET that carries the range and the conditions, and
//! whose answer gives the metadata of the version it read.
//!
//! The version token is decoded into the ETag (the same
//! [`decode_version`] that `WriteMode::Update` uses) and sent as
//! `If-Match` / `If-None-Match`; the answer's `ObjectMeta` (size, ETag,
//! version, date) becomes [`ReadResult::meta`], so data and metadata cannot
//! come from two versions and no `HEAD` is sent on the way to a success.
//! The conditions are also checked against the answer's own token, which
//! covers tokens without an ETag (`v:<version>`, no header can carry them)
//! and stores that ignore the headers.

use std::ops::Range;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetRange};

use crate::error::{Error, Operation, Result};
use crate::retry::retry;
use crate::storage::{check_order, ObjectMeta, ReadOptions, ReadResult};

use super::{from_object_store, keys::decode_version, ObjectStorage};

const OP: Operation = Operation::ReadWith;

/// The conditions of a [`ReadOptions`] as object_store's `GetOptions`
/// headers.
struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
}

impl Conditions {
    /// A token that does not decode is no version of this backend: as
    /// `if_match` it can never hold (so nothing is sent), as
    /// `if_none_match` it never matches (a plain read).
    fn new(path: &str, options: &ReadOptions) -> Result<Self> {
        let if_match = match &options.if_match {
            None => None,
            Some(token) => match decode_version(token) {
                Some(version) => version.e_tag,
                None => {
                    return Err(Error::Precondition {
                        op: OP,
                        path: path.to_owned(),
                        expected: token.clone(),
                        source: Some("not a version token of this backend".into()),
                    })
                }
            },
        };
        let if_none_match = options
            .if_none_match
            .as_deref()
            .and_then(decode_version)
            .and_then(|version| version.e_tag);
        Ok(Self {
            if_match,
            if_none_match,
        })
    }

    fn get_options(&self, range: Option<GetRange>, head: bool) -> GetOptions {
        GetOptions {
            if_match: self.if_match.clone(),
            if_none_match: self.if_none_match.clone(),
            range,
            head,
            ..GetOptions::default()
        }
    }
}

impl ObjectStorage {
    /// The body of [`Storage::read_with`](crate::Storage::read_with).
    pub(super) async fn read_with_get(
        &self,
        path: &str,
        options: ReadOptions,
    ) -> Result<ReadResult> {
        let if_match = options.if_match.is_some();
        // A version no store could have given is refused before any
        // request (and before the head below).
        Conditions::new(path, &options)?;
        match self.read_with_conditions(path, options).await {
            // Azure (and Azurite) answer `If-Match` on a missing blob with
            // 412, S3 and GCS with 404: a failed `if_match` costs one more
            // request, a head, which tells a missing object apart.
            Err(err @ Error::Precondition { .. }) if if_match => {
                let location = self.prefix.object_path(OP, path)?;
                let missing = retry(&self.retry, self.limit(), OP, path, |_| async {
                    match super::store_head(self.store.as_ref(), &location).await {
                        Ok(_) => Ok(false),
                        Err(object_store::Error::NotFound { .. }) => Ok(true),
                        Err(e) => Err(from_object_store(OP, path, None, e)),
                    }
                })
                .await;
                match missing {
                    Ok(true) => Err(Error::not_found(OP, path)),
                    _ => Err(err),
                }
            }
            other => other,
        }
    }

    async fn read_with_conditions(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        let location = &self.prefix.object_path(OP, path)?;
        if let Some(range) = &options.range {
            check_order(OP, path, std::slice::from_ref(range))?;
        }
        let conditions = &Conditions::new(path, &options)?;
        let options = &options;
        // A GET cannot ask for no bytes (`bytes=a-(a-1)` is no range): an
        // empty range is a HEAD with the same conditions, still one request.
        let asked = options.range.clone().filter(|r| r.start < r.end);
        if options.range.is_some() && asked.is_none() {
            return self.read_nothing(path, location, options, conditions).await;
        }
        let read = retry(&self.retry, self.limit(), OP, path, |_| {
            self.get_once(path, location, options, conditions, asked.clone())
        })
        .await;
        match read {
            // Stores disagree on a range that starts past the end (S3 and
            // GCS answer 416, InMemory and LocalFileSystem error): as in
            // `read_range`, a permanent failure of a ranged read is checked
            // against the size by a head retried on its own. The head also
            // finds the empty answer of a clamped range starting at the end.
            Err(
                err @ Error::ObjectStore {
                    retryable: false, ..
                },
            ) if asked.is_some() => {
                let meta = match self
                    .conditional_head(path, location, options, conditions)
                    .await
                {
                    Ok(meta) => meta,
                    Err(cond @ (Error::Precondition { .. } | Error::NotModified { .. })) => {
                        return Err(cond)
                    }
                    // The head could not explain the failure: report the GET's.
                    Err(_) => return Err(err),
                };
                match options.range_in(OP, path, meta.size)? {
                    range if range.is_empty() => Ok(empty(meta, range)),
                    _ => Err(err),
                }
            }
            other => other,
        }
    }

    /// One attempt: the GET, its metadata checked, its body read.
    async fn get_once(
        &self,
        path: &str,
        location: &Path,
        options: &ReadOptions,
        conditions: &Conditions,
        asked: Option<Range<u64>>,
    ) -> Result<ReadResult> {
        let result = self
            .store
            .get_opts(
                location,
                conditions.get_options(asked.map(|r| get_range(r, options)), false),
            )
            .await
            .map_err(|e| read_error(path, options, e))?;
        let meta = self.meta(path, &result.meta);
        options.check_conditions(OP, &meta)?;
        let range = options.range_in(OP, path, meta.size)?;
        if result.range != range {
            return Err(short_answer(path, &range, &result.range));
        }
        let data = result
            .bytes()
            .await
            .map_err(|e| from_object_store(OP, path, None, e))?;
        if data.len() as u64 != range.end - range.start {
            let got = range.start..range.start + data.len() as u64;
            return Err(short_answer(path, &range, &got));
        }
        Ok(ReadResult { meta, range, data })
    }

    /// A read of no bytes: the range checked against the size that a
    /// conditional HEAD reports.
    async fn read_nothing(
        &self,
        path: &str,
        location: &Path,
        options: &ReadOptions,
        conditions: &Conditions,
    ) -> Result<ReadResult> {
        let meta = self
            .conditional_head(path, location, options, conditions)
            .await?;
        let range = options.range_in(OP, path, meta.size)?;
        Ok(empty(meta, range))
    }

    /// A HEAD with the conditions of `options`, retried.
    async fn conditional_head(
        &self,
        path: &str,
        location: &Path,
        options: &ReadOptions,
        conditions: &Conditions,
    ) -> Result<ObjectMeta> {
        let meta = retry(&self.retry, self.limit(), OP, path, |_| async move {
            let result = self
                .store
                .get_opts(location, conditions.get_options(None, true))
                .await
                .map_err(|e| read_error(path, options, e))?;
            Ok(self.meta(path, &result.meta))
        })
        .await?;
        options.check_conditions(OP, &meta)?;
        Ok(meta)
    }
}

/// The range header of a GET. A clamped range ending beyond any object
/// (`a..u64::MAX`, "from `a` to the end") is sent as `bytes=a-`: the same
/// answer, and s3s-fs refuses `bytes=a-18446744073709551614` with 400
/// `InvalidArgument`.
fn get_range(range: Range<u64>, options: &ReadOptions) -> GetRange {
    // No object is this large; S3's limit is 5 TiB.
    const BEYOND_ANY_OBJECT: u64 = 1 << 62;
    if options.clamp_to_size && range.end >= BEYOND_ANY_OBJECT {
        GetRange::Offset(range.start)
    } else {
        GetRange::Bounded(range)
    }
}

fn empty(meta: ObjectMeta, range: Range<u64>) -> ReadResult {
    ReadResult {
        meta,
        range,
        data: Bytes::new(),
    }
}

/// object_store's `NotModified` (HTTP 304) is `Error::NotModified` here,
/// naming the version the caller holds; everything else is classified as
/// any request's error. Only `read_with` sends `If-None-Match`, so this is
/// the one place that can see a 304.
fn read_error(path: &str, options: &ReadOptions, err: object_store::Error) -> Error {
    match err {
        object_store::Error::NotModified { .. } => Error::NotModified {
            op: OP,
            path: path.to_owned(),
            version: options.if_none_match.clone().unwrap_or_default(),
            source: Some(Box::new(err)),
        },
        other => from_object_store(OP, path, options.if_match.as_deref(), other),
    }
}

/// The store answered other bytes than asked for (a truncated body, a
/// proxy that ignores ranges): retryable, like a dropped connection.
fn short_answer(path: &str, asked: &Range<u64>, got: &Range<u64>) -> Error {
    Error::io(
        OP,
        path,
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "asked for bytes {}..{}, got {}..{}",
                asked.start, asked.end, got.start, got.end
            ),
        ),
    )
}
