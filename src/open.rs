//! Opening a storage from a URL: [`open`] and [`open_with`]; the schemes
//! and options are documented on [`open`].

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::{LocalStorage, ObjectStorage, RetryConfig, Storage};

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

/// A parsed storage URL, before anything is opened.
#[derive(Debug)]
struct Target {
    redacted: String,
    scheme: Scheme,
    /// Bucket or container.
    #[cfg_attr(
        not(any(feature = "aws", feature = "gcp", feature = "azure")),
        allow(dead_code)
    )]
    bucket: String,
    /// The key prefix (the URL's path, decoded, without the leading `/`).
    prefix: String,
    retry: RetryConfig,
    part_size: Option<usize>,
    max_parts_in_flight: Option<usize>,
    max_concurrency: Option<usize>,
    coalesce: Option<u64>,
    /// Options for the object_store builder, in order.
    store_options: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    File,
    Memory,
    S3,
    Gcs,
    Azure,
}

impl Target {
    fn parse<I, K, V>(url: &str, extra: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let redacted = redact_url(url);
        let invalid = |reason: String| Error::InvalidUrl {
            url: redacted.clone(),
            reason,
            source: None,
        };
        let parsed = Url::parse(url).map_err(|e| Error::InvalidUrl {
            url: redacted.clone(),
            reason: format!("not a URL: {e}"),
            source: Some(Box::new(e)),
        })?;
        let scheme = match parsed.scheme() {
            "file" => Scheme::File,
            "memory" => Scheme::Memory,
            "s3" | "s3a" => Scheme::S3,
            "gs" => Scheme::Gcs,
            "az" | "azure" => Scheme::Azure,
            other => {
                return Err(invalid(format!(
                    "unknown scheme {other:?} (expected file, memory, s3, gs or az)"
                )))
            }
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "credentials in the URL are not accepted; pass them as options or in the environment"
                    .into(),
            ));
        }
        if parsed.port().is_some() {
            return Err(invalid("a port is not allowed here".into()));
        }
        if parsed.fragment().is_some() {
            return Err(invalid("a fragment ('#...') is not allowed".into()));
        }
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let path = percent_decode(parsed.path())
            .ok_or_else(|| invalid("the path is not valid percent-encoded UTF-8".into()))?;
        let (bucket, prefix) = match scheme {
            Scheme::File => {
                if !host.is_empty() && host != "localhost" {
                    return Err(invalid(format!(
                        "file URLs take an absolute path (file:///abs/dir), not a host or relative path ({host:?})"
                    )));
                }
                if !path.starts_with('/') {
                    return Err(invalid("file URLs take an absolute path".into()));
                }
                // Opening sweeps temp files below the root: never walk the
                // whole filesystem because of a short URL (`file:`, `file:///`).
                if path.trim_end_matches('/').is_empty() {
                    return Err(invalid(
                        "the filesystem root cannot be a storage root (file:///abs/dir)".into(),
                    ));
                }
                (String::new(), path)
            }
            Scheme::Memory => {
                if !host.is_empty() {
                    return Err(invalid(
                        "memory URLs take no host: memory:// or memory:///prefix".into(),
                    ));
                }
                (String::new(), path.trim_start_matches('/').to_owned())
            }
            Scheme::S3 | Scheme::Gcs | Scheme::Azure => {
                if host.is_empty() {
                    return Err(invalid("missing bucket (or container) name".into()));
                }
                (host, path.trim_start_matches('/').to_owned())
            }
        };

        let mut target = Target {
            redacted: redacted.clone(),
            scheme,
            bucket,
            prefix,
            retry: RetryConfig::default(),
            part_size: None,
            max_parts_in_flight: None,
            max_concurrency: None,
            coalesce: None,
            store_options: Vec::new(),
        };
        let query: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let extra = extra.into_iter().map(|(k, v)| (k.into(), v.into()));
        for (key, value) in query.into_iter().chain(extra) {
            target.option(&key, &value)?;
        }
        if scheme == Scheme::File && !target.store_options.is_empty() {
            return Err(invalid(format!(
                "file URLs take no store options (got {:?})",
                target.store_options[0].0
            )));
        }
        Ok(target)
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidUrl {
            url: self.redacted.clone(),
            reason,
            source: None,
        }
    }

    /// Applies one option: ours, or kept for the store's builder.
    fn option(&mut self, key: &str, value: &str) -> Result<()> {
        let shown = if is_secret_key(key) { "***" } else { value };
        let bad = |what: &str| format!("option {key}={shown:?}: expected {what}");
        let millis = |this: &Self| {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| this.invalid(bad("a number of milliseconds")))
        };
        match key {
            "max_retries" => {
                self.retry.max_retries =
                    value.parse().map_err(|_| self.invalid(bad("a number")))?;
            }
            "initial_backoff_ms" => self.retry.initial_backoff = millis(self)?,
            "max_backoff_ms" => self.retry.max_backoff = millis(self)?,
            "attempt_timeout_ms" => {
                let timeout = millis(self)?;
                self.retry.attempt_timeout = (!timeout.is_zero()).then_some(timeout);
            }
            "jitter" => {
                self.retry.jitter = value
                    .parse()
                    .map_err(|_| self.invalid(bad("true or false")))?;
            }
            "part_size" => {
                self.part_size = Some(value.parse().map_err(|_| self.invalid(bad("bytes")))?);
            }
            "max_concurrency" => {
                self.max_concurrency =
                    Some(value.parse().map_err(|_| self.invalid(bad("a number")))?);
            }
            "max_parts_in_flight" => {
                self.max_parts_in_flight =
                    Some(value.parse().map_err(|_| self.invalid(bad("a number")))?);
            }
            "coalesce" => {
                self.coalesce = Some(value.parse().map_err(|_| self.invalid(bad("bytes")))?);
            }
            _ => {
                self.check_store_key(key)?;
                self.check_store_value(key, value)?;
                self.store_options.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(())
    }

    /// Refuses a key the scheme's builder does not know.
    fn check_store_key(&self, key: &str) -> Result<()> {
        let known = match self.scheme {
            Scheme::File | Scheme::Memory => false,
            Scheme::S3 => cloud::s3_key_known(key),
            Scheme::Gcs => cloud::gcs_key_known(key),
            Scheme::Azure => cloud::azure_key_known(key),
        };
        if known {
            Ok(())
        } else {
            Err(self.invalid(format!("unknown option {key:?}")))
        }
    }

    /// Refuses a value whose form is known and wrong, so that `open` fails
    /// rather than the first request: an endpoint (or other URL option)
    /// that is not an `http(s)://host` URL, or carries credentials. (The
    /// builders check booleans and durations themselves.)
    fn check_store_value(&self, key: &str, value: &str) -> Result<()> {
        if !cloud::is_url_option(self.scheme, key) {
            return Ok(());
        }
        let shown = if is_secret_key(key) {
            "***".to_owned()
        } else {
            redact_url(value)
        };
        let bad = |why: String| self.invalid(format!("option {key}={shown:?}: {why}"));
        let url = Url::parse(value).map_err(|e| bad(format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("expected an http:// or https:// URL".into()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("the URL names no host".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "credentials in the URL are not accepted; pass them as options".into(),
            ));
        }
        if url.fragment().is_some() {
            return Err(bad("a fragment ('#...') is not allowed".into()));
        }
        Ok(())
    }

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
            Scheme::S3 => cloud::s3(&self)?,
            Scheme::Gcs => cloud::gcs(&self)?,
            Scheme::Azure => cloud::azure(&self)?,
        };
        // Parts of streaming uploads go through the MultipartStore side of
        // the same store, so that each part is retried on its own.
        Ok(Arc::new(
            self.object_storage(store)?.with_multipart_store(multipart),
        ))
    }

    /// An error building the store, credentials kept out.
    #[allow(dead_code)]
    fn build_error(&self, err: object_store::Error) -> Error {
        Error::InvalidUrl {
            url: self.redacted.clone(),
            reason: "the object store could not be configured".into(),
            source: Some(Box::new(err)),
        }
    }
}

