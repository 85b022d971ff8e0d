//! The writer a [`FaultInjector`](super::FaultInjector) hands out: the
//! rules see each `write`, `finish` and `abort`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::rules::FaultAction;
use super::InjectorState;
use crate::error::{Error, Operation, Result};
use crate::storage::{ObjectMeta, StorageWriter};

/// The writer of a [`FaultInjector`](super::FaultInjector): each `write`, `finish` and `abort` is
/// an [`Operation::Writer`] call the rules see. A failed `write` or `finish`
/// aborts the inner writer, so nothing is published — as with a real error.
pub(super) struct FaultWriter {
    pub(super) inner: Option<Box<dyn StorageWriter>>,
    pub(super) path: String,
    pub(super) shared: Arc<InjectorState>,
}

impl FaultWriter {
    fn used(&self) -> Error {
        Error::NotSupported {
            op: Operation::Writer,
            path: self.path.clone(),
            what: "writing after an earlier error".into(),
            source: None,
        }
    }
}

#[async_trait]
impl StorageWriter for FaultWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let Some(inner) = self.inner.as_mut() else {
            return Err(self.used());
        };
        let result = self
            .shared
            .run(Operation::Writer, &self.path, inner.write(chunk))
            .await;
        if result.is_err() {
            if let Some(inner) = self.inner.take() {
                let _ = inner.abort().await;
            }
        }
        result
    }

    async fn finish(mut self: Box<Self>) -> Result<ObjectMeta> {
        let Some(inner) = self.inner.take() else {
            return Err(self.used());
        };
        let decision = self.shared.decide(Operation::Writer, &self.path);
        if !decision.delay.is_zero() {
            tokio::time::sleep(decision.delay).await;
        }
        match decision.fault {
            Some(FaultAction::Fail(kind)) => {
                let _ = inner.abort().await;
                Err(kind.to_error(Operation::Writer, &self.path))
            }
            Some(FaultAction::LoseAnswer(kind)) => {
                let _ = inner.finish().await;
                Err(kind.to_error(Operation::Writer, &self.path))
            }
            _ => inner.finish().await,
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        let Some(inner) = self.inner.take() else {
            return Ok(());
        };
        let path = self.path.clone();
        self.shared
            .run(Operation::Writer, &path, inner.abort())
            .await
    }
}
