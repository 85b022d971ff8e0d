//! Shared test helpers: a fault-injecting `ObjectStore` wrapper with
//! declarative rules decided up front, and call counters.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};

/// The store method a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Put,
    PutMultipart,
    /// One part of a multipart upload (`Transient`, `Permanent` or `Hang`).
    PutPart,
    Get,
    Head,
    Delete,
    List,
}

/// Which calls of the method a rule hits (calls are numbered from 1).
#[derive(Debug, Clone)]
pub enum When {
    Call(u32),
    /// Calls `first..=last`.
    Calls(u32, u32),
    Always,
    /// Each call with probability `p`, from the store's seeded generator.
    Fraction(f64),
}

/// What happens to a hit call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Fails with a connection reset (retryable).
    Transient,
    /// Fails with a permission error (permanent, not a variant we map).
    Permanent,
    NotFound,
    Precondition,
    AlreadyExists,
    /// Never answers.
    Hang,
    /// The put lands, then its answer is lost: a transient error is
    /// returned after the inner put succeeded.
    LandThenLose,
    /// For `List`: yields this many entries, then a transient error.
    TransientAfter(usize),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub method: Method,
    pub when: When,
    pub fault: Fault,
}

impl Rule {
    pub fn new(method: Method, when: When, fault: Fault) -> Self {
        Self {
            method,
            when,
            fault,
        }
    }
}

/// A retryable error, as a reset connection looks to object_store.
pub fn transient_error() -> object_store::Error {
    object_store::Error::Generic {
        store: "fault",
        source: Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        )),
    }
}

fn fault_error(fault: &Fault, location: &Path) -> object_store::Error {
    let path = location.to_string();
    match fault {
        Fault::NotFound => object_store::Error::NotFound {
            path,
            source: "injected".into(),
        },
        Fault::Precondition => object_store::Error::Precondition {
            path,
            source: "injected".into(),
        },
        Fault::AlreadyExists => object_store::Error::AlreadyExists {
            path,
            source: "injected".into(),
        },
        Fault::Permanent => object_store::Error::PermissionDenied {
            path,
            source: "injected".into(),
        },
        _ => transient_error(),
    }
}

/// Counters shared with multipart uploads.
#[derive(Debug, Default)]
pub struct Counters {
    pub aborts: AtomicU32,
    pub completes: AtomicU32,
    pub parts: AtomicU32,
    /// `list` calls (recursive, from the start).
    pub lists: AtomicU32,
    /// `list_with_offset` calls.
    pub lists_with_offset: AtomicU32,
    /// `list_with_delimiter` calls.
    pub lists_with_delimiter: AtomicU32,
    /// `copy_opts` calls with `CopyMode::Overwrite`.
    pub copies: AtomicU32,
    /// `copy_opts` calls with `CopyMode::Create`.
    pub copies_if_not_exists: AtomicU32,
    /// Locations sent through `delete_stream` (calls: `calls(Method::Delete)`).
    pub deleted_locations: AtomicU32,
}

/// The rules and their state, shared with multipart uploads.
#[derive(Debug)]
struct Faults {
    rules: Vec<Rule>,
    rng: Mutex<u64>,
    calls: Mutex<HashMap<Method, u32>>,
}

pub struct FaultStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
    pub counters: Arc<Counters>,
}

impl fmt::Debug for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultStore")
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultStore({})", self.inner)
    }
}

impl FaultStore {
    pub fn new(inner: Arc<dyn ObjectStore>, rules: Vec<Rule>, seed: u64) -> Self {
        Self {
            inner,
            faults: Arc::new(Faults {
                rules,
                rng: Mutex::new(seed.max(1)),
                calls: Mutex::new(HashMap::new()),
            }),
            counters: Arc::default(),
        }
    }

    pub fn memory(rules: Vec<Rule>) -> Self {
        Self::new(Arc::new(object_store::memory::InMemory::new()), rules, 42)
    }

    /// How many times `method` was called.
    pub fn calls(&self, method: Method) -> u32 {
        self.faults
            .calls
            .lock()
            .expect("lock")
            .get(&method)
            .copied()
            .unwrap_or(0)
    }

    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    fn decide(&self, method: Method) -> Option<Fault> {
        self.faults.decide(method)
    }
}

