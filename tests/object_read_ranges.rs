//! read_ranges merges nearby ranges into fewer requests and equals per-range reads.
#![allow(clippy::single_range_in_vec_init)]
mod support;

use std::sync::Arc;

use seerstore::{Error, ObjectStorage, Storage};
use support::{FaultStore, Method};

#[tokio::test]
async fn nearby_ranges_are_merged() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone()).with_coalesce(100);
    let data = support::data(10_000, 9);
    storage.write("sst", data.clone()).await?;

    // Three near each other (one request), one far away (another), an empty
    // one, and one overlapping another; out of order.
    let ranges = vec![
        5000..5100,
        0..10,
        50..60,
        120..130,
        7..8,
        3000..3000,
        55..70,
    ];
    let got = storage.read_ranges("sst", &ranges).await?;
    assert_eq!(store.calls(Method::Get), 2);
    assert_eq!(got.len(), ranges.len());
    for (range, bytes) in ranges.iter().zip(&got) {
        let expected = storage.read_range("sst", range.clone()).await?;
        assert_eq!(bytes, &expected, "{range:?}");
        assert_eq!(bytes, &data.slice(range.start as usize..range.end as usize));
    }

    assert!(storage.read_ranges("sst", &[]).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn errors_match_per_range_reads() -> seerstore::Result<()> {
    let store = Arc::new(FaultStore::memory(vec![]));
    let storage = ObjectStorage::new(store.clone());
    storage.write("sst", support::data(100, 1)).await?;

    let err = storage
        .read_ranges("sst", &[0..10, 90..110])
        .await
        .expect_err("past end");
    assert!(
        matches!(
            err,
            Error::InvalidRange {
                size: Some(100),
                ..
            }
        ),
        "{err}"
    );
    let err = storage
        .read_ranges("sst", &[0..10, 200..200])
        .await
        .expect_err("empty range past end");
    assert!(
        matches!(
            err,
            Error::InvalidRange {
                size: Some(100),
                ..
            }
        ),
        "{err}"
    );
    let gets = store.calls(Method::Get);
    let err = storage
        .read_ranges("sst", &[0..10, std::ops::Range { start: 9, end: 3 }])
        .await
        .expect_err("inverted");
    assert!(matches!(err, Error::InvalidRange { .. }), "{err}");
    assert_eq!(
        store.calls(Method::Get),
        gets,
        "no request for an inverted range"
    );
    assert!(storage
        .read_ranges("missing", &[0..1])
        .await
        .expect_err("missing")
        .is_not_found());
    assert!(storage
        .read_ranges("missing", &[0..0])
        .await
        .expect_err("missing")
        .is_not_found());
    Ok(())
}
