//! Reads with the inline (`RWF_NOWAIT`) path on and off return the same
//! bytes, for cached and uncached handles, single ranges, batches of ranges
//! (some beyond the inline budget) and whole objects.

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Deterministic content: no two nearby 4 KiB blocks alike.
fn content(len: usize) -> Bytes {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_on_and_off_read_identical_bytes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let inline = LocalStorage::builder(tmp.path()).open().await?;
    let blocking = LocalStorage::builder(tmp.path())
        .inline_reads(false)
        .open()
        .await?;
    let data = content(1 << 20);
    inline.write("L0/big.sst", data.clone()).await?;
    inline.write("L0/empty.sst", Bytes::new()).await?;

    let ranges: Vec<std::ops::Range<u64>> = vec![
        0..4096,
        4096..4096,
        12_345..80_000,
        (1 << 20) - 1..1 << 20,
        1 << 20..1 << 20,
        100_000..400_000, // beyond the inline budget with the others
        7..8,
    ];
    // Twice: the first call opens the file (blocking pool), the second
    // finds the cached handle (inline).
    for _ in 0..2 {
        for storage in [&inline, &blocking] {
            for range in &ranges {
                let got = storage.read_range("L0/big.sst", range.clone()).await?;
                assert_eq!(got, data.slice(range.start as usize..range.end as usize));
            }
            let got = storage.read_ranges("L0/big.sst", &ranges).await?;
            let want: Vec<Bytes> = ranges
                .iter()
                .map(|r| data.slice(r.start as usize..r.end as usize))
                .collect();
            assert_eq!(got, want);
            assert_eq!(storage.read("L0/big.sst").await?, data);
            assert_eq!(storage.read("L0/empty.sst").await?, Bytes::new());
            let err = storage
                .read_range("L0/big.sst", 0..(1 << 20) + 1)
                .await
                .expect_err("past the end");
            assert!(
                matches!(err, seerstore::Error::InvalidRange { .. }),
                "{err}"
            );
        }
    }

    // An overwrite through the storage drops the cached handle: the inline
    // path must see the new version.
    let newer = content(5000);
    inline.write("L0/big.sst", newer.clone()).await?;
    assert_eq!(inline.read_range("L0/big.sst", 0..5000).await?, newer);
    assert_eq!(inline.read("L0/big.sst").await?, newer);
    Ok(())
}

/// Many cold reads in flight at once (pages dropped from the page cache,
/// handles cached, so they go through the storage's cold-read queue) each
/// get their own bytes; reads whose futures are dropped do not disturb the
/// others, and `settle` waits for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_reads_each_get_their_bytes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let files = [
        ("L1/a.sst", content(4 << 20)),
        ("L1/b.sst", content(3 << 20)),
    ];
    for (key, data) in &files {
        storage.write(key, data.clone()).await?;
        storage.read_range(key, 0..1).await?; // caches the handle
        let file = std::fs::File::open(tmp.path().join(key))?;
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    }
    let mut tasks = Vec::new();
    for i in 0..512u64 {
        let (key, data) = files[(i % 2) as usize].clone();
        let storage = storage.clone();
        // Sizes from 1 byte to 96 KiB, at offsets that are not aligned.
        let len = 1 + (i * 7919) % (96 << 10);
        let start = (i * 104_729) % (data.len() as u64 - len);
        let range = start..start + len;
        tasks.push(tokio::spawn(async move {
            let read = storage.read_range(key, range.clone());
            if i % 5 == 0 {
                // Dropped after its first poll: queued, never awaited.
                let mut read = Box::pin(read);
                let _ = futures::poll!(read.as_mut());
                return Ok(());
            }
            let got = read.await?;
            assert_eq!(got, data.slice(range.start as usize..range.end as usize));
            Ok::<_, seerstore::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    storage.settle().await;
    // The queue still serves reads after the dropped ones.
    let (key, data) = &files[0];
    assert_eq!(
        storage.read_range(key, 100..5000).await?,
        data.slice(100..5000)
    );
    Ok(())
}
