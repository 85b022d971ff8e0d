//! Round trip: reads, ranges, errors, delete and list on `LocalStorage`.

use std::collections::BTreeSet;

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{Error, LocalStorage, Storage, WriteMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn keys(storage: &LocalStorage, prefix: &str) -> Result<BTreeSet<String>, Error> {
    let metas: Vec<_> = storage.list(prefix).try_collect().await?;
    Ok(metas.into_iter().map(|meta| meta.path).collect())
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[tokio::test]
async fn round_trip_ranges_and_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path().join("root")).await?;
    assert_eq!(storage.root(), dir.path().join("root"));

    let meta = storage
        .write("L0/000001.sst", Bytes::from_static(b"0123456789"))
        .await?;
    assert_eq!(meta.path, "L0/000001.sst");
    assert_eq!(meta.size, 10);
    assert!(meta.version.is_some() && meta.last_modified.is_some());
    assert_eq!(storage.head("L0/000001.sst").await?, meta);

    assert_eq!(storage.read("L0/000001.sst").await?, "0123456789");
    assert_eq!(storage.read_range("L0/000001.sst", 2..5).await?, "234");
    assert_eq!(storage.read_range("L0/000001.sst", 10..10).await?, "");
    assert_eq!(
        storage.read_range("L0/000001.sst", 0..10).await?,
        "0123456789"
    );
    let ranges = storage
        .read_ranges("L0/000001.sst", &[8..10, 0..1, 5..5])
        .await?;
    assert_eq!(
        ranges,
        vec![
            Bytes::from_static(b"89"),
            Bytes::from_static(b"0"),
            Bytes::new()
        ]
    );

    #[allow(clippy::reversed_empty_ranges)] // 6..5 is the point: an inverted range
    for range in [5..11, 11..11, 6..5] {
        match storage.read_range("L0/000001.sst", range.clone()).await {
            Err(Error::InvalidRange {
                size: Some(10),
                range: r,
                ..
            }) => assert_eq!(r, range),
            other => panic!("{range:?}: {other:?}"),
        }
    }
    // A bad range in a batch fails the batch, like read_range would.
    assert!(matches!(
        storage
            .read_ranges("L0/000001.sst", &[0..1, 3..u64::MAX])
            .await,
        Err(Error::InvalidRange { size: Some(10), .. })
    ));

    assert!(matches!(
        storage.read("nope").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        storage.read_ranges("nope", &[0..0, 0..0]).await,
        Err(Error::NotFound { .. })
    ));
    assert!(storage.read_ranges("nope", &[]).await?.is_empty());
    assert!(matches!(
        storage.read_range("nope", 0..0).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        matches!(storage.head("L0").await, Err(Error::NotFound { .. })),
        "a directory is no object"
    );
    assert!(matches!(
        storage.read("L0/000001.sst/x").await,
        Err(Error::NotFound { .. })
    ));
    assert!(!storage.exists("nope").await?);
    assert!(storage.exists("L0/000001.sst").await?);
    assert!(matches!(
        storage.sync("nope").await,
        Err(Error::NotFound { .. })
    ));
    storage.sync("L0/000001.sst").await?;

    for bad in ["", "/abs", "a/../b", ".seerstore-tmp.1", "a//b"] {
        assert!(
            matches!(storage.read(bad).await, Err(Error::InvalidPath { .. })),
            "{bad}"
        );
        assert!(
            matches!(
                storage.write(bad, Bytes::new()).await,
                Err(Error::InvalidPath { .. })
            ),
            "{bad}"
        );
    }

    // Overwrite is seen by the next read (the handle cache is invalidated).
    storage
        .write("L0/000001.sst", Bytes::from_static(b"new"))
        .await?;
    assert_eq!(storage.read("L0/000001.sst").await?, "new");

    storage.delete("L0/000001.sst").await?;
    assert!(matches!(
        storage.read("L0/000001.sst").await,
        Err(Error::NotFound { .. })
    ));
    storage.delete("L0/000001.sst").await?;
    storage.delete("never/was").await?;
    Ok(())
}

#[tokio::test]
async fn conditional_writes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let v1 = storage
        .write_with("MANIFEST", Bytes::from_static(b"v1"), WriteMode::Create)
        .await?;
    assert!(matches!(
        storage
            .write_with("MANIFEST", Bytes::from_static(b"x"), WriteMode::Create)
            .await,
        Err(Error::AlreadyExists { .. })
    ));
    let version = v1.version.clone().ok_or("no version")?;
    let v2 = storage
        .write_with(
            "MANIFEST",
            Bytes::from_static(b"v2"),
            WriteMode::Update(version.clone()),
        )
        .await?;
    assert_ne!(v2.version, v1.version);
    assert!(matches!(
        storage
            .write_with(
                "MANIFEST",
                Bytes::from_static(b"x"),
                WriteMode::Update(version)
            )
            .await,
        Err(Error::Precondition { .. })
    ));
    assert!(matches!(
        storage
            .write_with(
                "absent",
                Bytes::from_static(b"x"),
                WriteMode::Update("1-2-3".into())
            )
            .await,
        Err(Error::Precondition { .. })
    ));
    assert_eq!(storage.read("MANIFEST").await?, "v2");
    assert!(!storage.exists("absent").await?);

    // File/directory clashes are typed errors and change nothing.
    storage.write("a", Bytes::from_static(b"file")).await?;
    let err = storage
        .write("a/b", Bytes::from_static(b"x"))
        .await
        .expect_err("a is a file");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    storage.write("d/x", Bytes::from_static(b"x")).await?;
    let err = storage
        .write("d", Bytes::from_static(b"x"))
        .await
        .expect_err("d is a directory");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(storage.read("a").await?, "file");
    assert_eq!(keys(&storage, "").await?, set(&["MANIFEST", "a", "d/x"]));
    Ok(())
}

