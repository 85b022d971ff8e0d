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
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

mod pace;
use pace::{Pace, Paced};

/// What happens to a request a rule picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Reset the connection before forwarding anything.
    ResetBeforeRequest,
    /// Forward, pass at most this many bytes of the answer, then reset.
    ResetAfterResponseBytes(usize),
    /// Forward, hold the answer back this long, then drop the connection.
    Stall(Duration),
    /// Answer with this status without forwarding (500, 503, 429, 408).
    Status(u16),
    /// Forward (the request lands), then reset instead of answering.
    LoseAnswer,
    /// Answer with this status and S3 error code without forwarding.
    Canned(u16, &'static str),
    /// Forward, and relay the answer at this many bytes a second.
    ThrottleAnswer(u64),
    /// Forward the request body at this many bytes a second.
    ThrottleRequest(u64),
    /// Forward, relay this many bytes of the answer, hold the rest back
    /// this long, then relay it.
    PauseAnswer(usize, Duration),
}

impl Fault {
    /// A short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::ResetBeforeRequest => "reset before request",
            Fault::ResetAfterResponseBytes(_) => "reset mid-answer",
            Fault::Stall(_) => "stall",
            Fault::Status(500) => "500",
            Fault::Status(503) => "503 SlowDown",
            Fault::Status(429) => "429",
            Fault::Status(408) => "408",
            Fault::Status(_) => "other status",
            Fault::LoseAnswer => "answer lost",
            Fault::Canned(..) => "canned answer",
            Fault::ThrottleAnswer(_) => "throttled answer",
            Fault::ThrottleRequest(_) => "throttled request",
            Fault::PauseAnswer(..) => "paused answer",
        }
    }

    /// Whether the server saw the request.
    pub fn forwards(&self) -> bool {
        !matches!(
            self,
            Fault::ResetBeforeRequest | Fault::Status(_) | Fault::Canned(..)
        )
    }

    /// How the answer is paced, if it is.
    fn answer_pace(&self) -> Pace {
        match *self {
            Fault::ThrottleAnswer(rate) => Pace::Rate(rate),
            Fault::PauseAnswer(after, pause) => Pace::PauseAfter(after as u64, pause),
            _ => Pace::Free,
        }
    }
}

/// When a rule fires, among the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// The nth matching request (1-based), once.
    Nth(usize),
    /// Every kth matching request.
    Every(usize),
    /// Each matching request with this probability (seeded).
    Fraction(f64),
}

/// One declarative rule: which requests, when, and what fault.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Only requests with this method (`PUT`, `GET`, ...), if set.
    pub method: Option<&'static str>,
    /// Only requests whose target (path and query) contains this, if set.
    pub target_contains: Option<String>,
    pub trigger: Trigger,
    pub fault: Fault,
}

impl Rule {
    /// A rule for every request.
    pub fn new(trigger: Trigger, fault: Fault) -> Self {
        Self {
            method: None,
            target_contains: None,
            trigger,
            fault,
        }
    }

    /// Restricts the rule to one method.
    pub fn method(mut self, method: &'static str) -> Self {
        self.method = Some(method);
        self
    }

    /// Restricts the rule to targets containing `needle`.
    pub fn target_contains(mut self, needle: impl Into<String>) -> Self {
        self.target_contains = Some(needle.into());
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        self.method.is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .target_contains
                .as_deref()
                .is_none_or(|needle| target.contains(needle))
    }
}

/// The proxy's settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The server requests are forwarded to (on loopback).
    pub upstream: SocketAddr,
    /// Seed of the random fractions.
    pub seed: u64,
    /// Checked in order; the first that fires decides.
    pub rules: Vec<Rule>,
    /// No more faults after this many.
    pub max_faults: usize,
    /// No more faults once this long has passed since the start.
    pub fault_window: Duration,
    /// The proxy closes everything and stops after this long.
    pub lifetime: Duration,
}

