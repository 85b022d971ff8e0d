//! Crash torture for LocalStorage: rounds of a child process doing seeded
//! random writes, streamed writes, conditional creates and updates, and
//! deletes over a small key set, killed with SIGKILL at seeded random
//! moments. The child fsyncs a log line *before* each operation (its intent)
//! and *after* each acknowledgement. After each kill, every key must hold
//! exactly the last acknowledged state or, for the one operation in flight,
//! its intended state — absent, whole-old or whole-new, never a mix — and
//! reopening must leave no temp files behind.
//!
//! The child is this test binary, re-executed with `--exact torture_child`
//! and `CHILD_ROOT_ENV` set; run normally, that test is a no-op.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage, WriteMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_TORTURE_ROOT";
const CHILD_SEED_ENV: &str = "SEERSTORE_TORTURE_SEED";
const KEYS: [&str; 6] = [
    "MANIFEST",
    "wal/000001.log",
    "wal/000002.log",
    "L0/000001.sst",
    "L0/000002.sst",
    "L1/a/b/000003.sst",
];
const ROUNDS: u64 = 30;
const LOG: &str = "torture.log";

use support::Rng;

/// Version `seq` of key `k`: a 16-byte header (`seq`, key index, length),
/// then bytes derived from all three. Sizes from 0 to ~300 KB.
fn value(k: usize, seq: u64) -> Vec<u8> {
    let len = 16 + usize::try_from(seq.wrapping_mul(2_654_435_761) % 300_000).unwrap_or(0);
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(&seq.to_le_bytes());
    data.extend_from_slice(&(k as u32).to_le_bytes());
    data.extend_from_slice(&(len as u32).to_le_bytes());
    let mut i = 0u64;
    while data.len() < len {
        data.push((seq.wrapping_mul(131) ^ (k as u64 * 7) ^ (i / 3)) as u8);
        i += 1;
    }
    data
}

/// The child's fsynced log: `I <key> <seq>` before an operation (seq 0 =
/// delete), `A <key> <seq>` after its acknowledgement.
struct Log(std::fs::File);

impl Log {
    fn line(&mut self, kind: char, k: usize, seq: u64) -> std::io::Result<()> {
        self.0.write_all(format!("{kind} {k} {seq}\n").as_bytes())?;
        self.0.sync_data()
    }
}

#[test]
fn torture_child() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let seed: u64 = std::env::var(CHILD_SEED_ENV)?.parse()?;
    let root = PathBuf::from(root);
    let mut log = Log(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.with_file_name(LOG))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(&root).await?;
        // Straight to fd 1: the test harness may capture `println!`.
        let mut stdout = std::io::stdout();
        stdout.write_all(b"ready\n")?;
        stdout.flush()?;
        let mut rng = Rng(seed | 1);
        // Sequence numbers unique across rounds: the seed's high bits.
        for seq in seed << 20.. {
            let k = rng.below(KEYS.len() as u64) as usize;
            let key = KEYS[k];
            let exists = storage.exists(key).await?;
            let kind = rng.below(5);
            if kind == 4 {
                log.line('I', k, 0)?;
                storage.delete(key).await?;
                log.line('A', k, 0)?;
                continue;
            }
            let data = value(k, seq);
            log.line('I', k, seq)?;
            match kind {
                0 => {
                    storage.write(key, Bytes::from(data)).await?;
                }
                1 => {
                    let mut writer = storage.writer(key).await?;
                    for chunk in data.chunks(16 * 1024) {
                        writer.write(Bytes::copy_from_slice(chunk)).await?;
                    }
                    writer.finish().await?;
                }
                2 if !exists => {
                    storage
                        .write_with(key, Bytes::from(data), WriteMode::Create)
                        .await?;
                }
                _ if exists => {
                    let version = storage.head(key).await?.version.ok_or("no version")?;
                    storage
                        .write_with(key, Bytes::from(data), WriteMode::Update(version))
                        .await?;
                }
                _ => {
                    storage.write(key, Bytes::from(data)).await?;
                }
            }
            log.line('A', k, seq)?;
        }
        Ok(())
    })
}

