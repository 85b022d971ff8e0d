//! Hostile ranges: `u64::MAX` ends and inverted ranges are refused before
//! anything is allocated for them, and an enormous `read_ranges` list
//! (100,000 tiny ranges) works with memory bounded by the answer's size.
//! The heap is measured with a counting global allocator; the measurements
//! run one after another in a single test so nothing else allocates
//! meanwhile.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use peak_alloc::PeakAlloc;
use seerstore::{Error, LocalStorage, ObjectStorage, Storage};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SIZE: usize = 1 << 20;

/// Runs `f`, returning its output and the peak heap above the start.
async fn peak<T>(f: impl std::future::Future<Output = T>) -> (T, usize) {
    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let out = f.await;
    (out, HEAP.peak_usage().saturating_sub(base))
}

fn object() -> Bytes {
    Bytes::from((0..SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

async fn check(name: &str, storage: &dyn Storage) -> TestResult {
    let data = object();
    storage.write("obj", data.clone()).await?;
    let hostile: [Range<u64>; 5] = [
        0..u64::MAX,
        u64::MAX - 1..u64::MAX,
        u64::MAX..u64::MAX,
        Range {
            start: u64::MAX,
            end: 0,
        },
        SIZE as u64..SIZE as u64 + 1,
    ];
    for range in hostile {
        let (result, bytes) = peak(storage.read_range("obj", range.clone())).await;
        assert!(
            matches!(result, Err(Error::InvalidRange { .. })),
            "{name} {range:?}: {result:?}"
        );
        // Far below the object's size, let alone the range's.
        assert!(bytes < 256 * 1024, "{name} {range:?}: peak heap {bytes} B");
        let with_good = [0..10, range.clone(), 5..6];
        let (result, bytes) = peak(storage.read_ranges("obj", &with_good)).await;
        assert!(
            matches!(result, Err(Error::InvalidRange { .. })),
            "{name} read_ranges {range:?}: {result:?}"
        );
        assert!(
            bytes < 256 * 1024,
            "{name} read_ranges {range:?}: {bytes} B"
        );
    }

    // 100,000 ranges of 8 bytes, in a scrambled order and overlapping.
    let ranges: Vec<Range<u64>> = (0..100_000u64)
        .map(|i| {
            let start = (i.wrapping_mul(7919) % (SIZE as u64 - 8)) & !3;
            start..start + 8
        })
        .collect();
    let (result, bytes) = peak(storage.read_ranges("obj", &ranges)).await;
    let parts = result?;
    assert_eq!(parts.len(), ranges.len());
    for (range, part) in ranges.iter().zip(&parts) {
        assert_eq!(
            &part[..],
            &data[range.start as usize..range.end as usize],
            "{name} {range:?}"
        );
    }
    // The answer itself is 100,000 `Bytes` handles (3.2 MB) over at most
    // the object's bytes (1 MiB); allow the merge plan and the backend's
    // buffers on top, but nothing proportional to ranges × object size.
    let bound = 24 << 20;
    eprintln!(
        "hostile ranges [{name}]: 100,000 ranges, peak heap {:.1} MiB (bound {} MiB)",
        bytes as f64 / (1 << 20) as f64,
        bound >> 20
    );
    assert!(bytes < bound, "{name}: peak heap {bytes} B for 100k ranges");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ranges_allocate_nothing_and_huge_lists_stay_bounded() -> TestResult {
    let tmp = tempfile::tempdir()?;
    check("local", &LocalStorage::open(tmp.path()).await?).await?;
    let memory = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    check("memory", &memory).await?;
    Ok(())
}
