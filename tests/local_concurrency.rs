//! Racing conditional writes and reads during overwrites.

use std::sync::Arc;

use bytes::Bytes;
use seerstore::{Error, LocalStorage, Storage, WriteMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_have_one_winner() -> TestResult {
    let tmp = tempfile::tempdir()?;
    // Two instances: `Create` must hold across them (it does across
    // processes: renameat2(RENAME_NOREPLACE) or link).
    let a = LocalStorage::open(tmp.path()).await?;
    let b = LocalStorage::open(tmp.path()).await?;
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let storage = if i % 2 == 0 { a.clone() } else { b.clone() };
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let data = Bytes::from(vec![i; 100_000]);
            (
                i,
                storage.write_with("CURRENT", data, WriteMode::Create).await,
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await? {
            (i, Ok(_)) => winners.push(i),
            (_, Err(Error::AlreadyExists { .. })) => {}
            (i, Err(e)) => panic!("create {i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let data = a.read("CURRENT").await?;
    assert_eq!(data, vec![winners[0]; 100_000]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_updates_have_one_winner() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let base = storage
        .write("MANIFEST", Bytes::from_static(b"base"))
        .await?;
    let version = base.version.ok_or("no version")?;
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let storage = storage.clone();
        let barrier = barrier.clone();
        let version = version.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let data = Bytes::from(vec![i; 1000]);
            (
                i,
                storage
                    .write_with("MANIFEST", data, WriteMode::Update(version))
                    .await,
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await? {
            (i, Ok(meta)) => winners.push((i, meta)),
            (_, Err(Error::Precondition { .. })) => {}
            (i, Err(e)) => panic!("update {i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let (winner, meta) = &winners[0];
    assert_eq!(storage.read("MANIFEST").await?, vec![*winner; 1000]);
    assert_eq!(storage.head("MANIFEST").await?.version, meta.version);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_whole_versions_during_overwrites() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    const LEN: usize = 256 * 1024;
    storage.write("obj", Bytes::from(vec![0u8; LEN])).await?;
    let writer = {
        let storage = storage.clone();
        tokio::spawn(async move {
            for v in 1..=60u8 {
                let len = LEN + usize::from(v) * 10;
                storage.write("obj", Bytes::from(vec![v; len])).await?;
            }
            Ok::<_, Error>(())
        })
    };
    let mut readers = Vec::new();
    for r in 0..4 {
        let storage = storage.clone();
        readers.push(tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..150 {
                let data = storage.read("obj").await?;
                let v = data[0];
                assert_eq!(
                    data.len(),
                    LEN + usize::from(v) * 10,
                    "reader {r}: torn length"
                );
                assert!(data.iter().all(|&b| b == v), "reader {r}: mixed versions");
                let part = storage.read_ranges("obj", &[0..10, 1000..1010]).await?;
                let v = part[0][0];
                assert!(
                    part.iter().all(|p| p.iter().all(|&b| b == v)),
                    "reader {r}: mixed ranges"
                );
                seen.insert(v);
            }
            Ok::<_, Error>(seen.len())
        }));
    }
    writer.await??;
    for reader in readers {
        assert!(reader.await?? >= 1);
    }
    assert_eq!(storage.read("obj").await?, vec![60u8; LEN + 600]);
    Ok(())
}
