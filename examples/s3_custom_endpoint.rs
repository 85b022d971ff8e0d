//! S3 or an S3-compatible store (MinIO, R2, RustFS, moto, s3s-fs) at a
//! custom endpoint, opened from a URL.
//!
//! ```text
//! cargo run --example s3_custom_endpoint --features aws -- ENDPOINT BUCKET [PREFIX]
//! # or from the environment:
//! SEERSTORE_S3_ENDPOINT=http://127.0.0.1:9000 SEERSTORE_S3_BUCKET=db \
//!   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=us-east-1 \
//!   cargo run --example s3_custom_endpoint --features aws
//! ```
//!
//! Without an endpoint and a bucket it says what it needs and exits 0.
//! Credentials come from the environment (as object_store reads them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, ...), never
//! from the URL, so they stay out of logs and error messages.

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::WriteMode;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .or_else(|| std::env::var("SEERSTORE_S3_ENDPOINT").ok());
    let bucket = args
        .next()
        .or_else(|| std::env::var("SEERSTORE_S3_BUCKET").ok());
    let prefix = args
        .next()
        .or_else(|| std::env::var("SEERSTORE_S3_PREFIX").ok())
        .unwrap_or_else(|| "seerstore-example".into());
    let (Some(endpoint), Some(bucket)) = (endpoint, bucket) else {
        println!(
            "s3_custom_endpoint: no endpoint and bucket given, nothing to do.\n\
             usage: s3_custom_endpoint ENDPOINT BUCKET [PREFIX]\n\
             (or set SEERSTORE_S3_ENDPOINT and SEERSTORE_S3_BUCKET; credentials from AWS_* variables)"
        );
        return Ok(());
    };

    // `endpoint` makes requests path-style; `allow_http` permits a plain
    // http:// endpoint (a local server). object_store's own retries are
    // switched off by `open`: seerstore's retry loop is the only one.
    let allow_http = endpoint.starts_with("http://");
    let url =
        format!("s3://{bucket}/{prefix}?endpoint={endpoint}&allow_http={allow_http}&max_retries=3");
    let storage = seerstore::open(&url).await?;
    println!("opened {}", seerstore::redact_url(&url));

    storage
        .write("L0/000001.sst", Bytes::from(vec![7u8; 1 << 20]))
        .await?;
    let block = storage.read_range("L0/000001.sst", 4096..8192).await?;
    assert_eq!(block.len(), 4096);

    // Conditional writes map to If-None-Match / If-Match. Not every
    // S3-compatible server honours them: `seerstore probe URL` tells.
    let manifest = "MANIFEST";
    storage.delete(manifest).await?;
    let v1 = storage
        .write_with(manifest, Bytes::from_static(b"v1"), WriteMode::Create)
        .await?;
    if let Some(version) = v1.version {
        storage
            .write_with(
                manifest,
                Bytes::from_static(b"v2"),
                WriteMode::Update(version),
            )
            .await?;
    }

    let keys: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    println!("keys under {prefix}: {keys:?}");
    for key in keys {
        storage.delete(&key).await?;
    }
    Ok(())
}
