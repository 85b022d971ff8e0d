//! LocalStorage's own implementations of the 0.2 calls: what only the
//! local backend promises (one descriptor for `read_with`, sorted
//! `list_with`, atomic `rename`), and that bad input changes nothing on
//! disk. The cross-backend promises are the conformance suite's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{Error, ListOptions, LocalStorage, ReadOptions, Storage, WriteMode};

mod support;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The counter's bytes: `n`, padded by `n % 13` bytes so that versions
/// next to each other differ in size too.
fn counter(n: u64) -> Bytes {
    let mut text = format!("n={n};");
    text.extend(std::iter::repeat_n('.', (n % 13) as usize));
    Bytes::from(text)
}

type SendError = Box<dyn std::error::Error + Send + Sync>;

fn parse_counter(data: &[u8]) -> Result<u64, SendError> {
    let text = std::str::from_utf8(data)?;
    let digits = text
        .strip_prefix("n=")
        .and_then(|rest| rest.split(';').next())
        .ok_or_else(|| format!("not a counter: {text:?}"))?;
    let n: u64 = digits.parse()?;
    if counter(n) != data {
        return Err(format!("torn counter: {text:?}").into());
    }
    Ok(n)
}

/// The compare-and-swap loop of the issue: read_with, then
/// write_with(Update(version)). Tasks on both workers and the blocking
/// pool race on one key for many rounds; a read_with whose data and
/// version disagreed would let an increment overwrite another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_with_and_update_lose_no_increment() -> TestResult {
    const TASKS: u64 = 8;
    const ROUNDS: u64 = 150;
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    storage.write("COUNTER", counter(0)).await?;
    let done = Arc::new(AtomicBool::new(false));
    // Readers keep both cores busy and check every pairing they see.
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (storage, done) = (storage.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                let got = storage.read_with("COUNTER", ReadOptions::default()).await?;
                if got.meta.size != got.data.len() as u64 {
                    return Err(format!(
                        "size {} paired with {} bytes",
                        got.meta.size,
                        got.data.len()
                    )
                    .into());
                }
                parse_counter(&got.data)?;
                reads += 1;
                tokio::task::yield_now().await;
            }
            Ok::<u64, SendError>(reads)
        }));
    }
    let mut writers = Vec::new();
    for _ in 0..TASKS {
        let storage = storage.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                loop {
                    let got = storage.read_with("COUNTER", ReadOptions::default()).await?;
                    let n = parse_counter(&got.data)?;
                    let version = got.meta.version.clone().ok_or("no version")?;
                    match storage
                        .write_with("COUNTER", counter(n + 1), WriteMode::Update(version))
                        .await
                    {
                        Ok(_) => break,
                        Err(e) if e.is_precondition() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Ok::<(), SendError>(())
        }));
    }
    for writer in writers {
        writer.await?.map_err(|e| e.to_string())?;
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await?.map_err(|e| e.to_string())?;
    }
    let end = parse_counter(&storage.read("COUNTER").await?).map_err(|e| e.to_string())?;
    assert_eq!(end, TASKS * ROUNDS, "increments were lost");
    Ok(())
}

