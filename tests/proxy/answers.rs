//! The answers the proxy gives in the server's place: a [`Fault::Status`]
//! or a [`Fault::Canned`] S3 error.

#[cfg(doc)]
use super::rules::Fault;

/// The answer to a [`Fault::Canned`]: `status` with an S3 error body.
pub(super) fn canned(status: u16, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>Injected by the test proxy.</Message><RequestId>seerstore-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The answer to a [`Fault::Status`], S3-style.
pub(super) fn synthesized(status: u16) -> Vec<u8> {
    let (reason, code, message) = match status {
        500 => (
            "Internal Server Error",
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        503 => (
            "Service Unavailable",
            "SlowDown",
            "Please reduce your request rate.",
        ),
        429 => ("Too Many Requests", "TooManyRequests", "Too many requests."),
        408 => (
            "Request Timeout",
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.",
        ),
        _ => ("Error", "InternalError", "Injected by the test proxy."),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>seerstore-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
