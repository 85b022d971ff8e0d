//! A `read_range` served from the page cache allocates only what it must:
//! the boxed future of the object-safe trait (`async-trait`) and the
//! buffer of its data — no vector of buffers for its one range, although
//! `read_range`, `read_ranges` and `read` share one read path.
//!
//! Counted with a counting global allocator, so this binary holds ONE test:
//! another test running beside it would count too.

use std::alloc::System;

use seerstore::{LocalStorage, Storage};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BLOCK: u64 = 4096;
const READS: u64 = 200;

#[test]
fn a_hot_read_range_allocates_its_future_and_its_buffer() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let data: Vec<u8> = (0..(READS * BLOCK) as u32)
        .map(|i| (i % 251) as u8)
        .collect();
    std::fs::write(tmp.path().join("000001.sst"), &data)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let storage = LocalStorage::builder(tmp.path())
            .sweep(false)
            .open()
            .await?;
        // The first reads open the handle and give this thread its copy;
        // the file's pages are in the page cache since it was written.
        for _ in 0..3 {
            storage.read_range("000001.sst", 0..BLOCK).await?;
        }
        let region = Region::new(GLOBAL);
        for i in 0..READS {
            let range = i * BLOCK..(i + 1) * BLOCK;
            let got = storage.read_range("000001.sst", range.clone()).await?;
            if got != data[range.start as usize..range.end as usize] {
                return Err(format!("block {i} read back wrong").into());
            }
        }
        let stats = region.change();
        // The comparison above allocates nothing; the future and the
        // buffer are two per read.
        assert!(
            stats.allocations as u64 <= 2 * READS,
            "{READS} hot reads of {BLOCK} bytes made {} allocations (at most 2 each: \
             the boxed future and the buffer)",
            stats.allocations
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
