//! Reads of objects through their open handles: `read_range`,
//! `read_ranges` and `read` share one path ([`LocalStorage::read_through`]),
//! and `read_with` pairs the data with the metadata of one version.
//!
//! A read first tries this thread's copy of the key's cached handle inline,
//! from the page cache ([`inline`](super::page_cache)); what the page cache
//! could not serve goes to the cold-read queue ([`cold`](super::cold)) or
//! to one blocking-pool task, and a key without a cached handle is opened
//! and read in one blocking-pool task.
//!
//! # `read_with`: one version from one descriptor
//!
//! The metadata is the `fstat` of the very file the bytes are read from
//! (taken when its handle was opened, see [`Handle`]), never a `stat` by
//! path: a `publish` renames the new file into place before it drops the
//! cached handle, and another process's write never drops it at all, so a
//! `stat` by path next to a read through a cached handle could pair the
//! new version with the old bytes. Through one descriptor the pair is
//! always one version's; a stale handle gives the OLD version's data and
//! metadata together, and a compare-and-swap on that version fails with
//! `Precondition` (which drops the stale handle, see
//! [`rename_checked`](super::publish::rename_checked)).
//!
//! An answer that is an error (`Precondition`, `NotModified`,
//! `InvalidRange`) is never given from a cached handle alone: it is checked
//! again on a fresh open, so that a condition is judged against the current
//! object, as `head` sees it.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::error::{Error, Operation, Result};
use crate::path::validate_path;
use crate::storage::{check_range, ReadOptions, ReadResult};

use super::cold::{self, Remainder};
use super::handles::{self, Handle, HandleFile};
use super::page_cache::{buffer_for, read_rest, INLINE_READ_MAX};
use super::version::{meta_of, version_of};
use super::{LocalRoot, LocalStorage};

/// What the inline attempt on a cached handle came to.
enum Inline {
    /// Served whole from the page cache.
    Done(ReadResult),
    /// The conditions and range held; the rest of the bytes must be read on
    /// the blocking pool, from the same handle.
    Rest {
        handle: Handle,
        result: ReadResult,
        buf: Vec<u8>,
        filled: usize,
    },
    /// The cached handle's version fails the conditions or the range: judge
    /// again on a fresh open.
    Recheck,
    Failed(Error),
}

/// One positional read into a buffer allocated once, of exactly the range's
/// length (already checked against the file's size).
fn read_at(file: &File, range: &Range<u64>) -> io::Result<Bytes> {
    let len = usize::try_from(range.end - range.start)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range larger than memory"))?;
    if len == 0 {
        return Ok(Bytes::new());
    }
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, range.start)?;
    Ok(Bytes::from(buf))
}

/// Which bytes of an object a read wants.
#[derive(Clone, Copy)]
pub(super) enum Wanted<'a> {
    /// One range (`read_range`): a remainder the page cache could not
    /// serve, of up to [`cold::QUEUED_READ_MAX`] bytes, waits in the
    /// cold-read queue instead of taking a blocking-pool task of its own.
    Range(&'a Range<u64>),
    /// Ranges of one handle (`read_ranges`): the remainders are read
    /// together in one blocking-pool task.
    Ranges(&'a [Range<u64>]),
    /// The whole file, as long as its handle says it is (`read`).
    Whole,
}

impl<'a> Wanted<'a> {
    /// The ranges named up front; `None` for [`Wanted::Whole`], whose range
    /// depends on the handle.
    fn fixed(self) -> Option<&'a [Range<u64>]> {
        match self {
            Wanted::Range(range) => Some(std::slice::from_ref(range)),
            Wanted::Ranges(ranges) => Some(ranges),
            Wanted::Whole => None,
        }
    }

    /// Runs `f` on the ranges wanted of a file of `size` bytes.
    fn with_ranges<R>(self, size: u64, f: impl FnOnce(&[Range<u64>]) -> R) -> R {
        match self.fixed() {
            Some(ranges) => f(ranges),
            None => f(std::slice::from_ref(&(0..size))),
        }
    }
}

/// One buffer per range a read wants, in order. Inline for one range, so
/// that a `read_range` served from the page cache allocates only its data.
pub(super) type Buffers = SmallVec<[Bytes; 1]>;

/// What an inline read of a cached handle got from the page cache.
struct Filled {
    /// One entry per range; empty where a [`Remainder`] is still to read.
    out: Buffers,
    rest: Vec<Remainder>,
    /// The handle's file, kept only while `rest` is not empty.
    file: Option<Arc<HandleFile>>,
}

