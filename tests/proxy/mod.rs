//! A fault-injecting HTTP/1.1 proxy for the tests, on tokio, listening on
//! 127.0.0.1 only, placed between seerstore and a real server of the test
//! suite (moto, s3s-fs, Azurite).
//!
//! The proxy understands just enough HTTP/1.1 to find where each request
//! and each response ends (`Content-Length`, `chunked`, bodiless answers,
//! close-delimited bodies), so it can keep client connections alive like
//! the server would and fault one exchange at a time. Bodies are streamed, not
//! buffered. Every request is matched against declarative [`Rule`]s, first
//! match wins; a rule fires on the nth matching request, on every kth, or
//! on a seeded random fraction of them, and injects one [`Fault`]:
//!
//! * [`Fault::ResetBeforeRequest`]: the connection is reset once the request
//!   head arrived; nothing reaches the server;
//! * [`Fault::ResetAfterResponseBytes`]: forwarded, and the connection reset
//!   after that many bytes of the answer (head included; the answer never
//!   arrives whole: at least its last byte, or its last chunk, is withheld);
//! * [`Fault::Stall`]: forwarded, then the answer is held back for that long
//!   (longer than the client's attempt timeout) and the connection dropped;
//! * [`Fault::Status`]: answered 500, 503 (with S3's `SlowDown` body), 429
//!   or 408 without forwarding;
//! * [`Fault::LoseAnswer`]: forwarded and answered by the server (the request
//!   landed), then the connection reset instead of answering;
//! * [`Fault::Canned`]: answered with any status and S3 error `<Code>`
//!   (`409 ConditionalRequestConflict`, `404 NoSuchUpload`, ...) without
//!   forwarding;
//! * [`Fault::ThrottleAnswer`], [`Fault::ThrottleRequest`]: forwarded, the
//!   answer (or the request body) relayed at a slow but steady rate;
//! * [`Fault::PauseAnswer`]: forwarded, the answer relayed up to a byte
//!   count, then held for a while, then relayed on.
//!
//! Bounded: after [`ProxyConfig::max_faults`] faults or once
//! [`ProxyConfig::fault_window`] has passed, requests are only forwarded;
//! after [`ProxyConfig::lifetime`] the proxy closes every connection and
//! stops by itself (also when the [`Proxy`] is dropped).
//!
//! Decisions are deterministic per request arrival index and seed; with
//! concurrent clients the arrival order itself varies between runs.
//!
//! This file holds the [`Proxy`] and its accept loop; `rules.rs` the rules
//! and settings, `record.rs` what is counted and logged (and the decision
//! under the same lock), `relay.rs` one client connection, `http.rs` the
//! HTTP/1.1 framing, `answers.rs` the injected answers, `pace.rs` the
//! throttling.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinSet;

mod answers;
mod http;
mod pace;
mod record;
mod relay;
mod rules;

use record::{Shared, State};
use relay::serve;

// Each test binary uses only some of these.
#[allow(unused_imports)]
pub use record::Seen;
#[allow(unused_imports)]
pub use rules::{Fault, ProxyConfig, Rule, Trigger};

/// A running proxy; dropping it stops it.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1.
    pub async fn start(config: ProxyConfig) -> io::Result<Self> {
        assert!(
            config.upstream.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let lifetime = config.lifetime;
        let shared = Arc::new(Shared {
            config,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        });
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                let mut connections = JoinSet::new();
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            // Out of descriptors, most likely: let
                            // connections finish instead of spinning.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        let shared = shared.clone();
                        connections.spawn(async move {
                            if let Err(e) = serve(client, shared.clone()).await {
                                let mut state =
                                    shared.state.lock().unwrap_or_else(|p| p.into_inner());
                                state.errors.push(e.to_string());
                            }
                        });
                        // Reap finished connections as we go.
                        while connections.try_join_next().is_some() {}
                    }
                };
                // Stops by itself: the accept loop and, when `connections`
                // is dropped, every connection task.
                let _ = tokio::time::timeout(lifetime, accept).await;
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Faults injected.
    pub fn faults(&self) -> usize {
        self.lock().faults
    }

    /// Faults injected, by kind.
    pub fn faults_by_kind(&self) -> BTreeMap<&'static str, usize> {
        self.lock().by_kind.clone()
    }

    /// The most exchanges in progress at once (from a request's head
    /// arriving until its answer was relayed, or the fault ended it).
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Why connections ended early (a client that timed out and hung up, a
    /// server that closed): not faults of the proxy's choosing.
    pub fn connection_errors(&self) -> Vec<String> {
        self.lock().errors.clone()
    }

    /// Every request seen, in arrival order.
    pub fn log(&self) -> Vec<Seen> {
        self.lock().log.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address of an `http://host:port[/...]` endpoint on loopback.
pub fn upstream_of(endpoint: &str) -> SocketAddr {
    let rest = endpoint
        .strip_prefix("http://")
        .expect("an http:// endpoint");
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .unwrap_or_else(|e| panic!("endpoint {endpoint}: {e}"))
}

/// `endpoint` with its host and port replaced by the proxy's.
pub fn through(proxy: &Proxy, endpoint: &str) -> String {
    let rest = endpoint
        .strip_prefix("http://")
        .expect("an http:// endpoint");
    match rest.find('/') {
        Some(slash) => format!("{}{}", proxy.url(), &rest[slash..]),
        None => proxy.url(),
    }
}