/// The stale handle, made deterministic: another instance on the
/// same root replaces the object, so this instance's cached handle keeps
/// the old file while `head` by path sees the new one. `read_with` must
/// pair data and version of ONE file (a `head` + `read_range` pairs the
/// new version with the old bytes), conditions must be judged against the
/// current object, and a compare-and-swap on the stale version must fail
/// once and then see the new object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_with_through_a_stale_handle_pairs_one_version() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let a = LocalStorage::open(tmp.path()).await?;
    let b = LocalStorage::open(tmp.path()).await?;
    let v1 = a.write("MANIFEST", Bytes::from_static(b"one")).await?;
    assert_eq!(a.read("MANIFEST").await?, "one"); // caches a's handle
    let v2 = b
        .write("MANIFEST", Bytes::from_static(b"two, longer"))
        .await?;
    assert_eq!(a.head("MANIFEST").await?.version, v2.version);

    let got = a.read_with("MANIFEST", ReadOptions::default()).await?;
    let pairs = [
        (v1.version.clone(), "one"),
        (v2.version.clone(), "two, longer"),
    ];
    assert!(
        pairs
            .iter()
            .any(|(version, data)| got.meta.version == *version && got.data == *data),
        "read_with paired version {:?} with data {:?}",
        got.meta.version,
        got.data
    );
    assert_eq!(got.meta.size, got.data.len() as u64);

    // Conditions are judged against the current object, not the handle.
    let current = ReadOptions {
        if_match: v2.version.clone(),
        ..Default::default()
    };
    let matched = a.read_with("MANIFEST", current).await?;
    assert_eq!(matched.data, "two, longer");
    assert_eq!(matched.meta.version, v2.version);
    let old = ReadOptions {
        if_none_match: v1.version.clone(),
        ..Default::default()
    };
    assert_eq!(a.read_with("MANIFEST", old).await?.data, "two, longer");
    let held = ReadOptions {
        if_none_match: v2.version.clone(),
        ..Default::default()
    };
    let not_modified = a.read_with("MANIFEST", held).await.unwrap_err();
    assert!(not_modified.is_not_modified(), "{not_modified}");

    // A compare-and-swap loop converges: at most one Precondition.
    let mut conflicts = 0;
    loop {
        let got = a.read_with("MANIFEST", ReadOptions::default()).await?;
        let version = got.meta.version.clone().ok_or("no version")?;
        match a
            .write_with(
                "MANIFEST",
                Bytes::from_static(b"three"),
                WriteMode::Update(version),
            )
            .await
        {
            Ok(_) => break,
            Err(e) if e.is_precondition() && conflicts == 0 => conflicts += 1,
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(b.read("MANIFEST").await?, "three");
    Ok(())
}

/// A read_with that starts after a write returned sees the new version,
/// also on the thread whose copy of the handle cache held the old file.
#[tokio::test(flavor = "current_thread")]
async fn read_with_after_a_write_sees_it() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    for n in 0..20 {
        let written = storage.write("k", counter(n)).await?;
        let got = storage.read_with("k", ReadOptions::default()).await?;
        assert_eq!(got.meta.version, written.version, "round {n}");
        assert_eq!(got.data, counter(n), "round {n}");
        let tail = ReadOptions {
            range: Some(2..u64::MAX),
            clamp_to_size: true,
            ..Default::default()
        };
        let got = storage.read_with("k", tail).await?;
        assert_eq!(got.range, 2..counter(n).len() as u64);
        assert_eq!(got.data, counter(n).slice(2..));
    }
    Ok(())
}

/// Keys whose byte order differs from a naive per-directory order: `/`
/// sorts between `.` and `0`.
const TRICKY_KEYS: &[&str] = &[
    "a-/y", "a.b", "a/b/c", "a/x", "a0", "b/0", "b/1/2", "b/1/3", "b0/z", "c",
];

async fn write_all(storage: &LocalStorage, keys: &[&str]) -> TestResult {
    for key in keys {
        storage.write(key, Bytes::from(key.to_string())).await?;
    }
    Ok(())
}

async fn keys_after(
    storage: &LocalStorage,
    prefix: &str,
    offset: &str,
) -> Result<Vec<String>, Error> {
    let options = ListOptions {
        offset: Some(offset.to_owned()),
    };
    storage
        .list_with(prefix, options)
        .map_ok(|meta| meta.path)
        .try_collect()
        .await
}

/// Every offset (each key, each of its prefixes, and names between them)
/// under every prefix: exactly the keys after it, in sorted order.
#[tokio::test]
async fn list_with_offset_is_exact_and_sorted() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    write_all(&storage, TRICKY_KEYS).await?;
    // Never listed: a temp file and a symlink.
    std::fs::write(tmp.path().join("b/.seerstore-tmp.1.2.3"), b"temp")?;
    std::os::unix::fs::symlink(tmp.path().join("c"), tmp.path().join("b/link"))?;
    let mut offsets: Vec<String> = vec!["!".into(), "a".into(), "zz".into()];
    for key in TRICKY_KEYS {
        for end in 1..=key.len() {
            offsets.push(key[..end].trim_end_matches('/').to_owned());
        }
    }
    offsets.retain(|o| !o.is_empty());
    for prefix in ["", "a", "b", "b/1", "missing"] {
        for offset in &offsets {
            let mut expected: Vec<String> = TRICKY_KEYS
                .iter()
                .filter(|k| seerstore::path::in_prefix(k, prefix) && **k > offset.as_str())
                .map(|k| k.to_string())
                .collect();
            expected.sort();
            let got = keys_after(&storage, prefix, offset).await?;
            assert_eq!(got, expected, "prefix {prefix:?}, offset {offset:?}");
        }
    }
    let bad = keys_after(&storage, "", "a//b").await.unwrap_err();
    assert!(matches!(bad, Error::InvalidPath { .. }), "{bad}");
    Ok(())
}

