//! `seerstore bench`: an LSM engine's storage workloads against any URL,
//! optionally beside object_store used directly on the same backend.
//!
//! Workloads: SSTable writes streamed through `writer()`, 4 KiB random block
//! reads at concurrency 1, 16 and 64, small durable writes from 16 writers,
//! and listing. Every figure is measured in this run; with `--compare`, the
//! same operations go through object_store directly (LocalFileSystem with
//! fsync for `file://`, the store `object_store::parse_url_opts` builds
//! otherwise) and the last column is seerstore's ratio to it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use seerstore::Storage;

use crate::exit::CliError;

const BLOCK: u64 = 4096;
const SSTABLE: usize = 16 << 20;
/// The size of each `StorageWriter::write` of the sstable-writer workload.
const SSTABLE_WRITE_SIZE: usize = 1 << 20;
const SMALL_WRITERS: usize = 16;

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The storage URL; a temporary local directory when `None`.
    pub url: Option<String>,
    /// Also run every workload through object_store directly.
    pub compare: bool,
    /// Print JSON instead of a table.
    pub json: bool,
    /// Multiplies the number of operations (1.0 = the standard set).
    pub scale: f64,
    /// Run the `wal` workload instead of the standard set.
    pub wal: bool,
}

/// One measured workload on one peer.
#[derive(Debug, Clone)]
struct Row {
    workload: String,
    peer: &'static str,
    ops: u64,
    bytes: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Row {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The operations a workload needs, on seerstore or on object_store.
#[derive(Clone)]
enum Subject {
    Seerstore(Arc<dyn Storage>),
    ObjectStore(Arc<dyn ObjectStore>, Path),
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

impl Subject {
    fn peer(&self) -> &'static str {
        match self {
            Subject::Seerstore(_) => "seerstore",
            Subject::ObjectStore(..) => "object_store",
        }
    }

    fn path(prefix: &Path, key: &str) -> Path {
        Path::from_iter(prefix.parts().chain(Path::from(key).parts()))
    }

    async fn read_range(&self, key: &str, start: u64) -> Result<usize, AnyError> {
        match self {
            Subject::Seerstore(s) => Ok(s.read_range(key, start..start + BLOCK).await?.len()),
            Subject::ObjectStore(store, prefix) => {
                let options = GetOptions {
                    range: Some(GetRange::Bounded(start..start + BLOCK)),
                    ..GetOptions::default()
                };
                let got = store.get_opts(&Self::path(prefix, key), options).await?;
                Ok(got.bytes().await?.len())
            }
        }
    }

    async fn write(&self, key: &str, data: Bytes) -> Result<(), AnyError> {
        match self {
            Subject::Seerstore(s) => {
                s.write(key, data).await?;
            }
            Subject::ObjectStore(store, prefix) => {
                let payload = PutPayload::from(data);
                store
                    .put_opts(&Self::path(prefix, key), payload, Default::default())
                    .await?;
            }
        }
        Ok(())
    }

    async fn stream(&self, key: &str, chunks: &[Bytes]) -> Result<(), AnyError> {
        match self {
            Subject::Seerstore(s) => {
                let mut writer = s.writer(key).await?;
                for chunk in chunks {
                    writer.write(chunk.clone()).await?;
                }
                writer.finish().await?;
            }
            Subject::ObjectStore(store, prefix) => {
                let upload = store
                    .put_multipart_opts(&Self::path(prefix, key), Default::default())
                    .await?;
                let mut writer = WriteMultipart::new(upload);
                for chunk in chunks {
                    writer.wait_for_capacity(4).await?;
                    writer.put(chunk.clone());
                }
                writer.finish().await?;
            }
        }
        Ok(())
    }

    async fn list(&self, key_prefix: &str) -> Result<u64, AnyError> {
        match self {
            Subject::Seerstore(s) => Ok(s
                .list(key_prefix)
                .try_fold(0u64, |n, _| async move { Ok(n + 1) })
                .await?),
            Subject::ObjectStore(store, prefix) => {
                let path = Self::path(prefix, key_prefix);
                let mut listed = store.list(Some(&path));
                let mut n = 0;
                while let Some(meta) = listed.next().await {
                    meta?;
                    n += 1;
                }
                Ok(n)
            }
        }
    }

    /// Removes every key under `key_prefix`.
    async fn clean(&self, key_prefix: &str) {
        match self {
            Subject::Seerstore(s) => {
                let keys: Vec<String> = s
                    .list(key_prefix)
                    .map_ok(|m| m.path)
                    .try_collect()
                    .await
                    .unwrap_or_default();
                for key in keys {
                    let _ = s.delete(&key).await;
                }
            }
            Subject::ObjectStore(store, prefix) => {
                let path = Self::path(prefix, key_prefix);
                let paths: Vec<Path> = store
                    .list(Some(&path))
                    .map_ok(|m| m.location)
                    .try_collect()
                    .await
                    .unwrap_or_default();
                let _ = store
                    .delete_stream(futures::stream::iter(paths.into_iter().map(Ok)).boxed())
                    .try_collect::<Vec<_>>()
                    .await;
            }
        }
    }
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound.max(1)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(
    workload: String,
    peer: &'static str,
    bytes: u64,
    elapsed: Duration,
    mut lat: Vec<Duration>,
) -> Row {
    lat.sort_unstable();
    Row {
        workload,
        peer,
        ops: lat.len() as u64,
        bytes,
        elapsed,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
    }
}

fn progress(label: &str, total: u64, hidden: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if hidden {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{msg:32} [{bar:30}] {pos}/{len} {per_sec}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    bar
}

/// Workload sizes: smaller over the network, where each request costs a
/// round trip.
struct Sizes {
    sstables: usize,
    reads: u64,
    small_writes: u64,
    list_rounds: u64,
}

fn sizes(remote: bool, scale: f64) -> Sizes {
    let n = |x: f64| ((x * scale).round() as u64).max(1);
    if remote {
        Sizes {
            sstables: n(2.0) as usize,
            reads: n(1000.0),
            small_writes: n(160.0),
            list_rounds: n(3.0),
        }
    } else {
        Sizes {
            sstables: n(8.0) as usize,
            reads: n(20_000.0),
            small_writes: n(2000.0),
            list_rounds: n(10.0),
        }
    }
}

async fn run_workloads(
    subject: &Subject,
    base: &str,
    sizes: &Sizes,
    hidden: bool,
) -> Result<Vec<Row>, AnyError> {
    let peer = subject.peer();
    let mut rows = Vec::new();

    // SSTables, streamed in 1 MiB chunks.
    let chunks: Vec<Bytes> = (0..SSTABLE / SSTABLE_WRITE_SIZE)
        .map(|i| Bytes::from(vec![(i % 251) as u8; SSTABLE_WRITE_SIZE]))
        .collect();
    let bar = progress(
        &format!("{peer}: sstable-write 16 MiB"),
        sizes.sstables as u64,
        hidden,
    );
    let mut lat = Vec::new();
    let started = Instant::now();
    for i in 0..sizes.sstables {
        let t = Instant::now();
        subject
            .stream(&format!("{base}/sst/{i:06}.sst"), &chunks)
            .await?;
        lat.push(t.elapsed());
        bar.inc(1);
    }
    bar.finish_and_clear();
    rows.push(row(
        "sstable-write 16 MiB".into(),
        peer,
        (sizes.sstables * SSTABLE) as u64,
        started.elapsed(),
        lat,
    ));

    // Random 4 KiB block reads across the SSTables.
    let blocks = (SSTABLE as u64) / BLOCK;
    for concurrency in [1u64, 16, 64] {
        let label = format!("random-read 4 KiB c={concurrency}");
        let bar = progress(&format!("{peer}: {label}"), sizes.reads, hidden);
        let started = Instant::now();
        let (subject, base) = (subject.clone(), base.to_owned());
        let sstables = sizes.sstables as u64;
        let lat = timed_workers(concurrency, sizes.reads, &bar, move |_, _, rng| {
            let subject = subject.clone();
            let key = format!("{base}/sst/{:06}.sst", rng.below(sstables));
            let start = rng.below(blocks) * BLOCK;
            async move { subject.read_range(&key, start).await.map(drop) }
        })
        .await?;
        bar.finish_and_clear();
        let bytes = lat.len() as u64 * BLOCK;
        rows.push(row(label, peer, bytes, started.elapsed(), lat));
    }

    // Small durable writes from 16 writers into one directory.
    let label = "small-writes 4 KiB x16".to_owned();
    let bar = progress(&format!("{peer}: {label}"), sizes.small_writes, hidden);
    let started = Instant::now();
    let (writers, writes) = (SMALL_WRITERS as u64, sizes.small_writes);
    let (to, under) = (subject.clone(), base.to_owned());
    let lat = timed_workers(writers, writes, &bar, move |worker, i, _| {
        let (to, key) = (to.clone(), format!("{under}/small/{worker:02}-{i:06}"));
        let data = Bytes::from(vec![worker as u8; BLOCK as usize]);
        async move { to.write(&key, data).await }
    })
    .await?;
    bar.finish_and_clear();
    let bytes = lat.len() as u64 * BLOCK;
    rows.push(row(label, peer, bytes, started.elapsed(), lat));

    // Listing the small objects (each round lists them all; ops = keys).
    let label = format!("list {} keys", sizes.small_writes);
    let bar = progress(&format!("{peer}: {label}"), sizes.list_rounds, hidden);
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut keys = 0;
    for _ in 0..sizes.list_rounds {
        let t = Instant::now();
        keys += subject.list(&format!("{base}/small")).await?;
        lat.push(t.elapsed());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut listed = row(label, peer, 0, started.elapsed(), lat);
    listed.ops = keys;
    rows.push(listed);
    Ok(rows)
}

/// Worker `worker`'s part of `total` operations split among `workers`.
fn share(total: u64, workers: u64, worker: u64) -> u64 {
    total / workers + u64::from(worker < total % workers)
}

/// The latencies of every worker, or the first error.
/// One timed phase: `total` operations shared among `workers` tasks, each
/// call `op(worker, i, rng)` made before its timer starts (so building the
/// key and data is not timed) and awaited under it. Every worker draws from
/// its own deterministic [`Rng`]. Returns every call's latency.
async fn timed_workers<F, Fut>(
    workers: u64,
    total: u64,
    bar: &ProgressBar,
    op: F,
) -> Result<Vec<Duration>, AnyError>
where
    F: Fn(u64, u64, &mut Rng) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), AnyError>> + Send + 'static,
{
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (op, bar) = (op.clone(), bar.clone());
        let ops = share(total, workers, worker);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (worker + 1));
            let mut lat = Vec::with_capacity(ops as usize);
            for i in 0..ops {
                let call = op(worker, i, &mut rng);
                let t = Instant::now();
                call.await?;
                lat.push(t.elapsed());
                bar.inc(1);
            }
            Ok::<_, AnyError>(lat)
        }));
    }
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await.map_err(|e| -> AnyError { Box::new(e) })??);
    }
    Ok(lat)
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("seerstore-bench-{}-{nanos}", std::process::id())
}

