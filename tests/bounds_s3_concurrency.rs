//! 1,000 concurrent operations against moto through the fault-injecting
//! proxy, on an `ObjectStorage` bounded to 32 requests in flight: every
//! operation completes, the server never sees more than the bound at once,
//! and the heap stays within a bound that depends on the concurrency
//! limit and the object size, not on the number of operations.
//!
//! The bound asserted: 8 MiB + 2 × max_concurrency × object size (each
//! read in flight may hold its body in the HTTP client's buffers and
//! collected; the rest is the 1,000 waiting tasks, the proxy's buffers and
//! the allocator's slack). The same workload without the limit runs
//! beside it for comparison: there, hundreds of requests are in flight
//! and their bodies with them (its figures are printed, not asserted).
#![cfg(feature = "aws")]

mod common_servers;
mod proxy;

use std::time::Instant;

use bytes::Bytes;
use common_servers::Server;
use futures::TryStreamExt;
use peak_alloc::PeakAlloc;
use proxy::{through, upstream_of, Fault, Proxy, ProxyConfig, Rule, Trigger};
use seerstore::Storage;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const OPS: usize = 1_000;
const MAX_CONCURRENCY: usize = 32;
const OBJECTS: usize = 16;
const OBJECT_SIZE: usize = 256 * 1024;
const WRITE_SIZE: usize = 64 * 1024;

/// Retries and timeouts of every storage here, and the bound if any.
fn options(limit: Option<usize>) -> Vec<(&'static str, String)> {
    let mut options = vec![
        ("max_retries", "5".to_owned()),
        ("initial_backoff_ms", "10".to_owned()),
        ("max_backoff_ms", "200".to_owned()),
        ("attempt_timeout_ms", "20000".to_owned()),
    ];
    if let Some(limit) = limit {
        options.push(("max_concurrency", limit.to_string()));
    }
    options
}

fn object(i: usize) -> Bytes {
    Bytes::from(format!("{i:08}").repeat(OBJECT_SIZE / 8))
}

/// What one run of the workload showed.
struct Run {
    seconds: f64,
    failed: Vec<String>,
    peak: usize,
    requests: usize,
    faults: std::collections::BTreeMap<&'static str, usize>,
    max_in_flight: usize,
    written: usize,
}

/// 1,000 concurrent operations through a fresh fault-injecting proxy, on
/// a storage with `limit` requests in flight (if any).
async fn run(server: &Server, limit: Option<usize>) -> Run {
    let config = ProxyConfig::new(upstream_of(server.endpoint()), 0xB0B)
        .rule(Rule::new(Trigger::Fraction(0.03), Fault::Status(503)))
        .rule(Rule::new(
            Trigger::Fraction(0.03),
            Fault::ResetBeforeRequest,
        ))
        .rule(Rule::new(Trigger::Fraction(0.03), Fault::LoseAnswer));
    let proxy = Proxy::start(config).await.expect("proxy");
    let prefix = common_servers::unique_prefix("bounds");
    let direct = server
        .open(server.endpoint(), &prefix, &options(None))
        .await;
    for i in 0..OBJECTS {
        direct
            .write(&format!("data/{i:02}"), object(i))
            .await
            .expect("seed");
    }
    let storage = server
        .open(
            &through(&proxy, server.endpoint()),
            &prefix,
            &options(limit),
        )
        .await;
    // One payload shared by every write, so that the callers' own data
    // does not grow with the number of operations.
    let payload = Bytes::from(vec![0x5a; WRITE_SIZE]);

    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let started = Instant::now();
    let mut tasks: Vec<tokio::task::JoinHandle<seerstore::Result<()>>> = Vec::with_capacity(OPS);
    for n in 0..OPS {
        let (storage, payload) = (storage.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let i = n % OBJECTS;
            let key = format!("data/{i:02}");
            match n % 10 {
                0..=4 => {
                    let got = storage.read(&key).await?;
                    assert_eq!(got.len(), OBJECT_SIZE);
                    assert_eq!(&got[..8], format!("{i:08}").as_bytes());
                }
                5 => {
                    let got = storage.read_range(&key, 8..16).await?;
                    assert_eq!(got, format!("{i:08}"));
                }
                6 => {
                    let meta = storage.head(&key).await?;
                    assert_eq!(meta.size, OBJECT_SIZE as u64);
                }
                7 | 8 => {
                    storage.write(&format!("out/{n:04}"), payload).await?;
                }
                _ => {
                    let listed: Vec<_> = storage.list("data/").try_collect().await?;
                    assert_eq!(listed.len(), OBJECTS);
                }
            }
            Ok(())
        }));
    }
    let mut failed = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        if let Err(e) = task.await.expect("task") {
            failed.push(format!("op {n}: {e}"));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak = HEAP.peak_usage().saturating_sub(base);
    let written: Vec<_> = direct.list("out/").try_collect().await.expect("list");
    common_servers::cleanup(&*direct).await;
    let run = Run {
        seconds,
        failed,
        peak,
        requests: proxy.requests(),
        faults: proxy.faults_by_kind(),
        max_in_flight: proxy.max_in_flight(),
        written: written.len(),
    };
    let name = match limit {
        Some(limit) => format!("max_concurrency {limit}"),
        None => "unbounded".to_owned(),
    };
    println!(
        "bounds[{name}]: {OPS} concurrent operations in {:.1} s, {} failed; {} requests, faulted {:?}; \
         at most {} in flight at the proxy; peak heap {:.1} MiB above the start",
        run.seconds,
        run.failed.len(),
        run.requests,
        run.faults,
        run.max_in_flight,
        run.peak as f64 / (1024.0 * 1024.0),
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_operations_through_faults_stay_bounded() {
    let Some(server) = Server::moto() else { return };
    let bounded = run(&server, Some(MAX_CONCURRENCY)).await;
    let unbounded = run(&server, None).await;
    let bound = 8 * 1024 * 1024 + 2 * MAX_CONCURRENCY * OBJECT_SIZE;
    println!(
        "bounds: peak heap {:.1} MiB with the limit (bound {:.1} MiB), {:.1} MiB without: {:.1}x",
        bounded.peak as f64 / (1024.0 * 1024.0),
        bound as f64 / (1024.0 * 1024.0),
        unbounded.peak as f64 / (1024.0 * 1024.0),
        unbounded.peak as f64 / bounded.peak.max(1) as f64,
    );
    // The unbounded run is the comparison: hundreds of connections at once
    // test moto's listen backlog as much as seerstore, so only the bounded
    // run is held to completing every call.
    assert!(bounded.failed.is_empty(), "{:#?}", bounded.failed);
    assert_eq!(bounded.written, OPS / 5, "writes that landed");
    assert!(!bounded.faults.is_empty(), "no faults injected");
    assert!(
        unbounded.max_in_flight > MAX_CONCURRENCY + 2,
        "the unbounded run never exceeded the bound: not a comparison"
    );
    // The proxy counts an exchange until it has relayed the answer's last
    // byte; the client frees the slot when it has read it, and may send
    // the next request before the proxy counted the last one out: at most
    // a couple over.
    assert!(
        bounded.max_in_flight <= MAX_CONCURRENCY + 2,
        "{} requests in flight",
        bounded.max_in_flight
    );
    assert!(
        bounded.peak <= bound,
        "peak heap {} B over {bound} B",
        bounded.peak
    );
}