impl ProxyConfig {
    /// Forwards everything to `upstream` until rules are added; at most
    /// 10,000 faults within 10 minutes, stopping after 15.
    pub fn new(upstream: SocketAddr, seed: u64) -> Self {
        Self {
            upstream,
            seed,
            rules: Vec::new(),
            max_faults: 10_000,
            fault_window: Duration::from_secs(600),
            lifetime: Duration::from_secs(900),
        }
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When its head arrived.
    pub at: Instant,
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub fault: Option<Fault>,
    /// The first KiB of the body (lossy UTF-8): what a bulk delete names.
    pub body: String,
    /// The server's answer, if one came.
    pub status: Option<u16>,
}

#[derive(Debug, Default)]
struct State {
    requests: usize,
    faults: usize,
    /// Matching requests seen per rule.
    matched: Vec<usize>,
    by_kind: BTreeMap<&'static str, usize>,
    log: Vec<Seen>,
    /// Exchanges in progress (request head arrived, answer not yet
    /// relayed or given up), and the most at once.
    in_flight: usize,
    max_in_flight: usize,
    /// Connections that ended with an I/O error (the client or server went
    /// away mid-exchange).
    errors: Vec<String>,
}

struct Shared {
    config: ProxyConfig,
    started: Instant,
    state: Mutex<State>,
}

impl Shared {
    /// Notes the start of request `index`'s body.
    fn body(&self, index: usize, head: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = state.log.get_mut(index) {
            seen.body = String::from_utf8_lossy(head).into_owned();
        }
    }

    /// Notes the server's answer to request `index`.
    fn answered(&self, index: usize, status: u16) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = state.log.get_mut(index) {
            seen.status = Some(status);
        }
    }

    /// Logs a request and decides its fate; returns its index in the log.
    fn decide(&self, method: &str, target: &str) -> (usize, Option<Fault>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let index = state.requests as u64;
        state.requests += 1;
        if state.matched.len() < self.config.rules.len() {
            state.matched.resize(self.config.rules.len(), 0);
        }
        let open = state.faults < self.config.max_faults
            && self.started.elapsed() < self.config.fault_window;
        let mut fault = None;
        for (i, rule) in self.config.rules.iter().enumerate() {
            if !rule.matches(method, target) {
                continue;
            }
            state.matched[i] += 1;
            let n = state.matched[i];
            let fires = match rule.trigger {
                Trigger::Nth(k) => n == k,
                Trigger::Every(k) => k > 0 && n % k == 0,
                Trigger::Fraction(p) => {
                    let draw = splitmix(self.config.seed ^ ((i as u64) << 48) ^ index);
                    (draw >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
                }
            };
            if fires && open {
                fault = Some(rule.fault);
                break;
            }
        }
        if let Some(f) = fault {
            state.faults += 1;
            *state.by_kind.entry(f.kind()).or_default() += 1;
        }
        state.log.push(Seen {
            at: Instant::now(),
            method: method.to_owned(),
            target: target.to_owned(),
            fault,
            body: String::new(),
            status: None,
        });
        (state.log.len() - 1, fault)
    }
}

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

const MAX_HEAD: usize = 64 * 1024;

/// A parsed request or response head.
struct Head {
    raw: Vec<u8>,
    /// Method (request) or status code (response) and the target.
    first: String,
    second: String,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
}

async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = r.read_until(b'\n', &mut raw).await?;
        if n == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if raw.len() > MAX_HEAD {
            return Err(io::Error::other("head too large"));
        }
        let line = &raw[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Stray empty line between messages.
                raw.clear();
                continue;
            }
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.lines();
    let start = lines.next().unwrap_or_default();
    let mut parts = start.split_whitespace();
    let first = parts.next().unwrap_or_default().to_owned();
    let second = parts.next().unwrap_or_default().to_owned();
    let mut head = Head {
        raw,
        first,
        second,
        content_length: None,
        chunked: false,
        close: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some(head))
}

/// Where a message body ends.
#[derive(Clone, Copy)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes to `w` at most `*budget` more bytes (when limited); `Ok(false)`
/// once the budget is spent (what fit was written).
async fn write_limited<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &[u8],
    budget: &mut Option<usize>,
) -> io::Result<bool> {
    match budget {
        None => {
            w.write_all(buf).await?;
            Ok(true)
        }
        Some(left) => {
            let n = buf.len().min(*left);
            w.write_all(&buf[..n]).await?;
            *left -= n;
            Ok(n == buf.len() && *left > 0)
        }
    }
}

