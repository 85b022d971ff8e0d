//! The conformance suite through `Cached` around moto (also with a disk
//! tier), s3s-fs and Azurite, each with the capabilities its own server
//! test declares (tests/server_moto.rs, server_s3s.rs, server_azurite.rs).
//! Skips, with a message, when the servers' variables are absent; fails
//! when `SEERSTORE_TEST_SERVERS=1` and one is missing.
#![cfg(all(feature = "aws", feature = "azure", feature = "conformance"))]

mod common_servers;

use std::sync::Arc;

use common_servers::{conformance, s3_key_limits, unique_prefix, var};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStore;
use seerstore::conformance::Capabilities;
use seerstore::{Cached, ObjectStorage};

mod expected;

fn no_client_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 0,
        ..Default::default()
    }
}

/// An S3 client for the server whose variables start with `SEERSTORE_TEST_<tag>_`.
fn s3(server: &str, tag: &str) -> Option<Arc<dyn ObjectStore>> {
    let endpoint = var(server, &format!("{tag}_ENDPOINT"))?;
    let bucket = var(server, &format!("{tag}_BUCKET"))?;
    let key_id = var(server, &format!("{tag}_ACCESS_KEY_ID"))?;
    let secret = var(server, &format!("{tag}_SECRET_ACCESS_KEY"))?;
    let region = var(server, &format!("{tag}_REGION"))?;
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_copy_if_not_exists(object_store::aws::S3CopyIfNotExists::Multipart)
        .with_region(region)
        .with_access_key_id(key_id)
        .with_secret_access_key(secret)
        .with_bucket_name(bucket)
        .with_http_connector(seerstore::http::StatusConnector)
        .with_retry(no_client_retries())
        .build()
        .expect("S3 builder");
    Some(Arc::new(store))
}

/// Small blocks, so that every check's objects span many of them.
fn cached(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<Cached<ObjectStorage>> {
    Arc::new(Cached::new(ObjectStorage::new(store).with_prefix(prefix)).with_block_size(16 * 1024))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_moto() {
    let Some(store) = s3("moto", "MOTO") else {
        return;
    };
    let prefix = unique_prefix("cached");
    // As declared in tests/server_moto.rs: every promise, S3's key limit.
    let caps = s3_key_limits(
        Capabilities::all()
            .atomic_rename(false)
            .conditional_copy(true, false),
        &prefix,
    );
    conformance(
        "cached moto",
        cached(store, &prefix),
        caps,
        &expected::object_store(&[]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_s3s_fs() {
    let Some(store) = s3("s3s-fs", "S3S") else {
        return;
    };
    let prefix = unique_prefix("cached");
    // As declared in tests/server_s3s.rs: objects are files (no `a` and
    // `a/b`, 255-byte segments), conditions checked but not atomically,
    // whole keys of at most 154 bytes, data and ETag replaced apart, no
    // atomic rename.
    const S3S_FS_MAX_KEY: usize = 154;
    let caps = Capabilities::all()
        .atomic_rename(false)
        .conditional_copy(true, false)
        .consistent_reads(false)
        .file_and_dir_keys(false)
        .atomic_conditionals(false)
        .key_limits(S3S_FS_MAX_KEY - prefix.len() - 1, 255);
    conformance(
        "cached s3s-fs",
        cached(store, &prefix),
        caps,
        &expected::object_store(&[
            "file_and_dir_keys",
            "racing_creates_one_winner",
            "racing_updates_one_winner",
            "read_with_consistent_under_replacement",
            "read_with_compare_and_swap_counter",
        ]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_azurite() {
    let Some(endpoint) = var("Azurite", "AZURITE_ENDPOINT") else {
        return;
    };
    let Some(container) = var("Azurite", "AZURITE_CONTAINER") else {
        return;
    };
    let Some(account) = var("Azurite", "AZURITE_ACCOUNT") else {
        return;
    };
    let Some(key) = var("Azurite", "AZURITE_KEY") else {
        return;
    };
    let store = MicrosoftAzureBuilder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_account(account)
        .with_access_key(key)
        .with_container_name(container)
        .with_http_connector(seerstore::http::StatusConnector)
        .with_retry(no_client_retries())
        .build()
        .expect("Azure builder");
    let prefix = unique_prefix("cached");
    // As declared in tests/server_azurite.rs: every promise but an atomic
    // rename.
    conformance(
        "cached Azurite",
        cached(Arc::new(store), &prefix),
        Capabilities::all()
            .atomic_rename(false)
            .conditional_copy(true, false),
        &expected::object_store(&[]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_moto_with_a_disk_tier() {
    let Some(store) = s3("moto", "MOTO") else {
        return;
    };
    let prefix = unique_prefix("cached-disk");
    let caps = s3_key_limits(
        Capabilities::all()
            .atomic_rename(false)
            .conditional_copy(true, false),
        &prefix,
    );
    // A memory cache of 4 blocks above a 16 MiB disk tier: most blocks
    // that are read again come back from disk.
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Arc::new(
        Cached::new(ObjectStorage::new(store).with_prefix(&prefix))
            .with_block_size(16 * 1024)
            .with_capacity(4 * (16 * 1024 + 64))
            .with_disk_tier(dir.path(), 16 << 20)
            .await
            .expect("disk tier"),
    );
    conformance(
        "Cached over moto, disk tier",
        storage.clone(),
        caps,
        &expected::object_store(&[]),
    )
    .await;
    println!(
        "cached moto with a disk tier: {} blocks fetched, {} read from disk",
        storage.blocks_fetched(),
        storage.disk_hits()
    );
}
