//! The builders of the cloud backends (S3, GCS, Azure), each behind its
//! cargo feature: which configuration keys each knows, and a store built
//! from a [`Target`]'s options and the environment (the builders'
//! `from_env`), with this crate's connector and without object_store's
//! retries.

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
use std::sync::Arc;

use crate::error::Result;

use super::target::Target;
use super::Stores;

/// The schemes whose store an object_store cloud builder makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cloud {
    S3,
    Gcs,
    Azure,
}

impl Cloud {
    /// The scheme as the error for a missing feature spells it, and that
    /// feature.
    fn feature(self) -> (&'static str, &'static str) {
        match self {
            Cloud::S3 => ("s3://", "aws"),
            Cloud::Gcs => ("gs://", "gcp"),
            Cloud::Azure => ("az://", "azure"),
        }
    }
}

/// object_store's bound on a whole request (30 s by default), raised
/// unless an option sets it: it would cut off a large transfer that
/// keeps moving, while this crate's `attempt_timeout` already bounds
/// the wait for the first byte and each stall between chunks.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
const WHOLE_REQUEST_TIMEOUT: &str = "1day";

/// What a cloud's builder makes of an option's key.
#[cfg_attr(
    not(any(feature = "aws", feature = "gcp", feature = "azure")),
    allow(dead_code)
)]
enum StoreKey {
    /// One of its configuration keys, by its canonical name.
    Known(String),
    Unknown,
    /// The cloud's cargo feature is off: the key cannot be checked, and
    /// opening fails anyway.
    Unchecked,
}

#[cfg_attr(
    not(any(feature = "aws", feature = "gcp", feature = "azure")),
    allow(unused_variables)
)]
fn store_key(cloud: Cloud, key: &str) -> StoreKey {
    match cloud {
        #[cfg(feature = "aws")]
        Cloud::S3 => canonical::<object_store::aws::AmazonS3ConfigKey>(key),
        #[cfg(feature = "gcp")]
        Cloud::Gcs => canonical::<object_store::gcp::GoogleConfigKey>(key),
        #[cfg(feature = "azure")]
        Cloud::Azure => canonical::<object_store::azure::AzureConfigKey>(key),
        // Every cloud is matched above when every feature is on.
        #[allow(unreachable_patterns)]
        _ => StoreKey::Unchecked,
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn canonical<K: std::str::FromStr + AsRef<str>>(key: &str) -> StoreKey {
    match key.parse::<K>() {
        Ok(key) => StoreKey::Known(key.as_ref().to_owned()),
        Err(_) => StoreKey::Unknown,
    }
}

/// Whether the cloud's builder takes `key` (always, when its feature is
/// off: opening says which feature it needs).
pub(super) fn key_known(cloud: Cloud, key: &str) -> bool {
    !matches!(store_key(cloud, key), StoreKey::Unknown)
}

/// The options of each cloud that name a URL (endpoints, proxies).
pub(super) fn is_url_option(cloud: Cloud, key: &str) -> bool {
    let StoreKey::Known(name) = store_key(cloud, key) else {
        return false;
    };
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
}

/// Builds the store of `cloud` for `target`, or says which cargo feature
/// it needs.
pub(super) fn stores(cloud: Cloud, target: &Target) -> Result<Stores> {
    match cloud {
        #[cfg(feature = "aws")]
        Cloud::S3 => s3(target),
        #[cfg(feature = "gcp")]
        Cloud::Gcs => gcs(target),
        #[cfg(feature = "azure")]
        Cloud::Azure => azure(target),
        // Every cloud is matched above when every feature is on.
        #[allow(unreachable_patterns)]
        off => {
            let (scheme, feature) = off.feature();
            Err(target.invalid(format!(
                "{scheme} needs seerstore's cargo feature {feature:?}"
            )))
        }
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn no_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 0,
        ..object_store::RetryConfig::default()
    }
}

/// Configures `builder` through `with_config`: object_store's bound on a
/// whole request raised to [`WHOLE_REQUEST_TIMEOUT`] (`client` makes the
/// builder's key of a client option), then each of `target`'s store
/// options, parsed as the builder's key type `K`, in order, so that an
/// option may set the bound after all.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn configure<B, K>(
    target: &Target,
    builder: B,
    client: fn(object_store::ClientConfigKey) -> K,
    mut with_config: impl FnMut(B, K, &str) -> B,
) -> Result<B>
where
    K: std::str::FromStr<Err = object_store::Error>,
{
    let timeout = client(object_store::ClientConfigKey::Timeout);
    let mut builder = with_config(builder, timeout, WHOLE_REQUEST_TIMEOUT);
    for (key, value) in &target.store_options {
        let key: K = key.parse().map_err(|e| target.build_error(e))?;
        builder = with_config(builder, key, value);
    }
    Ok(builder)
}

/// Builds the store with this crate's connector and without object_store's
/// own retries, and hands it out once as an `ObjectStore` and once as a
/// `MultipartStore`: the same calls on builder types that share no trait.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
macro_rules! build {
    ($target:expr, $builder:expr) => {{
        let built = $builder
            .with_http_connector(crate::http::StatusConnector)
            .with_retry(no_retries())
            .build();
        let store = Arc::new(built.map_err(|e| $target.build_error(e))?);
        let stores: Stores = (store.clone(), store);
        Ok(stores)
    }};
}

#[cfg(feature = "aws")]
fn s3(target: &Target) -> Result<Stores> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
    let builder = AmazonS3Builder::from_env().with_bucket_name(&target.bucket);
    let mut has_endpoint = false;
    let mut set_style = false;
    let mut set_copy = false;
    let client = AmazonS3ConfigKey::Client;
    let mut builder = configure(target, builder, client, |builder, key, value| {
        match key {
            AmazonS3ConfigKey::Endpoint => has_endpoint = true,
            AmazonS3ConfigKey::VirtualHostedStyleRequest => set_style = true,
            AmazonS3ConfigKey::CopyIfNotExists => set_copy = true,
            _ => {}
        }
        builder.with_config(key, value)
    })?;
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
    build!(target, builder)
}

#[cfg(feature = "gcp")]
fn gcs(target: &Target) -> Result<Stores> {
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    let builder = GoogleCloudStorageBuilder::from_env().with_bucket_name(&target.bucket);
    let builder = configure(target, builder, GoogleConfigKey::Client, |b, k, v| {
        b.with_config(k, v)
    })?;
    build!(target, builder)
}

#[cfg(feature = "azure")]
fn azure(target: &Target) -> Result<Stores> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    let builder = MicrosoftAzureBuilder::from_env().with_container_name(&target.bucket);
    let builder = configure(target, builder, AzureConfigKey::Client, |b, k, v| {
        b.with_config(k, v)
    })?;
    build!(target, builder)
}
