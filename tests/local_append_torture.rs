//! Crash torture for appends: rounds of a child process appending
//! random-length records from 16 tasks, each syncing after its append and
//! printing the durable length it got, killed with SIGKILL after a seeded
//! random number of those lines. After each kill the log must hold at
//! least the last printed length, and be, byte for byte, whole records as
//! appended (a torn record only at the very end, past the durable length).
//!
//! The child is this test binary, re-executed with `--exact torture_child`
//! and `CHILD_ROOT_ENV` set; run normally, that test is a no-op.

mod support;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

use support::Rng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_APPEND_TORTURE_ROOT";
const CHILD_ROUND_ENV: &str = "SEERSTORE_APPEND_TORTURE_ROUND";
const TASKS: u32 = 16;
const ROUNDS: u64 = 12;
const HEADER: usize = 12;

/// Record `seq` of `task`: task, seq and total length (12 bytes), then
/// bytes derived from all three; 12 bytes to ~9 KB.
fn record(task: u32, seq: u32) -> Vec<u8> {
    let len = HEADER + (task as usize * 7919 + seq as usize * 104_729) % 9000;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&task.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    let mut i = 0u32;
    while out.len() < len {
        out.push((task.wrapping_mul(31) ^ seq.wrapping_mul(131) ^ i) as u8);
        i += 1;
    }
    out
}

fn key(round: u64) -> String {
    format!("wal/{round:06}.log")
}

#[test]
fn torture_child() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let round: u64 = std::env::var(CHILD_ROUND_ENV)?.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(PathBuf::from(root)).await?;
        let log = storage.appender(&key(round)).await?;
        // Straight to fd 1: the test harness may capture `println!`.
        let mut stdout = std::io::stdout();
        stdout.write_all(b"ready\n")?;
        stdout.flush()?;
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let log = log.clone();
                tokio::spawn(async move {
                    for seq in 0.. {
                        log.append(Bytes::from(record(task, seq))).await?;
                        let durable = log.sync().await?;
                        let mut out = std::io::stdout().lock();
                        out.write_all(format!("durable {durable}\n").as_bytes())?;
                        out.flush()?;
                    }
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                })
            })
            .collect();
        for task in tasks {
            task.await?.map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Checks `data` record by record; returns the length of the whole
/// records and whether a torn one follows.
fn check_log(data: &[u8]) -> Result<(usize, bool), String> {
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        if rest.len() < HEADER {
            return Ok((at, true));
        }
        let word = |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let (task, seq, len) = (word(0), word(4), word(8) as usize);
        if task >= TASKS {
            return Err(format!("garbage at {at}: task {task}"));
        }
        let expected = record(task, seq);
        if expected.len() != len {
            return Err(format!("garbage at {at}: length {len}"));
        }
        if rest.len() < len {
            return if rest == &expected[..rest.len()] {
                Ok((at, true))
            } else {
                Err(format!(
                    "a torn record at {at} differs from what was appended"
                ))
            };
        }
        if rest[..len] != expected[..] {
            return Err(format!("the record at {at} differs from what was appended"));
        }
        at += len;
    }
    Ok((at, false))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_keeps_every_synced_byte() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let mut rng = Rng(0x0a99_e4d5_eed0_0001);
    let mut torn_tails = 0;
    for round in 1..=ROUNDS {
        let (mut child, mut stdout) = support::spawn_ready_child(
            "torture_child",
            &[
                (CHILD_ROOT_ENV, root.as_os_str()),
                (CHILD_ROUND_ENV, round.to_string().as_ref()),
            ],
            round,
        )?;
        let mut line = String::new();
        // Kill after a random number of acknowledged commits.
        let commits = 1 + rng.below(400);
        let mut last_durable = 0u64;
        let mut seen = 0;
        while seen < commits {
            line.clear();
            let n = stdout.read_line(&mut line)?;
            assert!(n > 0, "round {round}: the child exited early");
            if let Some(len) = line.trim_end().strip_prefix("durable ") {
                last_durable = last_durable.max(len.parse()?);
                seen += 1;
            }
        }
        child.kill()?; // SIGKILL
                       // Lines printed before the kill landed are acknowledged too.
        for rest in stdout.lines() {
            if let Some(len) = rest?.trim_end().strip_prefix("durable ") {
                last_durable = last_durable.max(len.parse()?);
            }
        }
        child.wait()?;

        let data = std::fs::read(root.join(key(round)))?;
        assert!(
            data.len() as u64 >= last_durable,
            "round {round}: the log has {} bytes, {last_durable} were acknowledged durable",
            data.len()
        );
        let (whole, torn) = check_log(&data).map_err(|e| format!("round {round}: {e}"))?;
        assert!(
            whole as u64 >= last_durable,
            "round {round}: only {whole} bytes of whole records, {last_durable} durable"
        );
        torn_tails += usize::from(torn);
        // Reopening (and its sweep) leaves the log as it is.
        drop(LocalStorage::open(&root).await?);
        assert_eq!(std::fs::read(root.join(key(round)))?, data);
    }
    eprintln!("append torture: {ROUNDS} rounds, torn tails past the durable length: {torn_tails}");
    Ok(())
}
