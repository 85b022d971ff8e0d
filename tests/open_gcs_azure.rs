//! gs:// and az:// URLs map their options onto the object_store builders.
#![cfg(all(feature = "gcp", feature = "azure"))]

use seerstore::Error;

#[tokio::test]
async fn azure_options_map_onto_the_builder() {
    let storage = seerstore::open(
        "az://container/tenant?account_name=devstoreaccount1&access_key=Zm9vYmFy&use_emulator=true&max_retries=2",
    )
    .await
    .expect("opens without a request");
    let debug = format!("{storage:?}");
    assert!(debug.contains("container"), "{debug}");
    assert!(debug.contains("max_retries: 2"), "{debug}");
    assert!(!debug.contains("Zm9vYmFy"), "{debug}");

    let err = seerstore::open("az://container?account_name=a&bogus_key=1")
        .await
        .expect_err("unknown option");
    assert!(
        matches!(&err, Error::InvalidUrl { reason, .. } if reason.contains("bogus_key")),
        "{err}"
    );
}

#[tokio::test]
async fn gcs_options_map_onto_the_builder() {
    let err = seerstore::open("gs://bucket/p?bogus_key=1")
        .await
        .expect_err("unknown option");
    assert!(
        matches!(&err, Error::InvalidUrl { reason, .. } if reason.contains("bogus_key")),
        "{err}"
    );
    let err = seerstore::open("gs://bucket/p?service_account_key=not-json")
        .await
        .expect_err("a bad key is refused by the builder");
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    assert!(!err.to_string().contains("not-json"), "{err}");
}
