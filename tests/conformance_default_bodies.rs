//! The trait's default bodies of the 0.2 calls (`read_with`, `list_with`,
//! `list_dir`, `delete_many`, `copy`, `rename`), held to the whole
//! conformance suite: a third-party backend that implements only the 0.1
//! methods keeps the contract. `OnlyRequired` forwards exactly the methods
//! without a default body, so every other call runs the trait's default,
//! over LocalStorage and over ObjectStorage on InMemory.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use seerstore::conformance::{run, Capabilities};

mod expected;
use seerstore::{
    LocalStorage, ObjectMeta, ObjectStorage, Result, Storage, StorageWriter, WriteMode,
};

/// A backend that implements only what the trait requires.
#[derive(Debug)]
struct OnlyRequired<S>(S);

#[async_trait::async_trait]
impl<S: Storage> Storage for OnlyRequired<S> {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        self.0.read_range(path, range).await
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        self.0.read(path).await
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.0.head(path).await
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        self.0.write_with(path, data, mode).await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        self.0.writer(path).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.0.delete(path).await
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn sync(&self, path: &str) -> Result<()> {
        self.0.sync(path).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_bodies_over_local_storage() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| seerstore::Error::io(seerstore::Operation::Open, "", e))?;
    let storage: Arc<dyn Storage> = Arc::new(OnlyRequired(LocalStorage::open(dir.path()).await?));
    // LocalStorage's limits (tests/conformance.rs); the default `rename` is
    // a copy then a delete, not atomic.
    let caps = Capabilities::all()
        .file_and_dir_keys(false)
        .sync_checks_existence(true)
        .key_limits(1024, 255)
        .atomic_rename(false);
    let report = run(storage, &caps).await;
    println!("conformance[default bodies over local]:\n{report}");
    report.assert_outcomes(
        &[
            expected::LOCAL.as_slice(),
            &expected::APPENDS,
            &["rename_is_atomic"],
        ]
        .concat(),
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_bodies_over_in_memory() -> Result<()> {
    let store = Arc::new(object_store::memory::InMemory::new());
    let storage: Arc<dyn Storage> = Arc::new(OnlyRequired(ObjectStorage::new(store)));
    let report = run(storage, &Capabilities::all().atomic_rename(false)).await;
    println!("conformance[default bodies over memory]:\n{report}");
    report.assert_outcomes(
        &[
            &["sync_of_missing_not_found", "rename_is_atomic"][..],
            &expected::APPENDS,
        ]
        .concat(),
    );
    Ok(())
}
