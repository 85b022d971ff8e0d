//! Listings that are open but not drained hold no blocking-pool thread:
//! with a pool of 4 threads, 1,000 idle listings (each polled once) leave
//! reads and writes working.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn idle_listings_do_not_pin_blocking_threads() -> TestResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let tmp = tempfile::tempdir()?;
        let storage = LocalStorage::open(tmp.path()).await?;
        // More keys than a walker reads ahead of its consumer.
        for i in 0..600 {
            storage
                .write(&format!("k/{i:04}"), Bytes::from_static(b"x"))
                .await?;
        }
        // A hang guard, not a timing assertion: on failure every blocking
        // thread is parked in an idle listing and nothing below completes.
        let guarded = tokio::time::timeout(Duration::from_secs(120), async {
            let mut listings = Vec::new();
            for _ in 0..1000 {
                let mut listing = storage.list("k");
                let first = listing.next().await.ok_or("empty listing")??;
                assert!(first.path.starts_with("k/"));
                listings.push(listing);
            }
            let meta = storage.write("after", Bytes::from_static(b"w")).await?;
            assert_eq!(meta.size, 1);
            assert_eq!(storage.read("after").await?, "w");
            // Idle listings keep no task running.
            storage.settle().await;
            // And they still list everything, in full.
            let mut count = 1;
            let mut listing = listings.pop().ok_or("no listing")?;
            while let Some(meta) = listing.next().await {
                meta?;
                count += 1;
            }
            assert_eq!(count, 600);
            Ok::<_, Box<dyn std::error::Error>>(())
        })
        .await;
        guarded.map_err(|_| "reads stalled behind idle listings")?
    })
}
