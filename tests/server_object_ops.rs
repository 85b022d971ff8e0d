//! `read_with`, `list_with`, `list_dir`, `delete_many`, `copy` and `rename`
//! against the real servers (moto, s3s-fs, Azurite; fake-gcs-server for the
//! reads and listings, it takes no writes), counted by the test proxy,
//! which logs every HTTP request.
//!
//! What each server cannot do, and the behaviour that forces it, is
//! asserted where it shows:
//! - Azurite ignores Azure's `startFrom` and fake-gcs-server ignores
//!   `start-after`: both list from the start, and `ObjectStorage` drops the
//!   keys at or before the offset (without that, both tests fail);
//! - s3s-fs refuses a range ending at `u64::MAX - 1` (400
//!   `InvalidArgument`), so a clamped read to the end is sent as `bytes=a-`;
//! - an S3 client built without `copy_if_not_exists` cannot copy with
//!   `WriteMode::Create` (object_store answers `NotSupported`); with
//!   `multipart` (what `seerstore::open` sets for a custom endpoint) moto
//!   and s3s-fs do it, and Azurite does it with `If-None-Match: *`.
#![cfg(all(feature = "aws", feature = "azure", feature = "gcp"))]

mod common_servers;
mod proxy;

use std::sync::Arc;

use bytes::Bytes;
use common_servers::{cleanup, unique_prefix, var, Server};
use futures::{StreamExt, TryStreamExt};
use proxy::{through, upstream_of, Proxy, ProxyConfig};
use seerstore::{Error, ListOptions, ReadOptions, Storage, WriteMode};

/// A storage of `server` at a fresh prefix straight to the server, the
/// same prefix through a proxy that counts requests, and the proxy.
async fn open(server: &Server, tag: &str) -> (Arc<dyn Storage>, Arc<dyn Storage>, Proxy) {
    let prefix = unique_prefix(tag);
    let options = [("max_retries", "0".to_owned())];
    let direct = server.open(server.endpoint(), &prefix, &options).await;
    let config = ProxyConfig::new(upstream_of(server.endpoint()), 1);
    let proxy = Proxy::start(config).await.expect("proxy");
    let counted = server
        .open(&through(&proxy, server.endpoint()), &prefix, &options)
        .await;
    (direct, counted, proxy)
}

/// The requests `call` sent through `proxy`, as `METHOD target`.
async fn sent<T>(proxy: &Proxy, call: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
    let before = proxy.log().len();
    let out = call.await;
    let log = proxy.log();
    let requests = log[before..]
        .iter()
        .map(|seen| format!("{} {}", seen.method, seen.target))
        .collect();
    (out, requests)
}

async fn read_with_is_one_request(name: &str, server: &Server) -> seerstore::Result<()> {
    let (direct, s, proxy) = open(server, "read-with").await;
    let written = direct
        .write("L0/a.sst", Bytes::from_static(b"0123456789"))
        .await?;
    let version = written.version.clone().expect("a version");

    let options = ReadOptions {
        range: Some(2..6),
        ..Default::default()
    };
    let (read, requests) = sent(&proxy, s.read_with("L0/a.sst", options)).await;
    let read = read?;
    assert_eq!(read.data, "2345", "{name}");
    assert_eq!(read.meta.size, 10, "{name}");
    assert_eq!(
        read.meta.version.as_deref(),
        Some(version.as_str()),
        "{name}"
    );
    assert_eq!(requests.len(), 1, "{name}: {requests:?}");
    assert!(requests[0].starts_with("GET "), "{name}: {requests:?}");

    let current = ReadOptions {
        if_match: Some(version.clone()),
        ..Default::default()
    };
    let (read, requests) = sent(&proxy, s.read_with("L0/a.sst", current)).await;
    assert_eq!(read?.data, "0123456789", "{name}");
    assert_eq!(requests.len(), 1, "{name}: {requests:?}");

    let held = ReadOptions {
        if_none_match: Some(version.clone()),
        ..Default::default()
    };
    let (read, requests) = sent(&proxy, s.read_with("L0/a.sst", held)).await;
    assert!(read.expect_err("an error").is_not_modified(), "{name}");
    assert_eq!(requests.len(), 1, "{name}: {requests:?}");

    direct
        .write("L0/a.sst", Bytes::from_static(b"abcdefghij"))
        .await?;
    let stale = ReadOptions {
        if_match: Some(version),
        ..Default::default()
    };
    let (read, requests) = sent(&proxy, s.read_with("L0/a.sst", stale)).await;
    assert!(read.expect_err("an error").is_precondition(), "{name}");
    // A failed `if_match` is told apart from a missing object by a head
    // (Azure answers 412 for both).
    assert_eq!(requests.len(), 2, "{name}: {requests:?}");
    assert!(requests[1].starts_with("HEAD "), "{name}: {requests:?}");

    let tail = ReadOptions {
        range: Some(7..u64::MAX),
        clamp_to_size: true,
        ..Default::default()
    };
    let (read, requests) = sent(&proxy, s.read_with("L0/a.sst", tail)).await;
    assert_eq!(read?.data, "hij", "{name}");
    assert_eq!(requests.len(), 1, "{name}: {requests:?}");

    let past = ReadOptions {
        range: Some(5..11),
        ..Default::default()
    };
    let (read, requests) = sent(&proxy, s.read_with("L0/a.sst", past)).await;
    assert!(
        matches!(read, Err(Error::InvalidRange { size: Some(10), .. })),
        "{name}: {read:?}"
    );
    assert_eq!(
        requests.len(),
        1,
        "{name}: the GET's own answer tells the size: {requests:?}"
    );
    cleanup(&*direct).await;
    Ok(())
}

