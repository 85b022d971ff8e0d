//! The conformance suite against moto (an S3 implementation in Python),
//! through `seerstore::open` and through a hand-built object_store client.
#![cfg(all(feature = "aws", feature = "conformance"))]

mod common_servers;

use std::sync::Arc;

use common_servers::{conformance, probe_agrees, s3_key_limits, unique_prefix, S3Server};
use seerstore::conformance::Capabilities;
use seerstore::ObjectStorage;

mod expected;

fn moto() -> Option<S3Server> {
    S3Server::from_env("moto", "MOTO")
}

/// moto keeps every promise, including one winner among racing
/// conditional writes, but an atomic rename (S3 has none: copy, then
/// delete).
fn caps(prefix: &str) -> Capabilities {
    s3_key_limits(
        Capabilities::all()
            .atomic_rename(false)
            .conditional_copy(true, false),
        prefix,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_through_open_url() -> seerstore::Result<()> {
    let Some(m) = moto() else { return Ok(()) };
    let prefix = unique_prefix("open");
    let storage = seerstore::open(&m.url(&prefix)).await?;
    conformance(
        "moto via open",
        storage,
        caps(&prefix),
        &expected::object_store(&[]),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_through_hand_built_client() -> seerstore::Result<()> {
    let Some(m) = moto() else { return Ok(()) };
    let prefix = unique_prefix("client");
    let storage = Arc::new(ObjectStorage::new(Arc::new(m.client())).with_prefix(&prefix));
    conformance(
        "moto via ObjectStorage::new",
        storage,
        caps(&prefix),
        &expected::object_store(&[]),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_probe_agrees_with_declared_capabilities() -> seerstore::Result<()> {
    let Some(m) = moto() else { return Ok(()) };
    let prefix = unique_prefix("probe");
    let storage = seerstore::open(&m.url(&prefix)).await?;
    probe_agrees("moto", &*storage, &caps(&prefix)).await;
    Ok(())
}
