//! `open`'s sweep removes abandoned temp files but spares the temp file of
//! a writer that is still running, even in another `LocalStorage` instance.

mod support;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn sweep_spares_a_live_writer() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let first = LocalStorage::open(tmp.path()).await?;
    let mut writer = first.writer("L1/big.sst").await?;
    writer.write(Bytes::from(vec![7u8; 2 << 20])).await?; // past the buffer: on disk
    let live = support::temp_files(tmp.path())?;
    assert_eq!(live.len(), 1, "the writer's temp file: {live:?}");

    let dead = tmp.path().join("L1/.seerstore-tmp.crashed.42");
    std::fs::write(&dead, b"abandoned")?;

    let second = LocalStorage::open(tmp.path()).await?;
    assert!(!dead.exists(), "an unlocked temp file must be swept");
    assert!(live[0].exists(), "a locked temp file must be spared");
    assert!(!second.exists("L1/big.sst").await?);

    writer.write(Bytes::from_static(b"tail")).await?;
    let meta = writer.finish().await?;
    assert_eq!(meta.size, (2 << 20) + 4);
    let data = second.read("L1/big.sst").await?;
    assert_eq!(data.len(), (2 << 20) + 4);
    assert!(data[..2 << 20].iter().all(|&b| b == 7));
    assert_eq!(&data[2 << 20..], b"tail");
    assert!(support::temp_files(tmp.path())?.is_empty());
    Ok(())
}