/// Runs the standard workload set and prints the results.
pub async fn run(settings: Settings, options: &[(String, String)]) -> Result<i32, CliError> {
    let temp = match &settings.url {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(unique());
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::io(&format!("cannot create {}", dir.display()), e))?;
            Some(dir)
        }
    };
    let url = match (&settings.url, &temp) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => format!("file://{}", dir.display()),
        (None, None) => unreachable!("a temporary directory exists without --url"),
    };
    if settings.wal {
        let outcome = wal_bench(&settings, &url).await;
        if let Some(dir) = temp {
            let _ = std::fs::remove_dir_all(dir);
        }
        return outcome.map(|()| 0);
    }
    let outcome = bench(&settings, &url, options).await;
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let rows = outcome?;
    print(&settings, &url, &rows)?;
    Ok(0)
}

async fn bench(
    settings: &Settings,
    url: &str,
    options: &[(String, String)],
) -> Result<Vec<Row>, CliError> {
    let storage = seerstore::open_with(url, options.iter().cloned()).await?;
    let remote = !(url.starts_with("file://") || url.starts_with("memory://"));
    let sizes = sizes(remote, settings.scale);
    let hidden = settings.json;
    let base = unique();
    let mut subjects = vec![Subject::Seerstore(storage)];
    if settings.compare {
        subjects.push(direct_store(url, options)?);
    }
    let mut rows = Vec::new();
    for subject in &subjects {
        let outcome = run_workloads(subject, &base, &sizes, hidden).await;
        subject.clean(&base).await;
        rows.extend(
            outcome
                .map_err(|e| CliError::other(format!("{} bench failed: {e}", subject.peer())))?,
        );
    }
    Ok(rows)
}

