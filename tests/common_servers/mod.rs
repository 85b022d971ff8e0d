//! Shared pieces of the tests against real servers started by
//! `scripts/servers.sh` (see docs/TEST-SERVERS.md for the variables).
//!
//! Without the servers (a plain `cargo test`), each test says which backend
//! it skipped and why; with `SEERSTORE_TEST_SERVERS=1` (the full test
//! command) a missing variable is a failure, never a skip.
#![allow(dead_code)]

#[cfg(feature = "conformance")]
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
#[cfg(feature = "conformance")]
use seerstore::conformance::{run, Capabilities};
use seerstore::Storage;

/// The value of `SEERSTORE_TEST_<name>`, or `None` after saying why the test
/// is skipped. Panics when the servers are meant to be up.
pub fn var(server: &str, name: &str) -> Option<String> {
    let key = format!("SEERSTORE_TEST_{name}");
    match std::env::var(&key) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("SEERSTORE_TEST_SERVERS").as_deref() == Ok("1") {
                panic!("{server}: {key} is not set although SEERSTORE_TEST_SERVERS=1");
            }
            // Straight to stderr: the test harness captures `eprintln!` of
            // passing tests, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {server}: {key} is not set (run `bash scripts/test.sh`, which starts the test servers)"
            );
            None
        }
    }
}

/// A prefix no other run uses.
pub fn unique_prefix(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("seerstore-test/{tag}-{}-{nanos}", std::process::id())
}

#[cfg(feature = "conformance")]
/// Runs the whole conformance suite, prints the report, removes what it
/// wrote, and fails on any broken promise, or unless exactly the checks
/// named in `not_applicable` were not applicable (see `tests/expected`).
pub async fn conformance(
    backend: &str,
    storage: Arc<dyn Storage>,
    caps: Capabilities,
    not_applicable: &[&str],
) {
    let report = run(storage.clone(), &caps).await;
    println!("conformance[{backend}]:\n{report}");
    cleanup(&*storage).await;
    report.assert_outcomes(not_applicable);
}

/// Deletes every key the storage lists.
pub async fn cleanup(storage: &dyn Storage) {
    let keys: Vec<String> = match storage.list("").map_ok(|m| m.path).try_collect().await {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("cleanup: list failed: {e}");
            return;
        }
    };
    for key in keys {
        if let Err(e) = storage.delete(&key).await {
            eprintln!("cleanup: delete {key}: {e}");
        }
    }
}

#[cfg(feature = "conformance")]
/// Capabilities of a storage whose prefix takes `prefix_len` bytes of S3's
/// 1024-byte key limit.
pub fn s3_key_limits(caps: Capabilities, prefix: &str) -> Capabilities {
    caps.key_limits(1024 - prefix.len() - 1, 1024)
}

#[cfg(feature = "conformance")]
/// Probes the storage and checks that what it finds agrees with the
/// capabilities declared for it: a server that stops honouring a
/// conditional write is caught here, not in production.
pub async fn probe_agrees(backend: &str, storage: &dyn Storage, caps: &Capabilities) {
    let found = seerstore::probe(storage).await.expect("probe");
    println!("probe[{backend}]:\n{found}");
    assert_eq!(found.versions, caps.versions, "{backend}: versions");
    assert_eq!(
        found.conditional_create, caps.conditional_create,
        "{backend}: conditional create"
    );
    assert_eq!(
        found.conditional_update, caps.conditional_update,
        "{backend}: conditional update"
    );
    assert_eq!(
        found.file_and_dir_keys, caps.file_and_dir_keys,
        "{backend}: a and a/b"
    );
    assert!(
        found.range_past_end_rejected,
        "{backend}: range past the end accepted"
    );
    assert_eq!(found.appends, caps.appends, "{backend}: appends");
    assert_eq!(
        found.copy_create,
        caps.copy_create && caps.conditional_create,
        "{backend}: copy(Create)"
    );
    assert_eq!(
        found.copy_update,
        caps.copy_update && caps.conditional_update,
        "{backend}: copy(Update)"
    );
    assert!(found.list_dir, "{backend}: list_dir lists one level");
    assert_eq!(
        found.emptied_dirs_vanish, caps.emptied_dirs_vanish,
        "{backend}: emptied dirs vanish from list_dir"
    );
    assert!(found.delete_many, "{backend}: delete_many");
    // Atomicity can only be observed one way: a store declared atomic must
    // show exactly one winner; one declared non-atomic may get lucky.
    if caps.atomic_create {
        assert!(
            found.atomic_create,
            "{backend}: racing creates had several winners"
        );
    }
    if caps.atomic_update {
        assert!(
            found.atomic_update,
            "{backend}: racing updates had several winners"
        );
    }
    let left: Vec<_> = storage
        .list(seerstore::PROBE_PREFIX)
        .try_collect()
        .await
        .expect("list");
    assert!(left.is_empty(), "{backend}: probe left {left:?}");
}

