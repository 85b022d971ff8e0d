//! Symlinks inside the root that lead outside it: no read, write, delete or
//! list through them may touch what lies outside, and each call fails.

use bytes::Bytes;
use futures::StreamExt;
use seerstore::{Error, LocalStorage, Storage};
use std::os::unix::fs::symlink;
use std::path::Path;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SECRET: &[u8] = b"outside secret";

/// Root `<tmp>/root` with links to `<tmp>/outside/` and its file, by
/// absolute path and by `../`.
fn setup(tmp: &Path) -> std::io::Result<()> {
    let outside = tmp.join("outside");
    std::fs::create_dir_all(&outside)?;
    std::fs::write(outside.join("secret"), SECRET)?;
    let root = tmp.join("root");
    std::fs::create_dir_all(root.join("sub"))?;
    symlink(&outside, root.join("abs_dir"))?;
    symlink(outside.join("secret"), root.join("abs_file"))?;
    symlink("../outside", root.join("rel_dir"))?;
    symlink("../outside/secret", root.join("rel_file"))?;
    symlink("../../outside", root.join("sub/deep_dir"))?;
    Ok(())
}

fn outside_untouched(tmp: &Path) -> TestResult {
    let outside = tmp.join("outside");
    assert_eq!(std::fs::read(outside.join("secret"))?, SECRET);
    let mut names: Vec<_> = std::fs::read_dir(&outside)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("secret")],
        "nothing may appear outside"
    );
    Ok(())
}

async fn check(storage: &LocalStorage, tmp: &Path) -> TestResult {
    for key in [
        "abs_dir/secret",
        "abs_file",
        "rel_dir/secret",
        "rel_file",
        "sub/deep_dir/secret",
    ] {
        let read = storage.read(key).await;
        assert!(read.is_err(), "read {key} escaped: {read:?}");
        assert!(
            storage.read_range(key, 0..3).await.is_err(),
            "read_range {key}"
        );
        assert!(storage.head(key).await.is_err(), "head {key}");
        assert!(storage.sync(key).await.is_err(), "sync {key}");
        let write = storage.write(key, Bytes::from_static(b"pwned")).await;
        assert!(write.is_err(), "write {key} succeeded: {write:?}");
        let delete = storage.delete(key).await;
        assert!(delete.is_err(), "delete {key} succeeded");
        outside_untouched(tmp)?;
    }
    for key in [
        "abs_dir/new",
        "rel_dir/new",
        "sub/deep_dir/new",
        "abs_dir/n/e/w",
    ] {
        assert!(
            storage.write(key, Bytes::from_static(b"x")).await.is_err(),
            "write {key}"
        );
        let mut writer = storage.writer(key).await;
        if let Ok(w) = writer.as_mut() {
            w.write(Bytes::from_static(b"x")).await?;
        }
        if let Ok(w) = writer {
            assert!(w.finish().await.is_err(), "writer {key}");
        }
        outside_untouched(tmp)?;
    }
    // list never follows a symlink and reports none.
    for prefix in ["", "abs_dir", "rel_dir", "sub", "sub/deep_dir", "abs_file"] {
        let items: Vec<_> = storage.list(prefix).collect().await;
        let reported: Vec<_> = items
            .iter()
            .filter_map(|item| item.as_ref().ok().map(|meta| meta.path.clone()))
            .collect();
        assert!(
            reported.is_empty(),
            "list({prefix:?}) reported {reported:?}"
        );
    }
    // Ordinary keys still work beside the links.
    storage.write("sub/ok", Bytes::from_static(b"fine")).await?;
    assert_eq!(storage.read("sub/ok").await?, "fine");
    outside_untouched(tmp)
}

#[tokio::test]
async fn symlinks_cannot_escape_the_root() -> TestResult {
    let tmp = tempfile::tempdir()?;
    setup(tmp.path())?;
    let storage = LocalStorage::open(tmp.path().join("root")).await?;
    check(&storage, tmp.path()).await
}

#[tokio::test]
async fn symlinks_cannot_escape_with_component_walk() -> TestResult {
    let tmp = tempfile::tempdir()?;
    setup(tmp.path())?;
    let storage = LocalStorage::builder(tmp.path().join("root"))
        .follow_symlinks(false)
        .open()
        .await?;
    check(&storage, tmp.path()).await
}

#[tokio::test]
async fn symlinks_inside_the_root() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let storage = LocalStorage::open(&root).await?;
    storage
        .write("data/a", Bytes::from_static(b"inside"))
        .await?;
    symlink("data", root.join("alias"))?;

    // openat2 follows a link that stays beneath the root...
    assert_eq!(storage.read("alias/a").await?, "inside");
    // ...the component walk refuses every link.
    let strict = LocalStorage::builder(&root)
        .follow_symlinks(false)
        .open()
        .await?;
    let err = strict
        .read("alias/a")
        .await
        .expect_err("strict mode follows no link");
    assert!(
        matches!(err, Error::Io { .. }),
        "a refused link is not 'not found': {err}"
    );
    assert_eq!(strict.read("data/a").await?, "inside");
    Ok(())
}
