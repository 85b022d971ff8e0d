//! The `wal` workload: durable commits of 4 KiB records from 1, 4, 16 and
//! 64 concurrent committers, each commit one record made durable, through
//! four peers side by side in one run:
//!
//! * `appender`: one seerstore appender, each commit `append` + `sync`
//!   (group commit);
//! * `write-per-commit`: one durable object per commit through seerstore
//!   `write` (temp file, fsync, rename, directory fsync): today's other way;
//! * `object_store-put`: object_store's `LocalFileSystem::with_fsync(true)`,
//!   one `put` per commit;
//! * `plain-std`: `write_all` + `fdatasync` per commit from one thread, on
//!   one file: the no-grouping baseline, whatever the committer count.
//!
//! The group-commit limit of a level is `committers / t_flush`, with
//! `t_flush` the time of one plain-std commit of the same run (one
//! `fdatasync` of a small append). Flushes per commit: counted by the
//! appender ([`LocalStorage::append_flushes`]); by construction for the
//! others (2 for both one-object peers: file and directory; 1 for plain-std).
//!
//! Shared with `benches/wal.rs` (through `#[path]`), so it depends on
//! nothing of the command line.

#![allow(dead_code)] // each user takes what it needs

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::ObjectStore;
use seerstore::{LocalStorage, Storage};

/// Size of one record.
pub const RECORD: usize = 4096;

/// The committer counts measured.
pub const LEVELS: [usize; 4] = [1, 4, 16, 64];

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Who commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Appender,
    WritePerCommit,
    ObjectStorePut,
    PlainStd,
}

impl Peer {
    pub const ALL: [Peer; 4] = [
        Peer::Appender,
        Peer::WritePerCommit,
        Peer::ObjectStorePut,
        Peer::PlainStd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Appender => "appender",
            Peer::WritePerCommit => "write-per-commit",
            Peer::ObjectStorePut => "object_store-put",
            Peer::PlainStd => "plain-std",
        }
    }
}

/// One measured (peer, committers) run.
#[derive(Debug, Clone)]
pub struct Run {
    pub peer: Peer,
    pub committers: usize,
    pub commits: u64,
    pub elapsed: Duration,
    /// Sorted commit latencies.
    pub latencies: Vec<Duration>,
    pub flushes: u64,
}

