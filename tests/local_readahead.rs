//! Read handles fetch what is asked and no more: the kernel's readahead is
//! off on them by default (`posix_fadvise(POSIX_FADV_RANDOM)`), so that
//! random block reads of SSTables larger than memory do not pull in pages
//! nobody asked for.
//!
//! Counted with `read_bytes` of `/proc/self/io` (bytes this process caused
//! to be fetched from storage), so this binary holds ONE test: another
//! test's I/O in the same process would count too. Skipped where the
//! counter is missing or the directory is on tmpfs (nothing to fetch).
//!
//! The counter also counts the process's own page faults: the first run of
//! the runtime's and the storage's code pulls pages of this test binary in
//! from disk (tens of KiB where the binary has been evicted, as on a CI
//! machine that just compiled everything). So the same reads run once on
//! another file first, and only the second pass is counted.

use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BLOCK: u64 = 4096;
const BLOCKS: u64 = 64;

fn read_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("read_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

fn skip(why: &str) -> TestResult {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    Ok(())
}

/// 64 blocks read front to back, the pattern that makes the kernel read
/// ahead most, fetch 64 blocks from the device, plus at most 64 KiB of
/// slack for the filesystem's metadata (a CI machine measured 48 KiB over
/// the blocks). With readahead on, the same reads fetch 1.3 MB here, and
/// at least one default window (128 KiB) past the last block anywhere.
#[test]
fn sequential_block_reads_fetch_only_their_blocks() -> TestResult {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("L0").join("big.sst");
    std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data)?;
    let file = std::fs::File::open(&path)?;
    file.sync_all()?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let fs_type = rustix::fs::fstatfs(&file)?.f_type as i64;
    if fs_type == TMPFS_MAGIC {
        return skip("tmpfs: no device to read from");
    }
    let warm = tmp.path().join("L0").join("warm.sst");
    std::fs::write(&warm, &data[..(BLOCKS * BLOCK) as usize])?;
    let warm = std::fs::File::open(&warm)?;
    warm.sync_all()?;
    // Out of the page cache too, so that the warm-up takes the miss path.
    rustix::fs::fadvise(&warm, 0, None, rustix::fs::Advice::DontNeed)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let storage = runtime.block_on(LocalStorage::builder(tmp.path()).sweep(false).open())?;
    let read_blocks = |key: &'static str| {
        runtime.block_on(async {
            for i in 0..BLOCKS {
                let range = i * BLOCK..(i + 1) * BLOCK;
                let got = storage.read_range(key, range.clone()).await?;
                assert_eq!(got, data[range.start as usize..range.end as usize]);
            }
            Ok::<_, seerstore::Error>(())
        })
    };
    // Warm-up: every code path of the counted pass, on another file.
    read_blocks("L0/warm.sst")?;

    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    let Some(start) = read_bytes() else {
        return skip("no /proc/self/io");
    };
    read_blocks("L0/big.sst")?;
    let fetched = read_bytes().ok_or("no /proc/self/io")? - start;
    if fetched == 0 {
        return skip("read_bytes does not count here");
    }
    let asked = BLOCKS * BLOCK;
    assert!(
        fetched <= asked + 64 * 1024,
        "{BLOCKS} blocks of {BLOCK} bytes fetched {fetched} bytes from the device (readahead on?)"
    );
    Ok(())
}
