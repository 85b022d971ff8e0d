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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::error::{Error, Operation, Result};
use crate::storage::{Listing, ObjectMeta, ReadResult, StorageAppender, StorageWriter};

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
