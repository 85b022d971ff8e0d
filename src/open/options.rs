//! The options of a storage URL (its query string and `open_with`'s list):
//! this crate's own, applied to the [`Target`], or checked against the
//! scheme's object_store builder and kept for it.

use std::time::Duration;

use url::Url;

use crate::error::Result;

use super::cloud;
use super::redact::{is_secret_key, redact_url};
use super::target::{Scheme, Target};

impl Target {
    /// Applies one option: ours, or kept for the store's builder.
    pub(super) fn option(&mut self, key: &str, value: &str) -> Result<()> {
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
            Scheme::Cloud(cloud) => cloud::key_known(cloud, key),
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
        let Scheme::Cloud(cloud) = self.scheme else {
            return Ok(());
        };
        if !cloud::is_url_option(cloud, key) {
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
}
