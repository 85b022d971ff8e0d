//! The arguments and results of the 0.2 calls: [`ReadOptions`] and
//! [`ReadResult`] for [`Storage::read_with`](crate::Storage::read_with),
//! [`ListOptions`] for [`Storage::list_with`](crate::Storage::list_with),
//! [`Listing`] for [`Storage::list_dir`](crate::Storage::list_dir).

use std::ops::Range;

use bytes::Bytes;

use crate::error::{Error, Operation, Result};
use crate::path::validate_path;

use super::ObjectMeta;

/// What [`Storage::read_with`](crate::Storage::read_with) reads, and on
/// what condition.
///
/// Build it with struct update syntax, so that fields added later keep
/// your code compiling:
///
/// ```
/// use seerstore::ReadOptions;
/// let options = ReadOptions { range: Some(0..4096), ..Default::default() };
/// assert!(options.if_match.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The bytes to read; `None` reads the whole object.
    pub range: Option<Range<u64>>,
    /// Read only if the object's current version is this one (from
    /// [`ObjectMeta::version`]); otherwise [`Error::Precondition`].
    pub if_match: Option<String>,
    /// Read only if the object's current version is NOT this one; if it is,
    /// [`Error::NotModified`] (the caller's copy is current). A version the
    /// object never had reads as usual.
    pub if_none_match: Option<String>,
    /// Cut a `range` that ends past the object's end at the end, as HTTP
    /// and object_store's `GetRange::Bounded` do, instead of failing with
    /// [`Error::InvalidRange`]; `range.start` past the end still fails.
    /// With it, `0..u64::MAX` reads a whole object and `a..u64::MAX` its
    /// tail, in one call, without knowing the size first (`false` by
    /// default: the strict ranges of `read_range`).
    pub clamp_to_size: bool,
}

impl ReadOptions {
    /// Checks `meta`'s version against the conditions: `Ok` when the read
    /// may go on. One place for the rule, so that every backend that
    /// evaluates conditions itself (locally, from one `fstat`) agrees with
    /// the object stores' `If-Match` / `If-None-Match`.
    pub(crate) fn check_conditions(&self, op: Operation, meta: &ObjectMeta) -> Result<()> {
        if let Some(expected) = &self.if_match {
            if meta.version.as_deref() != Some(expected.as_str()) {
                return Err(Error::Precondition {
                    op,
                    path: meta.path.clone(),
                    expected: expected.clone(),
                    source: None,
                });
            }
        }
        if let Some(held) = &self.if_none_match {
            if meta.version.as_deref() == Some(held.as_str()) {
                return Err(Error::NotModified {
                    op,
                    path: meta.path.clone(),
                    version: held.clone(),
                    source: None,
                });
            }
        }
        Ok(())
    }

    /// The range to read from an object of `size` bytes, checked: the
    /// asked range (cut at `size` with [`clamp_to_size`](Self::clamp_to_size)),
    /// or the whole object.
    pub(crate) fn range_in(&self, op: Operation, path: &str, size: u64) -> Result<Range<u64>> {
        let mut range = self.range.clone().unwrap_or(0..size);
        if self.clamp_to_size && range.start <= size && range.start <= range.end {
            range.end = range.end.min(size);
        }
        super::check_range(op, path, &range, size)?;
        Ok(range)
    }
}

/// The answer of [`Storage::read_with`](crate::Storage::read_with): the
/// data and the metadata of the same version of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// The object as it was when read: its size is the whole object's, its
    /// version the one `data` came from.
    pub meta: ObjectMeta,
    /// The bytes of the object that `data` holds.
    pub range: Range<u64>,
    /// Exactly `range.end - range.start` bytes.
    pub data: Bytes,
}

/// How [`Storage::list_with`](crate::Storage::list_with) lists.
///
/// ```
/// use seerstore::ListOptions;
/// let options = ListOptions { offset: Some("L0/000100.sst".into()), ..Default::default() };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Yield only keys that sort strictly after this one (byte order), as
    /// object_store's `list_with_offset` and S3's `start-after` do. It is a
    /// whole key, or a prefix of keys (`"L0/0001"`), relative to the root
    /// like every listed path; it need not exist.
    pub offset: Option<String>,
}

impl ListOptions {
    /// The offset, validated: `None` for no offset (or an empty one); an
    /// offset that could not be (a prefix of) a key is
    /// [`Error::InvalidPath`].
    pub(crate) fn checked_offset(&self) -> Result<Option<&str>> {
        match self.offset.as_deref() {
            None | Some("") => Ok(None),
            Some(offset) => validate_path(Operation::List, offset).map(Some),
        }
    }
}

/// One level of a listing: what [`Storage::list_dir`](crate::Storage::list_dir)
/// returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The objects directly under the prefix, sorted by path.
    pub objects: Vec<ObjectMeta>,
    /// The sub-prefixes directly under the prefix ("directories"), sorted,
    /// as paths from the root without a trailing `/` (`L0/sub`).
    pub dirs: Vec<String>,
}
