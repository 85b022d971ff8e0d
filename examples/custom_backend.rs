//! Writing your own backend: a toy `Storage` over a `Mutex<BTreeMap>`,
//! checked with the crate's conformance suite.
//!
//! ```text
//! cargo run --example custom_backend --features conformance
//! ```
//!
//! The suite runs every promise of the contract as a named check and
//! prints a report; a check the backend cannot pass is declared in its
//! `Capabilities` (here: an atomic rename). Run the same lines from a `#[tokio::test]`
//! of your own crate, with `report.assert_passed()`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use seerstore::conformance::{run, Capabilities};
use seerstore::path::{in_prefix, validate_path, validate_prefix};
use seerstore::{
    check_range, Error, ObjectMeta, Operation, Result, Storage, StorageWriter, WriteMode,
};

/// One stored object: its bytes and a version that changes on every write.
#[derive(Debug, Clone)]
struct Object {
    data: Bytes,
    version: u64,
}

#[derive(Debug, Default)]
struct Objects {
    map: BTreeMap<String, Object>,
    next_version: u64,
}

/// Objects in a map behind one mutex: every write is atomic (one insert
/// under the lock), and "durable" for as long as the process lives.
#[derive(Debug, Clone, Default)]
struct MapStorage {
    objects: Arc<Mutex<Objects>>,
}

impl MapStorage {
    fn lock(&self) -> MutexGuard<'_, Objects> {
        // A panic while holding the lock cannot leave a half-written object.
        self.objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn meta(key: &str, object: &Object) -> ObjectMeta {
        ObjectMeta::new(key, object.data.len() as u64)
            .with_version(Some(object.version.to_string()))
    }

    fn get(&self, op: Operation, path: &str) -> Result<Object> {
        let key = validate_path(op, path)?;
        self.lock()
            .map
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found(op, key))
    }

    fn put(&self, path: &str, data: Bytes, mode: &WriteMode) -> Result<ObjectMeta> {
        let op = Operation::Write;
        let key = validate_path(op, path)?;
        let mut objects = self.lock();
        let current = objects.map.get(key).map(|o| o.version.to_string());
        match (mode, current) {
            (WriteMode::Create, Some(_)) => {
                return Err(Error::AlreadyExists {
                    op,
                    path: key.into(),
                    source: None,
                })
            }
            (WriteMode::Update(expected), current) if current.as_ref() != Some(expected) => {
                return Err(Error::Precondition {
                    op,
                    path: key.into(),
                    expected: expected.clone(),
                    source: None,
                })
            }
            _ => {}
        }
        objects.next_version += 1;
        let object = Object {
            data,
            version: objects.next_version,
        };
        let meta = Self::meta(key, &object);
        objects.map.insert(key.to_owned(), object);
        Ok(meta)
    }
}

#[async_trait]
impl Storage for MapStorage {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        let op = Operation::ReadRange;
        let object = self.get(op, path)?;
        check_range(op, path, &range, object.data.len() as u64)?;
        Ok(object.data.slice(range.start as usize..range.end as usize))
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let op = Operation::ReadRanges;
        let object = self.get(op, path)?;
        let size = object.data.len() as u64;
        ranges
            .iter()
            .map(|range| {
                check_range(op, path, range, size)?;
                Ok(object.data.slice(range.start as usize..range.end as usize))
            })
            .collect()
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        Ok(self.get(Operation::Read, path)?.data)
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let object = self.get(Operation::Head, path)?;
        Ok(Self::meta(path, &object))
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        match self.get(Operation::Exists, path) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        self.put(path, data, &WriteMode::Overwrite)
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        self.put(path, data, &mode)
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        let key = validate_path(Operation::Writer, path)?;
        Ok(Box::new(MapWriter {
            storage: self.clone(),
            key: key.to_owned(),
            buffer: BytesMut::new(),
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let key = validate_path(Operation::Delete, path)?;
        self.lock().map.remove(key);
        Ok(())
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        let prefix = match validate_prefix(Operation::List, prefix) {
            Ok(prefix) => prefix,
            Err(e) => return stream::once(async move { Err(e) }).boxed(),
        };
        // A snapshot: memory grows with the keys listed, acceptable for a toy.
        let metas: Vec<Result<ObjectMeta>> = self
            .lock()
            .map
            .iter()
            .filter(|(key, _)| in_prefix(key, prefix))
            .map(|(key, object)| Ok(Self::meta(key, object)))
            .collect();
        stream::iter(metas).boxed()
    }

    async fn sync(&self, path: &str) -> Result<()> {
        validate_path(Operation::Sync, path)?;
        Ok(())
    }
}

/// A streaming write: buffered, published by one insert on `finish`.
struct MapWriter {
    storage: MapStorage,
    key: String,
    buffer: BytesMut,
}

#[async_trait]
impl StorageWriter for MapWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.buffer.extend_from_slice(&chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<ObjectMeta> {
        self.storage
            .put(&self.key, self.buffer.freeze(), &WriteMode::Overwrite)
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let storage = Arc::new(MapStorage::default());
    // Every promise holds but an atomic rename (the trait's default
    // `rename` is a copy then a delete); the large-object check streams
    // less than the default since this toy buffers in memory.
    let caps = Capabilities::all()
        .large_object_bytes(1 << 20)
        .atomic_rename(false);
    let report = run(storage, &caps).await;
    println!("{report}");
    if report.failed() > 0 {
        std::process::exit(1);
    }
}
