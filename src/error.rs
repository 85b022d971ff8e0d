//! The one public error type.
//!
//! Backends keep their private detail (an `io::Error`, an `object_store::Error`)
//! as the `source()` of a variant and convert into [`Error`]; callers match on
//! the variant or ask a predicate (`is_not_found`, `is_retryable`).

use std::fmt;
use std::ops::Range;
use std::time::Duration;

/// A boxed error kept as the cause of another.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every fallible seerstore call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The operation that failed, named in every error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// [`Storage::read`](crate::Storage::read)
    Read,
    /// [`Storage::read_range`](crate::Storage::read_range)
    ReadRange,
    /// [`Storage::read_ranges`](crate::Storage::read_ranges)
    ReadRanges,
    /// [`Storage::head`](crate::Storage::head)
    Head,
    /// [`Storage::exists`](crate::Storage::exists)
    Exists,
    /// [`Storage::write`](crate::Storage::write) and `write_with`
    Write,
    /// [`Storage::writer`](crate::Storage::writer) and the writer's calls
    Writer,
    /// [`Storage::delete`](crate::Storage::delete)
    Delete,
    /// [`Storage::list`](crate::Storage::list)
    List,
    /// [`Storage::sync`](crate::Storage::sync)
    Sync,
    /// Opening a storage (a URL, a root directory, a builder)
    Open,
    /// [`Storage::read_with`](crate::Storage::read_with)
    ReadWith,
    /// [`Storage::list_dir`](crate::Storage::list_dir)
    ListDir,
    /// [`Storage::delete_many`](crate::Storage::delete_many) (each path's
    /// own result names [`Operation::Delete`])
    DeleteMany,
    /// [`Storage::copy`](crate::Storage::copy)
    Copy,
    /// [`Storage::rename`](crate::Storage::rename)
    Rename,
    /// [`Storage::appender`](crate::Storage::appender) and the appender's calls
    Append,
}

impl Operation {
    /// The method name, as it appears in messages: `read_range`, `write`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::ReadRange => "read_range",
            Operation::ReadRanges => "read_ranges",
            Operation::Head => "head",
            Operation::Exists => "exists",
            Operation::Write => "write",
            Operation::Writer => "writer",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Sync => "sync",
            Operation::Open => "open",
            Operation::ReadWith => "read_with",
            Operation::ListDir => "list_dir",
            Operation::DeleteMany => "delete_many",
            Operation::Copy => "copy",
            Operation::Rename => "rename",
            Operation::Append => "append",
        }
    }
}

impl Operation {
    /// Whether the operation only reads (a missing object is `NotFound`).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Operation::Read
                | Operation::ReadWith
                | Operation::ReadRange
                | Operation::ReadRanges
                | Operation::Head
                | Operation::Exists
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Formats an optional object size for messages.
struct SizeSuffix(Option<u64>);

impl fmt::Display for SizeSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(size) => write!(f, " (object size {size})"),
            None => Ok(()),
        }
    }
}

/// Formats an optional HTTP status for messages.
struct StatusSuffix(Option<u16>);

impl fmt::Display for StatusSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(status) => write!(f, " (HTTP {status})"),
            None => Ok(()),
        }
    }
}

