//! The conformance suite against s3s-fs (an S3 server in Rust that keeps
//! objects as files and checks SigV4 signatures), through `seerstore::open`
//! and through a hand-built object_store client.
#![cfg(all(feature = "aws", feature = "conformance"))]

mod common_servers;
mod support;

use std::sync::Arc;

use common_servers::{conformance, probe_agrees, unique_prefix, S3Server};
use seerstore::conformance::Capabilities;
use seerstore::{ObjectStorage, Storage};

mod expected;

fn s3s() -> Option<S3Server> {
    S3Server::from_env("s3s-fs", "S3S")
}

/// What s3s-fs 0.14 cannot do, each forced by how it stores objects:
/// - objects are files in a directory tree, so keys `a` and `a/b` cannot
///   both exist, and a segment is at most 255 bytes (NAME_MAX);
/// - `If-None-Match`/`If-Match` are checked per request but not atomically
///   with the write, so several racing conditional writes can all win;
/// - it keeps each object's metadata in a file named after the base64 of
///   bucket and whole key (`.bucket-<b64>.object-<b64>.internal.json`), so
///   a whole key (prefix included) longer than 154 bytes fails with
///   `File name too long` (HTTP 500) where S3 allows 1024;
/// - it writes an object's data file and then its metadata file (the
///   ETag), and a GET reads them apart, so a read racing a PUT can get the
///   new bytes with the old ETag;
/// - S3 has no rename: copy, then delete.
fn caps(prefix: &str) -> Capabilities {
    const S3S_FS_MAX_KEY: usize = 154;
    Capabilities::all()
        .atomic_rename(false)
        .conditional_copy(true, false)
        .consistent_reads(false)
        .file_and_dir_keys(false)
        .atomic_conditionals(false)
        .key_limits(S3S_FS_MAX_KEY - prefix.len() - 1, 255)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_through_open_url() -> seerstore::Result<()> {
    let Some(s) = s3s() else { return Ok(()) };
    let prefix = unique_prefix("open");
    let storage = seerstore::open(&s.url(&prefix)).await?;
    conformance(
        "s3s-fs via open",
        storage,
        caps(&prefix),
        &expected::object_store(&[
            "file_and_dir_keys",
            "racing_creates_one_winner",
            "racing_updates_one_winner",
            "read_with_consistent_under_replacement",
            "read_with_compare_and_swap_counter",
        ]),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_through_hand_built_client() -> seerstore::Result<()> {
    let Some(s) = s3s() else { return Ok(()) };
    let store = s.client();
    let prefix = unique_prefix("client");
    let storage = Arc::new(ObjectStorage::new(Arc::new(store)).with_prefix(&prefix));
    conformance(
        "s3s-fs via ObjectStorage::new",
        storage,
        caps(&prefix),
        &expected::object_store(&[
            "file_and_dir_keys",
            "racing_creates_one_winner",
            "racing_updates_one_winner",
            "read_with_consistent_under_replacement",
            "read_with_compare_and_swap_counter",
        ]),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_rejects_a_wrong_signature() -> seerstore::Result<()> {
    let Some(s) = s3s() else { return Ok(()) };
    let url = format!(
        "s3://{}/{}?endpoint={}&region={}&access_key_id={}&secret_access_key=wrong&allow_http=true&max_retries=0",
        s.bucket,
        unique_prefix("badsig"),
        s.endpoint,
        s.region,
        s.key_id
    );
    let storage = seerstore::open(&url).await?;
    let err = storage
        .write("x", bytes::Bytes::from_static(b"x"))
        .await
        .expect_err("a wrong secret must be refused");
    assert!(!err.is_retryable(), "an auth failure is permanent: {err}");
    assert!(
        !format!("{err} {err:?}").contains("wrong"),
        "the secret leaked into the error: {err:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_probe_agrees_with_declared_capabilities() -> seerstore::Result<()> {
    let Some(s) = s3s() else { return Ok(()) };
    let prefix = unique_prefix("probe");
    let storage = seerstore::open(&s.url(&prefix)).await?;
    probe_agrees("s3s-fs", &*storage, &caps(&prefix)).await;
    Ok(())
}

/// `read_ranges` merges nearby ranges into fewer requests against a real S3
/// server: 16 block reads within 1 MiB are one GET (counted by a wrapper
/// that injects no faults).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_read_ranges_merges_nearby_ranges() -> seerstore::Result<()> {
    let Some(s) = s3s() else { return Ok(()) };
    let store = s.client();
    let counting = Arc::new(support::FaultStore::new(Arc::new(store), Vec::new(), 0));
    let storage = ObjectStorage::new(counting.clone()).with_prefix(unique_prefix("ranges"));
    let data = support::data(1 << 20, 7);
    storage.write("L0/1.sst", data.clone()).await?;
    let ranges: Vec<_> = (0..16u64).map(|i| i * 60_000..i * 60_000 + 4096).collect();
    let before = counting.calls(support::Method::Get);
    let got = storage.read_ranges("L0/1.sst", &ranges).await?;
    let gets = counting.calls(support::Method::Get) - before;
    for (r, b) in ranges.iter().zip(&got) {
        assert_eq!(b, &data[r.start as usize..r.end as usize], "{r:?}");
    }
    // 16 ranges spread over 1 MiB, each within the default coalescing
    // distance of the next: exactly one GET, as the docs say.
    assert_eq!(gets, 1, "{gets} GETs for {} ranges", ranges.len());
    println!(
        "read_ranges on s3s-fs: {} ranges in {gets} GET(s)",
        ranges.len()
    );
    storage.delete("L0/1.sst").await?;
    Ok(())
}