/// Copies a body framed by `framing` from `r` to `w` (`None`: read and
/// discard). `Ok(false)` if the budget ran out first.
async fn copy_body<R, W>(
    r: &mut R,
    mut w: Option<&mut W>,
    framing: Framing,
    budget: &mut Option<usize>,
) -> io::Result<bool>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    match framing {
        Framing::None => Ok(true),
        Framing::Length(len) => copy_exact(r, w, len, &mut buf, budget).await,
        Framing::UntilClose => loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(true);
            }
            if let Some(w) = w.as_mut() {
                if !write_limited(w, &buf[..n], budget).await? {
                    return Ok(false);
                }
            }
        },
        Framing::Chunked => {
            let mut line = Vec::new();
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let text = String::from_utf8_lossy(&line);
                let size = text.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| io::Error::other(format!("bad chunk size {text:?}")))?;
                if size == 0 && budget.is_some() {
                    // A limited copy never lets the body end.
                    return Ok(false);
                }
                if let Some(w) = w.as_mut() {
                    if !write_limited(w, &line, budget).await? {
                        return Ok(false);
                    }
                }
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        line.clear();
                        if r.read_until(b'\n', &mut line).await? == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        if let Some(w) = w.as_mut() {
                            if !write_limited(w, &line, budget).await? {
                                return Ok(false);
                            }
                        }
                        if line == b"\r\n" || line == b"\n" {
                            return Ok(true);
                        }
                    }
                }
                // The chunk and its CRLF.
                if !copy_exact(r, w.as_deref_mut(), size + 2, &mut buf, budget).await? {
                    return Ok(false);
                }
            }
        }
    }
}

