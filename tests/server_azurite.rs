//! The conformance suite against Azurite (Microsoft's Azure Storage
//! emulator), through `seerstore::open` and a hand-built client.
#![cfg(all(feature = "azure", feature = "conformance"))]

mod common_servers;

use std::sync::Arc;

use common_servers::{conformance, probe_agrees, unique_prefix, var};
use object_store::azure::MicrosoftAzureBuilder;
use seerstore::conformance::Capabilities;
use seerstore::ObjectStorage;

struct Azurite {
    endpoint: String,
    container: String,
    account: String,
    key: String,
}

fn azurite() -> Option<Azurite> {
    Some(Azurite {
        endpoint: var("Azurite", "AZURITE_ENDPOINT")?,
        container: var("Azurite", "AZURITE_CONTAINER")?,
        account: var("Azurite", "AZURITE_ACCOUNT")?,
        key: var("Azurite", "AZURITE_KEY")?,
    })
}

/// Azurite keeps every promise (it reports a missing blob's delete as
/// NotFound, which seerstore turns into `Ok`).
fn caps() -> Capabilities {
    Capabilities::all()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_through_open_url() -> seerstore::Result<()> {
    let Some(a) = azurite() else { return Ok(()) };
    let prefix = unique_prefix("open");
    let url = format!("az://{}/{prefix}", a.container);
    let storage = seerstore::open_with(
        &url,
        [
            ("endpoint", a.endpoint.as_str()),
            ("allow_http", "true"),
            ("account_name", a.account.as_str()),
            ("access_key", a.key.as_str()),
        ],
    )
    .await?;
    conformance("Azurite via open", storage, caps()).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_through_hand_built_client() -> seerstore::Result<()> {
    let Some(a) = azurite() else { return Ok(()) };
    let store = MicrosoftAzureBuilder::new()
        .with_endpoint(a.endpoint.clone())
        .with_allow_http(true)
        .with_account(&a.account)
        .with_access_key(&a.key)
        .with_container_name(&a.container)
        .with_http_connector(seerstore::http::StatusConnector)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .expect("Azure builder");
    let prefix = unique_prefix("client");
    let storage = Arc::new(ObjectStorage::new(Arc::new(store)).with_prefix(&prefix));
    conformance("Azurite via ObjectStorage::new", storage, caps()).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_probe_agrees_with_declared_capabilities() -> seerstore::Result<()> {
    let Some(a) = azurite() else { return Ok(()) };
    let url = format!("az://{}/{}", a.container, unique_prefix("probe"));
    let storage = seerstore::open_with(
        &url,
        [
            ("endpoint", a.endpoint.as_str()),
            ("allow_http", "true"),
            ("account_name", a.account.as_str()),
            ("access_key", a.key.as_str()),
        ],
    )
    .await?;
    probe_agrees("Azurite", &*storage, &caps()).await;
    Ok(())
}
