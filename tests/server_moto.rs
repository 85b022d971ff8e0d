//! The conformance suite against moto (an S3 implementation in Python),
//! through `seerstore::open` and through a hand-built object_store client.
#![cfg(all(feature = "aws", feature = "conformance"))]

mod common_servers;

use std::sync::Arc;

use common_servers::{conformance, probe_agrees, s3_key_limits, unique_prefix, var};
use object_store::aws::AmazonS3Builder;
use seerstore::conformance::Capabilities;
use seerstore::ObjectStorage;

struct Moto {
    endpoint: String,
    bucket: String,
    key_id: String,
    secret: String,
    region: String,
}

fn moto() -> Option<Moto> {
    Some(Moto {
        endpoint: var("moto", "MOTO_ENDPOINT")?,
        bucket: var("moto", "MOTO_BUCKET")?,
        key_id: var("moto", "MOTO_ACCESS_KEY_ID")?,
        secret: var("moto", "MOTO_SECRET_ACCESS_KEY")?,
        region: var("moto", "MOTO_REGION")?,
    })
}

/// moto keeps every promise, including one winner among racing
/// conditional writes.
fn caps(prefix: &str) -> Capabilities {
    s3_key_limits(Capabilities::all(), prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_through_open_url() -> seerstore::Result<()> {
    let Some(m) = moto() else { return Ok(()) };
    let prefix = unique_prefix("open");
    let url = format!(
        "s3://{}/{prefix}?endpoint={}&region={}&access_key_id={}&secret_access_key={}&allow_http=true",
        m.bucket, m.endpoint, m.region, m.key_id, m.secret
    );
    let storage = seerstore::open(&url).await?;
    conformance("moto via open", storage, caps(&prefix)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_through_hand_built_client() -> seerstore::Result<()> {
    let Some(m) = moto() else { return Ok(()) };
    let store = AmazonS3Builder::new()
        .with_endpoint(&m.endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_region(&m.region)
        .with_access_key_id(&m.key_id)
        .with_secret_access_key(&m.secret)
        .with_bucket_name(&m.bucket)
        .with_http_connector(seerstore::http::StatusConnector)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .expect("S3 builder");
    let prefix = unique_prefix("client");
    let storage = Arc::new(ObjectStorage::new(Arc::new(store)).with_prefix(&prefix));
    conformance("moto via ObjectStorage::new", storage, caps(&prefix)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_probe_agrees_with_declared_capabilities() -> seerstore::Result<()> {
    let Some(m) = moto() else { return Ok(()) };
    let prefix = unique_prefix("probe");
    let url = format!(
        "s3://{}/{prefix}?endpoint={}&region={}&access_key_id={}&secret_access_key={}&allow_http=true",
        m.bucket, m.endpoint, m.region, m.key_id, m.secret
    );
    let storage = seerstore::open(&url).await?;
    probe_agrees("moto", &*storage, &caps(&prefix)).await;
    Ok(())
}
