//! The test proxy itself: its rules fire exactly as declared, it stops
//! faulting at its bounds and stops altogether after its lifetime. Driven
//! by plain HTTP/1.1 requests, in front of moto.

mod common_servers;
mod proxy;

use std::time::Duration;

use proxy::{upstream_of, Fault, Proxy, ProxyConfig, Rule, Trigger};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn moto() -> Option<std::net::SocketAddr> {
    common_servers::var("moto", "MOTO_ENDPOINT").map(|e| upstream_of(&e))
}

/// An HTTP/1.1 client of the proxy that keeps its connection alive until
/// an answer says `Connection: close` (as moto's all do), then reconnects.
struct Client {
    addr: String,
    stream: BufReader<TcpStream>,
    closed: bool,
}

impl Client {
    async fn connect(proxy: &Proxy) -> std::io::Result<Self> {
        let addr = proxy.url().trim_start_matches("http://").to_owned();
        Ok(Self {
            stream: BufReader::new(TcpStream::connect(&addr).await?),
            addr,
            closed: false,
        })
    }

    /// Sends `GET target` and returns the answer's status, `None` if the
    /// connection was reset or closed instead.
    async fn get(&mut self, target: &str) -> Option<u16> {
        if self.closed {
            self.stream = BufReader::new(TcpStream::connect(&self.addr).await.ok()?);
            self.closed = false;
        }
        let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .ok()?;
        let mut status_line = String::new();
        if self.stream.read_line(&mut status_line).await.ok()? == 0 {
            return None;
        }
        let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.ok()?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok()?;
                }
                if name.eq_ignore_ascii_case("connection") && value.trim() == "close" {
                    self.closed = true;
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.ok()?;
        Some(status)
    }
}

#[tokio::test]
async fn nth_and_every_fire_as_declared_and_max_faults_bounds_them() {
    let Some(upstream) = moto() else { return };
    let mut config = ProxyConfig::new(upstream, 1)
        .rule(Rule::new(Trigger::Nth(2), Fault::Status(429)).target_contains("/nth"))
        .rule(Rule::new(Trigger::Every(3), Fault::Status(503)).method("GET"));
    config.max_faults = 3;
    let proxy = Proxy::start(config).await.expect("proxy");
    let mut client = Client::connect(&proxy).await.expect("connect");
    let mut statuses = Vec::new();
    for i in 1..=12 {
        let target = if i <= 3 { "/nth" } else { "/other" };
        statuses.push(client.get(target).await.expect("an answer"));
    }
    // Request 2 is the second /nth: 429. The GET rule counts the GETs the
    // first rule let through (1, 3, 4, ...) and fires on its 3rd and 6th
    // (requests 4 and 7); its 9th (request 10) would be a fourth fault,
    // over `max_faults`.
    let faulted: Vec<_> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == 429 || **s == 503)
        .map(|(i, s)| (i + 1, *s))
        .collect();
    assert_eq!(faulted, [(2, 429), (4, 503), (7, 503)], "{statuses:?}");
    assert_eq!(proxy.faults(), 3);
    assert_eq!(proxy.requests(), 12);
    // Everything not faulted reached moto.
    assert!(statuses.iter().filter(|s| **s != 429 && **s != 503).count() == 9);
}

#[tokio::test]
async fn resets_end_the_connection_and_nothing_reaches_the_server() {
    let Some(upstream) = moto() else { return };
    let config =
        ProxyConfig::new(upstream, 1).rule(Rule::new(Trigger::Nth(1), Fault::ResetBeforeRequest));
    let proxy = Proxy::start(config).await.expect("proxy");
    let mut client = Client::connect(&proxy).await.expect("connect");
    assert_eq!(client.get("/").await, None);
    let log = proxy.log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, None, "the server answered a reset request");
    let mut client = Client::connect(&proxy).await.expect("connect");
    assert!(client.get("/").await.is_some());
    assert_eq!(proxy.log()[1].status, Some(200));
}

#[tokio::test]
async fn the_fault_window_closes_and_the_lifetime_ends_the_proxy() {
    let Some(upstream) = moto() else { return };
    let mut config =
        ProxyConfig::new(upstream, 1).rule(Rule::new(Trigger::Fraction(1.0), Fault::Status(500)));
    // The window and the lifetime are wall-clock behaviour, so the test
    // waits for their deadlines, measured from before the proxy started,
    // with a generous window for a slow first request on a loaded machine.
    config.fault_window = Duration::from_millis(2000);
    config.lifetime = Duration::from_millis(3500);
    let started = tokio::time::Instant::now();
    let proxy = Proxy::start(config).await.expect("proxy");
    let mut client = Client::connect(&proxy).await.expect("connect");
    assert_eq!(client.get("/").await, Some(500));
    tokio::time::sleep_until(started + Duration::from_millis(2600)).await;
    assert_eq!(client.get("/").await, Some(200), "faulted after its window");
    tokio::time::sleep_until(started + Duration::from_millis(4100)).await;
    // Past its lifetime: no answer on any connection, new ones refused.
    assert_eq!(client.get("/").await, None);
    assert!(Client::connect(&proxy).await.is_err(), "still accepting");
    assert_eq!(proxy.faults(), 1);
}
