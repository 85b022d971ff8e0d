//! Mapping `object_store::Error` into [`Error`], from typed errors only.
//!
//! The variant decides first (`NotFound`, `AlreadyExists`, `Precondition`,
//! `NotSupported`/`NotImplemented`); for everything else the `source()` chain
//! is walked and each link downcast: an [`std::io::Error`] by kind, an
//! [`HttpError`](object_store::client::HttpError) by
//! [`HttpErrorKind`](object_store::client::HttpErrorKind), and the
//! [`StatusError`](crate::http::StatusError) that this crate's HTTP connector
//! puts in the chain by status. Message text is never inspected.

use std::error::Error as StdError;

use crate::error::{io_kind_is_transient, Error, Operation};

/// What the `source()` chain says about a failure.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transience {
    pub(crate) status: Option<u16>,
    pub(crate) retryable: bool,
}

/// Walks the cause chain of `err` and decides status and retryability.
pub(crate) fn transience(err: &(dyn StdError + 'static)) -> Transience {
    let mut out = Transience::default();
    let mut link: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = link {
        #[cfg(feature = "http-connector")]
        if let Some(status) = current.downcast_ref::<crate::http::StatusError>() {
            // The status is the most specific fact there is: it decides.
            return Transience {
                status: Some(status.status()),
                retryable: status.is_transient(),
            };
        }
        #[cfg(feature = "http-connector")]
        if let Some(http) = current.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind;
            if matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            ) {
                out.retryable = true;
            }
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if io_kind_is_transient(io.kind()) {
                out.retryable = true;
            }
        }
        link = current.source();
    }
    out
}