/// Every error seerstore returns.
///
/// Each variant names the operation and the path (relative to the storage
/// root or prefix) and keeps its cause in [`source()`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("{op} {path:?}: not found")]
    NotFound {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The backend's own error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// `WriteMode::Create` found the key already taken.
    #[error("{op} {path:?}: already exists")]
    AlreadyExists {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The backend's own error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// `WriteMode::Update(version)` found another version (or no object).
    #[error("{op} {path:?}: precondition failed: expected version {expected:?}")]
    Precondition {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The version the caller expected.
        expected: String,
        /// The backend's own error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// `ReadOptions::if_none_match` named the current version: the caller's
    /// copy is up to date, and no data was read.
    #[error("{op} {path:?}: not modified (version {version:?} is current)")]
    NotModified {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The version the caller holds, which is the current one.
        version: String,
        /// The backend's own error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The key is not a valid path; nothing was done.
    #[error("{op} {path:?}: invalid path: {reason}")]
    InvalidPath {
        /// The failed operation.
        op: Operation,
        /// The rejected key (control characters escaped by `{:?}`).
        path: String,
        /// Which rule the key broke.
        reason: String,
    },
    /// The range is inverted or ends past the object; nothing was read.
    #[error("{op} {path:?}: invalid range {}..{}{}", range.start, range.end, SizeSuffix(*size))]
    InvalidRange {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The range asked for.
        range: Range<u64>,
        /// The object's size, where known.
        size: Option<u64>,
    },
    /// A local I/O error.
    #[error("{op} {path:?}: I/O error ({kind:?}): {source}", kind = source.kind())]
    Io {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An object store request failed.
    #[error("{op} {path:?}: object store error{}: {source}", StatusSuffix(*status))]
    ObjectStore {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The HTTP status, where the failure carried one.
        status: Option<u16>,
        /// Whether the failure is transient (decided from typed errors).
        retryable: bool,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
    /// An attempt exceeded `RetryConfig::attempt_timeout`.
    #[error("{op} {path:?}: attempt timed out after {timeout:?}")]
    Timeout {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The per-attempt bound that was exceeded.
        timeout: Duration,
    },
    /// The backend cannot do this (e.g. a conditional write on a store
    /// without conditional puts).
    #[error("{op} {path:?}: not supported: {what}")]
    NotSupported {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// What is unsupported.
        what: String,
        /// The backend's own error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A write whose answer was lost may or may not have taken effect, and
    /// nothing at the key proves that it did: the object there is not
    /// (provably) the one this call wrote. Not retryable: read the key to
    /// learn what it holds.
    #[error("{op} {path:?}: outcome unknown: the write may or may not have landed, and the object at the key is not provably this write's: {source}")]
    OutcomeUnknown {
        /// The failed operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// The error of the last attempt.
        #[source]
        source: BoxError,
    },
    /// The object no longer takes this call: a
    /// [`StorageAppender`](crate::StorageAppender) after `finish`, or after a
    /// write or flush of it failed (the state of the page cache after a
    /// failed `fdatasync` is unknowable, so nothing more is promised; the
    /// original failure is the `source()`). Nothing was written.
    #[error("{op} {path:?}: closed: {reason}")]
    Closed {
        /// The refused operation.
        op: Operation,
        /// The key, relative to the storage root or prefix.
        path: String,
        /// Why the object is closed.
        reason: String,
        /// The failure that closed it, where one did.
        #[source]
        source: Option<BoxError>,
    },
    /// A storage URL or its options could not be used. Credentials in the
    /// URL are never part of the message.
    #[error("invalid storage URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL with any credentials removed.
        url: String,
        /// What is wrong with it.
        reason: String,
        /// The underlying error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// The object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// `WriteMode::Create` lost: the key exists.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    /// `WriteMode::Update` lost: the version moved on.
    pub fn is_precondition(&self) -> bool {
        matches!(self, Error::Precondition { .. })
    }

    /// An appender refused the call: finished, or failed earlier.
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed { .. })
    }

    /// `ReadOptions::if_none_match` named the current version.
    pub fn is_not_modified(&self) -> bool {
        matches!(self, Error::NotModified { .. })
    }

    /// The same error naming the operation `to` instead (a call built from
    /// others, such as a read whose metadata came from `head`, reports its
    /// own name). Errors that name no operation are returned unchanged.
    pub(crate) fn relabel(self, to: Operation) -> Error {
        match self {
            Error::NotFound { path, source, .. } => Error::NotFound {
                op: to,
                path,
                source,
            },
            Error::AlreadyExists { path, source, .. } => Error::AlreadyExists {
                op: to,
                path,
                source,
            },
            Error::Precondition {
                path,
                expected,
                source,
                ..
            } => Error::Precondition {
                op: to,
                path,
                expected,
                source,
            },
            Error::NotModified {
                path,
                version,
                source,
                ..
            } => Error::NotModified {
                op: to,
                path,
                version,
                source,
            },
            Error::InvalidPath { path, reason, .. } => Error::InvalidPath {
                op: to,
                path,
                reason,
            },
            Error::InvalidRange {
                path, range, size, ..
            } => Error::InvalidRange {
                op: to,
                path,
                range,
                size,
            },
            Error::Io { path, source, .. } => Error::Io {
                op: to,
                path,
                source,
            },
            Error::ObjectStore {
                path,
                status,
                retryable,
                source,
                ..
            } => Error::ObjectStore {
                op: to,
                path,
                status,
                retryable,
                source,
            },
            Error::Timeout { path, timeout, .. } => Error::Timeout {
                op: to,
                path,
                timeout,
            },
            Error::NotSupported {
                path, what, source, ..
            } => Error::NotSupported {
                op: to,
                path,
                what,
                source,
            },
            Error::Closed {
                path,
                reason,
                source,
                ..
            } => Error::Closed {
                op: to,
                path,
                reason,
                source,
            },
            Error::OutcomeUnknown { path, source, .. } => Error::OutcomeUnknown {
                op: to,
                path,
                source,
            },
            other @ Error::InvalidUrl { .. } => other,
        }
    }

    /// Whether retrying the same call may succeed: timeouts, connection
    /// resets and refusals, HTTP 408/429/5xx and S3 `SlowDown`. Permanent
    /// failures (not found, conflicts, bad input, auth) are `false`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::ObjectStore { retryable, .. } => *retryable,
            Error::Io { source, .. } => io_kind_is_transient(source.kind()),
            _ => false,
        }
    }

    /// A short, stable name of the variant, for metric labels and trace
    /// fields: `not_found`, `already_exists`, `precondition`, `not_modified`,
    /// `invalid_path`, `invalid_range`, `io`, `object_store`, `timeout`,
    /// `not_supported`, `outcome_unknown`, `closed`, `invalid_url`. It never carries a message, so
    /// nothing of a URL or a credential.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Precondition { .. } => "precondition",
            Error::NotModified { .. } => "not_modified",
            Error::InvalidPath { .. } => "invalid_path",
            Error::InvalidRange { .. } => "invalid_range",
            Error::Io { .. } => "io",
            Error::ObjectStore { .. } => "object_store",
            Error::Timeout { .. } => "timeout",
            Error::NotSupported { .. } => "not_supported",
            Error::OutcomeUnknown { .. } => "outcome_unknown",
            Error::Closed { .. } => "closed",
            Error::InvalidUrl { .. } => "invalid_url",
        }
    }

    /// The HTTP status behind this error, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::ObjectStore { status, .. } => *status,
            _ => None,
        }
    }

    /// The operation that failed, where the error names one.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Error::NotFound { op, .. }
            | Error::AlreadyExists { op, .. }
            | Error::Precondition { op, .. }
            | Error::NotModified { op, .. }
            | Error::InvalidPath { op, .. }
            | Error::InvalidRange { op, .. }
            | Error::Io { op, .. }
            | Error::ObjectStore { op, .. }
            | Error::Timeout { op, .. }
            | Error::NotSupported { op, .. }
            | Error::OutcomeUnknown { op, .. }
            | Error::Closed { op, .. } => Some(*op),
            Error::InvalidUrl { .. } => Some(Operation::Open),
        }
    }

    /// The key the error is about, where it names one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::NotFound { path, .. }
            | Error::AlreadyExists { path, .. }
            | Error::Precondition { path, .. }
            | Error::NotModified { path, .. }
            | Error::InvalidPath { path, .. }
            | Error::InvalidRange { path, .. }
            | Error::Io { path, .. }
            | Error::ObjectStore { path, .. }
            | Error::Timeout { path, .. }
            | Error::NotSupported { path, .. }
            | Error::OutcomeUnknown { path, .. }
            | Error::Closed { path, .. } => Some(path),
            Error::InvalidUrl { .. } => None,
        }
    }

    /// A local I/O error for `op` on `path`. `NotFound` and `AlreadyExists`
    /// kinds become the matching variants, with the `io::Error` as source.
    pub fn io(op: Operation, path: impl Into<String>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                op,
                path,
                source: Some(Box::new(source)),
            },
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                op,
                path,
                source: Some(Box::new(source)),
            },
            _ => Error::Io { op, path, source },
        }
    }

    /// An invalid-path error.
    pub fn invalid_path(op: Operation, path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidPath {
            op,
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A not-found error without a backend cause.
    pub fn not_found(op: Operation, path: impl Into<String>) -> Self {
        Error::NotFound {
            op,
            path: path.into(),
            source: None,
        }
    }
}

/// Whether a local or transport I/O error kind is transient.
pub(crate) fn io_kind_is_transient(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        TimedOut
            | ConnectionReset
            | ConnectionRefused
            | ConnectionAborted
            | BrokenPipe
            | Interrupted
            | UnexpectedEof
    )
}