#[tokio::test]
async fn list_dir_reads_one_level() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    write_all(&storage, TRICKY_KEYS).await?;
    std::fs::write(tmp.path().join("b/.seerstore-tmp.1.2.3"), b"temp")?;
    std::os::unix::fs::symlink(tmp.path().join("c"), tmp.path().join("b/link"))?;
    std::os::unix::fs::symlink(tmp.path().join("a"), tmp.path().join("b/dirlink"))?;

    let root = storage.list_dir("").await?;
    let objects: Vec<&str> = root.objects.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(objects, ["a.b", "a0", "c"]);
    assert_eq!(root.dirs, ["a", "a-", "b", "b0"]);

    let level = storage.list_dir("b/").await?;
    let objects: Vec<&str> = level.objects.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(objects, ["b/0"], "no temp file, no symlink");
    assert_eq!(level.dirs, ["b/1"], "no symlinked directory");
    let head = storage.head("b/0").await?;
    assert_eq!(level.objects[0].version, head.version);
    assert_eq!(level.objects[0].size, head.size);

    for empty in ["missing", "c", "b/link", "b/dirlink"] {
        let listing = storage.list_dir(empty).await?;
        assert!(
            listing.objects.is_empty() && listing.dirs.is_empty(),
            "{empty}: {listing:?}"
        );
    }
    assert!(matches!(
        storage.list_dir("../x").await,
        Err(Error::InvalidPath { .. })
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_many_deletes_in_order_and_spares_bad_input() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let mut paths = Vec::new();
    for dir in 0..7 {
        for n in 0..40 {
            let key = format!("d{dir}/{n:03}");
            storage.write(&key, Bytes::from_static(b"x")).await?;
            paths.push(key);
        }
    }
    storage.write("keep/x", Bytes::from_static(b"kept")).await?;
    std::os::unix::fs::symlink(tmp.path().join("keep/x"), tmp.path().join("keep/link"))?;
    assert_eq!(storage.read("d0/000").await?, "x"); // a cached handle
    paths.insert(3, "keep/x/".into()); // invalid: trailing '/'
    paths.insert(10, "d0/000".into()); // a duplicate
    paths.insert(20, "missing/key".into());
    paths.insert(30, "keep/link".into());
    let results = storage.delete_many(&paths).await;
    assert_eq!(results.len(), paths.len());
    for (path, result) in paths.iter().zip(&results) {
        match path.as_str() {
            "keep/x/" => assert!(
                matches!(result, Err(Error::InvalidPath { .. })),
                "{result:?}"
            ),
            "keep/link" => assert!(result.is_err(), "a symlink must be refused"),
            _ => assert!(result.is_ok(), "{path}: {result:?}"),
        }
    }
    assert_eq!(storage.read("keep/x").await?, "kept");
    assert!(tmp.path().join("keep/link").is_symlink());
    assert!(storage.read("d0/000").await.unwrap_err().is_not_found());
    let left: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(left, ["keep/x"]);
    Ok(())
}

/// Every file and directory under `root` with its contents: what "nothing
/// changed" compares.
fn snapshot(root: &Path) -> std::io::Result<BTreeMap<String, Option<Vec<u8>>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = path.strip_prefix(root).map_err(std::io::Error::other)?;
            let name = name.to_string_lossy().into_owned();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                out.insert(name, None);
                stack.push(path);
            } else if kind.is_symlink() {
                out.insert(
                    name,
                    Some(
                        std::fs::read_link(&path)?
                            .into_os_string()
                            .into_encoded_bytes(),
                    ),
                );
            } else {
                out.insert(name, Some(std::fs::read(&path)?));
            }
        }
    }
    Ok(out)
}

