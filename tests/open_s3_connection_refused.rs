//! A refused connection is classified as transient from its typed
//! `HttpError` kind, with no status.
#![cfg(feature = "aws")]

#[tokio::test]
async fn connection_refused_is_transient() -> seerstore::Result<()> {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let storage = seerstore::open_with(
        "s3://bucket/p",
        [
            ("endpoint", format!("http://127.0.0.1:{port}")),
            ("allow_http", "true".into()),
            ("region", "us-east-1".into()),
            ("access_key_id", "a".into()),
            ("secret_access_key", "b".into()),
            ("max_retries", "1".into()),
            ("initial_backoff_ms", "1".into()),
        ],
    )
    .await?;
    let err = storage.head("k").await.expect_err("refused");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.status(), None);
    assert!(matches!(err, seerstore::Error::ObjectStore { .. }), "{err}");
    Ok(())
}
