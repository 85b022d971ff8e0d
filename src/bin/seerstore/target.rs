//! From a command-line URL to an opened storage and a key.
//!
//! An object URL is split at its last `/`: the storage is opened at the
//! parent, with the query (the options) kept, and the last segment is the
//! key. A prefix URL is opened as it is. A `file://` URL must name an
//! existing directory below `/` (only `put` creates one), so a typo does
//! not create directories and `/` is never a storage root; it is opened
//! without `LocalStorage::open`'s sweep of temporary files.

use std::sync::Arc;

use seerstore::{redact_url, Storage};
use url::Url;

use crate::exit::CliError;
use crate::percent::percent_decode;

/// Whether opening may create a missing `file://` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Yes,
    No,
}

/// A URL split into the storage it names and a key in it.
#[derive(Debug)]
pub struct ObjectTarget {
    pub storage: Arc<dyn Storage>,
    pub key: String,
}

fn parse(raw: &str) -> Result<Url, CliError> {
    Url::parse(raw).map_err(|e| {
        CliError::usage(format!(
            "invalid storage URL {:?}: not a URL: {e}",
            redact_url(raw)
        ))
    })
}

/// Splits `key=value` options given with `-o`.
pub fn options(raw: &[String]) -> Result<Vec<(String, String)>, CliError> {
    raw.iter()
        .map(|option| match option.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(CliError::usage(format!(
                "option {:?}: expected KEY=VALUE",
                option.split('=').next().unwrap_or_default()
            ))),
        })
        .collect()
}

/// Opens the storage an object URL's parent names; returns it with the key.
pub async fn object(
    raw: &str,
    options: &[(String, String)],
    create: Create,
) -> Result<ObjectTarget, CliError> {
    let mut url = parse(raw)?;
    let path = url.path().to_owned();
    let Some((parent, last)) = path.rsplit_once('/') else {
        return Err(names_no_object(raw));
    };
    if last.is_empty() {
        return Err(names_no_object(raw));
    }
    let key = percent_decode(last).ok_or_else(|| {
        CliError::usage(format!(
            "invalid storage URL {:?}: the key is not valid percent-encoded UTF-8",
            redact_url(raw)
        ))
    })?;
    url.set_path(parent);
    let storage = open(url, options, create).await?;
    Ok(ObjectTarget { storage, key })
}

/// Opens the storage a prefix URL names.
pub async fn prefix(
    raw: &str,
    options: &[(String, String)],
    create: Create,
) -> Result<Arc<dyn Storage>, CliError> {
    let mut url = parse(raw)?;
    // `file:///data/` and `file:///data` are the same directory.
    let path = url.path().to_owned();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
    }
    open(url, options, create).await
}

async fn open(
    url: Url,
    options: &[(String, String)],
    create: Create,
) -> Result<Arc<dyn Storage>, CliError> {
    if url.scheme() == "file" {
        let shown = redact_url(url.as_str());
        let path = url.path();
        if path.is_empty() || path == "/" {
            return Err(CliError::usage(format!(
                "{shown:?}: refusing to use / as a storage root; name a directory below it"
            )));
        }
        if create == Create::No {
            if let Ok(dir) = url.to_file_path() {
                if !dir.is_dir() {
                    return Err(CliError::not_found(format!("{shown:?}: no such directory")));
                }
            }
        }
        // A plain directory URL is opened here, without the sweep of
        // temporary files (a walk of the whole tree; the cleanup is the
        // owning database's job). Anything else goes to `open`, which
        // accepts or refuses it with its own message.
        let plain = url.query().is_none() && url.fragment().is_none() && options.is_empty();
        if let (true, Ok(dir)) = (plain, url.to_file_path()) {
            let local = seerstore::LocalStorage::builder(dir)
                .sweep(false)
                .open()
                .await?;
            return Ok(Arc::new(local));
        }
    }
    Ok(seerstore::open_with(url.as_str(), options.iter().cloned()).await?)
}

fn names_no_object(raw: &str) -> CliError {
    CliError::usage(format!(
        "{:?} names a directory or prefix, not an object",
        redact_url(raw)
    ))
}
