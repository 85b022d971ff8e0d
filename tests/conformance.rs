//! The conformance suite against every backend that needs no server:
//! LocalStorage, ObjectStorage over InMemory, and ObjectStorage over
//! object_store's LocalFileSystem. One list of checks drives all three; what
//! a backend cannot do is declared in its `Capabilities` below.

use std::sync::Arc;

use seerstore::conformance::{run, Capabilities, Report};
use seerstore::{LocalStorage, ObjectStorage, Storage};

mod expected;

fn print(backend: &str, report: &Report) {
    println!("conformance[{backend}]:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_storage() -> seerstore::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| seerstore::Error::io(seerstore::Operation::Open, "", e))?;
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await?);
    // A filesystem cannot hold `a` as a file and as a directory; segments
    // are limited to NAME_MAX (255 bytes); sync of a missing file is an
    // error; `rename` is still the trait's default copy then delete.
    let caps = Capabilities::all()
        .file_and_dir_keys(false)
        .sync_checks_existence(true)
        .key_limits(1024, 255)
        .appends(true)
        .atomic_rename(true);
    let report = run(storage, &caps).await;
    print("local", &report);
    report.assert_outcomes(&expected::LOCAL);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_in_memory() -> seerstore::Result<()> {
    let store = Arc::new(object_store::memory::InMemory::new());
    let storage: Arc<dyn Storage> = Arc::new(ObjectStorage::new(store).with_prefix("tenant-1/sst"));
    // `rename` on an object store is a copy then a delete.
    let caps = Capabilities::all()
        .atomic_rename(false)
        .conditional_copy(true, false);
    let report = run(storage, &caps).await;
    print("memory", &report);
    report.assert_outcomes(&expected::object_store(&[]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_local_file_system() -> seerstore::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| seerstore::Error::io(seerstore::Operation::Open, "", e))?;
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).map_err(|e| {
        seerstore::Error::InvalidUrl {
            url: dir.path().display().to_string(),
            reason: "LocalFileSystem".into(),
            source: Some(Box::new(e)),
        }
    })?;
    let storage: Arc<dyn Storage> = Arc::new(ObjectStorage::new(Arc::new(fs)));
    // object_store's LocalFileSystem: a filesystem again (no `a` and `a/b`),
    // and it implements `PutMode::Create` but not `PutMode::Update`
    // (NotImplemented, which seerstore reports as NotSupported); `rename` is
    // a copy then a delete; its delimiter listing reports every directory,
    // also one left empty by deletes.
    let caps = Capabilities::all()
        .file_and_dir_keys(false)
        .key_limits(1024, 255)
        .conditional(true, false)
        .atomic_rename(false)
        .conditional_copy(true, false)
        .emptied_dirs_vanish(false);
    let report = run(storage, &caps).await;
    print("object_store-local", &report);
    report.assert_outcomes(&expected::object_store(&[
        "file_and_dir_keys",
        "update_requires_current_version",
        "racing_updates_one_winner",
        "read_with_compare_and_swap_counter",
        "list_dir_forgets_emptied_dirs",
    ]));
    Ok(())
}