/// A store, and the same store as a `MultipartStore`.
type Stores = (
    Arc<dyn object_store::ObjectStore>,
    Arc<dyn object_store::multipart::MultipartStore>,
);

/// The builders of the cloud backends, each behind its cargo feature.
mod cloud {
    use super::*;

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
}

/// Whether an option's value should never be shown.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "sas",
        "password",
        "key",
        "sig",
        "credential",
        "auth",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `url` with its user, password, fragment and secret-looking query values
/// (keys containing `secret`, `token`, `sas`, `password`, `key`, `sig`,
/// `credential` or `auth`) replaced by `***`, and so the user info of a URL
/// given as a query value (`endpoint=http://user:pw@host`): what every error of this
/// crate shows of a URL. Works on text that does not parse as a URL too.
///
/// ```
/// let shown = seerstore::redact_url("s3://b/p?region=eu-west-1&secret_access_key=hunter2");
/// assert_eq!(shown, "s3://b/p?region=eu-west-1&secret_access_key=***");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    // A URL parser skips any run of `/` and `\` before the authority of
    // special schemes (`ws:///user:pw@host`); so does the redaction.
    let slashes = &rest[..rest.len() - rest.trim_start_matches(['/', '\\']).len()];
    let rest = &rest[slashes.len()..];
    let (user_info, rest) = match user_info_end(rest) {
        Some(at) => (true, &rest[at + 1..]),
        None => (false, rest),
    };
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((head, _)) => (head, Some("***")),
        None => (rest, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(slashes);
    if user_info {
        out.push_str("***@");
    }
    out.push_str(base);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(&percent_decode(key).unwrap_or_default()) => {
                    format!("{key}=***")
                }
                // A value that is a URL itself (an endpoint) may carry a
                // user and password of its own.
                Some((key, value)) => {
                    let decoded = percent_decode(value).unwrap_or_else(|| value.to_owned());
                    let hidden = redact_url(&decoded);
                    if hidden == decoded {
                        pair.to_owned()
                    } else {
                        format!("{key}={hidden}")
                    }
                }
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Where the user info of `rest` (the text after `scheme://`) ends: the
/// index of its last `@`, or `None` if there is none.
///
/// Normally the user info lies before the first `/`, `?` or `#`. A password
/// typed with one of those unescaped ends the authority early for a URL
/// parser (`user:pa/ss@bucket` reads as host `user`, port `pa`), yet it is
/// still a secret: when that apparent authority has a `:` and an `@` comes
/// later, everything up to the last `@` before the next `/` counts as user
/// info. This may hide more than the credentials of a malformed URL, never
/// less.
fn user_info_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some(at) = authority.rfind('@') {
        return Some(at);
    }
    if !authority.contains(':') {
        return None;
    }
    let first_at = rest.find('@')?;
    let next_slash = rest[first_at..]
        .find('/')
        .map_or(rest.len(), |i| first_at + i);
    rest[..next_slash].rfind('@')
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is
/// not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Target> {
        Target::parse(url, std::iter::empty::<(String, String)>())
    }

    #[test]
    fn redaction_hides_credentials() {
        let url = "s3://AKIA:hunter2@bucket/p?secret_access_key=SECRET1&session_token=TOK2&region=eu-west-1&sas=SIG3";
        let redacted = redact_url(url);
        for secret in ["AKIA", "hunter2", "SECRET1", "TOK2", "SIG3"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert!(redacted.contains("region=eu-west-1"), "{redacted}");
        assert!(redacted.starts_with("s3://***@bucket/p?"), "{redacted}");
        assert!(!redact_url("not a url ?token=abc").contains("abc"));
        assert_eq!(
            redact_url("s3://b/p?endpoint=http://user:hunter2@host:9000&region=x"),
            "s3://b/p?endpoint=http://***@host:9000&region=x"
        );
        assert!(!redact_url("s3://b?endpoint=http%3A%2F%2Fu%3Ahunter2%40h").contains("hunter2"));
    }

    #[test]
    fn redaction_hides_passwords_with_unescaped_delimiters() {
        for (url, shown) in [
            ("s3://user:pa55/hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa55?hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa55#hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa/55@hunter2@bucket/p", "s3://***@bucket/p"),
            ("s3://user:pa55@hunter2@bucket/p", "s3://***@bucket/p"),
            ("user:hunter2@bucket/p", "***@bucket/p"),
            // Special schemes: extra slashes and backslashes are skipped.
            ("ws:///:hunter2@b/p", "ws:///***@b/p"),
            ("http:\\\\user:hunter2@b/p", "***@b/p"),
            ("https://\\user:hunter2@b/p", "https://\\***@b/p"),
            // No user info: nothing hidden.
            ("s3://bucket/a@b?x=1", "s3://bucket/a@b?x=1"),
            ("s3://bucket:99/p", "s3://bucket:99/p"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn retry_options_are_ours() {
        let target = parse(
            "memory:///t?max_retries=7&attempt_timeout_ms=0&jitter=false&initial_backoff_ms=5",
        )
        .expect("parses");
        assert_eq!(target.retry.max_retries, 7);
        assert_eq!(target.retry.attempt_timeout, None);
        assert!(!target.retry.jitter);
        assert_eq!(target.retry.initial_backoff, Duration::from_millis(5));
        assert_eq!(target.prefix, "t");
    }

    #[test]
    fn paths_are_decoded() {
        let target = parse("memory:///a%20b/c").expect("parses");
        assert_eq!(target.prefix, "a b/c");
        let target = parse("file:///var/lib/db").expect("parses");
        assert_eq!(target.prefix, "/var/lib/db");
    }

    #[test]
    fn bad_urls_are_invalid_url() {
        for url in [
            "ftp://x/y",
            "file://relative/dir",
            "memory://host",
            "s3:///prefix",
            "s3://bucket:99/p",
            "s3://bucket:notaport/p",
            "memory://?bogus=1",
            "file:///x?region=eu",
            "memory://?max_retries=many",
            "nonsense",
        ] {
            assert!(matches!(parse(url), Err(Error::InvalidUrl { .. })), "{url}");
        }
    }

    #[cfg(feature = "aws")]
    #[test]
    fn endpoints_must_be_http_urls() {
        for endpoint in [
            "::::",
            "localhost:9000",
            "ftp://host/x",
            "http://",
            "http://user:pw@host",
            "http://host/#frag",
        ] {
            let url = format!("s3://b/p?endpoint={}", endpoint.replace('#', "%23"));
            assert!(
                matches!(parse(&url), Err(Error::InvalidUrl { .. })),
                "{endpoint}"
            );
        }
        assert!(parse("s3://b/p?endpoint=http://127.0.0.1:9000&region=x").is_ok());
        assert!(parse("s3://b/p?aws_endpoint=https://s3.example.com").is_ok());
    }
}