/// A refused call: source, destination, mode, and the check of its error.
type BadCall = (&'static str, &'static str, WriteMode, fn(&Error) -> bool);

#[tokio::test]
async fn copy_and_rename_of_bad_input_change_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    storage.write("src", Bytes::from_static(b"source")).await?;
    let dst = storage.write("d/dst", Bytes::from_static(b"dest")).await?;
    std::os::unix::fs::symlink(tmp.path().join("src"), tmp.path().join("link"))?;
    let before = snapshot(tmp.path())?;
    let stale = WriteMode::Update("not-a-version".into());
    let current = WriteMode::Update(dst.version.clone().ok_or("no version")?);
    for op in ["copy", "rename"] {
        let call = |from: &'static str, to: &'static str, mode: WriteMode| {
            let storage = storage.clone();
            async move {
                if op == "copy" {
                    storage.copy(from, to, mode).await
                } else {
                    storage.rename(from, to, mode).await
                }
            }
        };
        let cases: Vec<BadCall> = vec![
            ("src", "src", WriteMode::Overwrite, |e| {
                matches!(e, Error::InvalidPath { .. })
            }),
            ("../src", "x", WriteMode::Overwrite, |e| {
                matches!(e, Error::InvalidPath { .. })
            }),
            ("src", "new/../x", WriteMode::Overwrite, |e| {
                matches!(e, Error::InvalidPath { .. })
            }),
            ("src", "new/.seerstore-tmp.x", WriteMode::Overwrite, |e| {
                matches!(e, Error::InvalidPath { .. })
            }),
            (
                "missing",
                "new/dir/x",
                WriteMode::Overwrite,
                Error::is_not_found,
            ),
            (
                "missing/deeper",
                "new/x",
                current.clone(),
                Error::is_not_found,
            ),
            ("src", "d/dst", WriteMode::Create, Error::is_already_exists),
            ("src", "d/dst", stale.clone(), Error::is_precondition),
            ("src", "new/dir/x", stale.clone(), Error::is_precondition),
            ("src", "new/dir/x", current.clone(), Error::is_precondition),
            ("src", "link", WriteMode::Overwrite, |e| !e.is_retryable()),
        ];
        for (from, to, mode, expected) in cases {
            let outcome = call(from, to, mode.clone()).await;
            let err = outcome
                .err()
                .ok_or_else(|| format!("{op}({from}, {to}, {mode:?}) succeeded"))?;
            assert!(expected(&err), "{op}({from}, {to}, {mode:?}): {err}");
            assert_eq!(
                snapshot(tmp.path())?,
                before,
                "{op}({from}, {to}, {mode:?}) changed the tree"
            );
        }
    }
    // Moving a symlink is refused like deleting one.
    let err = storage
        .rename("link", "moved", WriteMode::Overwrite)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    assert_eq!(snapshot(tmp.path())?, before);
    Ok(())
}

#[tokio::test]
async fn copy_publishes_like_a_write() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let big = support::data(3 << 20, 7);
    let source = storage.write("L0/big.sst", big.clone()).await?;
    storage
        .write("backup/big.sst", Bytes::from_static(b"old"))
        .await?;
    assert_eq!(storage.read("backup/big.sst").await?, "old"); // a cached handle
    let copied = storage
        .copy("L0/big.sst", "backup/big.sst", WriteMode::Overwrite)
        .await?;
    assert_eq!(
        storage.read("backup/big.sst").await?,
        big,
        "the stale handle was dropped"
    );
    assert_eq!(storage.head("backup/big.sst").await?, copied);
    assert_ne!(copied.version, source.version, "a copy is a new file");
    assert_eq!(
        storage.head("L0/big.sst").await?,
        source,
        "the source is unchanged"
    );

    let again = storage
        .copy(
            "L0/big.sst",
            "backup/big.sst",
            WriteMode::Update(copied.version.clone().ok_or("no version")?),
        )
        .await?;
    let created = storage
        .copy("L0/big.sst", "deep/new/dir/big.sst", WriteMode::Create)
        .await?;
    assert_eq!(storage.read("deep/new/dir/big.sst").await?, big);
    assert_eq!(again.size, created.size);
    storage.write("empty", Bytes::new()).await?;
    storage
        .copy("empty", "empty-copy", WriteMode::Create)
        .await?;
    assert_eq!(storage.read("empty-copy").await?, "");
    assert!(support::temp_files(tmp.path())?.is_empty());
    Ok(())
}

