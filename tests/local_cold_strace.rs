//! Which syscalls reads make, as the kernel sees them: a child process
//! (this binary, re-executed with `--exact child`) does the reads under
//! `strace -f`, and the parent counts.
//!
//! * Cold reads (pages not cached): after a short streak of failed
//!   `preadv2(RWF_NOWAIT)` attempts the storage stops trying, for longer and
//!   longer while the file stays cold, so only a few percent of cold reads
//!   pay for the failed syscall.
//! * Hot reads (pages cached, handle cached) are served inline with
//!   `preadv2`, none with a blocking-pool `pread64`.
//!
//! Needs `strace`: without it the tests skip with a message, or fail
//! under CI (see `tests/strace/mod.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use seerstore::{LocalStorage, Storage};

mod strace;
use strace::have_strace;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_COLD_STRACE_ROOT";
const CHILD_MODE_ENV: &str = "SEERSTORE_COLD_STRACE_MODE";

const KEY: &str = "L1/cold.sst";
const BLOCK: u64 = 4096;
/// Reads at every other block, so that no read is next to an earlier one.
const STRIDE: u64 = 2 * BLOCK;
const READS: u64 = 2000;

#[test]
fn child() -> TestResult {
    let (Some(root), Ok(mode)) = (
        std::env::var_os(CHILD_ROOT_ENV),
        std::env::var(CHILD_MODE_ENV),
    ) else {
        return Ok(()); // only acts as the parents' child process
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::builder(PathBuf::from(root))
            .sweep(false)
            .open()
            .await?;
        for i in 0..READS {
            let offset = match mode.as_str() {
                "cold" => i * STRIDE,
                _ => (i % 16) * BLOCK,
            };
            let got = storage.read_range(KEY, offset..offset + BLOCK).await?;
            assert_eq!(got.len() as u64, BLOCK);
        }
        Ok(())
    })
}

/// Writes the object (`READS * STRIDE` bytes), durably, and drops it from
/// the page cache when `cold`. Returns false on tmpfs (pages cannot be
/// dropped).
fn prepare(root: &Path, cold: bool) -> Result<bool, Box<dyn std::error::Error>> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let path = root.join(KEY);
    std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
    let data: Vec<u8> = (0..READS * STRIDE).map(|i| (i % 249) as u8).collect();
    std::fs::write(&path, &data)?;
    let file = std::fs::File::open(&path)?;
    file.sync_all()?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let fs_type = rustix::fs::fstatfs(&file)?.f_type as i64;
    if cold {
        if fs_type == TMPFS_MAGIC {
            return Ok(false);
        }
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    }
    Ok(true)
}

/// Runs the child under strace and returns its calls of `names` on the
/// object's file (`-y` names each descriptor's path), one per line.
fn traced(root: &Path, mode: &str, names: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let trace = root.with_extension("trace");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&trace)
        .args(["-e", &format!("trace={}", names.join(","))])
        .arg(std::env::current_exe()?)
        .args(["--exact", "child", "--test-threads=1"])
        .env(CHILD_ROOT_ENV, root)
        .env(CHILD_MODE_ENV, mode)
        .status()?;
    assert!(status.success(), "child failed: {status}");
    let text = std::fs::read_to_string(&trace)?;
    Ok(text
        .lines()
        .filter(|l| l.contains("cold.sst>"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Calls of `call` in `trace`; with `Some(failed)`, only those that failed
/// with `EAGAIN` (`true`) or did not (`false`).
fn count(trace: &str, call: &str, failed: Option<bool>) -> usize {
    trace
        .lines()
        .filter(|l| l.contains(call))
        .filter(|l| failed.is_none_or(|f| l.contains("EAGAIN") == f))
        .count()
}

#[test]
fn cold_reads_mostly_skip_the_nowait_attempt() -> TestResult {
    if !have_strace() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    if !prepare(&root, true)? {
        return Ok(());
    }
    let trace = traced(&root, "cold", &["preadv2", "pread64"])?;
    let blocking = count(&trace, "pread64(", None);
    let failed = count(&trace, "preadv2(", Some(true));
    let inline = count(&trace, "preadv2(", Some(false));
    // The premise: most reads are cold. (Not all: where the kernel caches
    // a large folio around a page, the next block may be hot; it is then
    // read inline, and that success restarts the back-off.)
    assert!(
        blocking as u64 >= READS / 2,
        "{blocking} blocking reads for {READS} cold reads"
    );
    // The first read opens the file on the blocking pool; of the cold
    // reads at most 3% may pay for a failed `RWF_NOWAIT` attempt (a streak
    // of 8 per back-off, each back-off twice as long as the one before),
    // plus one streak after each hot read.
    let bound = blocking * 3 / 100 + 8 * inline;
    assert!(
        failed <= bound,
        "{failed} failed RWF_NOWAIT attempts for {blocking} cold reads \
         and {inline} hot ones (at most {bound})"
    );
    Ok(())
}

#[test]
fn hot_reads_stay_inline() -> TestResult {
    if !have_strace() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    prepare(&root, false)?;
    let trace = traced(&root, "hot", &["preadv2", "pread64", "fadvise64"])?;
    let inline = count(&trace, "preadv2(", Some(false));
    let blocking = count(&trace, "pread64(", None);
    let advice = count(&trace, "fadvise64(", None);
    // The first read opens the file and reads it on the blocking pool (and
    // advises the new handle); every later one is served inline.
    assert!(
        inline as u64 >= READS - 1,
        "{inline} inline reads for {READS} hot reads"
    );
    assert!(blocking <= 1, "{blocking} blocking-pool reads of hot pages");
    assert!(advice <= 1, "{advice} fadvise calls for hot reads");
    Ok(())
}
