//! The 0.2 calls of LocalStorage as the kernel sees them (a child process,
//! this binary re-executed with `--exact ops_child`, runs one call under
//! `strace -f -y`):
//!
//! * `copy`: `copy_file_range` into a temp file, fsync of the temp file
//!   before the rename onto the key, fsync of the directory after it;
//! * `list_with` with an offset past a big subtree neither stats nor reads
//!   anything in it;
//! * `delete_many` fsyncs each directory about once, not once per key.
//!
//! Needs `strace`: without it the tests skip with a message, or fail
//! under CI (see `tests/strace/mod.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{ListOptions, LocalStorage, Storage, WriteMode};

mod strace;
use strace::have_strace;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_OPS_STRACE_ROOT";
const CHILD_CALL_ENV: &str = "SEERSTORE_OPS_STRACE_CALL";

/// Keys of the big subtree that a listing with an offset must skip.
const SKIPPED_DIRS: usize = 20;
const SKIPPED_PER_DIR: usize = 50;
/// Keys after the offset.
const LISTED: usize = 10;
const DELETED_PER_DIR: usize = 100;

#[test]
fn ops_child() -> TestResult {
    let (Some(root), Ok(call)) = (
        std::env::var_os(CHILD_ROOT_ENV),
        std::env::var(CHILD_CALL_ENV),
    ) else {
        return Ok(()); // only acts as the parent's child process
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::builder(PathBuf::from(root))
            .sweep(false)
            .open()
            .await?;
        match call.as_str() {
            "copy" => {
                storage
                    .copy("src/obj", "dir/copied", WriteMode::Overwrite)
                    .await?;
            }
            "list_with" | "list" => {
                let options = ListOptions {
                    offset: (call == "list_with").then(|| "big/~".to_owned()),
                };
                let keys: Vec<_> = storage.list_with("", options).try_collect().await?;
                let expected = if call == "list" {
                    SKIPPED_DIRS * SKIPPED_PER_DIR + LISTED
                } else {
                    LISTED
                };
                assert_eq!(keys.len(), expected);
            }
            "delete_many" => {
                let paths: Vec<String> = (0..2 * DELETED_PER_DIR)
                    .map(|n| format!("del{}/{n:04}", n % 2))
                    .collect();
                for result in storage.delete_many(&paths).await {
                    result?;
                }
            }
            other => return Err(format!("unknown call {other}").into()),
        }
        Ok(())
    })
}

/// The strace output of `call` in a child process on `root`, or `None`
/// (skip) without strace.
fn trace(
    root: &Path,
    call: &str,
    syscalls: &str,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    if !have_strace() {
        return Ok(None);
    }
    let out = root.with_extension(format!("{call}.trace"));
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&out)
        .args(["-e", &format!("trace={syscalls}")])
        .arg(std::env::current_exe()?)
        .args(["--exact", "ops_child", "--test-threads=1"])
        .env(CHILD_ROOT_ENV, root)
        .env(CHILD_CALL_ENV, call)
        .status()?;
    assert!(status.success(), "child {call} failed: {status}");
    Ok(Some(std::fs::read_to_string(&out)?))
}

fn setup(root: &Path, keys: impl IntoIterator<Item = String>) -> TestResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let storage = LocalStorage::open(root).await?;
        for key in keys {
            storage.write(&key, Bytes::from(key.clone())).await?;
        }
        Ok::<(), seerstore::Error>(())
    })?;
    Ok(())
}

fn is_fsync(line: &str) -> bool {
    line.contains("fsync(") || line.contains("fdatasync(")
}

