//! A streaming upload whose completion is retried is reported as written
//! only on proof that the object at the key is this upload — never because
//! an old object of the same size is there (a rewritten SSTable) — and a
//! conditional write that meets S3's `409 ConditionalRequestConflict` is
//! retried, not reported as a conflict. Through the fault proxy, against
//! the real servers of the test suite.
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;
mod proxy;

use bytes::Bytes;
use common_servers::{unique_prefix, Server};
use proxy::{through, upstream_of, Fault, Proxy, ProxyConfig, Rule, Trigger};
use seerstore::{Storage, WriteMode};

/// S3's smallest part for every part but the last.
const PART: usize = 5 * 1024 * 1024;
const SIZE: usize = 2 * PART + 1024;

fn options() -> Vec<(&'static str, String)> {
    vec![
        ("max_retries", "3".into()),
        ("initial_backoff_ms", "10".into()),
        ("max_backoff_ms", "50".into()),
        ("attempt_timeout_ms", "10000".into()),
        ("part_size", PART.to_string()),
    ]
}

fn data(seed: u8) -> Bytes {
    (0..SIZE)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// The completion request of a multipart upload, by backend.
fn completion(server: &Server) -> Rule {
    match server {
        Server::S3(_) => Rule::new(Trigger::Nth(1), Fault::LoseAnswer)
            .method("POST")
            .target_contains("uploadId="),
        Server::Azure { .. } => Rule::new(Trigger::Nth(1), Fault::LoseAnswer)
            .method("PUT")
            .target_contains("comp=blocklist"),
    }
}

/// What a server answers a completion whose upload is gone.
fn upload_gone(server: &Server) -> Fault {
    match server {
        Server::S3(_) => Fault::Canned(404, "NoSuchUpload"),
        Server::Azure { .. } => Fault::Canned(400, "InvalidBlockList"),
    }
}

async fn write_streamed(
    storage: &dyn Storage,
    key: &str,
    data: &Bytes,
) -> seerstore::Result<seerstore::ObjectMeta> {
    let mut writer = storage.writer(key).await?;
    for chunk in data.chunks(1024 * 1024) {
        writer.write(Bytes::copy_from_slice(chunk)).await?;
    }
    writer.finish().await
}

/// The completion lands and its answer is lost; an old object of the same
/// size was there before. The retry must report this upload, with the new
/// object's version.
async fn lost_answer_over_same_size_object(name: &str, server: &Server) {
    let endpoint = server.endpoint();
    let proxy = Proxy::start(ProxyConfig::new(upstream_of(endpoint), 1).rule(completion(server)))
        .await
        .expect("proxy");
    let prefix = unique_prefix(&format!("lost-completion-{name}"));
    let faulted = server
        .open(&through(&proxy, endpoint), &prefix, &options())
        .await;
    let direct = server.open(endpoint, &prefix, &options()).await;
    let (old, new) = (data(1), data(2));
    direct
        .write("L0/1.sst", old.clone())
        .await
        .expect("old object");

    let meta = write_streamed(&*faulted, "L0/1.sst", &new)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(proxy.faults(), 1, "{name}: {:#?}", proxy.log());
    assert_eq!(direct.read("L0/1.sst").await.expect("read"), new, "{name}");
    assert_eq!(meta.size, SIZE as u64);
    // The version reported is the new object's: an update from it wins.
    let update = WriteMode::Update(meta.version.clone().expect("a version"));
    direct
        .write_with("L0/1.sst", Bytes::from_static(b"next"), update)
        .await
        .unwrap_or_else(|e| panic!("{name}: update from the reported version: {e}"));
    common_servers::cleanup(&*direct).await;
}

/// The first completion fails before it reaches the server; the retry
/// finds the upload gone; an old object of the same size is at the key.
/// Nothing proves the write landed: not `Ok` with the old object.
async fn upload_gone_over_same_size_object(name: &str, server: &Server) {
    let endpoint = server.endpoint();
    let first = completion(server);
    let config = ProxyConfig::new(upstream_of(endpoint), 1)
        .rule(Rule {
            fault: Fault::Status(500),
            ..first.clone()
        })
        // Counts only the requests the first rule let through: the retry.
        .rule(Rule {
            fault: upload_gone(server),
            ..first
        });
    let proxy = Proxy::start(config).await.expect("proxy");
    let prefix = unique_prefix(&format!("gone-completion-{name}"));
    let faulted = server
        .open(&through(&proxy, endpoint), &prefix, &options())
        .await;
    let direct = server.open(endpoint, &prefix, &options()).await;
    let (old, new) = (data(1), data(2));
    direct
        .write("L0/1.sst", old.clone())
        .await
        .expect("old object");

    match write_streamed(&*faulted, "L0/1.sst", &new).await {
        Ok(meta) => panic!("{name}: reported written, with the old object: {meta:?}"),
        Err(e) => assert_eq!(e.kind(), "outcome_unknown", "{name}: {e}"),
    }
    assert_eq!(proxy.faults(), 2, "{name}: {:#?}", proxy.log());
    assert_eq!(direct.read("L0/1.sst").await.expect("read"), old, "{name}");
    common_servers::cleanup(&*direct).await;
}

/// A conditional write answered `409 ConditionalRequestConflict` (another
/// conditional write to the key was in flight) is retried.
async fn conditional_request_conflict_is_retried(name: &str, server: &Server) {
    let endpoint = server.endpoint();
    let config = ProxyConfig::new(upstream_of(endpoint), 1)
        .rule(
            Rule::new(
                Trigger::Nth(2),
                Fault::Canned(409, "ConditionalRequestConflict"),
            )
            .method("PUT")
            .target_contains("MANIFEST"),
        )
        .rule(
            Rule::new(
                Trigger::Nth(1),
                Fault::Canned(409, "ConditionalRequestConflict"),
            )
            .method("PUT")
            .target_contains("CURRENT"),
        );
    let proxy = Proxy::start(config).await.expect("proxy");
    let prefix = unique_prefix(&format!("conflict-{name}"));
    let faulted = server
        .open(&through(&proxy, endpoint), &prefix, &options())
        .await;

    let v1 = faulted
        .write("MANIFEST", Bytes::from_static(b"v1"))
        .await
        .expect("v1");
    let update = WriteMode::Update(v1.version.clone().expect("a version"));
    let v2 = faulted
        .write_with("MANIFEST", Bytes::from_static(b"v2"), update)
        .await
        .unwrap_or_else(|e| panic!("{name}: update: {e}"));
    assert_ne!(v2.version, v1.version);
    faulted
        .write_with("CURRENT", Bytes::from_static(b"c"), WriteMode::Create)
        .await
        .unwrap_or_else(|e| panic!("{name}: create: {e}"));
    assert_eq!(proxy.faults(), 2, "{name}: {:#?}", proxy.log());
    assert_eq!(faulted.read("MANIFEST").await.expect("read"), "v2");
    assert_eq!(faulted.read("CURRENT").await.expect("read"), "c");
    common_servers::cleanup(&*faulted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_completion_against_moto() {
    let Some(server) = Server::moto() else { return };
    lost_answer_over_same_size_object("moto", &server).await;
    upload_gone_over_same_size_object("moto", &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_completion_against_azurite() {
    let Some(server) = Server::azurite() else {
        return;
    };
    lost_answer_over_same_size_object("Azurite", &server).await;
    upload_gone_over_same_size_object("Azurite", &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_request_conflict_against_moto() {
    let Some(server) = Server::moto() else { return };
    conditional_request_conflict_is_retried("moto", &server).await;
}
