//! Tracing of storage operations: one span per [`Storage`](crate::Storage)
//! call of each backend, and what the retry loop adds to it.
//!
//! Always compiled: `tracing` is a small dependency, and a span costs a
//! relaxed atomic load when no subscriber is interested in it.
//!
//! # What is recorded
//!
//! Every call of a backend (`LocalStorage`, `ObjectStorage`) runs in a span
//! named `storage` at `DEBUG` level, with the fields
//!
//! | field | value |
//! | --- | --- |
//! | `backend` | `"local"` or `"object_store"` |
//! | `operation` | the method: `read_range`, `write`, `list`, ... ([`Operation::as_str`]) |
//! | `path` | the key (or list prefix), relative to the storage root or prefix |
//! | `bytes` | bytes read or written (a listing: the total size listed), recorded when the call succeeds |
//! | `attempt` | object stores: the number of the last attempt (1 = no retry) |
//! | `error` | the error's kind ([`Error::kind`]) when the call fails |
//!
//! The retry loop emits one `INFO` event per retry, with `attempt` (the
//! attempt that failed), `cause` (the error's kind), `status` (the HTTP
//! status, where there was one) and `delay_ms`.
//!
//! Nothing sensitive goes into a field: keys are relative to the root or
//! prefix (never a URL, so no bucket endpoint, query string, signature or
//! credential), and errors are recorded by kind, not by message, since an
//! object store's message may quote the request URL.
//!
//! # Where the spans are opened
//!
//! In one place: each backend implements [`Untraced`] (the bodies of its
//! `Storage` methods, without spans) and [`traced_storage!`] generates its
//! `impl Storage`, every method wrapped in its span. The generated impl
//! denies `clippy::missing_trait_methods`, so a method added to the trait
//! cannot reach a backend untraced (or fall back to its default body)
//! until it is added here.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::error::{Error, Operation, Result};
use crate::storage::{
    ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, StorageAppender, StorageWriter,
    WriteMode,
};

/// The bodies of a backend's [`Storage`](crate::Storage) methods, without
/// spans: [`traced_storage!`] wraps each in its span. `write` has no body
/// of its own: it is `write_with` in overwrite mode, under that one span.
pub(crate) trait Untraced {
    async fn read_range(&self, path: &str, range: std::ops::Range<u64>) -> Result<Bytes>;
    async fn read_ranges(&self, path: &str, ranges: &[std::ops::Range<u64>]) -> Result<Vec<Bytes>>;
    async fn read(&self, path: &str) -> Result<Bytes>;
    async fn head(&self, path: &str) -> Result<ObjectMeta>;
    async fn exists(&self, path: &str) -> Result<bool>;
    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta>;
    /// The writer itself; [`TracedWriter`] is put around it by the macro.
    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>>;
    async fn delete(&self, path: &str) -> Result<()>;
    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>>;
    async fn sync(&self, path: &str) -> Result<()>;
    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult>;
    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>>;
    async fn list_dir(&self, prefix: &str) -> Result<Listing>;
    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>>;
    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta>;
    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta>;
    async fn appender(&self, path: &str) -> Result<std::sync::Arc<dyn StorageAppender>>;
}

