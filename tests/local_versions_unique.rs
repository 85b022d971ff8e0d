//! A version never repeats for a key: one key rewritten thousands of times
//! at the same size, with other files created and freed in between so that
//! the filesystem hands freed inode numbers straight back, never gets back a
//! version it had. On ext4 a freed inode number is reused at once, and
//! ctime can tick once per jiffy, so `dev-ino-ctime-size` alone repeats.

use std::collections::HashSet;

use bytes::Bytes;
use seerstore::{Error, LocalStorage, Storage, WriteMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REWRITES: usize = 1000;

async fn rewrites_never_repeat(root: &std::path::Path) -> TestResult {
    // (tmpfs hands out fresh inode numbers, so only a disk filesystem tests this.)
    let storage = LocalStorage::open(root).await?;
    let mut seen = HashSet::new();
    let mut inodes = HashSet::new();
    for i in 0..REWRITES {
        // Same size every time: only the identity of the write tells the
        // versions apart.
        let meta = storage
            .write("MANIFEST", Bytes::from(vec![(i % 251) as u8; 64]))
            .await?;
        let version = meta.version.ok_or("no version")?;
        assert!(
            seen.insert(version.clone()),
            "rewrite {i}: version {version} came back"
        );
        // The listed and the head version are the written one.
        assert_eq!(storage.head("MANIFEST").await?.version, Some(version));
        // Free another file in between, so inode numbers keep cycling.
        storage
            .write("scratch", Bytes::from_static(b"scratch"))
            .await?;
        storage.delete("scratch").await?;
        use std::os::unix::fs::MetadataExt;
        inodes.insert(std::fs::metadata(root.join("MANIFEST"))?.ino());
    }
    // The test only proves something if inode numbers were reused.
    assert!(
        inodes.len() < REWRITES / 2,
        "inodes were not reused ({} distinct): the test proved nothing",
        inodes.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrites_never_repeat_on_the_default_filesystem() -> TestResult {
    let tmp = tempfile::tempdir()?;
    rewrites_never_repeat(tmp.path()).await
}

/// A stale `Update` after a delete and a re-creation of the same size must
/// fail: the re-created object is a different write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_update_after_delete_and_recreate_fails() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    for round in 0..500 {
        let old = storage
            .write("LOCK", Bytes::from_static(b"holder-1"))
            .await?
            .version
            .ok_or("no version")?;
        storage.delete("LOCK").await?;
        storage
            .write_with("LOCK", Bytes::from_static(b"holder-2"), WriteMode::Create)
            .await?;
        match storage
            .write_with(
                "LOCK",
                Bytes::from_static(b"stale---"),
                WriteMode::Update(old),
            )
            .await
        {
            Err(Error::Precondition { .. }) => {}
            other => panic!("round {round}: a stale Update gave {other:?}"),
        }
        storage.delete("LOCK").await?;
    }
    Ok(())
}
