//! The conformance suite against Azurite (Microsoft's Azure Storage
//! emulator), through `seerstore::open` and a hand-built client.
#![cfg(all(feature = "azure", feature = "conformance"))]

mod common_servers;

use std::sync::Arc;

use common_servers::{conformance, probe_agrees, unique_prefix, Server};
use object_store::azure::MicrosoftAzureBuilder;
use seerstore::conformance::Capabilities;
use seerstore::ObjectStorage;

mod expected;

/// Azurite keeps every promise (it reports a missing blob's delete as
/// NotFound, which seerstore turns into `Ok`) but an atomic rename (Azure
/// blobs have none: copy, then delete).
fn caps() -> Capabilities {
    Capabilities::all()
        .atomic_rename(false)
        .conditional_copy(true, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_through_open_url() -> seerstore::Result<()> {
    let Some(a) = Server::azurite() else {
        return Ok(());
    };
    let storage = a.open(a.endpoint(), &unique_prefix("open"), &[]).await;
    conformance(
        "Azurite via open",
        storage,
        caps(),
        &expected::object_store(&[]),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_through_hand_built_client() -> seerstore::Result<()> {
    let Some(Server::Azure {
        endpoint,
        container,
        account,
        key,
    }) = Server::azurite()
    else {
        return Ok(());
    };
    let store = MicrosoftAzureBuilder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_account(&account)
        .with_access_key(&key)
        .with_container_name(&container)
        .with_http_connector(seerstore::http::StatusConnector)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .expect("Azure builder");
    let prefix = unique_prefix("client");
    let storage = Arc::new(ObjectStorage::new(Arc::new(store)).with_prefix(&prefix));
    conformance(
        "Azurite via ObjectStorage::new",
        storage,
        caps(),
        &expected::object_store(&[]),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_probe_agrees_with_declared_capabilities() -> seerstore::Result<()> {
    let Some(a) = Server::azurite() else {
        return Ok(());
    };
    let storage = a.open(a.endpoint(), &unique_prefix("probe"), &[]).await;
    probe_agrees("Azurite", &*storage, &caps()).await;
    Ok(())
}