#[test]
fn copy_syncs_the_temp_file_before_the_rename_and_the_directory_after() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("dir"))?;
    setup(&root, ["src/obj".to_owned()])?;
    let Some(text) = trace(
        &root,
        "copy",
        "fsync,fdatasync,rename,renameat,renameat2,copy_file_range",
    )?
    else {
        return Ok(());
    };
    let lines: Vec<&str> = text.lines().collect();
    let rename = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains("\"copied\""))
        .ok_or_else(|| format!("no rename onto the destination in:\n{text}"))?;
    let copied = lines[..rename]
        .iter()
        .position(|l| l.contains("copy_file_range(") && l.contains("/.seerstore-tmp"))
        .ok_or_else(|| format!("no copy_file_range into the temp file:\n{text}"))?;
    let synced = lines[copied..rename]
        .iter()
        .any(|l| is_fsync(l) && l.contains("/.seerstore-tmp"));
    assert!(
        synced,
        "no fsync of the temp file between the copy and the rename:\n{text}"
    );
    let dir = format!("<{}>", root.join("dir").canonicalize()?.display());
    let dir_synced = lines[rename + 1..]
        .iter()
        .any(|l| is_fsync(l) && l.contains(&dir));
    assert!(dir_synced, "no fsync of {dir} after the rename:\n{text}");
    Ok(())
}

/// Stats (`newfstatat`/`statx`) and directory reads (`getdents64`) of a
/// listing that starts past 1,000 keys: none in the skipped subtree,
/// against more than 1,000 for the same listing without an offset.
#[test]
fn list_with_an_offset_does_not_read_what_sorts_before_it() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root)?;
    let mut keys = Vec::new();
    for dir in 0..SKIPPED_DIRS {
        for n in 0..SKIPPED_PER_DIR {
            keys.push(format!("big/{dir:02}/{n:03}"));
        }
    }
    keys.extend((0..LISTED).map(|n| format!("tail/{n:02}")));
    setup(&root, keys)?;
    let syscalls = "newfstatat,statx,fstatat64,getdents64,openat,openat2";
    let (Some(offset), Some(full)) = (
        trace(&root, "list_with", syscalls)?,
        trace(&root, "list", syscalls)?,
    ) else {
        return Ok(());
    };
    let big = format!("{}/big/", root.canonicalize()?.display());
    let stats = |text: &str| {
        text.lines()
            .filter(|l| l.contains("stat") && (l.contains("\"big/") || l.contains(&big)))
            .count()
    };
    let big_reads = |text: &str| {
        text.lines()
            .filter(|l| l.contains("getdents64(") && l.contains(&big))
            .count()
    };
    assert_eq!(stats(&offset), 0, "stats in the skipped subtree:\n{offset}");
    assert_eq!(
        big_reads(&offset),
        0,
        "reads of skipped directories:\n{offset}"
    );
    let tail_stats = offset
        .lines()
        .filter(|l| l.contains("stat") && l.contains("tail"))
        .count();
    assert!(
        tail_stats >= LISTED,
        "the listed keys are stated:\n{offset}"
    );
    // The same patterns do see the subtree when it is listed.
    assert!(
        stats(&full) >= SKIPPED_DIRS * SKIPPED_PER_DIR,
        "the listing without an offset stats every key:\n{full}"
    );
    assert!(big_reads(&full) >= SKIPPED_DIRS, "{full}");
    Ok(())
}

#[test]
fn delete_many_fsyncs_each_directory_about_once() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root)?;
    setup(
        &root,
        (0..2 * DELETED_PER_DIR).map(|n| format!("del{}/{n:04}", n % 2)),
    )?;
    let Some(text) = trace(&root, "delete_many", "fsync,fdatasync,unlink,unlinkat")? else {
        return Ok(());
    };
    let unlinks = text.lines().filter(|l| l.contains("unlinkat(")).count();
    // Fsyncs of the two directories (`open` also fsyncs the root's parent).
    let fsyncs = text
        .lines()
        .filter(|l| is_fsync(l) && l.contains("/root/del"))
        .count();
    assert_eq!(unlinks, 2 * DELETED_PER_DIR, "{text}");
    // Two directories, split over at most four blocking tasks.
    assert!(
        (2..=4).contains(&fsyncs),
        "{fsyncs} fsyncs for {unlinks} unlinks in 2 directories"
    );
    Ok(())
}
