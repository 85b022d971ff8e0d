//! Every fault of the test proxy, once each, between seerstore and the real
//! servers of the test suite (moto, s3s-fs, Azurite): a write, a read and a
//! conditional create whose first request is faulted all succeed on a
//! retry, the data is whole, and the server saw exactly the requests the
//! fault implies.
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;
mod proxy;

use std::time::Duration;

use bytes::Bytes;
use common_servers::{unique_prefix, Server};
use proxy::{through, upstream_of, Fault, Proxy, ProxyConfig, Rule, Trigger};
use seerstore::{Storage, WriteMode};

const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);

fn faults() -> Vec<Fault> {
    vec![
        Fault::ResetBeforeRequest,
        Fault::ResetAfterResponseBytes(12),
        Fault::Stall(ATTEMPT_TIMEOUT + Duration::from_millis(500)),
        Fault::Status(500),
        Fault::Status(503),
        Fault::Status(429),
        Fault::Status(408),
        Fault::LoseAnswer,
    ]
}

/// Retry settings shared by every proxied storage of this file.
fn retry_options() -> Vec<(&'static str, String)> {
    vec![
        ("max_retries", "3".into()),
        ("initial_backoff_ms", "10".into()),
        ("max_backoff_ms", "50".into()),
        (
            "attempt_timeout_ms",
            ATTEMPT_TIMEOUT.as_millis().to_string(),
        ),
    ]
}

/// For each fault: one proxy whose rules fault the first PUT of a plain
/// write, the first GET of a read and the first PUT of a conditional
/// create, each on its own key.
async fn every_fault_once(name: &str, server: &Server) {
    let endpoint = server.endpoint();
    let upstream = upstream_of(endpoint);
    for (n, fault) in faults().into_iter().enumerate() {
        let tag = format!("f{n}");
        let write_key = format!("{tag}-written");
        let read_key = format!("{tag}-read");
        let create_key = format!("{tag}-created");
        let config = ProxyConfig::new(upstream, 7)
            .rule(
                Rule::new(Trigger::Nth(1), fault)
                    .method("PUT")
                    .target_contains(write_key.clone()),
            )
            .rule(
                Rule::new(Trigger::Nth(1), fault)
                    .method("GET")
                    .target_contains(read_key.clone()),
            )
            .rule(
                Rule::new(Trigger::Nth(1), fault)
                    .method("PUT")
                    .target_contains(create_key.clone()),
            );
        let proxy = Proxy::start(config).await.expect("proxy");
        let prefix = unique_prefix(&format!("proxy-{name}"));
        let faulted = server
            .open(&through(&proxy, endpoint), &prefix, &retry_options())
            .await;
        let direct = server.open(endpoint, &prefix, &retry_options()).await;
        let data = Bytes::from(format!("{name} {fault:?} ").repeat(500));

        faulted
            .write(&write_key, data.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}, {fault:?}: write: {e}"));
        assert_eq!(direct.read(&write_key).await.expect("read back"), data);

        direct.write(&read_key, data.clone()).await.expect("seed");
        let got = faulted
            .read(&read_key)
            .await
            .unwrap_or_else(|e| panic!("{name}, {fault:?}: read: {e}"));
        assert_eq!(got, data, "{name}, {fault:?}: read");

        faulted
            .write_with(&create_key, data.clone(), WriteMode::Create)
            .await
            .unwrap_or_else(|e| panic!("{name}, {fault:?}: conditional create: {e}"));
        assert_eq!(direct.read(&create_key).await.expect("read back"), data);

        let faults = proxy.faults_by_kind();
        assert_eq!(faults.get(fault.kind()), Some(&3), "{name}: {faults:?}");
        let log = proxy.log();
        let count = |method: &str, key: &str| {
            log.iter()
                .filter(|s| s.method == method && s.target.contains(key))
                .count()
        };
        // The faulted request and its one retry; nothing more.
        assert_eq!(count("PUT", &write_key), 2, "{name}, {fault:?}: {log:#?}");
        assert_eq!(count("GET", &read_key), 2, "{name}, {fault:?}: {log:#?}");
        // A create whose first attempt landed is answered "exists" on the
        // retry: seerstore then reads the object to see that it is its own
        // (the read is not faulted).
        let creates = count("PUT", &create_key);
        assert_eq!(creates, 2, "{name}, {fault:?}: {log:#?}");
        let errors = proxy.connection_errors();
        assert!(errors.is_empty(), "{name}, {fault:?}: {errors:?}");
        // Six requests, plus the read that confirms a create whose answer
        // was lost after it landed.
        let expected = 6 + usize::from(fault.forwards());
        assert_eq!(log.len(), expected, "{name}, {fault:?}: {log:#?}");
        println!(
            "{name}: {:<22} write, read, create each recovered after one retry; {} requests",
            fault.kind(),
            log.len()
        );
        common_servers::cleanup(&*direct).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_once_against_moto() {
    let Some(server) = Server::moto() else { return };
    every_fault_once("moto", &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_once_against_s3s_fs() {
    let Some(server) = Server::s3s_fs() else {
        return;
    };
    every_fault_once("s3s-fs", &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_once_against_azurite() {
    let Some(server) = Server::azurite() else {
        return;
    };
    every_fault_once("Azurite", &server).await;
}