/// Lists `wal` after `wal/000002.log`, and `L0` one level; returns the
/// targets of the listing requests.
async fn listings(name: &str, server: &Server) -> seerstore::Result<(Vec<String>, Vec<String>)> {
    let (direct, s, proxy) = open(server, "listings").await;
    for key in [
        "wal/000001.log",
        "wal/000002.log",
        "wal/000003.log",
        "wal/000004.log",
    ] {
        direct.write(key, Bytes::from_static(b"x")).await?;
    }
    for key in ["L0/a.sst", "L0/sub/b.sst", "L0/sub/c/d", "L00/x"] {
        direct.write(key, Bytes::from_static(b"x")).await?;
    }
    let after = ListOptions {
        offset: Some("wal/000002.log".into()),
    };
    let (listed, offset_requests) = sent(&proxy, async {
        s.list_with("wal", after)
            .map_ok(|m| m.path)
            .try_collect::<Vec<_>>()
            .await
    })
    .await;
    assert_eq!(listed?, ["wal/000003.log", "wal/000004.log"], "{name}");

    let (level, dir_requests) = sent(&proxy, s.list_dir("L0")).await;
    let level = level?;
    let objects: Vec<&str> = level.objects.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(objects, ["L0/a.sst"], "{name}");
    assert_eq!(level.dirs, ["L0/sub"], "{name}");
    assert_eq!(dir_requests.len(), 1, "{name}: {dir_requests:?}");
    assert!(
        dir_requests[0].contains("delimiter=%2F") || dir_requests[0].contains("delimiter=/"),
        "{name}: {dir_requests:?}"
    );
    cleanup(&*direct).await;
    Ok((offset_requests, dir_requests))
}

