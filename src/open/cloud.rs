//! The builders of the cloud backends (S3, GCS, Azure), each behind its
//! cargo feature: which configuration keys each knows, and a store built
//! from a [`Target`]'s options and the environment (the builders'
//! `from_env`), with this crate's connector and without object_store's
//! retries.

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
use std::sync::Arc;

use crate::error::Result;

use super::target::{Scheme, Target};
use super::Stores;

/// object_store's bound on a whole request (30 s by default), raised
/// unless an option sets it: it would cut off a large transfer that
/// keeps moving, while this crate's `attempt_timeout` already bounds
/// the wait for the first byte and each stall between chunks.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
const WHOLE_REQUEST_TIMEOUT: &str = "1day";

/// The options of each scheme that name a URL (endpoints, proxies).
pub(super) fn is_url_option(scheme: Scheme, key: &str) -> bool {
    let canonical = match scheme {
        Scheme::File | Scheme::Memory => None,
        Scheme::S3 => s3_canonical(key),
        Scheme::Gcs => gcs_canonical(key),
        Scheme::Azure => azure_canonical(key),
    };
    canonical.is_some_and(|name| {
        matches!(
            name.as_str(),
            "aws_endpoint"
                | "aws_endpoint_url_s3"
                | "aws_endpoint_url_sts"
                | "aws_metadata_endpoint"
                | "aws_container_credentials_full_uri"
                | "azure_storage_endpoint"
                | "azure_msi_endpoint"
                | "azure_storage_authority_host"
                | "azure_fabric_token_service_url"
                | "google_base_url"
                | "proxy_url"
        )
    })
}

#[cfg(feature = "aws")]
fn s3_canonical(key: &str) -> Option<String> {
    let key = key.parse::<object_store::aws::AmazonS3ConfigKey>().ok()?;
    Some(key.as_ref().to_owned())
}

#[cfg(not(feature = "aws"))]
fn s3_canonical(_: &str) -> Option<String> {
    None
}

#[cfg(feature = "gcp")]
fn gcs_canonical(key: &str) -> Option<String> {
    let key = key.parse::<object_store::gcp::GoogleConfigKey>().ok()?;
    Some(key.as_ref().to_owned())
}

#[cfg(not(feature = "gcp"))]
fn gcs_canonical(_: &str) -> Option<String> {
    None
}

#[cfg(feature = "azure")]
fn azure_canonical(key: &str) -> Option<String> {
    let key = key.parse::<object_store::azure::AzureConfigKey>().ok()?;
    Some(key.as_ref().to_owned())
}

#[cfg(not(feature = "azure"))]
fn azure_canonical(_: &str) -> Option<String> {
    None
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn no_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 0,
        ..object_store::RetryConfig::default()
    }
}

#[cfg(feature = "aws")]
pub(super) fn s3_key_known(key: &str) -> bool {
    key.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok()
}

#[cfg(feature = "aws")]
pub(super) fn s3(target: &Target) -> Result<Stores> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&target.bucket)
        .with_config(
            AmazonS3ConfigKey::Client(object_store::ClientConfigKey::Timeout),
            WHOLE_REQUEST_TIMEOUT,
        );
    let mut has_endpoint = false;
    let mut set_style = false;
    let mut set_copy = false;
    for (key, value) in &target.store_options {
        let key: AmazonS3ConfigKey = key.parse().map_err(|e| target.build_error(e))?;
        match key {
            AmazonS3ConfigKey::Endpoint => has_endpoint = true,
            AmazonS3ConfigKey::VirtualHostedStyleRequest => set_style = true,
            AmazonS3ConfigKey::CopyIfNotExists => set_copy = true,
            _ => {}
        }
        builder = builder.with_config(key, value);
    }
    has_endpoint |= builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .is_some();
    if has_endpoint {
        if !set_style {
            builder = builder.with_virtual_hosted_style_request(false);
        }
        if !set_copy {
            builder = builder.with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
        }
    }
    let store = builder
        .with_http_connector(crate::http::StatusConnector)
        .with_retry(no_retries())
        .build()
        .map_err(|e| target.build_error(e))?;
    let store = Arc::new(store);
    Ok((store.clone(), store))
}

#[cfg(not(feature = "aws"))]
pub(super) fn s3_key_known(_: &str) -> bool {
    true
}

#[cfg(not(feature = "aws"))]
pub(super) fn s3(target: &Target) -> Result<Stores> {
    Err(target.invalid("s3:// needs seerstore's cargo feature \"aws\"".into()))
}

#[cfg(feature = "gcp")]
pub(super) fn gcs_key_known(key: &str) -> bool {
    key.parse::<object_store::gcp::GoogleConfigKey>().is_ok()
}

#[cfg(feature = "gcp")]
pub(super) fn gcs(target: &Target) -> Result<Stores> {
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(&target.bucket)
        .with_config(
            GoogleConfigKey::Client(object_store::ClientConfigKey::Timeout),
            WHOLE_REQUEST_TIMEOUT,
        );
    for (key, value) in &target.store_options {
        let key: GoogleConfigKey = key.parse().map_err(|e| target.build_error(e))?;
        builder = builder.with_config(key, value);
    }
    let store = builder
        .with_http_connector(crate::http::StatusConnector)
        .with_retry(no_retries())
        .build()
        .map_err(|e| target.build_error(e))?;
    let store = Arc::new(store);
    Ok((store.clone(), store))
}

#[cfg(not(feature = "gcp"))]
pub(super) fn gcs_key_known(_: &str) -> bool {
    true
}

#[cfg(not(feature = "gcp"))]
pub(super) fn gcs(target: &Target) -> Result<Stores> {
    Err(target.invalid("gs:// needs seerstore's cargo feature \"gcp\"".into()))
}

#[cfg(feature = "azure")]
pub(super) fn azure_key_known(key: &str) -> bool {
    key.parse::<object_store::azure::AzureConfigKey>().is_ok()
}

#[cfg(feature = "azure")]
pub(super) fn azure(target: &Target) -> Result<Stores> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_container_name(&target.bucket)
        .with_config(
            AzureConfigKey::Client(object_store::ClientConfigKey::Timeout),
            WHOLE_REQUEST_TIMEOUT,
        );
    for (key, value) in &target.store_options {
        let key: AzureConfigKey = key.parse().map_err(|e| target.build_error(e))?;
        builder = builder.with_config(key, value);
    }
    let store = builder
        .with_http_connector(crate::http::StatusConnector)
        .with_retry(no_retries())
        .build()
        .map_err(|e| target.build_error(e))?;
    let store = Arc::new(store);
    Ok((store.clone(), store))
}

#[cfg(not(feature = "azure"))]
pub(super) fn azure_key_known(_: &str) -> bool {
    true
}

#[cfg(not(feature = "azure"))]
pub(super) fn azure(target: &Target) -> Result<Stores> {
    Err(target.invalid("az:// needs seerstore's cargo feature \"azure\"".into()))
}
