//! Path traversal in every form, on LocalStorage, ObjectStorage over
//! InMemory (with a prefix) and ObjectStorage over object_store's
//! LocalFileSystem: traversal keys are refused before any I/O on every
//! method; keys that only *look* like traversal (percent-encoded dots and
//! slashes, Unicode slash and dot look-alikes) are legal key bytes and must
//! land inside the root or prefix, under exactly that name.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStore;
use seerstore::{Error, LocalStorage, ObjectStorage, Storage, WriteMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Keys every backend must refuse with `InvalidPath`.
fn traversal_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "..",
        "../outside/secret",
        "a/../../outside/secret",
        "a/..",
        ".",
        "./a",
        "a/./b",
        "/etc/passwd",
        "/",
        "//outside",
        "a//b",
        "a/",
        "",
        "..\\outside\\secret",
        "a\\b",
        "\\\\server\\share",
        "a\0b",
        "\0",
        "a/\u{1}b",
        "a\nb",
        "a\u{7f}b",
        ".seerstore-tmp.1.2",
        "L0/.seerstore-tmp-x",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    keys.push("a".repeat(1025));
    keys.push(format!("{}/x", "d/".repeat(600)));
    keys
}

/// Keys that are legal: encoded or look-alike forms that must not act as
/// `..` or `/`.
fn look_alike_keys() -> Vec<&'static str> {
    vec![
        "%2e%2e/escape",
        "%2E%2E%2Foutside%2Fsecret",
        "..%2foutside",
        "%2e%2e%5coutside",
        "%00",
        "a\u{2215}..\u{2215}outside", // DIVISION SLASH
        "\u{FF0F}etc\u{FF0F}passwd",  // FULLWIDTH SOLIDUS
        "\u{FF0E}\u{FF0E}/x",         // FULLWIDTH FULL STOP
        "\u{2024}\u{2024}/x",         // ONE DOT LEADER
        "\u{FE52}\u{FE52}",           // SMALL FULL STOP
        "\u{2044}outside",            // FRACTION SLASH
        "\u{29F8}outside",            // BIG SOLIDUS
        "\u{FF3C}outside",            // FULLWIDTH REVERSE SOLIDUS
        "...",
        "..a",
        "a..",
    ]
}

/// Every method on `key`: each must be `InvalidPath`.
async fn all_refused(storage: &dyn Storage, key: &str) {
    let what = format!("{storage:?} {key:?}");
    let data = Bytes::from_static(b"evil");
    let mut results: Vec<(&str, seerstore::Result<()>)> = vec![
        ("read", storage.read(key).await.map(drop)),
        ("read_range", storage.read_range(key, 0..1).await.map(drop)),
        (
            "read_ranges",
            storage.read_ranges(key, &[0..1, 0..0]).await.map(drop),
        ),
        ("head", storage.head(key).await.map(drop)),
        ("exists", storage.exists(key).await.map(drop)),
        ("write", storage.write(key, data.clone()).await.map(drop)),
        (
            "write_with",
            storage
                .write_with(key, data.clone(), WriteMode::Create)
                .await
                .map(drop),
        ),
        ("writer", storage.writer(key).await.map(drop)),
        ("delete", storage.delete(key).await),
        ("sync", storage.sync(key).await),
    ];
    // `list("")` is legal (everything) and `list("a/")` drops the slash.
    if !key.is_empty() && key != "a/" {
        results.push((
            "list",
            storage.list(key).try_collect::<Vec<_>>().await.map(drop),
        ));
    }
    for (method, result) in results {
        match result {
            Err(Error::InvalidPath { path, .. }) => {
                assert_eq!(path, key, "{method} {what}: the error names the key")
            }
            other => panic!("{method} {what}: expected InvalidPath, got {other:?}"),
        }
    }
}

