//! `seerstore::probe` finds what each server-less backend really does, and
//! agrees with the capabilities the conformance suite declares for it.
#![cfg(feature = "conformance")]

use std::sync::Arc;

use seerstore::{probe, LocalStorage, ObjectStorage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_storage_keeps_every_promise_but_nesting() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = LocalStorage::open(dir.path()).await?;
    let found = probe(&storage).await?;
    assert_eq!(found.missing(), ["file_and_dir_keys"], "{found}");
    assert!(found.appends, "{found}");
    assert!(found.capabilities().appends);
    // Empty directories may stay (LocalStorage leaves them); files may not.
    assert_eq!(
        files_below(&dir.path().join(seerstore::PROBE_PREFIX)),
        0,
        "probe left files"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_keeps_every_promise_but_copy_on_a_version() -> seerstore::Result<()> {
    let storage = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    let found = probe(&storage).await?;
    // object_store has no copy conditional on a version, and no appends.
    assert_eq!(found.missing(), ["copy_update"], "{found}");
    assert!(!found.appends, "object_store has no appends: {found}");
    Ok(())
}

/// object_store's LocalFileSystem implements `PutMode::Create` but not
/// `PutMode::Update`: the probe must say so instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_file_system_lacks_conditional_update() -> seerstore::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("fs");
    let storage = ObjectStorage::new(Arc::new(fs));
    let found = probe(&storage).await?;
    assert!(found.conditional_create && found.atomic_create, "{found}");
    assert!(!found.conditional_update && !found.atomic_update, "{found}");
    assert!(!found.file_and_dir_keys, "{found}");
    assert!(found.versions && found.range_past_end_rejected, "{found}");
    assert!(!found.appends, "{found}");
    // A copy on a version needs the conditional update it lacks; the rest
    // of the 0.2 calls hold.
    assert!(found.copy_create && !found.copy_update, "{found}");
    assert!(found.list_dir && found.delete_many, "{found}");
    Ok(())
}

fn files_below(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files_below(&e.path()),
                    // A directory's lock file (reserved, never a key) stays
                    // with its directory.
                    _ if e.file_name() == ".seerstore-tmp.lock" => 0,
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}
