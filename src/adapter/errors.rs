//! Between the two error and metadata types: seerstore's [`Error`] and
//! [`ObjectMeta`] as object_store's, in one place.

use std::time::SystemTime;

use object_store::path::Path;
use object_store::PutResult;

use crate::error::Error;
use crate::storage::ObjectMeta;

use super::{OsResult, STORE};

/// A listed key as an object_store path.
pub(super) fn parse_listed(key: &str) -> OsResult<Path> {
    Path::parse(key).map_err(|e| object_store::Error::InvalidPath { source: e })
}

pub(super) fn to_os_meta(location: Path, meta: &ObjectMeta) -> object_store::ObjectMeta {
    object_store::ObjectMeta {
        location,
        last_modified: meta.last_modified.unwrap_or(SystemTime::UNIX_EPOCH).into(),
        size: meta.size,
        e_tag: meta.version.clone(),
        version: None,
    }
}

pub(super) fn put_result(meta: ObjectMeta) -> PutResult {
    PutResult {
        e_tag: meta.version,
        version: None,
        extensions: Default::default(),
    }
}

pub(super) fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: message.into(),
    }
}

pub(super) fn not_implemented(operation: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: operation.to_owned(),
        implementer: "seerstore::ObjectStoreAdapter".to_owned(),
    }
}

/// seerstore's error as object_store's, keeping it as the `source()`.
pub(crate) fn to_os_error(err: Error) -> object_store::Error {
    match err {
        Error::NotFound { ref path, .. } => object_store::Error::NotFound {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::AlreadyExists { ref path, .. } => object_store::Error::AlreadyExists {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::Precondition { ref path, .. } => object_store::Error::Precondition {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::NotModified { ref path, .. } => object_store::Error::NotModified {
            path: path.clone(),
            source: Box::new(err),
        },
        Error::NotSupported { .. } => object_store::Error::NotSupported {
            source: Box::new(err),
        },
        other => object_store::Error::Generic {
            store: STORE,
            source: Box::new(other),
        },
    }
}
