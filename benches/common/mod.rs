//! Workloads shared by the criterion benches (`benches/*.rs`) and the
//! benchmark runner (`examples/bench.rs`): one fixture per workload, and one
//! operation per (workload, peer), so that every peer does the same work on
//! the same files in the same run.
//!
//! Peers:
//! * `seerstore`: [`LocalStorage`] with default options (inline reads on);
//! * `seerstore-blocking`: [`LocalStorage`] with `inline_reads(false)`, i.e.
//!   one `spawn_blocking(pread)` per read on a cached handle (reads only);
//! * `object_store`: object_store's `LocalFileSystem` (`with_fsync(true)`
//!   for writes, so that it promises what seerstore promises);
//! * `opendal`: OpenDAL's fs service; reads through one cached `Reader`
//!   (`read` / `fetch`), writes through an `atomic_write_dir` (temp file,
//!   fsync, rename: no directory fsync, so it promises a little less than
//!   seerstore), listing with one `stat` per key for its size;
//! * `tokio-fs`: the naive port: `tokio::fs` open + seek + read per call,
//!   write + sync_all + rename + directory sync_all per write;
//! * `plain-threads`: std on plain OS threads, no async runtime: `pread` on
//!   `threads` threads (default: the number of cores) for reads, one thread
//!   per writer for writes, `read_dir` + `metadata` for listing. The
//!   practical limit;
//! * `device`: `O_DIRECT` `pread` on `concurrency` OS threads, for cold
//!   reads only: the device's own limit at that queue depth (see `device`).
#![allow(dead_code)]

mod async_ops;
mod device;

pub use device::Counters;

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_ops::Ctx;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use seerstore::{LocalStorage, Storage};

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Random `block_size` reads from one page-cache-hot file.
    RandomRead,
    /// `ranges_per_call` random `block_size` ranges per call.
    ReadRanges,
    /// Durable `object_size` objects (SSTables), one `write` per op.
    SstableWrite,
    /// Like `SstableWrite`, through `writer()` in 1 MiB chunks.
    SstableWriter,
    /// Durable 4 KiB objects from `concurrency` writers into one directory.
    SmallWrites,
    /// Listing `keys` objects with their sizes.
    List,
}

impl Workload {
    /// Every workload, in the runner's order.
    pub const ALL: [Workload; 6] = [
        Workload::RandomRead,
        Workload::ReadRanges,
        Workload::SstableWrite,
        Workload::SstableWriter,
        Workload::SmallWrites,
        Workload::List,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::RandomRead => "random-read",
            Workload::ReadRanges => "read-ranges",
            Workload::SstableWrite => "sstable-write",
            Workload::SstableWriter => "sstable-writer",
            Workload::SmallWrites => "small-writes",
            Workload::List => "list",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn parse(name: &str) -> Option<Workload> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    fn is_read(self) -> bool {
        matches!(self, Workload::RandomRead | Workload::ReadRanges)
    }
}

/// Who does the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// seerstore `LocalStorage`, default options.
    Seerstore,
    /// seerstore `LocalStorage` with `inline_reads(false)`.
    SeerstoreBlocking,
    /// object_store's API served by seerstore: `ObjectStoreAdapter` over
    /// the default `LocalStorage` (what an engine written against
    /// object_store gets).
    Adapter,
    /// object_store `LocalFileSystem`.
    ObjectStore,
    /// OpenDAL's fs service.
    OpenDal,
    /// Naive `tokio::fs`.
    TokioFs,
    /// std on plain threads.
    PlainThreads,
    /// `O_DIRECT` reads on plain threads: the device's limit.
    Device,
}

impl Peer {
    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Seerstore => "seerstore",
            Peer::SeerstoreBlocking => "seerstore-blocking",
            Peer::Adapter => "adapter",
            Peer::ObjectStore => "object_store",
            Peer::OpenDal => "opendal",
            Peer::TokioFs => "tokio-fs",
            Peer::PlainThreads => "plain-threads",
            Peer::Device => "device",
        }
    }

    /// The peers that take part in `workload`, with the device beside the
    /// cold reads.
    pub fn for_workload_cold(workload: Workload, cold: bool) -> Vec<Peer> {
        let mut peers = Self::for_workload(workload);
        if cold && workload.is_read() {
            peers.push(Peer::Device);
        }
        peers
    }

    /// The peers that take part in `workload` (page cache hot).
    pub fn for_workload(workload: Workload) -> Vec<Peer> {
        let mut peers = vec![Peer::Seerstore];
        if workload.is_read() {
            peers.extend([Peer::SeerstoreBlocking, Peer::Adapter]);
        }
        peers.extend([
            Peer::ObjectStore,
            Peer::OpenDal,
            Peer::TokioFs,
            Peer::PlainThreads,
        ]);
        peers
    }
}