impl Run {
    pub fn commits_per_sec(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn flushes_per_commit(&self) -> f64 {
        self.flushes as f64 / self.commits.max(1) as f64
    }

    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

/// The peers' handles on one directory.
pub struct Fixture {
    dir: PathBuf,
    storage: LocalStorage,
    store: Arc<object_store::local::LocalFileSystem>,
    round: std::sync::atomic::AtomicU64,
}

impl Fixture {
    /// Opens the peers on `dir` (which must exist).
    pub async fn new(dir: &Path) -> Result<Fixture, AnyError> {
        let storage = LocalStorage::open(dir.join("seerstore")).await?;
        std::fs::create_dir_all(dir.join("object_store"))?;
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(dir.join("object_store"))?
                .with_fsync(true);
        std::fs::create_dir_all(dir.join("plain"))?;
        Ok(Fixture {
            dir: dir.to_path_buf(),
            storage,
            store: Arc::new(store),
            round: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// `commits` commits of `peer` spread over `committers`.
    pub async fn run(&self, peer: Peer, committers: usize, commits: u64) -> Result<Run, AnyError> {
        let round = self
            .round
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = Bytes::from(vec![0x5a; RECORD]);
        let committers = committers.max(1);
        let share = |c: usize| {
            commits / committers as u64 + u64::from((c as u64) < commits % committers as u64)
        };
        let started = Instant::now();
        let (latencies, flushes) = match peer {
            Peer::PlainStd => {
                let path = self.dir.join("plain").join(format!("{round}.log"));
                let lat = tokio::task::spawn_blocking(move || plain_std(&path, commits, RECORD))
                    .await??;
                (lat, commits)
            }
            Peer::Appender => {
                let key = format!("wal/{round:06}.log");
                let log = self.storage.appender(&key).await?;
                let before = LocalStorage::append_flushes();
                let tasks: Vec<_> = (0..committers)
                    .map(|c| {
                        let (log, record, n) = (log.clone(), record.clone(), share(c));
                        tokio::spawn(async move {
                            let mut lat = Vec::with_capacity(n as usize);
                            for _ in 0..n {
                                let t = Instant::now();
                                log.append(record.clone()).await?;
                                log.sync().await?;
                                lat.push(t.elapsed());
                            }
                            Ok::<_, AnyError>(lat)
                        })
                    })
                    .collect();
                let lat = join(tasks).await?;
                let flushes = LocalStorage::append_flushes() - before;
                log.finish().await?;
                self.storage.delete(&key).await?;
                (lat, flushes)
            }
            Peer::WritePerCommit | Peer::ObjectStorePut => {
                let tasks: Vec<_> = (0..committers)
                    .map(|c| {
                        let (storage, store) = (self.storage.clone(), self.store.clone());
                        let (record, n) = (record.clone(), share(c));
                        tokio::spawn(async move {
                            let mut lat = Vec::with_capacity(n as usize);
                            for i in 0..n {
                                // 64 keys per committer bound the space used.
                                let key = format!("objects/{c:02}-{:02}.rec", i % 64);
                                let t = Instant::now();
                                if peer == Peer::WritePerCommit {
                                    storage.write(&key, record.clone()).await?;
                                } else {
                                    let path = object_store::path::Path::from(key);
                                    store
                                        .put_opts(&path, record.clone().into(), Default::default())
                                        .await?;
                                }
                                lat.push(t.elapsed());
                            }
                            Ok::<_, AnyError>(lat)
                        })
                    })
                    .collect();
                (join(tasks).await?, 2 * commits)
            }
        };
        let elapsed = started.elapsed();
        let mut latencies = latencies;
        latencies.sort_unstable();
        Ok(Run {
            peer,
            committers,
            commits,
            elapsed,
            latencies,
            flushes,
        })
    }
}

/// One thread: `write_all` + `fdatasync` per commit on one file.
fn plain_std(path: &Path, commits: u64, record: usize) -> std::io::Result<Vec<Duration>> {
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(path)?;
    let data = vec![0x5a; record];
    let mut lat = Vec::with_capacity(commits as usize);
    for _ in 0..commits {
        let t = Instant::now();
        file.write_all(&data)?;
        file.sync_data()?;
        lat.push(t.elapsed());
    }
    drop(file);
    std::fs::remove_file(path)?;
    Ok(lat)
}

async fn join(
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<Duration>, AnyError>>>,
) -> Result<Vec<Duration>, AnyError> {
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await??);
    }
    Ok(out)
}

/// Every peer at every level, `rounds` interleaved rounds each (noise from
/// other processes hits all peers alike), keeping each one's median round
/// by commits/s. Commits per run: `commits`, at least 4 per committer.
pub async fn compare(
    fixture: &Fixture,
    commits: u64,
    rounds: usize,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Run>, AnyError> {
    let mut out = Vec::new();
    for committers in LEVELS {
        let n = commits.max(4 * committers as u64);
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); Peer::ALL.len()];
        for _ in 0..rounds.max(1) {
            for (i, peer) in Peer::ALL.into_iter().enumerate() {
                progress(&format!("wal c={committers}: {}", peer.name()));
                runs[i].push(fixture.run(peer, committers, n).await?);
            }
        }
        for mut peer_runs in runs {
            peer_runs.sort_by(|a, b| a.commits_per_sec().total_cmp(&b.commits_per_sec()));
            out.push(peer_runs.swap_remove(peer_runs.len() / 2));
        }
    }
    Ok(out)
}

/// The group-commit limit of `committers`: committers per plain-std commit
/// time of the same level (one `fdatasync` of a small append).
pub fn limit(runs: &[Run], committers: usize) -> Option<f64> {
    let plain = runs
        .iter()
        .find(|r| r.peer == Peer::PlainStd && r.committers == committers)?;
    Some(committers as f64 * plain.commits_per_sec())
}

/// `run`'s commits/s over `peer`'s at the same level.
pub fn ratio(runs: &[Run], run: &Run, peer: Peer) -> Option<f64> {
    let other = runs
        .iter()
        .find(|r| r.peer == peer && r.committers == run.committers)?;
    Some(run.commits_per_sec() / other.commits_per_sec().max(1e-9))
}

/// The results as a table, with the appender's ratios to its peers and to
/// the limit.
pub fn table(runs: &[Run]) -> String {
    let mut out = format!(
        "{:>3} {:<17} {:>10} {:>9} {:>9} {:>13} {:>8} {:>8} {:>8}\n",
        "c", "peer", "commits/s", "p50", "p99", "flushes/commit", "x std", "x write", "x limit"
    );
    for r in runs {
        let (std, write, lim) = if r.peer == Peer::Appender {
            (
                ratio(runs, r, Peer::PlainStd).map(|x| format!("{x:.2}")),
                ratio(runs, r, Peer::WritePerCommit).map(|x| format!("{x:.2}")),
                limit(runs, r.committers).map(|l| format!("{:.2}", r.commits_per_sec() / l)),
            )
        } else {
            (None, None, None)
        };
        out.push_str(&format!(
            "{:>3} {:<17} {:>10.0} {:>9} {:>9} {:>13.3} {:>8} {:>8} {:>8}\n",
            r.committers,
            r.peer.name(),
            r.commits_per_sec(),
            format!("{:.0?}", r.quantile(0.5)),
            format!("{:.0?}", r.quantile(0.99)),
            r.flushes_per_commit(),
            std.unwrap_or_default(),
            write.unwrap_or_default(),
            lim.unwrap_or_default(),
        ));
    }
    out
}