impl LocalStorage {
    /// Reads `wanted` of `key`. A handle cached for this thread is read
    /// inline, range by range, from the page cache as far as it goes (at
    /// most [`INLINE_READ_MAX`] bytes per call), and the remainders in one
    /// blocking-pool task (see [`Wanted`]); without one, or with inline
    /// reads off, one blocking-pool task opens and reads (opening may wait
    /// for the disk). Each buffer is allocated once, at its range's length.
    pub(super) async fn read_through(
        &self,
        op: Operation,
        path: &str,
        key: &str,
        wanted: Wanted<'_>,
    ) -> Result<Buffers> {
        if self.inner.inline_reads.supported() {
            // On this thread's copy of the handle: no shared state written
            // on a page-cache hit.
            let attempt = self.inner.handles.with_local(key, |handle| {
                wanted.with_ranges(handle.size, |ranges| {
                    self.fill_inline(op, key, handle, ranges)
                })
            });
            if let Some(filled) = attempt {
                return self.read_remainders(op, path, key, wanted, filled?).await;
            }
        }
        let key = key.to_owned();
        let fixed = wanted.fixed().map(<[Range<u64>]>::to_vec);
        self.run(op, path, move |inner| {
            let wanted = fixed.as_deref().map_or(Wanted::Whole, Wanted::Ranges);
            inner.read_wanted(op, &key, wanted)
        })
        .await
    }

    /// The inline half of [`read_through`](Self::read_through): checks
    /// every range against the handle's size, then fills each buffer from
    /// the page cache without waiting for the disk.
    fn fill_inline(
        &self,
        op: Operation,
        key: &str,
        handle: &Handle,
        ranges: &[Range<u64>],
    ) -> Result<Filled> {
        for range in ranges {
            check_range(op, key, range, handle.size)?;
        }
        let mut budget = INLINE_READ_MAX;
        let mut out = Buffers::with_capacity(ranges.len());
        let mut rest: Vec<Remainder> = Vec::new();
        for (index, range) in ranges.iter().enumerate() {
            let mut buf = buffer_for(range).map_err(|e| Error::io(op, key, e))?;
            let filled = if buf.len() <= budget {
                budget -= buf.len();
                self.inner
                    .inline_reads
                    .fill(&handle.file, range.start, &mut buf)
            } else {
                0
            };
            if filled == buf.len() {
                out.push(Bytes::from(buf));
            } else {
                out.push(Bytes::new());
                rest.push((index, range.start, buf, filled));
            }
        }
        // The handle outlives this thread's copy only when a remainder
        // must still be read from it.
        let file = (!rest.is_empty()).then(|| Arc::clone(&handle.file));
        Ok(Filled { out, rest, file })
    }

    /// The blocking half of [`read_through`](Self::read_through): what the
    /// page cache could not serve, from the same handle.
    async fn read_remainders(
        &self,
        op: Operation,
        path: &str,
        key: &str,
        wanted: Wanted<'_>,
        filled: Filled,
    ) -> Result<Buffers> {
        let Filled {
            mut out,
            mut rest,
            file,
        } = filled;
        let Some(file) = file else {
            return Ok(out);
        };
        if let (Wanted::Range(_), [(_, _, buf, _)]) = (wanted, rest.as_slice()) {
            if buf.len() <= cold::QUEUED_READ_MAX {
                if let Some((index, offset, buf, filled)) = rest.pop() {
                    let data = cold::read(&self.inner, file, offset, buf, filled)
                        .await
                        .map_err(|e| Error::io(op, key, e))?;
                    out[index] = Bytes::from(data);
                    return Ok(out);
                }
            }
        }
        let owned_key = key.to_owned();
        let finished = self
            .run(op, path, move |_| {
                cold::read_rests(&file, &mut rest).map_err(|e| Error::io(op, &owned_key, e))?;
                Ok(rest)
            })
            .await?;
        for (index, _, buf, _) in finished {
            out[index] = Bytes::from(buf);
        }
        Ok(out)
    }

    /// The body of [`Storage::read_with`](crate::Storage::read_with).
    pub(super) async fn read_with_local(
        &self,
        path: &str,
        options: ReadOptions,
    ) -> Result<ReadResult> {
        let op = Operation::ReadWith;
        let key = validate_path(op, path)?;
        let mut recheck = false;
        if self.inner.inline_reads.supported() {
            let attempt = self.inner.handles.with_local(key, |handle| {
                self.read_with_inline(op, key, &options, handle)
            });
            match attempt {
                None => {}
                Some(Inline::Done(result)) => return Ok(result),
                Some(Inline::Failed(e)) => return Err(e),
                Some(Inline::Recheck) => recheck = true,
                Some(Inline::Rest {
                    handle,
                    mut result,
                    mut buf,
                    filled,
                }) => {
                    let key = key.to_owned();
                    return self
                        .run(op, path, move |_| {
                            read_rest(&handle.file, result.range.start, &mut buf, filled)
                                .map_err(|e| Error::io(op, &key, e))?;
                            result.data = Bytes::from(buf);
                            Ok(result)
                        })
                        .await;
                }
            }
        }
        let key = key.to_owned();
        self.run(op, path, move |inner| {
            inner.read_with(op, &key, &options, recheck)
        })
        .await
    }