/// Workload parameters.
#[derive(Debug, Clone)]
pub struct Options {
    /// Operations in flight at once (async tasks, or writer threads).
    pub concurrency: usize,
    /// OS threads of the plain-thread read limit.
    pub threads: usize,
    /// Size of the file read by the read workloads.
    pub file_size: u64,
    /// Size of one read.
    pub block_size: u64,
    /// Ranges per `read_ranges` call.
    pub ranges_per_call: usize,
    /// Size of one SSTable.
    pub object_size: usize,
    /// Size of one small write.
    pub small_size: usize,
    /// Keys listed by the list workload.
    pub keys: usize,
    /// Where the fixture's temporary directory goes (default: the system's).
    pub dir: Option<PathBuf>,
    /// Read workloads: drop the file from the page cache before every run
    /// (`posix_fadvise(DONTNEED)`), so that reads go to the disk.
    pub cold: bool,
}

/// The number of cores, for the default thread counts.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Options {
    /// Defaults for `workload`.
    pub fn new(workload: Workload) -> Options {
        Options {
            concurrency: match workload {
                Workload::RandomRead | Workload::ReadRanges => 64,
                Workload::SmallWrites => 16,
                _ => 1,
            },
            threads: cores(),
            file_size: 256 << 20,
            block_size: 4096,
            ranges_per_call: 16,
            object_size: 64 << 20,
            small_size: 4096,
            keys: 10_000,
            dir: None,
            cold: false,
        }
    }
}

/// The measurements of one (workload, peer) run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Operations done.
    pub ops: u64,
    /// Payload bytes moved.
    pub bytes: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Latency of every operation, sorted.
    pub latencies: Vec<Duration>,
    /// For `list`: time to the first key of every listing, sorted.
    pub first_item: Vec<Duration>,
    /// Device bytes, queue depth and CPU time of the run.
    pub counters: Counters,
}

impl Sample {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// Payload MB (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    /// Bytes fetched from the device per payload byte asked.
    pub fn device_bytes_per_byte(&self) -> f64 {
        self.counters.device_read_bytes as f64 / self.bytes.max(1) as f64
    }

    /// CPU time (all threads) per operation.
    pub fn cpu_per_op(&self) -> Duration {
        self.counters.cpu() / u32::try_from(self.ops.max(1)).unwrap_or(u32::MAX)
    }

    /// The `q` quantile (0..=1) of `sorted`.
    pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let index = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    }
}

/// Deterministic xorshift, one per task.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `stream` (never the zero state).
    pub fn new(stream: u64) -> Rng {
        Rng(0x9e37_79b9_7f4a_7c15 ^ stream.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1)
    }

    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(crate) const READ_KEY: &str = "data/read.sst";
pub(crate) const LIST_PREFIX: &str = "list";