impl Faults {
    /// xorshift64*: deterministic for a seed.
    fn random(&self) -> f64 {
        let mut state = self.rng.lock().expect("lock");
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn decide(&self, method: Method) -> Option<Fault> {
        let n = {
            let mut calls = self.calls.lock().expect("lock");
            let n = calls.entry(method).or_insert(0);
            *n += 1;
            *n
        };
        for rule in self.rules.iter().filter(|r| r.method == method) {
            let hit = match rule.when {
                When::Call(k) => n == k,
                When::Calls(first, last) => (first..=last).contains(&n),
                When::Always => true,
                When::Fraction(p) => self.random() < p,
            };
            if hit {
                return Some(rule.fault.clone());
            }
        }
        None
    }
}

async fn hang<T>() -> T {
    futures::future::pending().await
}

#[async_trait]
impl ObjectStore for FaultStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        match self.decide(Method::Put) {
            None => self.inner.put_opts(location, payload, opts).await,
            Some(Fault::Hang) => hang().await,
            Some(Fault::LandThenLose) => {
                self.inner.put_opts(location, payload, opts).await?;
                Err(transient_error())
            }
            Some(fault) => Err(fault_error(&fault, location)),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        match self.decide(Method::PutMultipart) {
            None => {
                let inner = self.inner.put_multipart_opts(location, opts).await?;
                Ok(Box::new(CountingUpload {
                    inner,
                    counters: Arc::clone(&self.counters),
                    faults: Arc::clone(&self.faults),
                }))
            }
            Some(Fault::Hang) => hang().await,
            Some(fault) => Err(fault_error(&fault, location)),
        }
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let method = if options.head {
            Method::Head
        } else {
            Method::Get
        };
        match self.decide(method) {
            None => self.inner.get_opts(location, options).await,
            Some(Fault::Hang) => hang().await,
            Some(fault) => Err(fault_error(&fault, location)),
        }
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let options = GetOptions {
                range: Some(range.clone().into()),
                ..GetOptions::default()
            };
            out.push(self.get_opts(location, options).await?.bytes().await?);
        }
        Ok(out)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let counters = Arc::clone(&self.counters);
        let locations = locations
            .inspect(move |_| {
                counters.deleted_locations.fetch_add(1, Ordering::SeqCst);
            })
            .boxed();
        match self.decide(Method::Delete) {
            None => self.inner.delete_stream(locations),
            Some(Fault::Hang) => futures::stream::pending().boxed(),
            Some(fault) => {
                futures::stream::once(
                    async move { Err(fault_error(&fault, &Path::from("deleted"))) },
                )
                .boxed()
            }
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counters.lists.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.list(prefix);
        self.faulty_list(inner)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counters
            .lists_with_offset
            .fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.list_with_offset(prefix, offset);
        self.faulty_list(inner)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.counters
            .lists_with_delimiter
            .fetch_add(1, Ordering::SeqCst);
        match self.decide(Method::List) {
            None => self.inner.list_with_delimiter(prefix).await,
            Some(Fault::Hang) => hang().await,
            Some(fault) => Err(fault_error(&fault, &Path::from("list"))),
        }
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let counter = match options.mode {
            object_store::CopyMode::Overwrite => &self.counters.copies,
            object_store::CopyMode::Create => &self.counters.copies_if_not_exists,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        self.inner.copy_opts(from, to, options).await
    }
}

impl FaultStore {
    /// Lists in lexicographic order (like S3), with the list rule applied.
    fn faulty_list(
        &self,
        inner: BoxStream<'static, Result<ObjectMeta>>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let fault = self.decide(Method::List);
        let sorted = futures::stream::once(async move {
            let mut all: Vec<Result<ObjectMeta>> = inner.collect().await;
            all.sort_by(|a, b| match (a, b) {
                (Ok(a), Ok(b)) => a.location.cmp(&b.location),
                _ => std::cmp::Ordering::Equal,
            });
            futures::stream::iter(all)
        })
        .flatten();
        match fault {
            None => sorted.boxed(),
            Some(Fault::TransientAfter(n)) => sorted
                .take(n)
                .chain(futures::stream::once(async { Err(transient_error()) }))
                .boxed(),
            Some(Fault::Hang) => futures::stream::pending().boxed(),
            Some(fault) => {
                futures::stream::once(async move { Err(fault_error(&fault, &Path::from("list"))) })
                    .boxed()
            }
        }
    }
}

#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    counters: Arc<Counters>,
    faults: Arc<Faults>,
}

#[async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.counters.parts.fetch_add(1, Ordering::SeqCst);
        match self.faults.decide(Method::PutPart) {
            None => self.inner.put_part(data),
            Some(Fault::Hang) => Box::pin(hang()),
            Some(fault) => Box::pin(async move { Err(fault_error(&fault, &Path::from("part"))) }),
        }
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.counters.completes.fetch_add(1, Ordering::SeqCst);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.counters.aborts.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

/// A retry policy for tests: no jitter, short delays (time is paused anyway).
pub fn quick_retry(max_retries: u32) -> seerstore::RetryConfig {
    seerstore::RetryConfig {
        max_retries,
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(100),
        jitter: false,
        attempt_timeout: Some(std::time::Duration::from_secs(5)),
        multiplier: 2.0,
    }
}

/// Deterministic test data.
pub fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// Every unfinished-write temp file (`.seerstore-tmp…`) under `dir`.
/// A directory's lock file, which LocalStorage keeps (documented in its
/// rustdoc, "Update atomicity"): reserved, but no temp file.
pub const LOCK_FILE: &str = ".seerstore-tmp.lock";

fn is_temp_name(name: &str) -> bool {
    name.starts_with(seerstore::path::RESERVED_PREFIX) && name != LOCK_FILE
}

pub fn temp_files(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.extend(temp_files(&entry.path())?);
        } else if is_temp_name(&entry.file_name().to_string_lossy()) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// A small seeded generator (xorshift64*), so what a test draws repeats.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Starts this test binary again, running only its test `child`, with
/// `envs` set and stdout piped, and waits until the child prints "ready"
/// (it may share a line with the harness's `test child ... `). Returns the
/// child and the rest of its stdout. Panics, naming `round`, if the child
/// exits first.
pub fn spawn_ready_child(
    child: &str,
    envs: &[(&str, &std::ffi::OsStr)],
    round: impl fmt::Display,
) -> std::io::Result<(
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
)> {
    use std::io::BufRead;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut process = command.spawn()?;
    let stdout = process
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut stdout = std::io::BufReader::new(stdout);
    let mut line = String::new();
    while !line.trim_end().ends_with("ready") {
        line.clear();
        let n = stdout.read_line(&mut line)?;
        assert!(n > 0, "round {round}: the child exited before it was ready");
    }
    Ok((process, stdout))
}