    /// Conditions, range and as much of the data as the page cache holds,
    /// from a cached handle, on the calling worker (never waits for the
    /// disk).
    fn read_with_inline(
        &self,
        op: Operation,
        key: &str,
        options: &ReadOptions,
        handle: &Handle,
    ) -> Inline {
        let meta = meta_of(key, &handle.stat);
        if options.check_conditions(op, &meta).is_err() {
            return Inline::Recheck;
        }
        let Ok(range) = options.range_in(op, key, meta.size) else {
            return Inline::Recheck;
        };
        let mut buf = match buffer_for(&range) {
            Ok(buf) => buf,
            Err(e) => return Inline::Failed(Error::io(op, key, e)),
        };
        let filled = if buf.len() <= INLINE_READ_MAX {
            self.inner
                .inline_reads
                .fill(&handle.file, range.start, &mut buf)
        } else {
            0
        };
        let result = ReadResult {
            meta,
            range,
            data: Bytes::new(),
        };
        if filled == buf.len() {
            return Inline::Done(ReadResult {
                data: Bytes::from(buf),
                ..result
            });
        }
        Inline::Rest {
            handle: handle.clone(),
            result,
            buf,
            filled,
        }
    }
}

impl LocalRoot {
    /// The cached read handle of `key`, opening it on a miss.
    fn handle(&self, op: Operation, key: &str) -> Result<Handle> {
        match self.handles.get(key) {
            Ok(handle) => Ok(handle),
            Err(shard_epoch) => {
                let (file, stat) = self.open_object(op, key)?;
                if !self.readahead {
                    handles::advise_random(&file);
                }
                let handle = Handle::new(file, meta_of(key, &stat).size, stat);
                self.handles.insert(key, handle.clone(), shard_epoch);
                Ok(handle)
            }
        }
    }

    /// Reads `wanted` from one handle (opening it on a miss); all ranges
    /// are checked against the size before anything is allocated.
    fn read_wanted(&self, op: Operation, key: &str, wanted: Wanted<'_>) -> Result<Buffers> {
        let handle = self.handle(op, key)?;
        wanted.with_ranges(handle.size, |ranges| {
            for range in ranges {
                check_range(op, key, range, handle.size)?;
            }
            ranges
                .iter()
                .map(|range| read_at(&handle.file, range).map_err(|e| Error::io(op, key, e)))
                .collect()
        })
    }

    /// `read_with` on the blocking pool: from the cached handle (opening it
    /// on a miss); an error answer from a cached handle, or `recheck`
    /// (the inline attempt found one), is judged on a fresh open.
    fn read_with(
        &self,
        op: Operation,
        key: &str,
        options: &ReadOptions,
        recheck: bool,
    ) -> Result<ReadResult> {
        let cached = if recheck {
            None
        } else {
            self.handles.get(key).ok()
        };
        if let Some(handle) = cached {
            if let Ok(result) = read_handle(op, key, options, &handle) {
                return Ok(result);
            }
        }
        let handle = self.current_handle(op, key)?;
        read_handle(op, key, options, &handle)
    }

    /// A handle on the file the key names now (a fresh open), which also
    /// replaces a cached handle of another file.
    fn current_handle(&self, op: Operation, key: &str) -> Result<Handle> {
        let (file, stat) = self.open_object(op, key)?;
        let fresh = Handle::new(file, meta_of(key, &stat).size, stat);
        match self.handles.get(key) {
            Ok(cached) if version_of(&cached.stat) == version_of(&stat) => {}
            Ok(_) => {
                // A stale handle (the file was replaced behind this
                // storage's back): later reads should see this one.
                self.handles.invalidate(key);
                if let Err(shard_epoch) = self.handles.get(key) {
                    self.handles.insert(key, fresh.clone(), shard_epoch);
                }
            }
            Err(shard_epoch) => self.handles.insert(key, fresh.clone(), shard_epoch),
        }
        Ok(fresh)
    }
}

/// Conditions, range and data, all from `handle`.
fn read_handle(
    op: Operation,
    key: &str,
    options: &ReadOptions,
    handle: &Handle,
) -> Result<ReadResult> {
    let meta = meta_of(key, &handle.stat);
    options.check_conditions(op, &meta)?;
    let range = options.range_in(op, key, meta.size)?;
    let data = read_at(&handle.file, &range).map_err(|e| Error::io(op, key, e))?;
    Ok(ReadResult { meta, range, data })
}
