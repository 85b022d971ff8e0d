//! [`Instrumented`]: metrics of every call through the `metrics` facade
//! (feature `metrics`).
//!
//! # Where it sits in a stack
//!
//! ```text
//! caller ─► Instrumented ─► (Cached) ─► ObjectStorage ─► retry loop ─► object_store client
//!           calls, bytes,                               attempts, retries
//!           errors, latency
//! ```
//!
//! `Instrumented` wraps a whole [`Storage`], so it sees **calls** as the
//! caller makes them: one count, one latency sample and (on failure) one
//! error per call, however many requests the call took. The latency is
//! what the caller waited, retries and backoff included. The **attempts**
//! below the retry are counted by the retry loop itself
//! (`seerstore_attempts_total`, `seerstore_retries_total`), which is the
//! only place that sees them; those two counters need no wrapper, only the
//! `metrics` feature. Put `Instrumented` outermost, above a cache, to
//! measure what callers get; put a second one between the cache and the
//! backend to measure what reaches the store.
//!
//! With no recorder installed every metric call is a no-op.
//!
//! # Metrics
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `seerstore_operations_total` | counter | `storage`, `operation` | calls |
//! | `seerstore_errors_total` | counter | `storage`, `operation`, `kind` | failed calls, by [`Error::kind`] |
//! | `seerstore_read_bytes_total` | counter | `storage`, `operation` | bytes returned by reads |
//! | `seerstore_written_bytes_total` | counter | `storage`, `operation` | bytes of successful writes (a streaming writer's on `finish`) |
//! | `seerstore_operation_duration_seconds` | histogram | `storage`, `operation` | latency of each call (for `list`, until the stream ends) |
//! | `seerstore_attempts_total` | counter | `operation` | requests the retry loop made (object stores) |
//! | `seerstore_retries_total` | counter | `operation`, `cause` | retries, by the [`Error::kind`] that caused them |
//!
//! `operation` is [`Operation::as_str`] (`read_range`, `write`, ...;
//! `write_with` counts as `write`, a streaming writer's calls as `writer`),
//! `storage` the label given to [`Instrumented::with_label`]. A listing
//! is counted when its stream ends or fails; one dropped before that is
//! not counted. A streaming writer's `write` calls count only their
//! errors; `finish` and `abort` are calls.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> seerstore::Result<()> {
//! use seerstore::{Instrumented, LocalStorage, Storage};
//! let dir = tempfile::tempdir().expect("temp dir");
//! let storage = Instrumented::new(LocalStorage::open(dir.path()).await?).with_label("sst");
//! storage.write("L0/1.sst", "block".into()).await?;
//! assert_eq!(storage.read("L0/1.sst").await?, "block");
//! # Ok(()) }
//! ```

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use metrics::{counter, histogram, SharedString};

use crate::error::{Error, Operation, Result};
use crate::storage::{
    ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, Storage, StorageAppender,
    StorageWriter, WriteMode,
};

/// Counter of calls.
pub const OPERATIONS: &str = "seerstore_operations_total";
/// Counter of failed calls, by error kind.
pub const ERRORS: &str = "seerstore_errors_total";
/// Counter of bytes returned by reads.
pub const READ_BYTES: &str = "seerstore_read_bytes_total";
/// Counter of bytes written.
pub const WRITTEN_BYTES: &str = "seerstore_written_bytes_total";
/// Histogram of call latency, in seconds.
pub const DURATION: &str = "seerstore_operation_duration_seconds";
/// Counter of requests made by the retry loop (one per attempt).
pub const ATTEMPTS: &str = "seerstore_attempts_total";
/// Counter of retries, by cause.
pub const RETRIES: &str = "seerstore_retries_total";

/// Registers units and descriptions of every seerstore metric with the
/// installed recorder (optional: the metrics work without it).
pub fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(OPERATIONS, Unit::Count, "storage calls");
    describe_counter!(ERRORS, Unit::Count, "failed storage calls, by error kind");
    describe_counter!(READ_BYTES, Unit::Bytes, "bytes returned by reads");
    describe_counter!(WRITTEN_BYTES, Unit::Bytes, "bytes written");
    describe_histogram!(DURATION, Unit::Seconds, "latency of storage calls");
    describe_counter!(
        ATTEMPTS,
        Unit::Count,
        "object store requests, one per attempt"
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "retries after transient failures, by cause"
    );
}

/// A [`Storage`] that records metrics of every call of `inner`; see the
/// [module docs](self) for the metrics and where to put it in a stack.
#[derive(Clone)]
pub struct Instrumented<S> {
    inner: S,
    label: SharedString,
}

impl<S: Storage> Instrumented<S> {
    /// Wraps `inner`, labelled `storage="default"`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            label: SharedString::const_str("default"),
        }
    }

    /// Sets the `storage` label, to tell several stores apart (`"sst"`,
    /// `"wal"`, `"remote"`). Keep it to a few fixed names: every value is a
    /// new time series.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = SharedString::from(label.into());
        self
    }

    /// The wrapped storage.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the storage.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn meter(&self, op: Operation) -> Meter {
        Meter {
            label: self.label.clone(),
            op,
            start: Instant::now(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Instrumented<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("label", &&*self.label)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S: fmt::Display> fmt::Display for Instrumented<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instrumented({}, {})", &*self.label, self.inner)
    }
}

/// One call being measured.
struct Meter {
    label: SharedString,
    op: Operation,
    start: Instant,
}