/// object_store on the same backend, for `--compare`.
fn direct_store(url: &str, options: &[(String, String)]) -> Result<Subject, CliError> {
    let parsed = url::Url::parse(url).map_err(|e| CliError::usage(format!("bad URL: {e}")))?;
    if parsed.scheme() == "file" {
        // Durable like seerstore's writes, so that the comparison is fair.
        let fs = object_store::local::LocalFileSystem::new_with_prefix(parsed.path())
            .map_err(|e| CliError::other(format!("object_store LocalFileSystem: {e}")))?
            .with_fsync(true);
        return Ok(Subject::ObjectStore(Arc::new(fs), Path::default()));
    }
    if parsed.scheme() == "memory" {
        // A second, separate in-memory store: the same implementation.
        return Ok(Subject::ObjectStore(
            Arc::new(object_store::memory::InMemory::new()),
            Path::default(),
        ));
    }
    let mut all: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    all.extend(options.iter().cloned());
    let mut bare = parsed.clone();
    bare.set_query(None);
    let (store, prefix) = object_store::parse_url_opts(&bare, all).map_err(|e| {
        CliError::usage(format!(
            "object_store cannot open this URL for --compare: {e}"
        ))
    })?;
    Ok(Subject::ObjectStore(Arc::from(store), prefix))
}

