//! object_store's own reusable test suite (its `integration` feature) through
//! `ObjectStoreAdapter`: every function object_store runs on its own
//! `LocalFileSystem`, on `LocalStorage` and on `ObjectStorage` over
//! `InMemory`.

use std::sync::Arc;

use object_store::integration::*;
use seerstore::{LocalStorage, ObjectStorage, ObjectStoreAdapter, Storage};

async fn local() -> (tempfile::TempDir, ObjectStoreAdapter) {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await.expect("open"));
    (dir, ObjectStoreAdapter::new(storage))
}

fn in_memory() -> ObjectStoreAdapter {
    let store = Arc::new(object_store::memory::InMemory::new());
    ObjectStoreAdapter::new(Arc::new(ObjectStorage::new(store)))
}

/// The list object_store runs on `LocalFileSystem` (`local.rs`, `file_test`),
/// with `put_opts(.., supports_update = true)`: both backends below have
/// conditional updates (LocalFileSystem does not, hence its `false`).
async fn suite(store: &ObjectStoreAdapter) {
    put_get_delete_list(store).await;
    list_with_offset_exclusivity(store).await;
    get_opts(store).await;
    list_uses_directories_correctly(store).await;
    list_with_delimiter(store).await;
    rename_and_copy(store).await;
    copy_if_not_exists(store).await;
    copy_rename_nonexistent_object(store).await;
    stream_get(store).await;
    put_opts(store, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_storage_passes_object_store_suite() {
    let (_dir, store) = local().await;
    suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_passes_object_store_suite() {
    suite(&in_memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_in_memory_passes_object_store_suite() {
    // A wrapper stack behind the adapter: the cache must stay invisible.
    let store = Arc::new(object_store::memory::InMemory::new());
    let cached = seerstore::Cached::new(ObjectStorage::new(store)).with_block_size(4096);
    suite(&ObjectStoreAdapter::new(Arc::new(cached))).await;
}
