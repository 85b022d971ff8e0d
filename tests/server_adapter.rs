//! object_store's own integration functions through `ObjectStoreAdapter`
//! over real servers (moto, Azurite), opened with `seerstore::open`: what an
//! engine written against object_store sees when it runs on seerstore.
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;

use std::sync::Arc;

use common_servers::{cleanup, unique_prefix, Server};
use object_store::integration::*;
use seerstore::{ObjectStoreAdapter, Storage};

async fn adapter(server: &Server, tag: &str) -> (Arc<dyn Storage>, ObjectStoreAdapter) {
    let storage = server
        .open(server.endpoint(), &unique_prefix(tag), &[])
        .await;
    (storage.clone(), ObjectStoreAdapter::new(storage))
}

/// The functions object_store runs on its own S3 and Azure clients that
/// the adapter can serve (conditional copies and updates included: seerstore
/// maps them onto the servers' conditional requests).
async fn suite(store: &ObjectStoreAdapter) {
    put_get_delete_list(store).await;
    list_with_offset_exclusivity(store).await;
    get_opts(store).await;
    list_uses_directories_correctly(store).await;
    list_with_delimiter(store).await;
    rename_and_copy(store).await;
    copy_rename_nonexistent_object(store).await;
    stream_get(store).await;
    put_opts(store, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_passes_object_store_suite_through_the_adapter() {
    let Some(moto) = Server::moto() else { return };
    let (storage, store) = adapter(&moto, "adapter-suite").await;
    suite(&store).await;
    cleanup(&*storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_passes_object_store_suite_through_the_adapter() {
    let Some(azurite) = Server::azurite() else {
        return;
    };
    let (storage, store) = adapter(&azurite, "adapter-suite").await;
    suite(&store).await;
    copy_if_not_exists(&store).await;
    cleanup(&*storage).await;
}
