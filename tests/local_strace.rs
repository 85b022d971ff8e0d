//! The durability order of a local `write`, as the kernel sees it: the temp
//! file is fsynced before it is renamed into place, and the directory is
//! fsynced after the rename. A child process (this binary, re-executed with
//! `--exact strace_child`) does one write under `strace -f -y`.
//!
//! Needs `strace` (Debian package; scripts/test.sh installs it when run as
//! root). Without it the test skips with a message, or fails when
//! `SEERSTORE_TEST_SERVERS=1` (the full test command) is set.

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_STRACE_ROOT";

#[test]
fn strace_child() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(PathBuf::from(root)).await?;
        storage
            .write("dir/obj", Bytes::from_static(b"durable"))
            .await?;
        Ok(())
    })
}

#[test]
fn write_fsyncs_file_before_rename_and_directory_after() -> TestResult {
    if Command::new("strace").arg("-V").output().is_err() {
        let msg = "strace is not installed (apt-get install -y strace)";
        // It needs strace, not the servers: the full suite installs it, and
        // CI must never let this check pass by skipping.
        if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
            panic!("{msg}");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("dir"))?;
    let trace = tmp.path().join("trace");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2,openat,openat2",
        ])
        .arg(std::env::current_exe()?)
        .args(["--exact", "strace_child", "--test-threads=1"])
        .env(CHILD_ROOT_ENV, &root)
        .status()?;
    assert!(status.success(), "child failed: {status}");
    let text = std::fs::read_to_string(&trace)?;
    let lines: Vec<&str> = text.lines().collect();
    let dir = root.join("dir").canonicalize()?;
    let dir = dir.to_string_lossy();

    let rename = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains("\"obj\""))
        .ok_or_else(|| format!("no rename onto obj in:\n{text}"))?;
    let fsync = |l: &str| l.contains("fsync(") || l.contains("fdatasync(");
    let file_synced = lines[..rename]
        .iter()
        .any(|l| fsync(l) && l.contains("/.seerstore-tmp"));
    assert!(
        file_synced,
        "no fsync of the temp file before the rename:\n{text}"
    );
    let dir_suffix = format!("<{dir}>");
    let dir_synced = lines[rename + 1..]
        .iter()
        .any(|l| fsync(l) && l.contains(&dir_suffix));
    assert!(dir_synced, "no fsync of {dir} after the rename:\n{text}");
    Ok(())
}