/// A workload's files and every peer's handle on them.
pub struct Bench {
    /// The workload.
    pub workload: Workload,
    /// Its parameters.
    pub options: Options,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    root: PathBuf,
    seer: LocalStorage,
    seer_blocking: LocalStorage,
    object_store: Arc<LocalFileSystem>,
    opendal: opendal::Operator,
    opendal_reader: Option<opendal::Reader>,
    payload: Bytes,
    read_file: Option<File>,
    /// The read file opened with `O_DIRECT`, for the device peer.
    direct_file: Option<File>,
    /// Advanced per run so that writes of successive runs use fresh names.
    round: std::sync::atomic::AtomicU64,
}

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Bench {
    /// Builds the runtime (one worker per core) and the fixture.
    pub fn new(workload: Workload, options: Options) -> std::io::Result<Bench> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores())
            .enable_all()
            .build()?;
        let dir = match &options.dir {
            Some(parent) => tempfile::Builder::new()
                .prefix("seerstore-bench")
                .tempdir_in(parent)?,
            None => tempfile::Builder::new()
                .prefix("seerstore-bench")
                .tempdir()?,
        };
        let root = dir.path().to_path_buf();
        let (seer, seer_blocking) = runtime.block_on(async {
            let seer = LocalStorage::open(&root).await.map_err(other)?;
            let blocking = LocalStorage::builder(&root)
                .inline_reads(false)
                .open()
                .await
                .map_err(other)?;
            Ok::<_, std::io::Error>((seer, blocking))
        })?;
        let object_store = Arc::new(
            LocalFileSystem::new_with_prefix(&root)
                .map_err(other)?
                .with_fsync(!workload.is_read()),
        );
        let opendal = {
            let temp = root.join("opendal-tmp");
            std::fs::create_dir_all(&temp)?;
            let builder = opendal::services::Fs::default()
                .root(&root.to_string_lossy())
                .atomic_write_dir(&temp.to_string_lossy());
            opendal::Operator::new(builder).map_err(other)?.finish()
        };
        let payload = Self::make_payload(workload, &options);
        let mut bench = Bench {
            workload,
            options,
            payload,
            read_file: None,
            direct_file: None,
            runtime,
            _dir: dir,
            root,
            seer,
            seer_blocking,
            object_store,
            opendal,
            opendal_reader: None,
            round: std::sync::atomic::AtomicU64::new(0),
        };
        bench.prepare()?;
        if workload.is_read() {
            bench.read_file = Some(File::open(bench.root.join(READ_KEY))?);
            if bench.options.cold {
                bench.direct_file = Some(device::open_direct(&bench.root.join(READ_KEY))?);
            }
            let reader = bench
                .runtime
                .block_on(bench.opendal.reader(READ_KEY))
                .map_err(other)?;
            bench.opendal_reader = Some(reader);
        }
        Ok(bench)
    }

    fn prepare(&self) -> std::io::Result<()> {
        match self.workload {
            Workload::RandomRead | Workload::ReadRanges => {
                let path = self.root.join(READ_KEY);
                std::fs::create_dir_all(path.parent().unwrap_or(&self.root))?;
                let mut file = File::create(&path)?;
                let mut rng = Rng::new(7);
                let chunk: Vec<u8> = (0..1 << 20).map(|_| rng.next() as u8).collect();
                let mut left = self.options.file_size;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    file.write_all(&chunk[..n])?;
                    left -= n as u64;
                }
                file.sync_all()?;
                // Page-cache hot, and seerstore's handles cached.
                let mut sink = Vec::new();
                File::open(&path)?.read_to_end(&mut sink)?;
                drop(sink);
                self.runtime.block_on(async {
                    self.seer.read_range(READ_KEY, 0..1).await.map_err(other)?;
                    self.seer_blocking
                        .read_range(READ_KEY, 0..1)
                        .await
                        .map_err(other)?;
                    Ok::<_, std::io::Error>(())
                })?;
            }
            Workload::List => {
                // `keys` objects in directories of 1,000.
                for i in 0..self.options.keys {
                    let dir = self
                        .root
                        .join(LIST_PREFIX)
                        .join(format!("d{:03}", i / 1000));
                    if i % 1000 == 0 {
                        std::fs::create_dir_all(&dir)?;
                    }
                    std::fs::write(dir.join(format!("{i:06}.sst")), b"0123456789")?;
                }
            }
            Workload::SstableWrite | Workload::SstableWriter | Workload::SmallWrites => {
                std::fs::create_dir_all(self.root.join("w"))?;
            }
        }
        Ok(())
    }

    /// Bytes one operation moves.
    pub fn op_bytes(&self) -> u64 {
        let o = &self.options;
        match self.workload {
            Workload::RandomRead => o.block_size,
            Workload::ReadRanges => o.block_size * o.ranges_per_call as u64,
            Workload::SstableWrite | Workload::SstableWriter => o.object_size as u64,
            Workload::SmallWrites => o.small_size as u64,
            Workload::List => o.keys as u64 * 10,
        }
    }

    /// Runs `ops` operations of `peer`, spread over `concurrency` tasks (or
    /// threads), and measures them.
    pub fn run(&self, peer: Peer, ops: u64) -> Sample {
        let round = self
            .round
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let lanes = match (peer, self.workload.is_read()) {
            (Peer::PlainThreads, true) => self.options.threads,
            (Peer::Device, _) => self.options.concurrency,
            _ => self.options.concurrency,
        }
        .max(1);
        let per_lane =
            |lane: usize| ops / lanes as u64 + u64::from((lane as u64) < ops % lanes as u64);
        let ctx = self.async_ctx();
        if self.options.cold {
            if let Some(file) = &self.read_file {
                rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
            }
        }
        let before = Counters::now();
        let start = Instant::now();
        let threads = matches!(peer, Peer::PlainThreads | Peer::Device);
        let results: Vec<(Vec<Duration>, Vec<Duration>)> = if threads {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..lanes)
                    .map(|lane| {
                        let n = per_lane(lane);
                        scope.spawn(move || {
                            let mut lat = Vec::with_capacity(n as usize);
                            let mut first = Vec::new();
                            let mut rng = Rng::new(round << 16 | lane as u64);
                            let mut direct = (peer == Peer::Device)
                                .then(|| device::AlignedBuf::new(self.options.block_size as usize));
                            for i in 0..n {
                                let t = Instant::now();
                                match &mut direct {
                                    Some(buf) => self.device_op(&mut rng, buf),
                                    None => self.plain_op(&mut rng, lane, round, i, t, &mut first),
                                }
                                lat.push(t.elapsed());
                            }
                            (lat, first)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("bench thread"))
                    .collect()
            })
        } else {
            self.runtime.block_on(async {
                let tasks: Vec<_> = (0..lanes)
                    .map(|lane| {
                        let n = per_lane(lane);
                        let ctx = ctx.clone();
                        tokio::spawn(async move {
                            let mut lat = Vec::with_capacity(n as usize);
                            let mut first = Vec::new();
                            let mut rng = Rng::new(round << 16 | lane as u64);
                            for i in 0..n {
                                let t = Instant::now();
                                ctx.op(peer, &mut rng, lane, round, i, t, &mut first).await;
                                lat.push(t.elapsed());
                            }
                            (lat, first)
                        })
                    })
                    .collect();
                let mut out = Vec::new();
                for task in tasks {
                    out.push(task.await.expect("bench task"));
                }
                out
            })
        };
        let elapsed = start.elapsed();
        let counters = Counters::now().since(&before);
        let mut latencies: Vec<Duration> = Vec::with_capacity(ops as usize);
        let mut first_item = Vec::new();
        for (lat, first) in results {
            latencies.extend(lat);
            first_item.extend(first);
        }
        latencies.sort_unstable();
        first_item.sort_unstable();
        Sample {
            ops,
            bytes: ops * self.op_bytes(),
            elapsed,
            latencies,
            first_item,
            counters,
        }
    }

    /// One operation of the device peer: the blocks `plain_op` reads, with
    /// `O_DIRECT`.
    fn device_op(&self, rng: &mut Rng, buf: &mut device::AlignedBuf) {
        let o = &self.options;
        let file = self.direct_file.as_ref().expect("O_DIRECT file (--cold)");
        let calls = if self.workload == Workload::RandomRead {
            1
        } else {
            o.ranges_per_call
        };
        let blocks = o.file_size / o.block_size;
        for _ in 0..calls {
            device::direct_read(file, buf, rng.below(blocks) * o.block_size);
        }
    }

    fn async_ctx(&self) -> Arc<Ctx> {
        Arc::new(Ctx {
            workload: self.workload,
            options: self.options.clone(),
            root: self.root.clone(),
            seer: self.seer.clone(),
            seer_blocking: self.seer_blocking.clone(),
            object_store: self.object_store.clone(),
            adapter: Arc::new(seerstore::ObjectStoreAdapter::new(Arc::new(
                self.seer.clone(),
            ))),
            opendal: self.opendal.clone(),
            opendal_reader: self.opendal_reader.clone(),
            payload: self.payload.clone(),
        })
    }

    fn make_payload(workload: Workload, options: &Options) -> Bytes {
        let len = match workload {
            Workload::SstableWrite | Workload::SstableWriter => options.object_size,
            Workload::SmallWrites => options.small_size,
            _ => 0,
        };
        let mut rng = Rng::new(11);
        (0..len)
            .map(|_| rng.next() as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    /// One operation of the plain-thread peer.
    fn plain_op(
        &self,
        rng: &mut Rng,
        lane: usize,
        round: u64,
        i: u64,
        start: Instant,
        first: &mut Vec<Duration>,
    ) {
        let o = &self.options;
        match self.workload {
            Workload::RandomRead | Workload::ReadRanges => {
                let file = self.read_file.as_ref().expect("read file");
                let calls = if self.workload == Workload::RandomRead {
                    1
                } else {
                    o.ranges_per_call
                };
                let blocks = o.file_size / o.block_size;
                for _ in 0..calls {
                    let offset = rng.below(blocks) * o.block_size;
                    let mut buf = vec![0u8; o.block_size as usize];
                    file.read_exact_at(&mut buf, offset).expect("pread");
                    std::hint::black_box(Bytes::from(buf));
                }
            }
            Workload::SstableWrite | Workload::SstableWriter | Workload::SmallWrites => {
                let payload = &self.payload;
                let dir = self.root.join("w");
                let target = dir.join(object_name(self.workload, lane, round, i));
                let temp = dir.join(format!("tmp-plain-{lane}-{round}-{i}"));
                let mut file = File::create(&temp).expect("create");
                file.write_all(payload).expect("write");
                file.sync_all().expect("fsync");
                drop(file);
                std::fs::rename(&temp, &target).expect("rename");
                File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .expect("dir fsync");
            }
            Workload::List => {
                let mut count = 0usize;
                let mut stack = vec![self.root.join(LIST_PREFIX)];
                while let Some(dir) = stack.pop() {
                    for entry in std::fs::read_dir(&dir).expect("read_dir") {
                        let entry = entry.expect("entry");
                        let meta = entry.metadata().expect("metadata");
                        if meta.is_dir() {
                            stack.push(entry.path());
                        } else {
                            if count == 0 {
                                first.push(start.elapsed());
                            }
                            count += 1;
                            std::hint::black_box(meta.len());
                        }
                    }
                }
                assert_eq!(count, o.keys);
            }
        }
    }
}

/// The name of write `i` of `lane`: writes overwrite one of a few keys per
/// writer (64 for 4 KiB objects, 2 for larger ones), so the disk space used
/// stays bounded however long the benchmark runs.
pub(crate) fn write_name(lane: usize, round: u64, i: u64) -> String {
    let _ = round;
    format!("{lane}-{}.obj", i % 64)
}

/// [`write_name`], with at most two keys per writer for large objects.
pub(crate) fn object_name(workload: Workload, lane: usize, round: u64, i: u64) -> String {
    match workload {
        Workload::SmallWrites => write_name(lane, round, i),
        _ => write_name(lane, round, i % 2),
    }
}

/// Runs every peer of `bench` in turn for `rounds` rounds of `ops` each
/// (interleaved, so that noise from other processes hits all peers alike),
/// and keeps each peer's median round by ops/s.
pub fn compare(bench: &Bench, peers: &[Peer], ops: u64, rounds: usize) -> Vec<(Peer, Sample)> {
    // Warm-up: one short round each.
    for &peer in peers {
        bench.run(peer, (ops / 10).max(1));
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); peers.len()];
    for _ in 0..rounds.max(1) {
        for (index, &peer) in peers.iter().enumerate() {
            samples[index].push(bench.run(peer, ops));
        }
    }
    peers
        .iter()
        .zip(samples)
        .map(|(&peer, mut runs)| {
            runs.sort_by(|a, b| a.ops_per_sec().total_cmp(&b.ops_per_sec()));
            let median = runs.swap_remove(runs.len() / 2);
            (peer, median)
        })
        .collect()
}

/// The root directory of the fixture (for diagnostics).
pub fn fixture_root(bench: &Bench) -> &Path {
    &bench.root
}

/// A criterion group for `workload`: one benchmark per peer, each iteration
/// one operation (at the workload's concurrency), on one shared fixture.
/// Kept short: 10 samples, 1 s warm-up, `measurement` per peer.
pub fn criterion_group(c: &mut criterion::Criterion, workload: Workload, measurement: Duration) {
    let bench = Bench::new(workload, Options::new(workload)).expect("bench fixture");
    let mut group = c.benchmark_group(workload.name());
    group
        .throughput(criterion::Throughput::Bytes(bench.op_bytes()))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement);
    for peer in Peer::for_workload(workload) {
        group.bench_function(peer.name(), |b| {
            b.iter_custom(|iters| bench.run(peer, iters).elapsed)
        });
    }
    group.finish();
}
