//! An S3 store built by `open` keeps a 503 SlowDown typed through the
//! `source()` chain, retries it exactly `max_retries` times, and lets a 404
//! reach object_store as `NotFound`.
#![cfg(feature = "aws")]

use std::error::Error as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use seerstore::http::StatusError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>";
const NO_SUCH_KEY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";

/// Answers every request with `status` and `body`, counting requests.
async fn serve(status: &'static str, body: &'static str) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let is_head = request.starts_with(b"HEAD");
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    body.len(),
                    if is_head { "" } else { body }
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), requests)
}

fn options(endpoint: String) -> Vec<(String, String)> {
    [
        ("endpoint", endpoint.as_str()),
        ("allow_http", "true"),
        ("region", "us-east-1"),
        ("access_key_id", "AKIDEXAMPLE"),
        ("secret_access_key", "wJalrXUtnFEMI"),
        ("max_retries", "2"),
        ("initial_backoff_ms", "1"),
        ("max_backoff_ms", "2"),
        ("attempt_timeout_ms", "10000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn slow_down_is_typed_and_retried_by_one_layer() -> seerstore::Result<()> {
    let (endpoint, requests) = serve("503 Slow Down", SLOW_DOWN).await;
    let storage = seerstore::open_with("s3://bucket/tenant", options(endpoint)).await?;
    let err = storage.read("L0/1.sst").await.expect_err("503");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.status(), Some(503), "{err}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        3,
        "1 + max_retries requests"
    );

    // The typed status is reachable through the source() chain.
    let mut link: Option<&(dyn std::error::Error + 'static)> = err.source();
    let mut found = None;
    while let Some(current) = link {
        if let Some(status) = current.downcast_ref::<StatusError>() {
            found = Some(status.clone());
        }
        link = current.source();
    }
    let status = found.expect("StatusError in the chain");
    assert_eq!(status.status(), 503);
    assert_eq!(status.code(), Some("SlowDown"));
    assert!(!err.to_string().contains("wJalrXUtnFEMI"));
    Ok(())
}

#[tokio::test]
async fn not_found_still_reaches_object_store() -> seerstore::Result<()> {
    let (endpoint, requests) = serve("404 Not Found", NO_SUCH_KEY).await;
    let storage = seerstore::open_with("s3://bucket", options(endpoint)).await?;
    let err = storage.read("missing").await.expect_err("404");
    assert!(err.is_not_found(), "{err}");
    assert!(!storage.exists("missing").await?);
    assert_eq!(requests.load(Ordering::SeqCst), 2, "not retried");
    Ok(())
}
