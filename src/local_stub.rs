//! MERGE NOTE: a placeholder so that `open("file://...")` compiles on the
//! `object` branch, whose `LocalStorage` is a stub without a `Storage` impl.
//! Delete this file (and its `mod` line in lib.rs) when merging with the
//! branch that implements `LocalStorage`.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Operation, Result};
use crate::storage::{ObjectMeta, Storage, StorageWriter, WriteMode};
use crate::LocalStorage;

fn unimplemented(op: Operation, path: &str) -> Error {
    Error::NotSupported {
        op,
        path: path.to_owned(),
        what: "LocalStorage is not implemented on this branch".into(),
        source: None,
    }
}

#[async_trait]
impl Storage for LocalStorage {
    async fn read_range(&self, path: &str, _: Range<u64>) -> Result<Bytes> {
        Err(unimplemented(Operation::ReadRange, path))
    }
    async fn read(&self, path: &str) -> Result<Bytes> {
        Err(unimplemented(Operation::Read, path))
    }
    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        Err(unimplemented(Operation::Head, path))
    }
    async fn write_with(&self, path: &str, _: Bytes, _: WriteMode) -> Result<ObjectMeta> {
        Err(unimplemented(Operation::Write, path))
    }
    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        Err(unimplemented(Operation::Writer, path))
    }
    async fn delete(&self, path: &str) -> Result<()> {
        Err(unimplemented(Operation::Delete, path))
    }
    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        let err = unimplemented(Operation::List, prefix);
        Box::pin(futures::stream::once(async move { Err(err) }))
    }
    async fn sync(&self, path: &str) -> Result<()> {
        Err(unimplemented(Operation::Sync, path))
    }
}
