//! An HTTP connector that keeps retryable HTTP statuses typed.
//!
//! object_store 0.14 turns a non-2xx response into its private `RetryError`,
//! so a status it does not map to an `object_store::Error` variant (408, 429,
//! 5xx) cannot be downcast by callers. [`StatusConnector`] wraps the default
//! reqwest client: a response with one of those statuses becomes an
//! [`HttpError`] whose source is a [`StatusError`], which stays reachable
//! through `source()` from the final `object_store::Error`. So does S3's
//! `409 ConditionalRequestConflict` (a concurrent conditional write to the
//! same key was in flight), which object_store would map to
//! `AlreadyExists`: it is a retryable conflict, not a failed condition.
//! Every other status (404, other 409s, 412, 304, ...) reaches object_store
//! untouched (a 409's body read here is handed on), so it still maps them
//! to `NotFound`, `AlreadyExists`, `Precondition`.
//!
//! Stores built by [`open`](crate::open) install this connector and turn
//! object_store's own retries off, so the retry loop of this crate is the
//! only one.

use std::fmt;

use async_trait::async_trait;
use futures::StreamExt;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::ClientOptions;

/// How much of an error response body is read to find its error code.
const MAX_ERROR_BODY: usize = 4 * 1024;

/// S3's code for a conditional write that met another one in flight.
const CONDITIONAL_REQUEST_CONFLICT: &str = "ConditionalRequestConflict";

/// A retryable HTTP status, kept as a typed error in the `source()` chain.
///
/// Its `Display` names the status and the service's error code, never the
/// request URL (which may carry a signature in its query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusError {
    status: u16,
    code: Option<String>,
}

impl StatusError {
    /// An error for `status`, with the service's error code if known.
    pub fn new(status: u16, code: Option<String>) -> Self {
        Self { status, code }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The service's error code (S3 `<Code>`, Azure `x-ms-error-code`).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether the status is transient (408, 429, 500, 502, 503, 504, an
    /// S3 `SlowDown` code, or a 409 `ConditionalRequestConflict`).
    pub fn is_transient(&self) -> bool {
        is_transient_status(self.status)
            || self.code.as_deref() == Some("SlowDown")
            || (self.status == 409 && self.code.as_deref() == Some(CONDITIONAL_REQUEST_CONFLICT))
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP status {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StatusError {}

/// Whether an HTTP status is worth retrying.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// An [`HttpConnector`] that builds object_store's default reqwest client and
/// surfaces retryable statuses as [`StatusError`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatusConnector;

impl HttpConnector for StatusConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(StatusService { inner }))
    }
}

#[derive(Debug)]
struct StatusService {
    inner: HttpClient,
}

#[async_trait]
impl HttpService for StatusService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.inner.execute(req).await?;
        let status = response.status().as_u16();
        if status == 409 {
            return conflict(response).await;
        }
        if !is_transient_status(status) {
            return Ok(response);
        }
        let header_code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let code = match header_code {
            Some(code) => Some(code),
            None => error_code(&read_prefix(response).await),
        };
        let kind = if status == 408 {
            HttpErrorKind::Timeout
        } else {
            HttpErrorKind::Request
        };
        Err(HttpError::new(kind, StatusError::new(status, code)))
    }
}

/// A 409: a retryable [`StatusError`] if its code (Azure's header, or the
/// S3 body's `<Code>`) is `ConditionalRequestConflict`; otherwise the
/// response itself, its body (read to find the code) handed on whole.
async fn conflict(response: HttpResponse) -> Result<HttpResponse, HttpError> {
    let header_code = response
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(code) = header_code {
        if code == CONDITIONAL_REQUEST_CONFLICT {
            return Err(HttpError::new(
                HttpErrorKind::Request,
                StatusError::new(409, Some(code)),
            ));
        }
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    // An error body is small; it is read whole (object_store reads it
    // anyway to report the error) and handed on unchanged.
    let body = body.bytes().await?;
    match error_code(&body[..body.len().min(MAX_ERROR_BODY)]) {
        Some(code) if code == CONDITIONAL_REQUEST_CONFLICT => Err(HttpError::new(
            HttpErrorKind::Request,
            StatusError::new(409, Some(code)),
        )),
        _ => Ok(HttpResponse::from_parts(parts, body.into())),
    }
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of the body; a body that fails to
/// read only loses its error code.
async fn read_prefix(response: HttpResponse) -> Vec<u8> {
    let mut body = response.into_body().bytes_stream();
    let mut prefix = Vec::new();
    while prefix.len() < MAX_ERROR_BODY {
        match body.next().await {
            Some(Ok(chunk)) => {
                let take = chunk.len().min(MAX_ERROR_BODY - prefix.len());
                prefix.extend_from_slice(&chunk[..take]);
            }
            Some(Err(_)) | None => break,
        }
    }
    prefix
}

/// The `<Code>` of an S3/GCS XML error body, or the `code` of an Azure one.
fn error_code(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = text[start..start + len].trim();
    let well_formed = !code.is_empty()
        && code.len() <= 64
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    well_formed.then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_s3_error_code() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("SlowDown"));
        assert_eq!(error_code(b"no xml"), None);
        assert_eq!(error_code(b"<Code></Code>"), None);
    }

    #[test]
    fn display_names_status_and_code_only() {
        let err = StatusError::new(503, Some("SlowDown".into()));
        assert_eq!(err.to_string(), "HTTP status 503 (SlowDown)");
        assert!(err.is_transient());
        assert!(!StatusError::new(403, None).is_transient());
        assert!(StatusError::new(400, Some("SlowDown".into())).is_transient());
        let conflict = StatusError::new(409, Some(CONDITIONAL_REQUEST_CONFLICT.into()));
        assert!(conflict.is_transient());
        assert!(!StatusError::new(409, Some("BucketAlreadyExists".into())).is_transient());
        assert!(!StatusError::new(409, None).is_transient());
    }
}
