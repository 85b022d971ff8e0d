//! Keys to object_store paths and back, and the version token.
//!
//! # Key mapping
//!
//! A key (already checked by [`validate_path`](crate::path::validate_path))
//! is joined under the storage prefix with `/` and used *verbatim* as the
//! object name: `Path::parse(prefix + "/" + key)`. No percent-encoding is
//! added, so a key with spaces, `%`, `#`, `+`, `=` or non-ASCII characters
//! names the object of exactly that name in the bucket, and `list` gives the
//! same string back. `Path::parse` refuses only what `validate_path` already
//! refuses (empty, `.`/`..` segments, control characters), so every valid
//! key maps; should it ever refuse one, the call fails with
//! [`Error::InvalidPath`] before any request.
//!
//! Backends may refuse names of their own: object_store's `LocalFileSystem`
//! rejects a final segment ending in `#` followed by digits (its staging
//! files), which surfaces as an object store error.
//!
//! # Version token
//!
//! [`ObjectMeta::version`](crate::ObjectMeta::version) must carry both the
//! ETag and the object version, since stores differ in which one a
//! conditional put uses. The token is:
//!
//! * `e:<etag>` when there is only an ETag,
//! * `v:<version>` when there is only a version,
//! * `b:<len>:<etag><version>` when there are both, `<len>` being the
//!   ETag's length in bytes (decimal),
//!
//! and no token at all when there is neither. Anything else does not decode,
//! and a `WriteMode::Update` with it fails with `Error::Precondition`
//! without writing.

use object_store::path::Path;
use object_store::UpdateVersion;

use crate::error::{Error, Operation, Result};

/// Encodes an ETag and an object version as one opaque token.
pub(crate) fn encode_version(e_tag: Option<&str>, version: Option<&str>) -> Option<String> {
    match (e_tag, version) {
        (None, None) => None,
        (Some(e_tag), None) => Some(format!("e:{e_tag}")),
        (None, Some(version)) => Some(format!("v:{version}")),
        (Some(e_tag), Some(version)) => Some(format!("b:{}:{e_tag}{version}", e_tag.len())),
    }
}

/// Decodes a token made by [`encode_version`].
pub(crate) fn decode_version(token: &str) -> Option<UpdateVersion> {
    if let Some(e_tag) = token.strip_prefix("e:") {
        return Some(UpdateVersion {
            e_tag: Some(e_tag.to_owned()),
            version: None,
        });
    }
    if let Some(version) = token.strip_prefix("v:") {
        return Some(UpdateVersion {
            e_tag: None,
            version: Some(version.to_owned()),
        });
    }
    let rest = token.strip_prefix("b:")?;
    let (len, rest) = rest.split_once(':')?;
    let len: usize = len.parse().ok()?;
    if !rest.is_char_boundary(len) {
        return None;
    }
    let (e_tag, version) = rest.split_at(len);
    Some(UpdateVersion {
        e_tag: Some(e_tag.to_owned()),
        version: Some(version.to_owned()),
    })
}

/// The storage prefix: valid (`""` = none), or the reason it is not.
#[derive(Debug, Clone)]
pub(crate) enum Prefix {
    Valid(String),
    Invalid { prefix: String, reason: String },
}

impl Prefix {
    pub(crate) fn new(prefix: String) -> Self {
        match crate::path::validate_prefix(Operation::Open, &prefix) {
            Ok(trimmed) => {
                let trimmed = trimmed.to_owned();
                match Path::parse(&trimmed) {
                    Ok(_) => Prefix::Valid(trimmed),
                    Err(e) => Prefix::Invalid {
                        prefix,
                        reason: format!("prefix: {e}"),
                    },
                }
            }
            Err(Error::InvalidPath { reason, .. }) => Prefix::Invalid {
                prefix,
                reason: format!("prefix: {reason}"),
            },
            Err(e) => Prefix::Invalid {
                prefix,
                reason: e.to_string(),
            },
        }
    }

    /// The prefix as given, for `Debug`.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Prefix::Valid(p) => p,
            Prefix::Invalid { prefix, .. } => prefix,
        }
    }

    fn valid(&self, op: Operation, key: &str) -> Result<&str> {
        match self {
            Prefix::Valid(p) => Ok(p),
            Prefix::Invalid { reason, .. } => Err(Error::invalid_path(op, key, reason.clone())),
        }
    }

    /// The object path of `key`, validating both.
    pub(crate) fn object_path(&self, op: Operation, key: &str) -> Result<Path> {
        crate::path::validate_path(op, key)?;
        let prefix = self.valid(op, key)?;
        let full = if prefix.is_empty() {
            Path::parse(key)
        } else {
            Path::parse(format!("{prefix}/{key}"))
        };
        full.map_err(|e| Error::invalid_path(op, key, e.to_string()))
    }

    /// The object path to list under for a `list` prefix (`None` = all).
    pub(crate) fn list_path(&self, list_prefix: &str) -> Result<Option<Path>> {
        let op = Operation::List;
        let list_prefix = crate::path::validate_prefix(op, list_prefix)?;
        let prefix = self.valid(op, list_prefix)?;
        let full = match (prefix.is_empty(), list_prefix.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => prefix.to_owned(),
            (true, false) => list_prefix.to_owned(),
            (false, false) => format!("{prefix}/{list_prefix}"),
        };
        Path::parse(full)
            .map(Some)
            .map_err(|e| Error::invalid_path(op, list_prefix, e.to_string()))
    }

    /// The key of an object path relative to the prefix, if it lies under it.
    pub(crate) fn relative_key(&self, location: &Path) -> Option<String> {
        let prefix = match self {
            Prefix::Valid(p) => p.as_str(),
            Prefix::Invalid { .. } => return None,
        };
        let full: &str = location.as_ref();
        if prefix.is_empty() {
            return Some(full.to_owned());
        }
        full.strip_prefix(prefix)?
            .strip_prefix('/')
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tokens_round_trip() {
        for (e_tag, version) in [
            (Some("\"abc\""), None),
            (None, Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")),
            (Some("e:1:x"), Some("b:2:")),
            (Some(""), Some("")),
            (Some("ü"), Some("v")),
        ] {
            let token = encode_version(e_tag, version).expect("token");
            let decoded = decode_version(&token).expect("decodes");
            assert_eq!(decoded.e_tag.as_deref(), e_tag, "{token}");
            assert_eq!(decoded.version.as_deref(), version, "{token}");
        }
        assert_eq!(encode_version(None, None), None);
        for bad in ["", "x", "b:", "b:9:ab", "b:x:ab", "b:1:ü"] {
            assert!(decode_version(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_map_verbatim_and_back() {
        let prefix = Prefix::new("tenant-1/sst/".into());
        for key in ["a b", "100%", "x#1y", "a+b=c", "ünï/cödé", "L0/000001.sst"] {
            let path = prefix.object_path(Operation::Read, key).expect(key);
            assert_eq!(path.as_ref(), format!("tenant-1/sst/{key}"));
            assert_eq!(prefix.relative_key(&path).as_deref(), Some(key));
        }
        assert!(prefix.object_path(Operation::Read, "../x").is_err());
        let bad = Prefix::new("a//b".into());
        assert!(matches!(
            bad.object_path(Operation::Read, "k"),
            Err(Error::InvalidPath { .. })
        ));
    }
}