impl Meter {
    fn labels(&self) -> [(&'static str, SharedString); 2] {
        [
            ("storage", self.label.clone()),
            ("operation", SharedString::const_str(self.op.as_str())),
        ]
    }

    /// Counts the call and its latency, and the error if it failed.
    fn done(self, error: Option<&Error>) {
        let labels = self.labels();
        counter!(OPERATIONS, &labels).increment(1);
        histogram!(DURATION, &labels).record(self.start.elapsed().as_secs_f64());
        if let Some(err) = error {
            self.error(err);
        }
    }

    fn error(&self, err: &Error) {
        counter!(
            ERRORS,
            "storage" => self.label.clone(),
            "operation" => self.op.as_str(),
            "kind" => err.kind(),
        )
        .increment(1);
    }

    fn read(&self, bytes: u64) {
        counter!(READ_BYTES, &self.labels()).increment(bytes);
    }

    fn written(&self, bytes: u64) {
        counter!(WRITTEN_BYTES, &self.labels()).increment(bytes);
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: Storage> Storage for Instrumented<S> {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        let meter = self.meter(Operation::ReadRange);
        let outcome = self.inner.read_range(path, range).await;
        if let Ok(bytes) = &outcome {
            meter.read(bytes.len() as u64);
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let meter = self.meter(Operation::ReadRanges);
        let outcome = self.inner.read_ranges(path, ranges).await;
        if let Ok(blocks) = &outcome {
            meter.read(blocks.iter().map(|b| b.len() as u64).sum());
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        let meter = self.meter(Operation::Read);
        let outcome = self.inner.read(path).await;
        if let Ok(bytes) = &outcome {
            meter.read(bytes.len() as u64);
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let meter = self.meter(Operation::Head);
        let outcome = self.inner.head(path).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        let meter = self.meter(Operation::Exists);
        let outcome = self.inner.exists(path).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        let meter = self.meter(Operation::Write);
        let len = data.len() as u64;
        let outcome = self.inner.write(path, data).await;
        if outcome.is_ok() {
            meter.written(len);
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        let meter = self.meter(Operation::Write);
        let len = data.len() as u64;
        let outcome = self.inner.write_with(path, data, mode).await;
        if outcome.is_ok() {
            meter.written(len);
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        let meter = self.meter(Operation::Writer);
        let outcome = self.inner.writer(path).await;
        meter.done(outcome.as_ref().err());
        let inner = outcome?;
        Ok(Box::new(InstrumentedWriter {
            inner,
            label: self.label.clone(),
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let meter = self.meter(Operation::Delete);
        let outcome = self.inner.delete(path).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        MeteredList {
            inner: self.inner.list(prefix),
            meter: Some(self.meter(Operation::List)),
        }
        .boxed()
    }

    async fn sync(&self, path: &str) -> Result<()> {
        let meter = self.meter(Operation::Sync);
        let outcome = self.inner.sync(path).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        let meter = self.meter(Operation::ReadWith);
        let outcome = self.inner.read_with(path, options).await;
        if let Ok(read) = &outcome {
            meter.read(read.data.len() as u64);
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        MeteredList {
            inner: self.inner.list_with(prefix, options),
            meter: Some(self.meter(Operation::List)),
        }
        .boxed()
    }

    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        let meter = self.meter(Operation::ListDir);
        let outcome = self.inner.list_dir(prefix).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    /// One call; each path that failed also counts as an error.
    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        let meter = self.meter(Operation::DeleteMany);
        let outcome = self.inner.delete_many(paths).await;
        let mut failed = outcome.iter().filter_map(|r| r.as_ref().err());
        let first = failed.next();
        for err in failed {
            meter.error(err);
        }
        meter.done(first);
        outcome
    }

    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        let meter = self.meter(Operation::Copy);
        let outcome = self.inner.copy(from, to, mode).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        let meter = self.meter(Operation::Rename);
        let outcome = self.inner.rename(from, to, mode).await;
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
        let meter = self.meter(Operation::Append);
        let outcome = self.inner.appender(path).await;
        meter.done(outcome.as_ref().err());
        outcome
    }
}

/// A listing counted as one call, finished when the stream ends (or fails).
struct MeteredList<'a> {
    inner: BoxStream<'a, Result<ObjectMeta>>,
    meter: Option<Meter>,
}

impl Stream for MeteredList<'_> {
    type Item = Result<ObjectMeta>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.poll_next_unpin(cx);
        match &next {
            Poll::Ready(None) => {
                if let Some(meter) = self.meter.take() {
                    meter.done(None);
                }
            }
            Poll::Ready(Some(Err(err))) => {
                if let Some(meter) = self.meter.take() {
                    meter.done(Some(err));
                }
            }
            _ => {}
        }
        next
    }
}

/// A streaming writer counted under `operation="writer"`: each failing
/// call is an error, `finish` a call with its latency and bytes.
struct InstrumentedWriter {
    inner: Box<dyn StorageWriter>,
    label: SharedString,
}

impl InstrumentedWriter {
    fn meter(&self) -> Meter {
        Meter {
            label: self.label.clone(),
            op: Operation::Writer,
            start: Instant::now(),
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl StorageWriter for InstrumentedWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let outcome = self.inner.write(chunk).await;
        if let Err(err) = &outcome {
            self.meter().error(err);
        }
        outcome
    }

    async fn finish(self: Box<Self>) -> Result<ObjectMeta> {
        let meter = self.meter();
        let outcome = self.inner.finish().await;
        if let Ok(meta) = &outcome {
            meter.written(meta.size);
        }
        meter.done(outcome.as_ref().err());
        outcome
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        let meter = self.meter();
        let outcome = self.inner.abort().await;
        meter.done(outcome.as_ref().err());
        outcome
    }
}