/// Whether an `io::Error` of `kind` is in the cause chain of `err`.
fn chain_has_io_kind(err: &(dyn StdError + 'static), kind: std::io::ErrorKind) -> bool {
    let mut link: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = link {
        if current
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        link = current.source();
    }
    false
}

/// Whether a listing failed because its prefix runs through an object
/// (`a/b` where `a` is an object) on a store kept on a filesystem, which
/// answers `NotADirectory`: there is nothing below it, an empty listing.
pub(crate) fn lists_below_an_object(err: &Error) -> bool {
    chain_has_io_kind(err, std::io::ErrorKind::NotADirectory)
}

/// Converts an object_store error for `op` on `path` (the key relative to
/// the storage prefix). `expected` is the version a conditional update
/// asked for, named by [`Error::Precondition`].
pub(crate) fn from_object_store(
    op: Operation,
    path: &str,
    expected: Option<&str>,
    err: object_store::Error,
) -> Error {
    let path = path.to_owned();
    match err {
        object_store::Error::NotFound { .. } => Error::NotFound {
            op,
            path,
            source: Some(Box::new(err)),
        },
        object_store::Error::AlreadyExists { .. } => Error::AlreadyExists {
            op,
            path,
            source: Some(Box::new(err)),
        },
        object_store::Error::Precondition { .. } => Error::Precondition {
            op,
            path,
            expected: expected.unwrap_or_default().to_owned(),
            source: Some(Box::new(err)),
        },
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented { .. } => {
            Error::NotSupported {
                op,
                path,
                what: err.to_string(),
                source: Some(Box::new(err)),
            }
        }
        object_store::Error::InvalidPath { source } => Error::InvalidPath {
            op,
            path,
            reason: format!("refused by the object store: {source}"),
        },
        // A read below an object (`a/b` where `a` is an object) on a store
        // kept on a filesystem: there is no such object.
        other if op.is_read() && chain_has_io_kind(&other, std::io::ErrorKind::NotADirectory) => {
            Error::NotFound {
                op,
                path,
                source: Some(Box::new(other)),
            }
        }
        other => {
            let Transience {
                mut status,
                retryable,
            } = transience(&other);
            // object_store maps these statuses to variants and drops the
            // status itself; the variant says which it was.
            status = status.or(match other {
                object_store::Error::PermissionDenied { .. } => Some(403),
                object_store::Error::Unauthenticated { .. } => Some(401),
                object_store::Error::NotModified { .. } => Some(304),
                _ => None,
            });
            Error::ObjectStore {
                op,
                path,
                status,
                retryable,
                source: other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl StdError + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: Box::new(source),
        }
    }

    fn classify(err: object_store::Error) -> Error {
        from_object_store(Operation::Read, "k", Some("v1"), err)
    }

    #[test]
    fn variants_map_to_variants() {
        let err = classify(object_store::Error::NotFound {
            path: "k".into(),
            source: "gone".into(),
        });
        assert!(err.is_not_found() && !err.is_retryable());
        assert!(StdError::source(&err).is_some());

        let err = classify(object_store::Error::AlreadyExists {
            path: "k".into(),
            source: "taken".into(),
        });
        assert!(err.is_already_exists());

        let err = classify(object_store::Error::Precondition {
            path: "k".into(),
            source: "moved".into(),
        });
        assert!(matches!(err, Error::Precondition { ref expected, .. } if expected == "v1"));

        let err = classify(object_store::Error::NotImplemented {
            operation: "put_opts".into(),
            implementer: "test".into(),
        });
        assert!(matches!(err, Error::NotSupported { .. }));
    }

    #[test]
    fn transient_io_kinds_are_retryable() {
        use std::io::ErrorKind::*;
        for kind in [
            TimedOut,
            ConnectionReset,
            ConnectionRefused,
            ConnectionAborted,
            BrokenPipe,
            UnexpectedEof,
        ] {
            let err = classify(generic(std::io::Error::new(kind, "x")));
            assert!(err.is_retryable(), "{kind:?}");
            assert_eq!(err.status(), None);
        }
        for kind in [PermissionDenied, InvalidData, Other] {
            assert!(!classify(generic(std::io::Error::new(kind, "x"))).is_retryable());
        }
    }

    #[test]
    fn io_error_deep_in_the_chain_is_found() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapper")]
        struct Wrapper(#[source] std::io::Error);
        let err = classify(generic(Wrapper(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ))));
        assert!(err.is_retryable());
        assert!(matches!(err, Error::ObjectStore { .. }));
    }

    #[test]
    fn permission_errors_are_permanent() {
        let err = classify(object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "no".into(),
        });
        assert!(!err.is_retryable());
        assert_eq!(err.status(), Some(403));
        let err = classify(object_store::Error::Unauthenticated {
            path: "k".into(),
            source: "no".into(),
        });
        assert!(!err.is_retryable());
        assert_eq!(err.status(), Some(401));
        // The message text of the source is never what decides.
        let err = classify(generic(std::io::Error::other("503 SlowDown timeout")));
        assert!(!err.is_retryable());
    }

    #[cfg(feature = "http-connector")]
    #[test]
    fn http_kinds_and_statuses() {
        use crate::http::StatusError;
        use object_store::client::{HttpError, HttpErrorKind};
        for (kind, retryable) in [
            (HttpErrorKind::Connect, true),
            (HttpErrorKind::Request, true),
            (HttpErrorKind::Timeout, true),
            (HttpErrorKind::Interrupted, true),
            (HttpErrorKind::Decode, false),
            (HttpErrorKind::Unknown, false),
        ] {
            let err = classify(generic(HttpError::new(kind, std::fmt::Error)));
            assert_eq!(err.is_retryable(), retryable, "{kind:?}");
        }
        for (status, retryable) in [
            (408, true),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (400, false),
            (403, false),
        ] {
            let err = classify(generic(HttpError::new(
                HttpErrorKind::Request,
                StatusError::new(status, None),
            )));
            assert_eq!(err.is_retryable(), retryable, "{status}");
            assert_eq!(err.status(), Some(status));
        }
        let slow = classify(generic(HttpError::new(
            HttpErrorKind::Request,
            StatusError::new(503, Some("SlowDown".into())),
        )));
        assert!(slow.is_retryable());
        // A conditional write that met another in flight: retry, it is no
        // failed condition.
        let conflict = classify(generic(HttpError::new(
            HttpErrorKind::Request,
            StatusError::new(409, Some("ConditionalRequestConflict".into())),
        )));
        assert!(conflict.is_retryable());
        assert!(!conflict.is_already_exists() && !conflict.is_precondition());
        assert_eq!(conflict.status(), Some(409));
    }
}
