//! `LocalStorageBuilder::sweep(false)` leaves abandoned temp files alone;
//! the default sweep removes them.

use seerstore::LocalStorage;

#[tokio::test]
async fn sweep_false_leaves_abandoned_temp_files() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    std::fs::create_dir(tmp.path().join("L0"))?;
    // Nobody holds its lock: a writer that crashed.
    let abandoned = tmp.path().join("L0/.seerstore-tmp.1.0.0");
    std::fs::write(&abandoned, b"half an sstable")?;

    LocalStorage::builder(tmp.path())
        .sweep(false)
        .open()
        .await?;
    assert!(abandoned.exists());

    LocalStorage::open(tmp.path()).await?;
    assert!(!abandoned.exists());
    Ok(())
}
