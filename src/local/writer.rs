//! [`LocalWriter`]: streaming a large object into a temp file.
//!
//! Small chunks are buffered (as `Bytes`, without copying) up to
//! [`WRITER_BUFFER_MAX`] and written in one blocking-pool hop, so memory stays
//! bounded by about that much plus the chunk in hand, whatever the object's
//! size. Nothing is visible at the key until `finish`.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Operation, Result};
use crate::storage::{ObjectMeta, StorageWriter, WriteMode};

use super::publish::TempFile;
use super::{join, spawn_tracked, LocalRoot};

/// The most a writer buffers before it writes to the temp file: bounds its
/// memory and the bytes of one blocking-pool hop.
const WRITER_BUFFER_MAX: usize = 1 << 20;

/// The temp file, shared with the blocking task that writes into it;
/// `None` once published or removed.
type SharedTemp = Arc<Mutex<Option<TempFile>>>;

fn lock(temp_file: &SharedTemp) -> MutexGuard<'_, Option<TempFile>> {
    // The guarded value is moved out or written whole; a panic in a
    // blocking task leaves at worst a temp file that `Drop` removes.
    temp_file
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The [`StorageWriter`] of [`LocalStorage`](super::LocalStorage).
///
/// `abort`, an error, or dropping the writer removes the temp file (on drop
/// via a blocking-pool task when a tokio runtime is current, inline
/// otherwise; [`LocalStorage::settle`](super::LocalStorage::settle) waits for
/// it). If a `write` future is dropped while its chunk was being written,
/// the writer cannot know how much landed: every later call fails and the
/// object is never published.
pub(crate) struct LocalWriter {
    inner: Arc<LocalRoot>,
    key: String,
    temp_file: SharedTemp,
    buffer: Vec<Bytes>,
    buffered: usize,
    /// Set while a blocking write is awaited; still set afterwards means
    /// that future was dropped mid-write.
    in_flight: bool,
    /// Set once `finish` or `abort` took the temp file.
    done: bool,
}

impl LocalWriter {
    pub(crate) async fn create(inner: Arc<LocalRoot>, key: String) -> Result<LocalWriter> {
        let op = Operation::Writer;
        let task_key = key.clone();
        let task = spawn_tracked(&inner, move |inner| {
            TempFile::create(inner, &task_key).map_err(|e| Error::io(op, &task_key, e))
        });
        let temp = join(op, &key, task).await?;
        Ok(LocalWriter {
            inner,
            key,
            temp_file: Arc::new(Mutex::new(Some(temp))),
            buffer: Vec::new(),
            buffered: 0,
            in_flight: false,
            done: false,
        })
    }

    fn error(&self, message: &str) -> Error {
        Error::Io {
            op: Operation::Writer,
            path: self.key.clone(),
            source: io::Error::other(message.to_owned()),
        }
    }

    fn check_usable(&self) -> Result<()> {
        if self.in_flight {
            return Err(self.error("an earlier write was cancelled mid-way; abort this writer"));
        }
        if self.done {
            return Err(self.error("writer already finished or aborted"));
        }
        Ok(())
    }

    /// Writes the buffer out (if any), then, with `publish`, fsyncs and
    /// publishes; all in one blocking task. An error removes the temp file.
    async fn flush(&mut self, publish: bool) -> Result<Option<ObjectMeta>> {
        let op = Operation::Writer;
        let chunks = std::mem::take(&mut self.buffer);
        self.buffered = 0;
        let temp_file = self.temp_file.clone();
        let key = self.key.clone();
        self.in_flight = true;
        let task = spawn_tracked(&self.inner, move |inner| {
            let mut guard = lock(&temp_file);
            let Some(temp) = guard.as_mut() else {
                return Err(Error::Io {
                    op,
                    path: key.clone(),
                    source: io::Error::other("the temp file is gone after an earlier error"),
                });
            };
            for chunk in &chunks {
                if let Err(e) = temp.write_all(chunk) {
                    // Dropping it unlinks it.
                    *guard = None;
                    return Err(Error::io(op, &key, e));
                }
            }
            if !publish {
                return Ok(None);
            }
            let Some(temp) = guard.take() else {
                return Ok(None);
            };
            temp.publish(inner, op, &key, &WriteMode::Overwrite)
                .map(Some)
        });
        let result = join(op, &self.key, task).await;
        self.in_flight = false;
        if publish || result.is_err() {
            self.done = true;
        }
        result
    }
}

#[async_trait]
impl StorageWriter for LocalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.check_usable()?;
        if chunk.is_empty() {
            return Ok(());
        }
        self.buffered += chunk.len();
        self.buffer.push(chunk);
        if self.buffered >= WRITER_BUFFER_MAX {
            self.flush(false).await?;
        }
        Ok(())
    }

    /// Writes what is buffered, fsyncs, renames into place (overwriting),
    /// fsyncs the directory, and returns the new object's metadata.
    async fn finish(mut self: Box<Self>) -> Result<ObjectMeta> {
        self.check_usable()?;
        match self.flush(true).await? {
            Some(meta) => Ok(meta),
            None => Err(self.error("the temp file is gone")),
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.buffer.clear();
        self.done = true;
        let temp_file = self.temp_file.clone();
        let task = spawn_tracked(&self.inner, move |_| {
            drop(lock(&temp_file).take());
            Ok(())
        });
        join(Operation::Writer, &self.key, task).await
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.done && !self.in_flight {
            return;
        }
        let temp_file = self.temp_file.clone();
        // Unlinking may wait for the disk: keep it off the worker when a
        // runtime is there. The task also waits for a write still running.
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(spawn_tracked(&self.inner, move |_| {
                drop(lock(&temp_file).take())
            }));
        } else {
            drop(lock(&temp_file).take());
        }
    }
}
