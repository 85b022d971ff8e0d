//! The standard workload set: what each workload does, how many
//! operations it runs (`Sizes`), and how a concurrent phase is timed.

use std::time::{Duration, Instant};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::subject::{AnyError, Subject};
use super::{Row, BLOCK};

/// The size of each SSTable the sstable-write workload streams.
const SSTABLE: usize = 16 << 20;
/// The size of each `StorageWriter::write` of the sstable-writer workload.
const SSTABLE_WRITE_SIZE: usize = 1 << 20;
const SMALL_WRITERS: usize = 16;
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

pub(super) fn progress(label: &str, total: u64, hidden: bool) -> ProgressBar {
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
pub(super) struct Sizes {
    sstables: usize,
    reads: u64,
    small_writes: u64,
    list_rounds: u64,
}

pub(super) fn sizes(remote: bool, scale: f64) -> Sizes {
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

pub(super) async fn run_workloads(
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
