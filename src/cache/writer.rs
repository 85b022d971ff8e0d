//! Streaming writes through [`Cached`](super::Cached): the key is marked
//! "being written" while the inner writer publishes, so no read caches
//! what the publish replaces.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::epochs::CacheState;
use crate::error::Result;
use crate::storage::{ObjectMeta, StorageWriter};

/// A streaming write through [`Cached`](super::Cached): publishing invalidates the key.
pub(super) struct CachedWriter {
    pub(super) inner: Box<dyn StorageWriter>,
    pub(super) path: String,
    pub(super) shared: Arc<CacheState>,
}

#[async_trait]
impl StorageWriter for CachedWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.inner.write(chunk).await
    }

    async fn finish(self: Box<Self>) -> Result<ObjectMeta> {
        let CachedWriter {
            inner,
            path,
            shared,
        } = *self;
        let guard = shared.begin_write(&path);
        let result = inner.finish().await;
        guard.end();
        result
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        self.inner.abort().await
    }
}
