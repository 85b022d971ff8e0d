//! Appends through [`Cached`](super::Cached): the key of a growing object
//! is read around the cache while its appender lives.
//!
//! A cached size or block of an object that grows would be stale after
//! the next append, so the appender holds the key "being written" (the
//! same mark a `write` in progress sets) from `appender` until it is
//! dropped: reads and `head` go to the inner storage meanwhile. After a
//! successful `finish` the object no longer changes, and dropping the
//! appender makes the key cacheable again; an appender dropped without
//! `finish` may still have bytes landing in the background, so its key
//! stays uncached until [`Cached::invalidate`](super::Cached::invalidate).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::storage::{ObjectMeta, StorageAppender};

use super::CacheState;

/// The inner appender, holding its key out of the cache.
pub(super) struct CachedAppender {
    pub(super) inner: Arc<dyn StorageAppender>,
    pub(super) path: String,
    pub(super) shared: Arc<CacheState>,
    /// Set by a successful `finish`.
    pub(super) finished: AtomicBool,
}

impl std::fmt::Debug for CachedAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedAppender")
            .field("path", &self.path)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl StorageAppender for CachedAppender {
    async fn append(&self, data: Bytes) -> Result<u64> {
        self.inner.append(data).await
    }

    async fn sync(&self) -> Result<u64> {
        self.inner.sync().await
    }

    async fn finish(&self) -> Result<ObjectMeta> {
        let meta = self.inner.finish().await?;
        self.finished.store(true, Ordering::Release);
        Ok(meta)
    }
}

impl Drop for CachedAppender {
    fn drop(&mut self) {
        let unfinished = !self.finished.load(Ordering::Acquire);
        self.shared.end_write(&self.path, unfinished);
    }
}