/// Copies exactly `len` bytes from `r` to `w` (`None`: discards them)
/// through `buf`; `Ok(false)` if the budget ran out first.
async fn copy_exact<R, W>(
    r: &mut R,
    mut w: Option<&mut W>,
    len: u64,
    buf: &mut [u8],
    budget: &mut Option<usize>,
) -> io::Result<bool>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = r.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n as u64;
        if let Some(w) = w.as_mut() {
            if !write_limited(w, &buf[..n], budget).await? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn request_framing(head: &Head) -> Framing {
    if head.chunked {
        Framing::Chunked
    } else {
        match head.content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    }
}

fn response_framing(request_method: &str, head: &Head) -> Framing {
    let status: u16 = head.first_status();
    if request_method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        Framing::None
    } else if head.chunked {
        Framing::Chunked
    } else {
        match head.content_length {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

impl Head {
    /// The status code of a response head (`HTTP/1.1 200 OK`).
    fn first_status(&self) -> u16 {
        self.second.parse().unwrap_or(0)
    }
}

/// The answer to a [`Fault::Canned`]: `status` with an S3 error body.
fn canned(status: u16, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>Injected by the test proxy.</Message><RequestId>seerstore-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The answer to a [`Fault::Status`], S3-style.
fn synthesized(status: u16) -> Vec<u8> {
    let (reason, code, message) = match status {
        500 => (
            "Internal Server Error",
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        503 => (
            "Service Unavailable",
            "SlowDown",
            "Please reduce your request rate.",
        ),
        429 => ("Too Many Requests", "TooManyRequests", "Too many requests."),
        408 => (
            "Request Timeout",
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.",
        ),
        _ => ("Error", "InternalError", "Injected by the test proxy."),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>seerstore-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Resets the client connection (RST, not FIN).
fn reset(client_w: &OwnedWriteHalf) {
    let _ = client_w.as_ref().set_zero_linger();
}

/// Serves one client connection until it closes or a fault ends it.
async fn serve(client: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    client.set_nodelay(true)?;
    let (client_r, mut client_w) = client.into_split();
    let mut client_r = BufReader::new(client_r);
    loop {
        let Some(request) = read_head(&mut client_r).await? else {
            return Ok(());
        };
        let method = request.first.clone();
        let (index, fault) = shared.decide(&method, &request.second);
        let _exchange = Exchange::start(&shared);
        let framing = request_framing(&request);
        match fault {
            Some(Fault::ResetBeforeRequest) => {
                // Read the body (for the log), then reset: nothing reached
                // the server.
                let mut sink = Tee::<OwnedWriteHalf>::new(None);
                copy_body(&mut client_r, Some(&mut sink), framing, &mut None).await?;
                shared.body(index, &sink.head);
                reset(&client_w);
                return Ok(());
            }
            Some(fault @ (Fault::Status(_) | Fault::Canned(..))) => {
                let mut sink = Tee::<OwnedWriteHalf>::new(None);
                copy_body(&mut client_r, Some(&mut sink), framing, &mut None).await?;
                shared.body(index, &sink.head);
                let answer = match fault {
                    Fault::Canned(status, code) => canned(status, code),
                    Fault::Status(status) => synthesized(status),
                    _ => unreachable!(),
                };
                client_w.write_all(&answer).await?;
                if request.close {
                    return Ok(());
                }
                continue;
            }
            _ => {}
        }
        // Forward the request, on a connection of its own: a server may
        // close a connection after answering without reading the whole
        // request (a 412 to a conditional PUT), and a proxy that reused it
        // would turn the next request into a failure of its own making.
        let stream = TcpStream::connect(shared.config.upstream).await?;
        stream.set_nodelay(true)?;
        let (r, up_w) = stream.into_split();
        let mut up_r = BufReader::new(r);
        let up_r = &mut up_r;
        // A server may answer (412, 413) and close without reading the
        // whole body: keep reading the client's body (so the client
        // connection stays in step), drop what the server refuses, and
        // relay its answer.
        let mut up_w = up_w;
        up_w.write_all(&request.raw).await?;
        let mut up_w = Tee::new(Some(up_w));
        let request_pace = match fault {
            Some(Fault::ThrottleRequest(rate)) => Pace::Rate(rate),
            _ => Pace::Free,
        };
        let mut paced = Paced::new(&mut up_w, request_pace);
        copy_body(&mut client_r, Some(&mut paced), framing, &mut None).await?;
        up_w.flush().await?;
        shared.body(index, &up_w.head);
        // Relay the answer (skipping past interim 1xx answers).
        let mut budget = match fault {
            Some(Fault::ResetAfterResponseBytes(n)) => Some(n),
            _ => None,
        };
        let mut out = Paced::new(&mut client_w, fault.map_or(Pace::Free, |f| f.answer_pace()));
        loop {
            let Some(response) = read_head(up_r).await? else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            let status = response.first_status();
            shared.answered(index, status);
            let framing = response_framing(&method, &response);
            match fault {
                Some(Fault::Stall(delay)) => {
                    tokio::time::sleep(delay).await;
                    return Ok(());
                }
                Some(Fault::LoseAnswer) => {
                    // Let the server finish the answer, so the request
                    // certainly landed, then reset.
                    copy_body::<_, OwnedWriteHalf>(up_r, None, framing, &mut None).await?;
                    reset(out.inner);
                    return Ok(());
                }
                _ => {}
            }
            if let Some(left) = budget.as_mut() {
                // Withhold at least the answer's last byte.
                let total = match framing {
                    Framing::None => Some(response.raw.len()),
                    Framing::Length(n) => usize::try_from(n).ok().map(|n| n + response.raw.len()),
                    _ => None,
                };
                if let Some(total) = total {
                    *left = (*left).min(total.saturating_sub(1));
                }
            }
            // A limited answer always ends in a reset: cut short where its
            // length is known, before the last chunk, or (for an answer
            // that ends when the connection closes) instead of the close.
            if !write_limited(&mut out, &response.raw, &mut budget).await?
                || !copy_body(up_r, Some(&mut out), framing, &mut budget).await?
                || budget.is_some()
            {
                out.flush().await?;
                reset(out.inner);
                return Ok(());
            }
            out.flush().await?;
            if (100..200).contains(&status) {
                continue;
            }
            if response.close || matches!(framing, Framing::UntilClose) {
                return Ok(());
            }
            break;
        }
        if request.close {
            return Ok(());
        }
    }
}

/// Counts an exchange in progress while it lives.
struct Exchange<'a>(&'a Shared);

impl<'a> Exchange<'a> {
    fn start(shared: &'a Shared) -> Self {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        Self(shared)
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight -= 1;
    }
}

/// Bytes of each request body kept in the log.
const CAPTURE: usize = 1024;

/// Where a request body goes: to the server (if any), and its first
/// [`CAPTURE`] bytes to the log. After a failed write to the server
/// (which answered early and closed), everything is accepted and dropped.
struct Tee<W> {
    inner: Option<W>,
    failed: bool,
    head: Vec<u8>,
}

impl<W> Tee<W> {
    fn new(inner: Option<W>) -> Self {
        Self {
            inner,
            failed: false,
            head: Vec::new(),
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Tee<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = match (&mut this.inner, this.failed) {
            (Some(w), false) => match std::pin::Pin::new(w).poll_write(cx, buf) {
                std::task::Poll::Pending => return std::task::Poll::Pending,
                std::task::Poll::Ready(Ok(n)) => n,
                std::task::Poll::Ready(Err(_)) => {
                    this.failed = true;
                    buf.len()
                }
            },
            _ => buf.len(),
        };
        let room = CAPTURE.saturating_sub(this.head.len());
        this.head.extend_from_slice(&buf[..n.min(room)]);
        std::task::Poll::Ready(Ok(n))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = &mut *self;
        match (&mut this.inner, this.failed) {
            (Some(w), false) => match std::pin::Pin::new(w).poll_flush(cx) {
                std::task::Poll::Ready(Err(_)) => {
                    this.failed = true;
                    std::task::Poll::Ready(Ok(()))
                }
                other => other,
            },
            _ => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match &mut self.inner {
            Some(w) => std::pin::Pin::new(w).poll_shutdown(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}

/// splitmix64: a well-mixed 64-bit hash of `x`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
