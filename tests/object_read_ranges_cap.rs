//! `read_ranges` merges nearby ranges, but never into one request longer
//! than 8 MiB (`MAX_MERGED_RANGE`): a call over many adjacent small ranges
//! spanning 24 MiB sends at least three GETs, not one 24 MiB GET, and a
//! single range asked for that is larger still is fetched whole.
mod support;

use std::sync::Arc;

use seerstore::{ObjectStorage, Storage};
use support::{data, FaultStore, Method};

const MIB: u64 = 1024 * 1024;
const CAP: u64 = 8 * MIB;

#[tokio::test]
async fn merged_ranges_are_capped() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(Vec::new()));
    let storage = ObjectStorage::new(store.clone()).with_coalesce(MIB);
    let object = data(40 * MIB as usize, 5);
    storage.write("big.sst", object.clone()).await?;

    // 96 adjacent 256 KiB ranges: 24 MiB, every gap below the coalescing gap.
    let ranges: Vec<_> = (0..96).map(|i| i * MIB / 4..(i + 1) * MIB / 4).collect();
    let before = store.calls(Method::Get);
    let got = storage.read_ranges("big.sst", &ranges).await?;
    let gets = store.calls(Method::Get) - before;
    assert_eq!(u64::from(gets), 24 * MIB / CAP, "GETs for 24 MiB of ranges");
    for (range, bytes) in ranges.iter().zip(&got) {
        assert_eq!(bytes[..], object[range.start as usize..range.end as usize]);
    }

    // A range larger than the cap by itself, with smaller ones inside and
    // beside it (one starting where it starts): fetched whole, once; the
    // neighbours that would push a merge past the cap get their own GET.
    let ranges = vec![
        0..1,
        0..12 * MIB,
        5 * MIB..6 * MIB,
        12 * MIB..13 * MIB,
        30 * MIB..31 * MIB,
    ];
    let before = store.calls(Method::Get);
    let got = storage.read_ranges("big.sst", &ranges).await?;
    let gets = store.calls(Method::Get) - before;
    assert_eq!(gets, 3, "12 MiB whole, 12..13 MiB, 30..31 MiB");
    for (range, bytes) in ranges.iter().zip(&got) {
        assert_eq!(bytes[..], object[range.start as usize..range.end as usize]);
    }
    Ok(())
}
