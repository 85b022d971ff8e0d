//! The soak: a mixed workload of 2,080 operations through the
//! fault-injecting proxy, with about 20% of requests faulted, checked
//! against a model of what every key may hold — against moto (S3) and
//! against Azurite (Azure), each with conditional writes that hold under
//! concurrency.
//!
//! Eight workers, each on keys of its own (so each worker knows exactly
//! what its keys may hold, and a conditional write of its own can never
//! legitimately lose), run seeded random mixes of writes, streaming writes
//! (a few of them multipart), range reads, whole reads, lists, deletes,
//! conditional creates of fresh keys and conditional updates of a manifest.
//! After an error, a key may hold its old or its new value (never anything
//! else); after `Ok`, exactly the new one.
//!
//! Checked, during the run and at the end (through a second, unproxied
//! storage): every write that returned `Ok` reads back byte for byte; no
//! write that returned an error left a partial object; no read returned
//! bytes the key never held; no conditional write that landed was reported
//! as a conflict (every conflict is one here); no call took longer than its
//! retry budget; no request was sent more than 1 + max_retries times within
//! one operation. The figures are printed for quoting:
//! `bash scripts/servers.sh run cargo test --all-features --test soak -- --nocapture`
//! (docs/TEST-SERVERS.md).
#![cfg(all(feature = "aws", feature = "azure"))]

mod common_servers;
mod proxy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common_servers::Server;
use futures::TryStreamExt;
use proxy::{through, upstream_of, Fault, Proxy, ProxyConfig, Rule, Trigger};
use seerstore::{Storage, WriteMode};

const WORKERS: usize = 8;
const OPS_PER_WORKER: usize = 260;
const SEED: u64 = 0x5EE2_5702_E500_0001;
/// Large enough that a call fails only if ten attempts in a row are
/// faulted (about 0.2^10 per request, ~1e-4 per run of ~2,700 requests):
/// the soak then expects every operation to succeed, and reports any that
/// did not, with its error, instead of tolerating a share of failures.
const MAX_RETRIES: u32 = 9;
const INITIAL_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(100);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
const PART_SIZE: usize = 5 * 1024 * 1024;
const DATA_KEYS: usize = 6;

/// The faults, each on a seeded fraction of all requests: together about
/// one request in five.
fn rules() -> Vec<Rule> {
    let p = 0.03;
    vec![
        Rule::new(Trigger::Fraction(p), Fault::ResetBeforeRequest),
        Rule::new(
            Trigger::Fraction(p / 2.0),
            Fault::ResetAfterResponseBytes(12),
        ),
        Rule::new(
            Trigger::Fraction(p / 2.0),
            Fault::ResetAfterResponseBytes(300),
        ),
        Rule::new(
            Trigger::Fraction(0.012),
            Fault::Stall(ATTEMPT_TIMEOUT + Duration::from_millis(300)),
        ),
        Rule::new(Trigger::Fraction(p), Fault::Status(500)),
        Rule::new(Trigger::Fraction(p), Fault::Status(503)),
        Rule::new(Trigger::Fraction(p), Fault::Status(429)),
        Rule::new(Trigger::Fraction(p), Fault::Status(408)),
        Rule::new(Trigger::Fraction(p), Fault::LoseAnswer),
    ]
}

/// The longest one request may take with all its retries: every attempt
/// timing out, every delay at its jittered maximum, plus scheduling slack.
fn request_budget() -> Duration {
    let mut budget = ATTEMPT_TIMEOUT * (1 + MAX_RETRIES);
    let mut delay = INITIAL_BACKOFF;
    for _ in 0..MAX_RETRIES {
        budget += delay.min(MAX_BACKOFF).mul_f64(1.5);
        delay *= 2;
    }
    budget + Duration::from_millis(500)
}

/// A small seeded generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    /// `len` bytes no other call returns (a tag, then noise).
    fn data(&mut self, tag: &str, len: usize) -> Bytes {
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(tag.as_bytes());
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len.max(tag.len()));
        Bytes::from(out)
    }
}

