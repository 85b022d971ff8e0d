//! A storage URL parsed into a [`Target`]: the scheme, the bucket and key
//! prefix, and the options of the query string and of `open_with`; nothing
//! is opened here.

use crate::error::{Error, Result};
use crate::RetryConfig;
use url::Url;

use super::cloud::Cloud;
use super::percent::percent_decode;
use super::redact::redact_url;

/// A parsed storage URL, before anything is opened.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) redacted: String,
    pub(super) scheme: Scheme,
    /// Bucket or container.
    #[cfg_attr(
        not(any(feature = "aws", feature = "gcp", feature = "azure")),
        allow(dead_code)
    )]
    pub(super) bucket: String,
    /// The key prefix (the URL's path, decoded, without the leading `/`).
    pub(super) prefix: String,
    pub(super) retry: RetryConfig,
    pub(super) part_size: Option<usize>,
    pub(super) max_parts_in_flight: Option<usize>,
    pub(super) max_concurrency: Option<usize>,
    pub(super) coalesce: Option<u64>,
    /// Options for the object_store builder, in order.
    pub(super) store_options: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    File,
    Memory,
    Cloud(Cloud),
}

impl Target {
    pub(super) fn parse<I, K, V>(url: &str, extra: I) -> Result<Self>
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
            "s3" | "s3a" => Scheme::Cloud(Cloud::S3),
            "gs" => Scheme::Cloud(Cloud::Gcs),
            "az" | "azure" => Scheme::Cloud(Cloud::Azure),
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
            Scheme::Cloud(_) => {
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

    pub(super) fn invalid(&self, reason: String) -> Error {
        Error::InvalidUrl {
            url: self.redacted.clone(),
            reason,
            source: None,
        }
    }

    /// An error building the store, credentials kept out.
    #[allow(dead_code)]
    pub(super) fn build_error(&self, err: object_store::Error) -> Error {
        Error::InvalidUrl {
            url: self.redacted.clone(),
            reason: "the object store could not be configured".into(),
            source: Some(Box::new(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(url: &str) -> Result<Target> {
        Target::parse(url, std::iter::empty::<(String, String)>())
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