#[tokio::test]
async fn rename_moves_atomically_and_invalidates_both_keys() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    storage.write("a/from", Bytes::from_static(b"new")).await?;
    storage.write("b/to", Bytes::from_static(b"old")).await?;
    // Cached handles of both keys.
    assert_eq!(storage.read("a/from").await?, "new");
    assert_eq!(storage.read("b/to").await?, "old");
    let moved = storage
        .rename("a/from", "b/to", WriteMode::Overwrite)
        .await?;
    assert!(storage.read("a/from").await.unwrap_err().is_not_found());
    assert_eq!(storage.read("b/to").await?, "new");
    assert_eq!(storage.head("b/to").await?, moved);
    let read = storage.read_with("b/to", ReadOptions::default()).await?;
    assert_eq!(read.meta.version, moved.version);

    // Into directories that do not exist yet; Update names the target.
    let moved = storage.rename("b/to", "c/d/e", WriteMode::Create).await?;
    storage.write("f", Bytes::from_static(b"f")).await?;
    let version = moved.version.clone().ok_or("no version")?;
    storage
        .rename("f", "c/d/e", WriteMode::Update(version))
        .await?;
    assert_eq!(storage.read("c/d/e").await?, "f");
    let keys: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
    assert_eq!(keys, ["c/d/e"]);
    Ok(())
}

/// A reader following an object renamed along a chain of keys always
/// finds it, whole, at the key it is at or a later one: never at neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_object_is_always_at_one_of_its_keys() -> TestResult {
    const HOPS: usize = 300;
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let payload = support::data(10_000, 3);
    let key = |n: usize| format!("dir{}/k{n:04}", n % 3);
    storage.write(&key(0), payload.clone()).await?;
    let mover = {
        let storage = storage.clone();
        tokio::spawn(async move {
            for n in 0..HOPS {
                storage
                    .rename(&key(n), &key(n + 1), WriteMode::Create)
                    .await?;
            }
            Ok::<(), Error>(())
        })
    };
    let mut at = 0;
    let mut scans = 0;
    while at < HOPS {
        let mut found = None;
        for n in at..=HOPS {
            match storage.read(&key(n)).await {
                Ok(data) => {
                    assert_eq!(data, payload, "a torn object at {}", key(n));
                    found = Some(n);
                    break;
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        at = found.ok_or_else(|| format!("the object was at none of its keys from {}", key(at)))?;
        scans += 1;
    }
    mover.await??;
    assert!(scans > 0);
    Ok(())
}

/// Racing `rename(.., Create)`s onto one key, from two instances: exactly
/// one wins (renameat2(RENAME_NOREPLACE)); the losers keep their sources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_create_renames_have_one_winner() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let a = LocalStorage::open(tmp.path()).await?;
    let b = LocalStorage::open(tmp.path()).await?;
    for round in 0..20 {
        let target = format!("CURRENT-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let storage = if i % 2 == 0 { a.clone() } else { b.clone() };
            let source = format!("tmp/{round}-{i}");
            storage.write(&source, Bytes::from(vec![i; 64])).await?;
            let (barrier, target) = (barrier.clone(), target.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                (
                    i,
                    source.clone(),
                    storage.rename(&source, &target, WriteMode::Create).await,
                )
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (i, source, outcome) = task.await?;
            match outcome {
                Ok(_) => winners.push(i),
                Err(e) if e.is_already_exists() => {
                    assert_eq!(
                        a.read(&source).await?,
                        vec![i; 64],
                        "a loser's source is kept"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(a.read(&target).await?, vec![winners[0]; 64]);
    }
    Ok(())
}