/// Per key: the last acknowledged state, and the intended state of an
/// operation still in flight (`Some(0)` = a delete).
#[derive(Debug, Default, Clone, Copy)]
struct KeyState {
    acked: Option<u64>,
    pending: Option<u64>,
}

/// Replays the log. A torn last line (no newline) was never fsynced whole:
/// it is ignored, as the child was killed before acting on it.
fn replay(log: &Path) -> std::io::Result<(HashMap<usize, KeyState>, u64)> {
    let mut states: HashMap<usize, KeyState> = HashMap::new();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut acks = 0;
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let mut parts = line.split_whitespace();
        let (Some(kind), Some(k), Some(seq)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let k: usize = k.parse().map_err(std::io::Error::other)?;
        let seq: u64 = seq.parse().map_err(std::io::Error::other)?;
        let state = states.entry(k).or_default();
        match kind {
            "I" => state.pending = Some(seq),
            // Settled by the parent after a round: what was on disk.
            "S" => {
                state.acked = (seq != 0).then_some(seq);
                state.pending = None;
            }
            _ => {
                state.acked = (seq != 0).then_some(seq);
                state.pending = None;
                acks += 1;
            }
        }
    }
    Ok((states, acks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_leaves_acked_or_in_flight_state() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let log = tmp.path().join(LOG);
    let mut rng = Rng(0x7021_7e57_5eed_0001);
    let (mut landed, mut not_landed, mut litter_rounds) = (0, 0, 0);
    for round in 1..=ROUNDS {
        let (mut child, _stdout) = support::spawn_ready_child(
            "torture_child",
            &[
                (CHILD_ROOT_ENV, root.as_os_str()),
                (CHILD_SEED_ENV, round.to_string().as_ref()),
            ],
            round,
        )?;
        let delay = 5 + rng.below(150);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill()?; // SIGKILL
        child.wait()?;

        let litter = support::temp_files(&root)?;
        litter_rounds += usize::from(!litter.is_empty());

        let (states, _) = replay(&log)?;
        let mut observed = Vec::with_capacity(KEYS.len());
        for (k, key) in KEYS.iter().enumerate() {
            let state = states.get(&k).copied().unwrap_or_default();
            let actual = match std::fs::read(root.join(key)) {
                Ok(data) => {
                    let seq = u64::from_le_bytes(data.get(..8).ok_or("short")?.try_into()?);
                    assert!(
                        data == value(k, seq),
                        "round {round}: {key} is not one whole version"
                    );
                    Some(seq)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e.into()),
            };
            observed.push((k, actual));
            let in_flight = state.pending.map(|seq| (seq != 0).then_some(seq));
            if actual == state.acked {
                if in_flight.is_some_and(|s| s != actual) {
                    not_landed += 1;
                }
            } else if Some(actual) == in_flight {
                landed += 1;
            } else {
                panic!(
                    "round {round}: {key} holds {actual:?}; acknowledged {:?}, in flight {:?}",
                    state.acked, state.pending
                );
            }
        }
        // What this round left is the next round's starting point: an
        // operation in flight at the kill that landed was never
        // acknowledged in the log, so settle every key to what is on disk.
        {
            use std::io::Write as _;
            let mut settle = std::fs::OpenOptions::new().append(true).open(&log)?;
            for (k, actual) in &observed {
                writeln!(settle, "S {k} {}", actual.unwrap_or(0))?;
            }
        }
        // Reopening sweeps what the killed child left.
        drop(LocalStorage::open(&root).await?);
        let left = support::temp_files(&root)?;
        assert!(
            left.is_empty(),
            "round {round}: temp files survived: {left:?}"
        );
    }
    let (_, acks) = replay(&log)?;
    eprintln!(
        "local torture: {ROUNDS} rounds, {acks} acknowledged operations, \
         in-flight at the kill: {landed} landed, {not_landed} did not; \
         temp files left by {litter_rounds} kills, all swept on reopen"
    );
    assert!(acks > ROUNDS, "the children acknowledged almost nothing");
    Ok(())
}
