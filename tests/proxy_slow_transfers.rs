//! `attempt_timeout` bounds waiting, not transfers: through the fault proxy
//! to moto, a body relayed slowly but steadily for several times the
//! attempt timeout arrives whole in one attempt (read, ranged read, single
//! PUT), while a body that stops for longer than the timeout is retried.
//!
//! Scaled down from "a 64 MiB read at 2 MB/s with a 5 s timeout" to keep
//! the suite short: 8 MiB at 1 MiB/s with a 2 s timeout, the same
//! principle (each transfer takes 4 to 8 attempt timeouts).
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;
mod proxy;

use std::time::Duration;

use bytes::Bytes;
use common_servers::{unique_prefix, Server};
use proxy::{through, upstream_of, Fault, Proxy, ProxyConfig, Rule, Trigger};
use seerstore::Storage;

const MIB: usize = 1024 * 1024;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

fn options(max_retries: u32) -> Vec<(&'static str, String)> {
    vec![
        ("max_retries", max_retries.to_string()),
        ("initial_backoff_ms", "10".into()),
        ("max_backoff_ms", "50".into()),
        (
            "attempt_timeout_ms",
            ATTEMPT_TIMEOUT.as_millis().to_string(),
        ),
        // One PUT for the whole object, whatever its size.
        ("part_size", (64 * MIB).to_string()),
    ]
}

fn data(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(3))
        .collect::<Vec<u8>>()
        .into()
}

fn count(proxy: &Proxy, method: &str, key: &str) -> usize {
    proxy
        .log()
        .iter()
        .filter(|s| s.method == method && s.target.contains(key))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_steady_transfers_complete_in_one_attempt() {
    let Some(server) = Server::moto() else { return };
    let endpoint = server.endpoint();
    let config = ProxyConfig::new(upstream_of(endpoint), 1)
        .rule(Rule::new(Trigger::Every(1), Fault::ThrottleAnswer(MIB as u64)).method("GET"))
        .rule(
            Rule::new(Trigger::Every(1), Fault::ThrottleRequest(2 * MIB as u64))
                .method("PUT")
                .target_contains("put-slow"),
        );
    let proxy = Proxy::start(config).await.expect("proxy");
    let prefix = unique_prefix("slow-transfers");
    // No retries: the one attempt must succeed.
    let slow = server
        .open(&through(&proxy, endpoint), &prefix, &options(0))
        .await;
    let direct = server.open(endpoint, &prefix, &options(0)).await;

    let big = data(8 * MIB);
    direct.write("read-slow", big.clone()).await.expect("seed");
    assert_eq!(slow.read("read-slow").await.expect("8 MiB at 1 MiB/s"), big);
    let range = 2 * MIB as u64..6 * MIB as u64;
    let got = slow
        .read_range("read-slow", range.clone())
        .await
        .expect("4 MiB at 1 MiB/s");
    assert_eq!(got, big.slice(2 * MIB..6 * MIB));
    assert_eq!(count(&proxy, "GET", "read-slow"), 2);

    slow.write("put-slow", big.clone())
        .await
        .expect("an 8 MiB PUT at 2 MiB/s");
    assert_eq!(count(&proxy, "PUT", "put-slow"), 1);
    assert_eq!(direct.read("put-slow").await.expect("read back"), big);
    common_servers::cleanup(&*direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_is_retried() {
    let Some(server) = Server::moto() else { return };
    let endpoint = server.endpoint();
    let pause = ATTEMPT_TIMEOUT + Duration::from_secs(1);
    let config = ProxyConfig::new(upstream_of(endpoint), 1)
        .rule(Rule::new(Trigger::Nth(1), Fault::PauseAnswer(256 * 1024, pause)).method("GET"));
    let proxy = Proxy::start(config).await.expect("proxy");
    let prefix = unique_prefix("stalled-body");
    let faulted = server
        .open(&through(&proxy, endpoint), &prefix, &options(2))
        .await;
    let direct = server.open(endpoint, &prefix, &options(2)).await;

    let data = data(2 * MIB);
    direct.write("stalls", data.clone()).await.expect("seed");
    assert_eq!(faulted.read("stalls").await.expect("read"), data);
    // The stalled GET and its retry.
    assert_eq!(count(&proxy, "GET", "stalls"), 2, "{:#?}", proxy.log());
    assert_eq!(proxy.faults(), 1);
    common_servers::cleanup(&*direct).await;
}