/// What a key may hold: one of these (`None` = absent).
#[derive(Debug, Clone)]
struct May(Vec<Option<Bytes>>);

impl May {
    fn known(value: Option<Bytes>) -> Self {
        Self(vec![value])
    }

    fn certain(&self) -> Option<&Option<Bytes>> {
        (self.0.len() == 1).then(|| &self.0[0])
    }

    fn or(&mut self, value: Option<Bytes>) {
        if !self.0.contains(&value) {
            self.0.push(value);
        }
    }

    fn allows(&self, value: &Option<Bytes>) -> bool {
        self.0.contains(value)
    }
}

fn describe(value: &Option<Bytes>) -> String {
    match value {
        None => "absent".into(),
        Some(b) => format!("{} bytes {:?}..", b.len(), &b[..b.len().min(12)]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Write,
    StreamWrite,
    MultipartWrite,
    RangeRead,
    Read,
    List,
    Delete,
    Create,
    Update,
}

/// One finished operation.
struct Done {
    worker: usize,
    kind: Kind,
    key: String,
    start: Instant,
    end: Instant,
    ok: bool,
}

/// A worker's view of its keys, and what it saw go wrong.
struct Worker {
    id: usize,
    rng: Rng,
    faulted: Arc<dyn Storage>,
    direct: Arc<dyn Storage>,
    keys: BTreeMap<String, May>,
    /// The manifest's version and bytes, when known for sure.
    manifest: Option<(String, Bytes)>,
    next_gen: usize,
    done: Vec<Done>,
    violations: Vec<String>,
}

impl Worker {
    fn tag(&self) -> String {
        format!("wk{:02}", self.id)
    }

    fn data_key(&mut self) -> String {
        format!("{}/k{}", self.tag(), self.rng.below(DATA_KEYS))
    }

    fn manifest_key(&self) -> String {
        format!("{}/MANIFEST", self.tag())
    }

    fn may(&mut self, key: &str) -> &mut May {
        self.keys
            .entry(key.to_owned())
            .or_insert_with(|| May::known(None))
    }

    fn violation(&mut self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.violations.push(what);
    }

    /// A value read (or found absent) must be one the key may hold; then
    /// it is the one it holds.
    fn observed(&mut self, key: &str, value: Option<Bytes>, how: &str) {
        let may = self.may(key).clone();
        if may.allows(&value) {
            *self.may(key) = May::known(value);
        } else {
            let options: Vec<_> = may.0.iter().map(describe).collect();
            self.violation(format!(
                "{how} {key}: got {}, but it may only hold {options:?}",
                describe(&value)
            ));
        }
    }

    async fn run(mut self) -> Self {
        for n in 0..OPS_PER_WORKER {
            let dice = self.rng.below(100);
            let start = Instant::now();
            let (kind, key, ok) = match dice {
                0 => self.multipart_write(n).await,
                1..=24 => self.write(n).await,
                25..=32 => self.stream_write(n).await,
                33..=54 => self.range_read().await,
                55..=62 => self.read().await,
                63..=69 => self.list().await,
                70..=77 => self.delete().await,
                78..=89 => self.update(n).await,
                _ => self.create(n).await,
            };
            self.done.push(Done {
                worker: self.id,
                kind,
                key,
                start,
                end: Instant::now(),
                ok,
            });
        }
        self
    }

    async fn write(&mut self, n: usize) -> (Kind, String, bool) {
        let key = self.data_key();
        let len = self.rng.below(32 * 1024);
        let data = self.rng.data(&format!("{key}#{n}:"), len);
        let ok = match self.faulted.write(&key, data.clone()).await {
            Ok(_) => {
                *self.may(&key) = May::known(Some(data));
                true
            }
            Err(_) => {
                self.may(&key).or(Some(data));
                false
            }
        };
        (Kind::Write, key, ok)
    }

    async fn stream_write(&mut self, n: usize) -> (Kind, String, bool) {
        let key = self.data_key();
        let chunks = 1 + self.rng.below(4);
        let mut parts = Vec::new();
        for c in 0..chunks {
            let len = self.rng.below(16 * 1024);
            parts.push(self.rng.data(&format!("{key}#{n}.{c}:"), len));
        }
        let ok = self.streamed(&key, parts).await;
        (Kind::StreamWrite, key, ok)
    }

    /// Three parts of 5 MiB and a tail: a multipart upload.
    async fn multipart_write(&mut self, n: usize) -> (Kind, String, bool) {
        let key = self.data_key();
        let mut parts = Vec::new();
        for c in 0..7 {
            parts.push(
                self.rng
                    .data(&format!("{key}#{n}.{c}:"), 2 * 1024 * 1024 + 17),
            );
        }
        let ok = self.streamed(&key, parts).await;
        (Kind::MultipartWrite, key, ok)
    }

    async fn streamed(&mut self, key: &str, parts: Vec<Bytes>) -> bool {
        let whole: Bytes = parts.concat().into();
        let result = async {
            let mut writer = self.faulted.writer(key).await?;
            for part in parts {
                writer.write(part).await?;
            }
            writer.finish().await
        }
        .await;
        match result {
            Ok(_) => {
                *self.may(key) = May::known(Some(whole));
                true
            }
            Err(_) => {
                self.may(key).or(Some(whole));
                false
            }
        }
    }

    async fn range_read(&mut self) -> (Kind, String, bool) {
        let key = self.data_key();
        let Some(Some(data)) = self.may(&key).certain().cloned() else {
            return self.read_key(key).await;
        };
        if data.is_empty() {
            return self.read_key(key).await;
        }
        let start = self.rng.below(data.len());
        let end = start + 1 + self.rng.below(data.len() - start);
        let range = start as u64..end as u64;
        let ok = match self.faulted.read_range(&key, range.clone()).await {
            Ok(got) => {
                if got != data.slice(start..end) {
                    self.violation(format!(
                        "range read {key} {range:?}: {} bytes that are not the object's",
                        got.len()
                    ));
                }
                true
            }
            Err(e) if e.is_not_found() => {
                self.violation(format!("range read {key}: not found, but it was written"));
                false
            }
            Err(_) => false,
        };
        (Kind::RangeRead, key, ok)
    }

    async fn read(&mut self) -> (Kind, String, bool) {
        let key = self.data_key();
        self.read_key(key).await
    }

    async fn read_key(&mut self, key: String) -> (Kind, String, bool) {
        let ok = match self.faulted.read(&key).await {
            Ok(got) => {
                self.observed(&key, Some(got), "read");
                true
            }
            Err(e) if e.is_not_found() => {
                self.observed(&key, None, "read");
                true
            }
            Err(_) => false,
        };
        (Kind::Read, key, ok)
    }

    async fn list(&mut self) -> (Kind, String, bool) {
        let prefix = format!("{}/", self.tag());
        let listed: Result<Vec<_>, _> = self.faulted.list(&prefix).try_collect().await;
        let Ok(listed) = listed else {
            return (Kind::List, prefix, false);
        };
        let sizes: HashMap<String, u64> = listed.into_iter().map(|m| (m.path, m.size)).collect();
        for (key, may) in self.keys.clone() {
            let found = sizes.get(&key).copied();
            let fits = may.0.iter().any(|value| match value {
                None => found.is_none(),
                Some(b) => found == Some(b.len() as u64),
            });
            if !fits {
                let options: Vec<_> = may.0.iter().map(describe).collect();
                self.violation(format!(
                    "list {prefix}: {key} listed with size {found:?}, but it may only hold {options:?}"
                ));
            }
        }
        for key in sizes.keys() {
            if !self.keys.contains_key(key) {
                self.violation(format!("list {prefix}: {key} was never written"));
            }
        }
        (Kind::List, prefix, true)
    }

    async fn delete(&mut self) -> (Kind, String, bool) {
        let key = self.data_key();
        let ok = match self.faulted.delete(&key).await {
            Ok(()) => {
                *self.may(&key) = May::known(None);
                true
            }
            Err(_) => {
                self.may(&key).or(None);
                false
            }
        };
        (Kind::Delete, key, ok)
    }

    /// A conditional create of a key never used before: it cannot
    /// legitimately exist.
    async fn create(&mut self, n: usize) -> (Kind, String, bool) {
        let key = format!("{}/gen-{:04}", self.tag(), self.next_gen);
        self.next_gen += 1;
        let len = self.rng.below(4096);
        let data = self.rng.data(&format!("{key}#{n}:"), len);
        let ok = match self
            .faulted
            .write_with(&key, data.clone(), WriteMode::Create)
            .await
        {
            Ok(_) => {
                *self.may(&key) = May::known(Some(data));
                true
            }
            Err(e) => {
                if e.is_already_exists() {
                    self.violation(format!(
                        "create {key}: reported as existing, but nothing else writes it: {e}"
                    ));
                }
                self.may(&key).or(Some(data));
                false
            }
        };
        (Kind::Create, key, ok)
    }

    /// A conditional update of the manifest from the version this worker
    /// (its only writer) holds; creates it first.
    async fn update(&mut self, n: usize) -> (Kind, String, bool) {
        let key = self.manifest_key();
        let len = 64 + self.rng.below(2048);
        let data = self.rng.data(&format!("{key}#{n}:"), len);
        let mode = match &self.manifest {
            Some((version, _)) => WriteMode::Update(version.clone()),
            None => WriteMode::Create,
        };
        let ok = match self
            .faulted
            .write_with(&key, data.clone(), mode.clone())
            .await
        {
            Ok(meta) => {
                *self.may(&key) = May::known(Some(data.clone()));
                match meta.version {
                    Some(version) => self.manifest = Some((version, data)),
                    None => {
                        self.violation(format!("update {key}: no version returned"));
                        self.manifest = None;
                    }
                }
                true
            }
            Err(e) => {
                if e.is_precondition() || e.is_already_exists() {
                    self.violation(format!(
                        "{mode:?} {key}: reported as a conflict, but this worker is its only writer: {e}"
                    ));
                }
                self.may(&key).or(Some(data));
                self.relearn_manifest().await;
                false
            }
        };
        (Kind::Update, key, ok)
    }

    /// After a failed manifest write: what it holds now, unproxied.
    async fn relearn_manifest(&mut self) {
        let key = self.manifest_key();
        match self.direct.read(&key).await {
            Ok(data) => {
                self.observed(&key, Some(data.clone()), "manifest after a failed write");
                let meta = self.direct.head(&key).await.expect("head manifest");
                self.manifest = meta.version.map(|v| (v, data));
            }
            Err(e) if e.is_not_found() => {
                self.observed(&key, None, "manifest after a failed write");
                self.manifest = None;
            }
            Err(e) => panic!("unproxied read of {key}: {e}"),
        }
    }

    /// At the end: every key, unproxied, holds one of the values it may.
    async fn verify(&mut self) {
        for key in self.keys.keys().cloned().collect::<Vec<_>>() {
            let value = match self.direct.read(&key).await {
                Ok(data) => Some(data),
                Err(e) if e.is_not_found() => None,
                Err(e) => panic!("unproxied read of {key}: {e}"),
            };
            self.observed(&key, value, "final read");
        }
    }
}

/// What stays the same when a request is sent again: the method, the
/// target without Azure's `blockid` (object_store draws a new block id for
/// each attempt at a part), and the worker's name for what the body is
/// about (the key a bulk delete names, in S3's XML or Azure's batch with its
/// random boundaries; the tag a part's or object's data starts with; else
/// the first KiB of the body).
fn identity<'a>(seen: &'a proxy::Seen, tag: &str) -> (&'a str, String, &'a str) {
    let target = match seen.target.find("blockid=") {
        Some(at) => {
            let end = seen.target[at..]
                .find('&')
                .map_or(seen.target.len(), |e| at + e);
            format!("{}{}", &seen.target[..at], &seen.target[end..])
        }
        None => seen.target.clone(),
    };
    let about = match seen.body.find(tag) {
        Some(at) => {
            let rest = &seen.body[at..];
            let end = rest
                .find(['<', ' ', '\r', '\n', ':', '"'])
                .unwrap_or(rest.len());
            &rest[..end]
        }
        // Data that does not start near a tag (a middle part): the first
        // KiB itself, the same on every attempt.
        None => &seen.body,
    };
    (&seen.method, target, about)
}

/// Whether a request names one of the worker's keys: in its target, or as
/// a path segment in its body (a bulk delete names its keys there: S3's
/// `<Key>…/wk03/k1</Key>`, Azure's `DELETE …/wk03/k1`). Only as a whole
/// segment: a body of random data holds the four bytes of some tag about
/// once in 200 runs, which would count its request for two workers.
fn names(seen: &proxy::Seen, tag: &str) -> bool {
    seen.target.contains(tag) || seen.body.contains(&format!("/{tag}/"))
}

/// The soak's settings for a storage, besides the server's credentials.
fn options() -> Vec<(&'static str, String)> {
    vec![
        ("max_retries", MAX_RETRIES.to_string()),
        (
            "initial_backoff_ms",
            INITIAL_BACKOFF.as_millis().to_string(),
        ),
        ("max_backoff_ms", MAX_BACKOFF.as_millis().to_string()),
        (
            "attempt_timeout_ms",
            ATTEMPT_TIMEOUT.as_millis().to_string(),
        ),
        ("part_size", PART_SIZE.to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_through_faults_against_moto() {
    let Some(server) = Server::moto() else { return };
    soak("moto", server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_through_faults_against_azurite() {
    let Some(server) = Server::azurite() else {
        return;
    };
    soak("Azurite", server).await;
}

async fn soak(name: &str, server: Server) {
    let mut config = ProxyConfig::new(upstream_of(server.endpoint()), SEED);
    config.rules = rules();
    config.fault_window = Duration::from_secs(600);
    config.lifetime = Duration::from_secs(900);
    let proxy = Proxy::start(config).await.expect("proxy");
    let prefix = common_servers::unique_prefix("soak");
    let faulted = server
        .open(&through(&proxy, server.endpoint()), &prefix, &options())
        .await;
    let direct = server.open(server.endpoint(), &prefix, &options()).await;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..WORKERS {
        let worker = Worker {
            id,
            rng: Rng(SEED ^ (id as u64 + 1).wrapping_mul(0x1000_0000_01B3)),
            faulted: faulted.clone(),
            direct: direct.clone(),
            keys: BTreeMap::new(),
            manifest: None,
            next_gen: 0,
            done: Vec::new(),
            violations: Vec::new(),
        };
        tasks.push(tokio::spawn(worker.run()));
    }
    let mut workers = Vec::new();
    for task in tasks {
        workers.push(task.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    for worker in &mut workers {
        worker.verify().await;
    }

    // Attribute each request to the operation that sent it: the worker's
    // tag is in every request (keys and list prefixes in the target, bulk
    // deletes in the body), and a worker runs one operation at a time.
    let log = proxy.log();
    let budget = request_budget();
    let mut violations: Vec<String> = workers
        .iter()
        .flat_map(|w| w.violations.iter().cloned())
        .collect();
    let mut max_sends = 0;
    let mut attributed = 0;
    let mut retries = 0;
    let mut slowest: Option<(Duration, Kind, String)> = None;
    let mut by_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    // Every failed operation, with the requests it sent.
    let mut failures: Vec<String> = Vec::new();
    for worker in &workers {
        let tag = worker.tag();
        let mut mine: Vec<_> = log.iter().filter(|s| names(s, &tag)).collect();
        mine.sort_by_key(|s| s.at);
        for op in &worker.done {
            let entry = by_kind.entry(op.kind).or_default();
            entry.0 += 1;
            entry.1 += usize::from(op.ok);
            let sent: Vec<_> = mine
                .iter()
                .filter(|s| s.at >= op.start && s.at <= op.end)
                .collect();
            attributed += sent.len();
            let mut per_request: HashMap<(&str, String, &str), u32> = HashMap::new();
            for s in &sent {
                *per_request.entry(identity(s, &tag)).or_default() += 1;
            }
            retries += sent.len() - per_request.len();
            if !op.ok {
                let requests: Vec<String> = sent
                    .iter()
                    .map(|s| {
                        let (method, target, _) = identity(s, &tag);
                        format!("{method} {target}")
                    })
                    .collect();
                failures.push(format!(
                    "{:?} {} (worker {}): {} requests sent: {requests:?}",
                    op.kind,
                    op.key,
                    op.worker,
                    sent.len()
                ));
            }
            for ((method, target, _), count) in &per_request {
                max_sends = max_sends.max(*count);
                if *count > 1 + MAX_RETRIES {
                    violations.push(format!(
                        "{:?} {} (worker {}): {method} {target} sent {count} times",
                        op.kind, op.key, op.worker
                    ));
                }
            }
            let took = op.end - op.start;
            let allowed = budget * u32::try_from(per_request.len().max(1)).unwrap_or(u32::MAX);
            if took > allowed {
                violations.push(format!(
                    "{:?} {}: took {took:?}, over its budget of {allowed:?} ({} requests)",
                    op.kind,
                    op.key,
                    per_request.len()
                ));
            }
            if slowest.as_ref().is_none_or(|(d, _, _)| took > *d) {
                slowest = Some((took, op.kind, op.key.clone()));
            }
        }
    }

    // Requests not accounted for by exactly one operation (there should be
    // none): printed, so that a failed count can be read.
    for s in &log {
        let claims: usize = workers
            .iter()
            .filter(|w| names(s, &w.tag()))
            .map(|w| {
                w.done
                    .iter()
                    .filter(|op| s.at >= op.start && s.at <= op.end)
                    .count()
            })
            .sum();
        if claims != 1 {
            println!("soak[{name}]: request claimed by {claims} operations: {s:?}");
        }
    }
    let ops: usize = by_kind.values().map(|(n, _)| n).sum();
    let ok: usize = by_kind.values().map(|(_, ok)| ok).sum();
    let requests = proxy.requests();
    let faults = proxy.faults();
    println!(
        "soak[{name}]: {ops} operations by {WORKERS} workers in {:.1} s, {ok} ok, {} failed after retries",
        elapsed.as_secs_f64(),
        ops - ok
    );
    for (kind, (n, ok)) in &by_kind {
        println!("soak[{name}]:   {kind:?}: {n} ({ok} ok)");
    }
    println!(
        "soak[{name}]: {requests} requests, {faults} faulted ({:.1}%), {attributed} attributed to operations",
        100.0 * faults as f64 / requests as f64
    );
    for (kind, n) in proxy.faults_by_kind() {
        println!("soak[{name}]:   {kind}: {n}");
    }
    println!(
        "soak[{name}]: {retries} retries; at most {max_sends} sends of one request in one operation (limit {})",
        1 + MAX_RETRIES
    );
    if let Some((took, kind, key)) = &slowest {
        println!(
            "soak[{name}]: slowest call {took:?} ({kind:?} {key}); budget per request {budget:?}"
        );
    }
    println!("soak[{name}]: {} violations", violations.len());
    for v in &violations {
        println!("soak[{name}]: VIOLATION {v}");
    }

    common_servers::cleanup(&*direct).await;
    assert!(ops >= 2_000, "only {ops} operations");
    let share = faults as f64 / requests as f64;
    assert!(
        (0.14..=0.26).contains(&share),
        "{faults} of {requests} requests faulted"
    );
    assert_eq!(
        attributed, requests,
        "requests not attributed to an operation"
    );
    // Retries absorb every fault: a call fails only when all of its
    // 1 + max_retries attempts were faulted (see MAX_RETRIES).
    assert_eq!(
        ok,
        ops,
        "{} of {ops} operations failed after retries: {failures:#?}",
        ops - ok
    );
    assert!(violations.is_empty(), "{violations:#?}");
}