/// `key` round-trips and lists as itself.
async fn round_trips(storage: &dyn Storage, key: &str) -> TestResult {
    let data = Bytes::from(format!("inside:{key}"));
    storage.write(key, data.clone()).await?;
    assert_eq!(storage.read(key).await?, data, "{key:?}");
    let listed: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    assert!(listed.iter().any(|p| p == key), "{key:?} not in {listed:?}");
    Ok(())
}

/// `<tmp>/outside/secret`, and every entry beneath `<tmp>` outside `root`.
fn snapshot_outside(tmp: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(tmp)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "root" {
            out.push(name);
        }
    }
    let mut outside: Vec<String> = std::fs::read_dir(tmp.join("outside"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    outside.sort();
    out.sort();
    out.extend(outside);
    Ok(out)
}

fn setup_outside(tmp: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(tmp.join("outside"))?;
    std::fs::write(tmp.join("outside/secret"), b"secret")
}

#[tokio::test]
async fn local_refuses_traversal_and_keeps_look_alikes_inside() -> TestResult {
    let tmp = tempfile::tempdir()?;
    setup_outside(tmp.path())?;
    let before = snapshot_outside(tmp.path())?;
    let root = tmp.path().join("root");
    let storage = LocalStorage::open(&root).await?;
    for key in traversal_keys() {
        all_refused(&storage, &key).await;
    }
    assert_eq!(
        std::fs::read_dir(&root)?.count(),
        0,
        "a refused key touched the root"
    );
    for key in look_alike_keys() {
        round_trips(&storage, key).await?;
        // Stored under exactly that name, beneath the root.
        let on_disk = root.join(key);
        assert!(on_disk.is_file(), "{key:?} is not {}", on_disk.display());
        assert!(on_disk.canonicalize()?.starts_with(root.canonicalize()?));
    }
    assert_eq!(snapshot_outside(tmp.path())?, before, "outside changed");
    assert_eq!(std::fs::read(tmp.path().join("outside/secret"))?, b"secret");
    Ok(())
}

#[tokio::test]
async fn object_storage_refuses_traversal_and_keeps_look_alikes_in_prefix() -> TestResult {
    let store = Arc::new(object_store::memory::InMemory::new());
    // A sibling tenant whose objects a traversal would reach.
    ObjectStorage::new(store.clone())
        .with_prefix("tenant-2")
        .write("secret", Bytes::from_static(b"secret"))
        .await?;
    let storage = ObjectStorage::new(store.clone()).with_prefix("tenant-1");
    for key in traversal_keys() {
        all_refused(&storage, &key).await;
    }
    for key in look_alike_keys() {
        round_trips(&storage, key).await?;
    }
    let all: Vec<_> = store.list(None).try_collect().await?;
    let outside: Vec<_> = all
        .iter()
        .map(|m| m.location.to_string())
        .filter(|p| !p.starts_with("tenant-1/"))
        .collect();
    assert_eq!(outside, ["tenant-2/secret"], "an object escaped the prefix");
    assert_eq!(all.len(), 1 + look_alike_keys().len());
    Ok(())
}

#[tokio::test]
async fn object_storage_over_local_file_system_keeps_look_alikes_inside() -> TestResult {
    let tmp = tempfile::tempdir()?;
    setup_outside(tmp.path())?;
    let before = snapshot_outside(tmp.path())?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root)?;
    let fs = object_store::local::LocalFileSystem::new_with_prefix(&root)?;
    let storage = ObjectStorage::new(Arc::new(fs));
    for key in traversal_keys() {
        all_refused(&storage, &key).await;
    }
    for key in look_alike_keys() {
        // object_store may refuse or encode some names; what it stores
        // must stay beneath the root.
        if let Err(e) = round_trips(&storage, key).await {
            eprintln!("LocalFileSystem refused {key:?}: {e}");
        }
    }
    assert_eq!(snapshot_outside(tmp.path())?, before, "outside changed");
    assert_eq!(std::fs::read(tmp.path().join("outside/secret"))?, b"secret");
    Ok(())
}
