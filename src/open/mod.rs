//! Opening a storage from a URL: [`open`] and [`open_with`]; the schemes
//! and options are documented on [`open`].
//!
//! A URL is parsed into a [`Target`] (`target.rs`), its options applied or
//! kept for the store's builder (`options.rs`); then the target is opened
//! here: a local directory, an in-memory store, or a cloud store built by
//! `cloud.rs`. `redact.rs` keeps credentials out of every error, and
//! `percent.rs` decodes a URL's escapes for both.

mod cloud;
mod options;
mod percent;
mod redact;
mod target;

use std::sync::Arc;

use crate::error::{Error, Result};
#[cfg(doc)]
use crate::RetryConfig;
use crate::{LocalStorage, ObjectStorage, Storage};

pub use redact::redact_url;
use target::{Scheme, Target};

/// Opens the storage `url` names.
///
/// | URL | backend |
/// | --- | --- |
/// | `file:///abs/dir` | [`LocalStorage`] rooted at `/abs/dir` |
/// | `memory://` (optionally `memory:///prefix`) | [`ObjectStorage`] over object_store's `InMemory` |
/// | `s3://bucket/prefix` | [`ObjectStorage`] over S3 or an S3-compatible store (feature `aws`) |
/// | `gs://bucket/prefix` | [`ObjectStorage`] over Google Cloud Storage (feature `gcp`) |
/// | `az://container/prefix` | [`ObjectStorage`] over Azure Blob Storage (feature `azure`) |
///
/// Options come from the query string (`s3://b/p?endpoint=http://localhost:9000&allow_http=true`)
/// and from [`open_with`]'s list. Each option is either one of this crate's:
///
/// | option | meaning |
/// | --- | --- |
/// | `max_retries` | [`RetryConfig::max_retries`] |
/// | `initial_backoff_ms` | [`RetryConfig::initial_backoff`] |
/// | `max_backoff_ms` | [`RetryConfig::max_backoff`] |
/// | `attempt_timeout_ms` | [`RetryConfig::attempt_timeout`] (`0` = none) |
/// | `jitter` | [`RetryConfig::jitter`] (`true`/`false`) |
/// | `part_size` | [`ObjectStorage::with_part_size`] (bytes) |
/// | `max_parts_in_flight` | [`ObjectStorage::with_max_parts_in_flight`] |
/// | `max_concurrency` | [`ObjectStorage::with_max_concurrency`] (requests in flight) |
/// | `coalesce` | [`ObjectStorage::with_coalesce`] (bytes) |
///
/// or a configuration key of the object_store builder, spelled as
/// object_store parses it (`AmazonS3ConfigKey`, `GoogleConfigKey`,
/// `AzureConfigKey`: `endpoint`, `region`, `allow_http`,
/// `access_key_id`, `secret_access_key`, `account_name`, ...). Credentials
/// not given as options come from the environment (the builders'
/// `from_env`). An unknown option is an [`Error::InvalidUrl`].
///
/// An option that names a URL (`endpoint`, `proxy_url`, ...) must be an
/// `http://` or `https://` URL with a host and without credentials; any
/// other value is an [`Error::InvalidUrl`] here, not a failure of the first
/// request.
///
/// Stores built here install `seerstore::http::StatusConnector`
/// (retryable HTTP statuses stay typed) and turn object_store's own retries
/// off, so this crate's retry loop is the only one. object_store's bound on
/// a whole request (30 s) is raised to a day unless the `timeout` option
/// sets it, so that a large transfer that keeps moving is not cut off:
/// [`RetryConfig::attempt_timeout`] bounds the waits instead. An S3 store with a custom
/// endpoint uses path-style requests and, unless configured otherwise,
/// `copy_if_not_exists = multipart`.
///
/// Errors never echo credentials: the URL in [`Error::InvalidUrl`] has its
/// user and password and every secret-looking query value replaced by `***`.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> seerstore::Result<()> {
/// use bytes::Bytes;
/// let storage = seerstore::open("memory:///tenant-1?max_retries=0").await?;
/// storage.write("MANIFEST", Bytes::from_static(b"v1")).await?;
/// assert_eq!(storage.read("MANIFEST").await?, "v1");
/// # Ok(())
/// # }
/// ```
pub async fn open(url: &str) -> Result<Arc<dyn Storage>> {
    open_with(url, std::iter::empty::<(String, String)>()).await
}

/// Like [`open`], with options besides those of the query string
/// (the same names; an option given here overrides the query's).
pub async fn open_with<I, K, V>(url: &str, options: I) -> Result<Arc<dyn Storage>>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let target = Target::parse(url, options)?;
    target.open().await
}

/// A store, and the same store as a `MultipartStore`.
type Stores = (
    Arc<dyn object_store::ObjectStore>,
    Arc<dyn object_store::multipart::MultipartStore>,
);

impl Target {
    /// An [`ObjectStorage`] over `store` with this target's prefix, retry
    /// configuration and tuning options.
    fn object_storage(&self, store: Arc<dyn object_store::ObjectStore>) -> Result<ObjectStorage> {
        let mut storage = ObjectStorage::new(store)
            .try_with_prefix(self.prefix.clone())
            .map_err(|e| Error::InvalidUrl {
                url: self.redacted.clone(),
                reason: "the path is not a valid key prefix".into(),
                source: Some(Box::new(e)),
            })?
            .with_retry(self.retry.clone());
        if let Some(part_size) = self.part_size {
            storage = storage.with_part_size(part_size);
        }
        if let Some(max) = self.max_parts_in_flight {
            storage = storage.with_max_parts_in_flight(max);
        }
        if let Some(max) = self.max_concurrency {
            storage = storage.with_max_concurrency(max);
        }
        if let Some(coalesce) = self.coalesce {
            storage = storage.with_coalesce(coalesce);
        }
        Ok(storage)
    }

    /// Opens the backend the scheme names.
    async fn open(self) -> Result<Arc<dyn Storage>> {
        let (store, multipart): Stores = match self.scheme {
            Scheme::File => {
                let local = LocalStorage::open(&self.prefix).await?;
                return Ok(Arc::new(local));
            }
            Scheme::Memory => {
                let memory = Arc::new(object_store::memory::InMemory::new());
                (memory.clone(), memory)
            }
            Scheme::Cloud(cloud) => cloud::stores(cloud, &self)?,
        };
        // Parts of streaming uploads go through the MultipartStore side of
        // the same store, so that each part is retried on its own.
        Ok(Arc::new(
            self.object_storage(store)?.with_multipart_store(multipart),
        ))
    }
}