/// An S3 server of the test suite (moto or s3s-fs), from its variables
/// `SEERSTORE_TEST_<TAG>_{ENDPOINT,BUCKET,ACCESS_KEY_ID,SECRET_ACCESS_KEY,REGION}`.
pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
    pub region: String,
}

impl S3Server {
    /// The server's settings, or `None` (after saying why) without them.
    pub fn from_env(name: &str, tag: &str) -> Option<Self> {
        Some(Self {
            endpoint: var(name, &format!("{tag}_ENDPOINT"))?,
            bucket: var(name, &format!("{tag}_BUCKET"))?,
            key_id: var(name, &format!("{tag}_ACCESS_KEY_ID"))?,
            secret: var(name, &format!("{tag}_SECRET_ACCESS_KEY"))?,
            region: var(name, &format!("{tag}_REGION"))?,
        })
    }

    /// A `seerstore::open` URL for `prefix` in the server's bucket, with
    /// every setting in the query (credentials included: a test server's).
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{}/{prefix}?endpoint={}&region={}&access_key_id={}&secret_access_key={}&allow_http=true",
            self.bucket, self.endpoint, self.region, self.key_id, self.secret
        )
    }

    /// A hand-built object_store client, set up the way the README tells
    /// users to: [`builder`](Self::builder) with copy-if-not-exists by
    /// multipart copy (as `open` sets for a custom endpoint).
    #[cfg(feature = "aws")]
    pub fn client(&self) -> object_store::aws::AmazonS3 {
        self.builder()
            .with_copy_if_not_exists(object_store::aws::S3CopyIfNotExists::Multipart)
            .build()
            .expect("S3 builder")
    }

    /// The client's builder: path-style requests, the status connector, no
    /// retries of its own, and no copy-if-not-exists setting.
    #[cfg(feature = "aws")]
    pub fn builder(&self) -> object_store::aws::AmazonS3Builder {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(&self.region)
            .with_access_key_id(&self.key_id)
            .with_secret_access_key(&self.secret)
            .with_bucket_name(&self.bucket)
            .with_http_connector(seerstore::http::StatusConnector)
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..Default::default()
            })
    }
}

/// An S3 or Azure server of the test suite, opened at any endpoint: its
/// own, or a proxy's in front of it.
pub enum Server {
    S3(S3Server),
    Azure {
        endpoint: String,
        container: String,
        account: String,
        key: String,
    },
}

impl Server {
    /// moto, or `None` (after saying why) without its variables.
    pub fn moto() -> Option<Self> {
        S3Server::from_env("moto", "MOTO").map(Server::S3)
    }

    /// s3s-fs, or `None` (after saying why) without its variables.
    pub fn s3s_fs() -> Option<Self> {
        S3Server::from_env("s3s-fs", "S3S").map(Server::S3)
    }

    /// Azurite, or `None` (after saying why) without its variables.
    pub fn azurite() -> Option<Self> {
        let name = "Azurite";
        Some(Server::Azure {
            endpoint: var(name, "AZURITE_ENDPOINT")?,
            container: var(name, "AZURITE_CONTAINER")?,
            account: var(name, "AZURITE_ACCOUNT")?,
            key: var(name, "AZURITE_KEY")?,
        })
    }

    /// The server's own endpoint, `http://127.0.0.1:PORT[/account]`.
    pub fn endpoint(&self) -> &str {
        match self {
            Server::S3(s) => &s.endpoint,
            Server::Azure { endpoint, .. } => endpoint,
        }
    }

    /// A storage at `prefix` in the bucket or container, talking to
    /// `endpoint`, with `options` besides the credentials (`open_with`'s
    /// names: `max_retries`, `attempt_timeout_ms`, ...).
    pub async fn open(
        &self,
        endpoint: &str,
        prefix: &str,
        options: &[(&'static str, String)],
    ) -> std::sync::Arc<dyn Storage> {
        let (url, mut all) = match self {
            Server::S3(s) => (
                format!("s3://{}/{prefix}", s.bucket),
                vec![
                    ("region", s.region.clone()),
                    ("access_key_id", s.key_id.clone()),
                    ("secret_access_key", s.secret.clone()),
                ],
            ),
            Server::Azure {
                container,
                account,
                key,
                ..
            } => (
                format!("az://{container}/{prefix}"),
                vec![
                    ("account_name", account.clone()),
                    ("access_key", key.clone()),
                ],
            ),
        };
        all.push(("endpoint", endpoint.to_owned()));
        all.push(("allow_http", "true".to_owned()));
        all.extend(options.iter().cloned());
        seerstore::open_with(&url, all.iter().map(|(k, v)| (*k, v.as_str())))
            .await
            .expect("open")
    }
}
