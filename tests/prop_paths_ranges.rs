//! Property tests (proptest, fixed seed through `PROPTEST_RNG_SEED` or the
//! default deterministic runner): path validation, range arithmetic and
//! range coalescing in `read_ranges`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use seerstore::path::{validate_path, MAX_PATH_BYTES, RESERVED_PREFIX};
use seerstore::{check_range, Error, LocalStorage, ObjectStorage, Operation, Storage};

/// A runner with a fixed seed, so every run tries the same cases.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Keys built from the characters that matter: separators, dots, escapes,
/// control characters, look-alikes and plain letters.
fn key_strategy() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "/",
        ".",
        "..",
        "\\",
        "\0",
        "\n",
        "\u{7f}",
        "%2e",
        "%2f",
        "a",
        "b",
        "L0",
        "\u{2215}",
        "\u{FF0F}",
        "\u{FF0E}",
        "é",
        " ",
        "-",
        "_",
        ".seerstore-tmp",
        "~",
    ]);
    prop::collection::vec(atoms, 0..12).prop_map(|parts| parts.concat())
}

#[test]
fn accepted_keys_are_clean_and_round_trip_on_local_disk() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("temp dir");
    let storage = rt.block_on(LocalStorage::open(tmp.path())).expect("open");
    let accepted = std::cell::Cell::new(0u32);
    runner(512)
        .run(&key_strategy(), |key| {
            let Ok(valid) = validate_path(Operation::Write, &key) else {
                return Ok(());
            };
            prop_assert_eq!(valid, key.as_str());
            accepted.set(accepted.get() + 1);
            prop_assert!(key.len() <= MAX_PATH_BYTES);
            prop_assert!(!key.starts_with('/') && !key.ends_with('/'));
            prop_assert!(!key.contains('\\'));
            prop_assert!(!key.chars().any(char::is_control), "{:?}", key);
            for segment in key.split('/') {
                prop_assert!(!segment.is_empty(), "{:?}", key);
                prop_assert!(segment != "." && segment != "..", "{:?}", key);
                prop_assert!(!segment.starts_with(RESERVED_PREFIX), "{:?}", key);
            }
            // Round trip: written, listed as itself, read back, deleted.
            let result: seerstore::Result<()> = rt.block_on(async {
                let data = Bytes::from(key.clone());
                match storage.write(&key, data.clone()).await {
                    Ok(_) => {}
                    // A file cannot also be a directory (`a` and `a/b`).
                    Err(Error::Io { .. }) | Err(Error::AlreadyExists { .. }) => return Ok(()),
                    Err(e) => return Err(e),
                }
                let listed: Vec<String> = storage.list("").map_ok(|m| m.path).try_collect().await?;
                assert!(listed.contains(&key), "{key:?} not in {listed:?}");
                assert_eq!(storage.read(&key).await?, data);
                storage.delete(&key).await
            });
            prop_assert!(result.is_ok(), "{:?}: {:?}", key, result);
            Ok(())
        })
        .expect("property holds");
    // Guard against a strategy that only ever produces rejected keys.
    let accepted = accepted.get();
    assert!(accepted > 50, "only {accepted} keys accepted");
}

#[test]
fn check_range_accepts_exactly_the_ranges_inside_the_object() {
    let value = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        0u64..64,
        any::<u64>()
    ];
    runner(4096)
        .run(
            &(value.clone(), value.clone(), value),
            |(start, end, size)| {
                let result = check_range(Operation::ReadRange, "k", &(start..end), size);
                let inside = start <= end && end <= size;
                prop_assert_eq!(result.is_ok(), inside, "{}..{} of {}", start, end, size);
                if let Err(err) = result {
                    let is_invalid_range = matches!(err, Error::InvalidRange { .. });
                    prop_assert!(is_invalid_range, "{:?}", err);
                }
                Ok(())
            },
        )
        .expect("property holds");
}

fn ranges_strategy() -> impl Strategy<Value = (usize, Vec<Range<u64>>)> {
    (0usize..4096).prop_flat_map(|size| {
        let bound = size as u64 + 2; // a few ranges end past the object
        let range = (0..=bound, 0..=bound).prop_map(|(a, b)| a.min(b)..a.max(b));
        (Just(size), prop::collection::vec(range, 0..24))
    })
}

/// `read_ranges` equals one `read_range` per range, or is `InvalidRange`
/// exactly when one of the ranges is.
fn coalescing_matches_single_reads(storage: &dyn Storage, cases: u32) {
    let rt = runtime();
    runner(cases)
        .run(&ranges_strategy(), |(size, ranges)| {
            rt.block_on(async {
                let data = Bytes::from((0..size).map(|i| (i * 31 % 256) as u8).collect::<Vec<_>>());
                storage.write("obj", data).await.expect("write");
                let batch = storage.read_ranges("obj", &ranges).await;
                let mut single = Vec::new();
                for range in &ranges {
                    single.push(storage.read_range("obj", range.clone()).await);
                }
                if single.iter().all(Result::is_ok) {
                    let single: Vec<Bytes> = single.into_iter().map(|r| r.expect("ok")).collect();
                    assert_eq!(batch.expect("batch"), single, "{size} {ranges:?}");
                } else {
                    assert!(
                        matches!(batch, Err(Error::InvalidRange { .. })),
                        "{size} {ranges:?}: {batch:?}"
                    );
                }
            });
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn read_ranges_equals_read_range_on_in_memory() {
    let storage = ObjectStorage::new(Arc::new(object_store::memory::InMemory::new()));
    coalescing_matches_single_reads(&storage, 256);
}

#[test]
fn read_ranges_equals_read_range_on_local_disk() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let storage = runtime()
        .block_on(LocalStorage::open(tmp.path()))
        .expect("open");
    coalescing_matches_single_reads(&storage, 128);
}
