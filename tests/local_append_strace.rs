//! Group commit as the kernel sees it: 16 concurrent committers, 200
//! commits each (4 KiB append, then sync), cost at most 320 `fdatasync`
//! calls on the log, a tenth of one per commit. A child process (this
//! binary, re-executed with `--exact strace_child`) commits under
//! `strace -f -y`, and the parent counts the calls naming the log.
//!
//! Needs `strace`: without it the tests skip with a message, or fail
//! under CI (see `tests/strace/mod.rs`).

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

mod strace;
use strace::have_strace;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_APPEND_STRACE_ROOT";
const COMMITTERS: u64 = 16;
const COMMITS: u64 = 200;
const RECORD: usize = 4096;

#[test]
fn strace_child() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(PathBuf::from(root)).await?;
        let log = storage.appender("wal/000001.log").await?;
        let tasks: Vec<_> = (0..COMMITTERS)
            .map(|c| {
                let log = log.clone();
                tokio::spawn(async move {
                    for _ in 0..COMMITS {
                        let end = log.append(Bytes::from(vec![c as u8; RECORD])).await?;
                        assert!(log.sync().await? >= end);
                    }
                    Ok::<_, seerstore::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        let size = storage.head("wal/000001.log").await?.size;
        assert_eq!(size, COMMITTERS * COMMITS * RECORD as u64);
        Ok(())
    })
}

#[test]
fn sixteen_committers_share_device_flushes() -> TestResult {
    if !have_strace() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root)?;
    let trace = tmp.path().join("trace");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&trace)
        .args(["-e", "trace=fsync,fdatasync"])
        .arg(std::env::current_exe()?)
        .args(["--exact", "strace_child", "--test-threads=1"])
        .env(CHILD_ROOT_ENV, &root)
        .status()?;
    assert!(status.success(), "child failed: {status}");
    let text = std::fs::read_to_string(&trace)?;
    let flushes = text
        .lines()
        .filter(|l| (l.contains("fdatasync(") || l.contains("fsync(")) && l.contains("000001.log>"))
        .count();
    let commits = COMMITTERS * COMMITS;
    eprintln!(
        "{commits} commits, {flushes} flushes of the log: {:.3} per commit",
        flushes as f64 / commits as f64
    );
    assert!(flushes > 0, "no flush of the log traced:\n{text}");
    assert!(
        flushes as u64 <= commits / 10,
        "{flushes} flushes for {commits} commits (at most {} expected)",
        commits / 10
    );
    Ok(())
}