#[tokio::test]
async fn list_by_whole_segments_hides_temp_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    for key in ["L0/a", "L0/sub/b", "L00/c", "L0x", "top"] {
        storage.write(key, Bytes::from(key.to_owned())).await?;
    }
    // A stray temp file and an unfinished writer's temp file.
    std::fs::write(dir.path().join("L0/.seerstore-tmp.1.2.3"), b"junk")?;
    let mut writer = storage.writer("L0/pending").await?;
    writer.write(Bytes::from_static(b"partial")).await?;

    assert_eq!(
        keys(&storage, "").await?,
        set(&["L0/a", "L0/sub/b", "L00/c", "L0x", "top"])
    );
    assert_eq!(keys(&storage, "L0").await?, set(&["L0/a", "L0/sub/b"]));
    assert_eq!(keys(&storage, "L0/").await?, set(&["L0/a", "L0/sub/b"]));
    assert_eq!(keys(&storage, "L0/sub").await?, set(&["L0/sub/b"]));
    // Strictly below the prefix: an object named like the prefix is not listed.
    assert_eq!(keys(&storage, "top").await?, set(&[]));
    assert_eq!(keys(&storage, "missing/dir").await?, set(&[]));
    assert_eq!(keys(&storage, "top/below").await?, set(&[]));

    let metas: Vec<_> = storage.list("L0/sub").try_collect().await?;
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].size, 8);
    assert_eq!(metas[0], storage.head("L0/sub/b").await?);

    let errors: Vec<_> = futures::StreamExt::collect::<Vec<_>>(storage.list("../x")).await;
    assert!(matches!(
        errors.as_slice(),
        [Err(Error::InvalidPath { .. })]
    ));

    writer.finish().await?;
    assert_eq!(
        keys(&storage, "L0").await?,
        set(&["L0/a", "L0/pending", "L0/sub/b"])
    );
    assert_eq!(storage.read("L0/pending").await?, "partial");
    Ok(())
}

#[tokio::test]
async fn list_many_keys_streams() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    for i in 0..600 {
        storage
            .write(&format!("d{}/k{i}", i % 7), Bytes::new())
            .await?;
    }
    let all = keys(&storage, "").await?;
    assert_eq!(all.len(), 600);
    for key in &all {
        assert!(storage.exists(key).await?, "{key}");
    }
    Ok(())
}