async fn copies(name: &str, server: &Server) -> seerstore::Result<()> {
    let (direct, s, proxy) = open(server, "copy").await;
    let data = Bytes::from(vec![7u8; 64 * 1024]);
    direct.write("MANIFEST-1", data.clone()).await?;

    let (copied, requests) = sent(
        &proxy,
        s.copy("MANIFEST-1", "backup/MANIFEST", WriteMode::Overwrite),
    )
    .await;
    let copied = copied?;
    assert_eq!(copied.size, data.len() as u64, "{name}");
    assert_eq!(direct.read("backup/MANIFEST").await?, data, "{name}");
    // A PUT with a copy source (or Azure's copy) and a HEAD: no GET of the
    // bytes, no body sent.
    assert_eq!(requests.len(), 2, "{name}: {requests:?}");
    assert!(
        requests.iter().all(|r| !r.starts_with("GET ")),
        "{name}: {requests:?}"
    );

    let taken = s
        .copy("MANIFEST-1", "backup/MANIFEST", WriteMode::Create)
        .await;
    assert!(taken.expect_err("an error").is_already_exists(), "{name}");
    s.copy("MANIFEST-1", "backup/MANIFEST-2", WriteMode::Create)
        .await?;
    assert_eq!(direct.read("backup/MANIFEST-2").await?, data, "{name}");

    let renamed = s
        .rename("backup/MANIFEST-2", "MANIFEST-2", WriteMode::Create)
        .await?;
    assert_eq!(renamed.path, "MANIFEST-2", "{name}");
    assert!(!direct.exists("backup/MANIFEST-2").await?, "{name}");
    assert_eq!(direct.read("MANIFEST-2").await?, data, "{name}");
    cleanup(&*direct).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_read_with_is_one_get() -> seerstore::Result<()> {
    let Some(server) = Server::moto() else {
        return Ok(());
    };
    read_with_is_one_request("moto", &server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_read_with_is_one_get() -> seerstore::Result<()> {
    let Some(server) = Server::s3s_fs() else {
        return Ok(());
    };
    read_with_is_one_request("s3s-fs", &server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_read_with_is_one_get() -> seerstore::Result<()> {
    let Some(server) = Server::azurite() else {
        return Ok(());
    };
    read_with_is_one_request("Azurite", &server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_listings_start_after_the_offset_and_use_a_delimiter() -> seerstore::Result<()> {
    for (name, server) in [("moto", Server::moto()), ("s3s-fs", Server::s3s_fs())] {
        let Some(server) = server else { continue };
        let (offset_requests, _) = listings(name, &server).await?;
        assert_eq!(offset_requests.len(), 1, "{name}: {offset_requests:?}");
        assert!(
            offset_requests[0].contains("start-after="),
            "{name}: {offset_requests:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_ignores_start_from_and_the_listing_filters() -> seerstore::Result<()> {
    let Some(server) = Server::azurite() else {
        return Ok(());
    };
    let (offset_requests, _) = listings("Azurite", &server).await?;
    // object_store sends `startFrom` to a custom endpoint; Azurite ignores
    // it and lists from the start, and `ObjectStorage` drops the keys at or
    // before the offset.
    assert_eq!(offset_requests.len(), 1, "{offset_requests:?}");
    assert!(
        offset_requests[0].contains("startFrom="),
        "{offset_requests:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_rename_are_server_side() -> seerstore::Result<()> {
    for (name, server) in [
        ("moto", Server::moto()),
        ("s3s-fs", Server::s3s_fs()),
        ("Azurite", Server::azurite()),
    ] {
        let Some(server) = server else { continue };
        copies(name, &server).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_without_copy_if_not_exists_refuses_create_copies() -> seerstore::Result<()> {
    let Some(server) = common_servers::S3Server::from_env("moto", "MOTO") else {
        return Ok(());
    };
    // Built by hand without `copy_if_not_exists`, as a user might.
    let store = Arc::new(server.builder().build().expect("S3 builder"));
    let s = seerstore::ObjectStorage::new(store).with_prefix(unique_prefix("no-copy-create"));
    s.write("a", Bytes::from_static(b"a")).await?;
    match s.copy("a", "b", WriteMode::Create).await {
        Err(Error::NotSupported { path, what, .. }) => {
            assert_eq!(path, "b");
            assert!(what.contains("copy_if_not_exists"), "{what}");
        }
        other => panic!("expected NotSupported, got {other:?}"),
    }
    assert!(!s.exists("b").await?, "nothing copied");
    assert!(matches!(
        s.rename("a", "b", WriteMode::Create).await,
        Err(Error::NotSupported { .. })
    ));
    assert!(s.exists("a").await?, "the source is kept");
    s.copy("a", "b", WriteMode::Overwrite).await?;
    cleanup(&s).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_deletes_1000_keys_in_one_request() -> seerstore::Result<()> {
    let Some(server) = Server::moto() else {
        return Ok(());
    };
    let (direct, s, proxy) = open(&server, "delete-many").await;
    let mut paths: Vec<String> = (0..1_000).map(|n| format!("L0/{n:06}.sst")).collect();
    futures::stream::iter(paths.iter().step_by(2))
        .map(|path| direct.write(path, Bytes::from_static(b"x")))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    paths.push("bad//path".into());
    let (results, requests) = sent(&proxy, s.delete_many(&paths)).await;
    assert_eq!(results.len(), 1_001);
    assert!(
        results[..1_000].iter().all(|r| r.is_ok()),
        "missing keys are deleted too"
    );
    assert!(matches!(results[1_000], Err(Error::InvalidPath { .. })));
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("POST ") && requests[0].contains("delete"),
        "{requests:?}"
    );
    assert!(direct.list("").try_collect::<Vec<_>>().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcs_server_listings_and_read_with() -> seerstore::Result<()> {
    let (Some(bucket), Some(account), Some(prefix)) = (
        var("fake-gcs-server", "GCS_BUCKET"),
        var("fake-gcs-server", "GCS_SERVICE_ACCOUNT"),
        var("fake-gcs-server", "GCS_SEED_PREFIX"),
    ) else {
        return Ok(());
    };
    let url = format!("gs://{bucket}/{prefix}");
    let s = seerstore::open_with(&url, [("service_account_path", account)]).await?;
    // fake-gcs-server ignores `start-after`; the keys come back anyway and
    // are dropped here.
    let after = ListOptions {
        offset: Some("L0/000001.sst".into()),
    };
    let listed: Vec<String> = s
        .list_with("L0", after)
        .map_ok(|m| m.path)
        .try_collect()
        .await?;
    assert_eq!(listed, ["L0/000002.sst"]);
    let root = s.list_dir("").await?;
    assert_eq!(root.dirs, ["L0", "L00"]);
    let objects: Vec<&str> = root.objects.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(objects, ["empty", "small.txt"]);
    let read = s
        .read_with(
            "small.txt",
            ReadOptions {
                range: Some(0..5),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!((read.data.as_ref(), read.meta.size), (&b"hello"[..], 21));
    let held = ReadOptions {
        if_none_match: read.meta.version.clone(),
        ..Default::default()
    };
    let again = s.read_with("small.txt", held).await;
    assert!(again.expect_err("an error").is_not_modified());
    Ok(())
}