fn print(settings: &Settings, url: &str, rows: &[Row]) -> Result<(), CliError> {
    let baseline = |row: &Row| {
        rows.iter()
            .find(|r| r.peer == "object_store" && r.workload == row.workload)
            .map(|b| row.ops_per_sec() / b.ops_per_sec().max(1e-9))
    };
    let mut out = String::new();
    if settings.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": r.workload,
                    "peer": r.peer,
                    "ops": r.ops,
                    "seconds": r.elapsed.as_secs_f64(),
                    "ops_per_sec": r.ops_per_sec(),
                    "mb_per_sec": r.mb_per_sec(),
                    "p50_us": r.p50.as_secs_f64() * 1e6,
                    "p99_us": r.p99.as_secs_f64() * 1e6,
                    "ratio_to_object_store": if r.peer == "seerstore" { baseline(r) } else { None },
                })
            })
            .collect();
        let doc = serde_json::json!({ "url": seerstore::redact_url(url), "results": list });
        out.push_str(&doc.to_string());
        out.push('\n');
    } else {
        out.push_str(&format!(
            "seerstore bench on {}\n\n",
            seerstore::redact_url(url)
        ));
        out.push_str(&format!(
            "{:<26} {:<13} {:>12} {:>9} {:>10} {:>10} {:>14}\n",
            "workload", "peer", "ops/s", "MB/s", "p50", "p99", "vs object_store"
        ));
        for r in rows {
            let ratio = match (r.peer, baseline(r)) {
                ("seerstore", Some(x)) => format!("{x:.2}x"),
                _ => String::new(),
            };
            out.push_str(&format!(
                "{:<26} {:<13} {:>12.0} {:>9.1} {:>10} {:>10} {:>14}\n",
                r.workload,
                r.peer,
                r.ops_per_sec(),
                r.mb_per_sec(),
                format!("{:.1?}", r.p50),
                format!("{:.1?}", r.p99),
                ratio
            ));
        }
        out.push_str(&format!(
            "\n{} cores; figures from this run only (compare side by side, not across machines)\n",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ));
    }
    write_stdout(&out)
}

/// The `wal` workload (see `wal.rs`) in a fresh directory under the local
/// URL, removed afterwards.
async fn wal_bench(settings: &Settings, url: &str) -> Result<(), CliError> {
    let parsed = url::Url::parse(url).map_err(|e| CliError::usage(format!("bad URL: {e}")))?;
    if parsed.scheme() != "file" {
        return Err(CliError::usage(
            "--workload wal needs a local directory (file:// or no --url): \
             object stores have no appends",
        ));
    }
    let dir = std::path::Path::new(parsed.path()).join(unique());
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::io(&format!("cannot create {}", dir.display()), e))?;
    let commits = ((2000.0 * settings.scale).round() as u64).max(1);
    let bar = progress(
        "wal",
        (crate::wal::LEVELS.len() * crate::wal::Peer::ALL.len() * 3) as u64,
        settings.json,
    );
    let outcome = async {
        let fixture = crate::wal::Fixture::new(&dir).await?;
        crate::wal::compare(&fixture, commits, 3, |label| {
            bar.set_message(label.to_owned());
            bar.inc(1);
        })
        .await
    }
    .await;
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);
    let runs = outcome.map_err(|e| CliError::other(format!("wal bench failed: {e}")))?;
    let out = if settings.json {
        let results: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": format!("wal 4 KiB c={}", r.committers),
                    "peer": r.peer.name(),
                    "committers": r.committers,
                    "ops": r.commits,
                    "seconds": r.elapsed.as_secs_f64(),
                    "ops_per_sec": r.commits_per_sec(),
                    "p50_us": r.quantile(0.5).as_secs_f64() * 1e6,
                    "p99_us": r.quantile(0.99).as_secs_f64() * 1e6,
                    "flushes_per_commit": r.flushes_per_commit(),
                    "group_commit_limit": crate::wal::limit(&runs, r.committers),
                })
            })
            .collect();
        let doc = serde_json::json!({ "url": seerstore::redact_url(url), "results": results });
        format!("{doc}\n")
    } else {
        format!(
            "seerstore bench --workload wal on {} (4 KiB records; each commit = append + sync;\n\
             median of 3 interleaved rounds of {commits} commits; x limit = commits/s over\n\
             committers / one plain-std commit time)\n\n{}",
            seerstore::redact_url(url),
            crate::wal::table(&runs)
        )
    };
    write_stdout(&out)
}

/// Writes a finished report to stdout; a closed pipe (`| head`) is not an
/// error.
fn write_stdout(out: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::io("cannot write to stdout", e)),
    }
}
