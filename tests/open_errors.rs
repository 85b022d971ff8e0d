//! Bad URLs are `InvalidUrl`, and never echo credentials.
use seerstore::Error;

async fn invalid(url: &str) -> (String, String) {
    match seerstore::open(url).await {
        Err(Error::InvalidUrl { url, reason, .. }) => (url, reason),
        Err(other) => panic!("{url}: expected InvalidUrl, got {other}"),
        Ok(storage) => panic!("{url}: expected InvalidUrl, got {storage:?}"),
    }
}

#[tokio::test]
async fn bad_urls_are_invalid_url() {
    for url in [
        "ftp://host/dir",
        "relative/dir",
        "file://relative/dir",
        "file:///abs?region=x",
        "file:",
        "file:///",
        "file:////",
        "memory://host",
        "memory://?nonsense=1",
        "memory://?max_retries=-1",
        "memory:///a//b",
        "s3:///no-bucket",
        "s3://bucket:99/prefix",
        "s3://bucket:port/prefix",
        "gs:///x",
        "az:///x",
    ] {
        let (_, reason) = invalid(url).await;
        assert!(!reason.is_empty(), "{url}");
    }
}

#[tokio::test]
async fn unknown_scheme_names_the_known_ones() {
    let (_, reason) = invalid("hdfs://x/y").await;
    assert!(reason.contains("s3"), "{reason}");
}

#[tokio::test]
async fn credentials_are_redacted() {
    let url = "s3://AKIAUSER:hunter2@bucket/p?secret_access_key=S3CR3T&session_token=T0K3N&sas=S1G&access_key=K3Y&region=eu-west-1";
    let err = seerstore::open(url).await.expect_err("credentials in URL");
    let shown = format!("{err} {err:?}");
    for secret in ["AKIAUSER", "hunter2", "S3CR3T", "T0K3N", "S1G", "K3Y"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    assert!(shown.contains("region=eu-west-1"), "{shown}");

    // A secret passed with an unknown key on a valid URL is redacted too.
    let err = seerstore::open("memory://?my_token=Z9Z9")
        .await
        .expect_err("unknown option");
    assert!(!format!("{err} {err:?}").contains("Z9Z9"));
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn s3_options_map_onto_the_builder() {
    // Known object_store keys are accepted; an unknown one is refused.
    let (_, reason) = invalid("s3://bucket/p?region=eu-west-1&no_such_option=1").await;
    assert!(reason.contains("no_such_option"), "{reason}");
    // A known key with a bad value is refused by the builder.
    let (url, _) = invalid("s3://bucket/p?allow_http=maybe&secret_access_key=XYZW").await;
    assert!(!url.contains("XYZW"), "{url}");
    let storage = seerstore::open(
        "s3://bucket/p?region=eu-west-1&endpoint=http://127.0.0.1:9&allow_http=true&access_key_id=a&secret_access_key=b&max_retries=0",
    )
    .await
    .expect("opens without a request");
    let debug = format!("{storage:?}");
    assert!(
        debug.contains("bucket") && debug.contains("max_retries: 0"),
        "{debug}"
    );
}

#[cfg(not(feature = "aws"))]
#[tokio::test]
async fn s3_without_the_feature_says_which_feature() {
    let (_, reason) = invalid("s3://bucket/p").await;
    assert!(reason.contains("\"aws\""), "{reason}");
}

#[cfg(not(feature = "gcp"))]
#[tokio::test]
async fn gcs_without_the_feature_says_which_feature() {
    let (_, reason) = invalid("gs://bucket/p").await;
    assert!(reason.contains("\"gcp\""), "{reason}");
}

#[cfg(not(feature = "azure"))]
#[tokio::test]
async fn azure_without_the_feature_says_which_feature() {
    let (_, reason) = invalid("az://container/p").await;
    assert!(reason.contains("\"azure\""), "{reason}");
}

#[tokio::test]
async fn the_filesystem_root_is_refused_before_any_sweep() {
    for url in ["file:", "file:///", "file://localhost/"] {
        let (_, reason) = invalid(url).await;
        assert!(reason.contains("filesystem root"), "{url}: {reason}");
    }
}
