//! `read_with`: the data and the metadata of one version, from one open
//! descriptor.
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

use bytes::Bytes;

use crate::error::{Error, Operation, Result};
use crate::path::validate_path;
use crate::storage::{ReadOptions, ReadResult};

use super::handles::Handle;
use super::inline::{buffer_for, read_rest, INLINE_READ_MAX};
use super::publish::{meta_of, version_of};
use super::{read_at, Inner, LocalStorage};

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

impl LocalStorage {
    /// The body of [`Storage::read_with`](crate::Storage::read_with).
    pub(super) async fn read_with_local(
        &self,
        path: &str,
        options: ReadOptions,
    ) -> Result<ReadResult> {
        let op = Operation::ReadWith;
        let key = validate_path(op, path)?;
        let mut recheck = false;
        if self.inner.nowait.supported() {
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
            self.inner.nowait.fill(&handle.file, range.start, &mut buf)
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

impl Inner {
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
                if let Err(epoch) = self.handles.get(key) {
                    self.handles.insert(key, fresh.clone(), epoch);
                }
            }
            Err(epoch) => self.handles.insert(key, fresh.clone(), epoch),
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
