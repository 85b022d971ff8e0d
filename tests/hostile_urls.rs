//! Hostile storage URLs: bad schemes, bad ports, credentials in every place
//! a URL can hold them (user info — also with unescaped `/`, `?`, `#`, `@`
//! in the password —, query options, options passed beside the URL). Every
//! one is refused or opened without the secret ever appearing in an error's
//! `Display`, `Debug` or `source()` chain, or in the opened storage's
//! `Debug`.

use seerstore::Error;

const SECRETS: [&str; 4] = ["hunter2", "S3CR3T", "T0K3N", "pa55"];

/// Everything an error shows: `Display`, `Debug` and each `source()`.
fn shown(err: &Error) -> String {
    let mut out = format!("{err} | {err:?}");
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        out.push_str(&format!(" | {e} | {e:?}"));
        cause = e.source();
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what}: {secret} leaked in {text}");
    }
}

#[tokio::test]
async fn bad_schemes_and_ports_are_invalid_url() {
    for url in [
        "http://bucket/x",
        "https://bucket/x",
        "javascript:alert(1)",
        "data:text/plain,hello",
        "S3://bucket/x?x=1:2",
        "s3://bucket:0/x",
        "s3://bucket:65536/x",
        "s3://bucket:-1/x",
        "s3://bucket:99999999999999999999/x",
        "s3://[::1]:80/x",
        "az://container:443/x",
        "gs://bucket:1/x",
        "file://localhost:22/tmp",
        "memory://:1",
        "\0://x",
        "s3://bucket/a%00b",
        "memory:///a%2F..%2F..%2Fb",
        "memory:///..%2Fother-tenant",
        "",
        "://",
    ] {
        match seerstore::open(url).await {
            Err(Error::InvalidUrl { reason, .. }) => assert!(!reason.is_empty(), "{url:?}"),
            Err(other) => panic!("{url:?}: expected InvalidUrl, got {other}"),
            Ok(storage) => panic!("{url:?}: expected InvalidUrl, got {storage:?}"),
        }
    }
}

#[tokio::test]
async fn credentials_in_user_info_are_never_echoed() {
    for url in [
        "s3://user:hunter2@bucket/p",
        "s3://hunter2@bucket/p",
        "s3://user:hunter2@bucket:99/p",
        "s3://user:hun%74er2@bucket/p",
        // Unescaped delimiters in the password end the authority early as
        // a URL parser sees it; the secret must be hidden all the same.
        "s3://user:pa55/hunter2@bucket/p",
        "s3://user:pa55?hunter2@bucket/p",
        "s3://user:pa55#hunter2@bucket/p",
        "s3://user:pa55@hunter2@bucket/p",
        "az://user:hunter2@container/p",
        "gs://user:hunter2@bucket/p",
        "file://user:hunter2@localhost/tmp",
        "memory://user:hunter2@",
        "hdfs://user:hunter2@namenode/p",
        "ws:///:hunter2@b/p",
        "https:\\\\user:hunter2@b/p",
        "user:hunter2@bucket/p",
    ] {
        match seerstore::open(url).await {
            Err(err) => assert_no_secret(url, &shown(&err)),
            Ok(storage) => panic!("{url}: credentials accepted: {storage:?}"),
        }
    }
}

#[tokio::test]
async fn secret_options_are_never_echoed() {
    for url in [
        "memory://?secret_access_key=S3CR3T",
        "memory://?session_token=T0K3N&nonsense=1",
        "memory://?aws_secret_access_key=S3CR3T&max_retries=x",
        // A misspelt option whose name still looks secret.
        "s3://bucket/p?aws_secret_acess_key=S3CR3T&unknown_token=T0K3N",
        "az://container/p?azure_storage_sas_key=S3CR3T&bogus=1",
        "gs://bucket/p?google_service_account_key=S3CR3T&bogus=1",
    ] {
        match seerstore::open(url).await {
            Err(err) => assert_no_secret(url, &shown(&err)),
            Ok(storage) => assert_no_secret(url, &format!("{storage:?}")),
        }
    }
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn opened_s3_storage_debug_hides_credentials() -> seerstore::Result<()> {
    let storage = seerstore::open_with(
        "s3://bucket/prefix",
        [
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("aws_secret_access_key", "S3CR3T"),
            ("aws_session_token", "T0K3N"),
            ("region", "us-east-1"),
            ("endpoint", "http://127.0.0.1:1"),
        ],
    )
    .await?;
    assert_no_secret("s3 storage", &format!("{storage:?}"));
    // A failing call (nothing listens on port 1) does not show them either.
    let err = storage.read("k").await.expect_err("connection refused");
    assert_no_secret("s3 error", &shown(&err));
    Ok(())
}

#[cfg(feature = "azure")]
#[tokio::test]
async fn opened_azure_storage_debug_hides_credentials() -> seerstore::Result<()> {
    let storage = seerstore::open_with(
        "az://container/prefix",
        [
            ("azure_storage_account_name", "devstoreaccount1"),
            ("azure_storage_sas_key", "sv=2020&sig=S3CR3T"),
            ("azure_storage_endpoint", "http://127.0.0.1:1"),
        ],
    )
    .await?;
    assert_no_secret("azure storage", &format!("{storage:?}"));
    let err = storage.read("k").await.expect_err("connection refused");
    assert_no_secret("azure error", &shown(&err));
    Ok(())
}

/// An option that names a URL must be an `http(s)://host` URL: a bad one
/// fails `open` (not the first request), and its credentials never show.
#[cfg(all(feature = "aws", feature = "azure", feature = "gcp"))]
#[tokio::test]
async fn bad_endpoints_fail_at_open() {
    for url in [
        "s3://bucket?endpoint=::::",
        "s3://bucket/p?endpoint=localhost:9000",
        "s3://bucket/p?endpoint=ftp://host/x",
        "s3://bucket/p?aws_endpoint=http://",
        "s3://bucket/p?endpoint=http://user:hunter2@host",
        "s3://bucket/p?proxy_url=not%20a%20url",
        "s3://bucket/p?allow_http=ture",
        "s3://bucket/p?timeout=soon",
        "az://container/p?azure_storage_endpoint=::::",
        "az://container/p?endpoint=http://user:pa55@127.0.0.1:1",
        "gs://bucket/p?google_base_url=nonsense",
    ] {
        match seerstore::open(url).await {
            Err(err @ Error::InvalidUrl { .. }) => assert_no_secret(url, &shown(&err)),
            Err(other) => panic!("{url}: expected InvalidUrl, got {other}"),
            Ok(storage) => panic!("{url}: opened {storage:?}"),
        }
    }
    for url in [
        "s3://bucket/p?endpoint=http://127.0.0.1:9000&region=x",
        "s3://bucket/p?endpoint=https://s3.example.com/&allow_http=false",
        "az://container/p?endpoint=http://127.0.0.1:10000/devstoreaccount1&account_name=a&access_key=a2V5",
    ] {
        if let Err(e) = seerstore::open(url).await {
            panic!("{url}: {e}");
        }
    }
}