/// `impl Storage for $ty` over its [`Untraced`] bodies, the span of each
/// call named `$backend`: `traced_storage!(ObjectStorage, "object_store");`.
///
/// The long form gives each method's rustdoc (what the backend does),
/// every method named once in the trait's order:
/// `traced_storage! { LocalStorage, "local"; /// ... read_range; ... }`.
///
/// `copy` and `rename` are traced under `from`; `delete_many`, which has no
/// one outcome, under its first path with nothing recorded; `list` and
/// `list_with` as [`traced_list`]s.
macro_rules! traced_storage {
    ($ty:ty, $backend:literal) => {
        $crate::trace::traced_storage! {
            $ty, $backend;
            read_range; read_ranges; read; head; exists; write; write_with;
            writer; delete; list; sync; read_with; list_with; list_dir;
            delete_many; copy; rename; appender;
        }
    };
    (
        $ty:ty, $backend:literal;
        $(#[$read_range:meta])* read_range;
        $(#[$read_ranges:meta])* read_ranges;
        $(#[$read:meta])* read;
        $(#[$head:meta])* head;
        $(#[$exists:meta])* exists;
        $(#[$write:meta])* write;
        $(#[$write_with:meta])* write_with;
        $(#[$writer:meta])* writer;
        $(#[$delete:meta])* delete;
        $(#[$list:meta])* list;
        $(#[$sync:meta])* sync;
        $(#[$read_with:meta])* read_with;
        $(#[$list_with:meta])* list_with;
        $(#[$list_dir:meta])* list_dir;
        $(#[$delete_many:meta])* delete_many;
        $(#[$copy:meta])* copy;
        $(#[$rename:meta])* rename;
        $(#[$appender:meta])* appender;
    ) => {
        // A block of its own, so the impl can name the crate's types as
        // the trait does without importing them into the backend's module.
        const _: () = {
            use std::ops::Range;
            use std::sync::Arc;

            use ::bytes::Bytes;
            use ::futures::stream::BoxStream;
            use ::tracing::Instrument;

            use $crate::error::{Operation, Result};
            use $crate::storage::{
                ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, Storage,
                StorageAppender, StorageWriter, WriteMode,
            };
            use $crate::trace::{op_span, traced, traced_list, TracedWriter, Untraced};

            #[::async_trait::async_trait]
            #[deny(clippy::missing_trait_methods)]
            impl Storage for $ty {
                $(#[$read_range])*
                async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
                    let call = <$ty as Untraced>::read_range(self, path, range);
                    traced($backend, Operation::ReadRange, path, call).await
                }

                $(#[$read_ranges])*
                async fn read_ranges(
                    &self,
                    path: &str,
                    ranges: &[Range<u64>],
                ) -> Result<Vec<Bytes>> {
                    let call = <$ty as Untraced>::read_ranges(self, path, ranges);
                    traced($backend, Operation::ReadRanges, path, call).await
                }

                $(#[$read])*
                async fn read(&self, path: &str) -> Result<Bytes> {
                    let call = <$ty as Untraced>::read(self, path);
                    traced($backend, Operation::Read, path, call).await
                }

                $(#[$head])*
                async fn head(&self, path: &str) -> Result<ObjectMeta> {
                    let call = <$ty as Untraced>::head(self, path);
                    traced($backend, Operation::Head, path, call).await
                }

                $(#[$exists])*
                async fn exists(&self, path: &str) -> Result<bool> {
                    let call = <$ty as Untraced>::exists(self, path);
                    traced($backend, Operation::Exists, path, call).await
                }

                $(#[$write])*
                async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
                    // Under `write_with`'s span only: one call, one span.
                    Storage::write_with(self, path, data, WriteMode::Overwrite).await
                }

                $(#[$write_with])*
                async fn write_with(
                    &self,
                    path: &str,
                    data: Bytes,
                    mode: WriteMode,
                ) -> Result<ObjectMeta> {
                    let call = <$ty as Untraced>::write_with(self, path, data, mode);
                    traced($backend, Operation::Write, path, call).await
                }

                $(#[$writer])*
                async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
                    let call = async move {
                        let writer = <$ty as Untraced>::writer(self, path).await?;
                        Ok(TracedWriter::wrap($backend, path, writer))
                    };
                    traced($backend, Operation::Writer, path, call).await
                }

                $(#[$delete])*
                async fn delete(&self, path: &str) -> Result<()> {
                    let call = <$ty as Untraced>::delete(self, path);
                    traced($backend, Operation::Delete, path, call).await
                }

                $(#[$list])*
                fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
                    traced_list($backend, prefix, <$ty as Untraced>::list(self, prefix))
                }

                $(#[$sync])*
                async fn sync(&self, path: &str) -> Result<()> {
                    let call = <$ty as Untraced>::sync(self, path);
                    traced($backend, Operation::Sync, path, call).await
                }

                $(#[$read_with])*
                async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
                    let call = <$ty as Untraced>::read_with(self, path, options);
                    traced($backend, Operation::ReadWith, path, call).await
                }

                $(#[$list_with])*
                fn list_with(
                    &self,
                    prefix: &str,
                    options: ListOptions,
                ) -> BoxStream<'_, Result<ObjectMeta>> {
                    let listing = <$ty as Untraced>::list_with(self, prefix, options);
                    traced_list($backend, prefix, listing)
                }

                $(#[$list_dir])*
                async fn list_dir(&self, prefix: &str) -> Result<Listing> {
                    let call = <$ty as Untraced>::list_dir(self, prefix);
                    traced($backend, Operation::ListDir, prefix, call).await
                }

                $(#[$delete_many])*
                async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
                    let first = paths.first().map_or("", String::as_str);
                    let span = op_span($backend, Operation::DeleteMany, first);
                    <$ty as Untraced>::delete_many(self, paths).instrument(span).await
                }

                $(#[$copy])*
                async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
                    let call = <$ty as Untraced>::copy(self, from, to, mode);
                    traced($backend, Operation::Copy, from, call).await
                }

                $(#[$rename])*
                async fn rename(
                    &self,
                    from: &str,
                    to: &str,
                    mode: WriteMode,
                ) -> Result<ObjectMeta> {
                    let call = <$ty as Untraced>::rename(self, from, to, mode);
                    traced($backend, Operation::Rename, from, call).await
                }

                $(#[$appender])*
                async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
                    let call = <$ty as Untraced>::appender(self, path);
                    traced($backend, Operation::Append, path, call).await
                }
            }
        };
    };
}
pub(crate) use traced_storage;

/// The span of one call of `backend`'s `op` on `path`.
pub(crate) fn op_span(backend: &'static str, op: Operation, path: &str) -> Span {
    tracing::debug_span!(
        "storage",
        backend,
        operation = op.as_str(),
        path,
        bytes = Empty,
        attempt = Empty,
        error = Empty,
    )
}

/// How many bytes a successful call moved, for the `bytes` field.
pub(crate) trait Moved {
    /// `None` when the call moves no data (`delete`, `sync`, ...).
    fn moved(&self) -> Option<u64>;
}

impl Moved for Bytes {
    fn moved(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

impl Moved for Vec<Bytes> {
    fn moved(&self) -> Option<u64> {
        Some(self.iter().map(|b| b.len() as u64).sum())
    }
}

impl Moved for ObjectMeta {
    fn moved(&self) -> Option<u64> {
        Some(self.size)
    }
}

impl Moved for () {
    fn moved(&self) -> Option<u64> {
        None
    }
}

impl Moved for bool {
    fn moved(&self) -> Option<u64> {
        None
    }
}

impl Moved for Box<dyn StorageWriter> {
    fn moved(&self) -> Option<u64> {
        None
    }
}

impl Moved for ReadResult {
    fn moved(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }
}

impl Moved for Listing {
    fn moved(&self) -> Option<u64> {
        Some(self.objects.iter().map(|m| m.size).sum())
    }
}

impl Moved for std::sync::Arc<dyn StorageAppender> {
    fn moved(&self) -> Option<u64> {
        None
    }
}

/// Runs `call` inside a new span for `backend`'s `op` on `path`, and
/// records its outcome there.
pub(crate) async fn traced<T: Moved>(
    backend: &'static str,
    op: Operation,
    path: &str,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = op_span(backend, op, path);
    let outcome = call.instrument(span.clone()).await;
    record(&span, op, &outcome);
    outcome
}

fn record<T: Moved>(span: &Span, op: Operation, outcome: &Result<T>) {
    match outcome {
        Ok(value) => {
            // `head` returns a size but moves no data.
            if let (Some(bytes), false) = (value.moved(), op == Operation::Head) {
                span.record("bytes", bytes);
            }
        }
        Err(err) => {
            span.record("error", err.kind());
        }
    }
}

/// Records `attempt` on the current operation span (the retry loop runs
/// inside it).
pub(crate) fn record_attempt(attempt: u32) {
    Span::current().record("attempt", attempt);
}

/// The event of one retry: which attempt failed, why, and how long the loop
/// waits before the next.
pub(crate) fn retry_event(op: Operation, attempt: u32, cause: &Error, delay: std::time::Duration) {
    let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        operation = op.as_str(),
        attempt,
        cause = cause.kind(),
        status = cause.status(),
        delay_ms,
        "retrying after a transient failure"
    );
}

/// A listing that runs inside its own span; `bytes` is the total size of
/// the objects listed.
pub(crate) fn traced_list<'a>(
    backend: &'static str,
    prefix: &str,
    inner: BoxStream<'a, Result<ObjectMeta>>,
) -> BoxStream<'a, Result<ObjectMeta>> {
    TracedList {
        span: op_span(backend, Operation::List, prefix),
        inner,
        bytes: 0,
    }
    .boxed()
}

struct TracedList<'a> {
    span: Span,
    inner: BoxStream<'a, Result<ObjectMeta>>,
    bytes: u64,
}

impl Stream for TracedList<'_> {
    type Item = Result<ObjectMeta>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let next = this.inner.poll_next_unpin(cx);
        match &next {
            Poll::Ready(Some(Ok(meta))) => this.bytes += meta.size,
            Poll::Ready(Some(Err(err))) => {
                this.span.record("error", err.kind());
            }
            Poll::Ready(None) => {
                this.span.record("bytes", this.bytes);
            }
            Poll::Pending => {}
        }
        next
    }
}

/// A streaming writer whose calls run in spans: `write` (DEBUG, per chunk)
/// and `finish`/`abort` under the operation `writer`.
pub(crate) struct TracedWriter {
    backend: &'static str,
    path: String,
    inner: Box<dyn StorageWriter>,
}

impl TracedWriter {
    pub(crate) fn wrap(
        backend: &'static str,
        path: &str,
        inner: Box<dyn StorageWriter>,
    ) -> Box<dyn StorageWriter> {
        Box::new(TracedWriter {
            backend,
            path: path.to_owned(),
            inner,
        })
    }
}

#[async_trait]
impl StorageWriter for TracedWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let len = chunk.len() as u64;
        let span = op_span(self.backend, Operation::Writer, &self.path);
        let outcome = self.inner.write(chunk).instrument(span.clone()).await;
        match &outcome {
            Ok(()) => {
                span.record("bytes", len);
            }
            Err(err) => {
                span.record("error", err.kind());
            }
        }
        outcome
    }

    async fn finish(self: Box<Self>) -> Result<ObjectMeta> {
        let this = *self;
        traced(
            this.backend,
            Operation::Writer,
            &this.path,
            this.inner.finish(),
        )
        .await
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        let this = *self;
        traced(
            this.backend,
            Operation::Writer,
            &this.path,
            this.inner.abort(),
        )
        .await
    }
}
