//! The durability order of a local `write`, as the kernel sees it: the temp
//! file is fsynced before it is renamed into place, and the directory is
//! fsynced after the rename. A child process (this binary, re-executed with
//! `--exact strace_child`) does one write under `strace -f -y`.
//!
//! A second child opens a root that does not exist yet (the new root must
//! be fsynced into its parent) and meets a directory that "appeared" between
//! its lookup and its `mkdirat` (`EEXIST`: the parent must be fsynced, since
//! whoever made the directory may have died before its own fsync).
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

const CHILD_ROOT_ENV: &str = "SEERSTORE_STRACE_ROOT";
const FRESH_ROOT_ENV: &str = "SEERSTORE_STRACE_FRESH_ROOT";

/// Runs this binary's test `child` under strace with `env = root`; the
/// trace's lines.
fn trace_child(
    child: &str,
    env: &str,
    root: &std::path::Path,
    trace: &std::path::Path,
    calls: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(trace)
        .args(["-e", calls])
        .arg(std::env::current_exe()?)
        .args(["--exact", child, "--test-threads=1"])
        .env(env, root)
        .status()?;
    assert!(status.success(), "child failed: {status}");
    Ok(std::fs::read_to_string(trace)?)
}

#[test]
fn strace_fresh_child() -> TestResult {
    let Some(root) = std::env::var_os(FRESH_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let root = PathBuf::from(root);
        let storage = LocalStorage::open(&root).await?;
        storage.write("obj", Bytes::from_static(b"durable")).await?;
        // A dangling symlink stands for a directory made by a racing
        // writer: the lookup finds nothing, `mkdirat` finds `EEXIST`. The
        // write then fails (nothing is at the link's end); the parent's
        // fsync is what the trace looks for.
        std::os::unix::fs::symlink("nowhere", root.join("race"))?;
        let raced = storage.write("race/obj", Bytes::from_static(b"x")).await;
        assert!(raced.is_err());
        Ok(())
    })
}

#[test]
fn fresh_root_and_raced_directory_are_fsynced_into_their_parents() -> TestResult {
    if !have_strace() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let parent = tmp.path().join("made");
    let root = parent.join("root");
    let text = trace_child(
        "strace_fresh_child",
        FRESH_ROOT_ENV,
        &root,
        &tmp.path().join("trace"),
        "trace=fsync,fdatasync,mkdir,mkdirat,openat,openat2",
    )?;
    let lines: Vec<&str> = text.lines().collect();
    let fsync = |l: &str| l.contains("fsync(") || l.contains("fdatasync(");
    let tmp_dir = tmp.path().canonicalize()?;
    for (made, into) in [(&root, &parent), (&parent, &tmp_dir)] {
        let name = made
            .file_name()
            .ok_or("no name")?
            .to_string_lossy()
            .into_owned();
        let mkdir = lines
            .iter()
            .position(|l| {
                l.contains("mkdir") && l.contains(&format!("{name}\"")) && l.ends_with("= 0")
            })
            .ok_or_else(|| format!("no mkdir of {name} in:\n{text}"))?;
        let into = into.canonicalize()?;
        let suffix = format!("<{}>", into.to_string_lossy());
        assert!(
            lines[mkdir + 1..]
                .iter()
                .any(|l| fsync(l) && l.contains(&suffix)),
            "{} was never fsynced after {name} was made in it:\n{text}",
            into.display()
        );
    }
    let root_dir = root.canonicalize()?;
    let raced = lines
        .iter()
        .position(|l| l.contains("mkdirat(") && l.contains("\"race\"") && l.contains("EEXIST"))
        .ok_or_else(|| format!("no mkdirat of race failing with EEXIST in:\n{text}"))?;
    let suffix = format!("<{}>", root_dir.to_string_lossy());
    assert!(
        lines[raced + 1..]
            .iter()
            .any(|l| fsync(l) && l.contains(&suffix)),
        "the root was not fsynced after mkdirat met an existing directory:\n{text}"
    );
    Ok(())
}

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
    if !have_strace() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("dir"))?;
    let text = trace_child(
        "strace_child",
        CHILD_ROOT_ENV,
        &root,
        &tmp.path().join("trace"),
        "trace=fsync,fdatasync,rename,renameat,renameat2,openat,openat2",
    )?;
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
