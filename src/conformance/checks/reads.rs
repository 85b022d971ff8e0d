//! Reads: exact ranges, edge cases, NotFound, read_ranges equivalence.

use std::ops::Range;

use bytes::Bytes;

use super::{ensure, expect_err, is_invalid_range, pattern, show, size_carried, step, Rng};
use crate::conformance::{Context, Outcome};
use crate::{Error, Operation};

pub(super) async fn read_range_exact_bytes(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let data = pattern(7, 100_000);
    step("write", s.write(&key, data.clone()).await)?;
    let mut rng = Rng::new(11);
    let mut ranges: Vec<Range<u64>> = vec![0..1, 0..100_000, 99_999..100_000, 4096..8192, 1..2];
    for _ in 0..32 {
        let a = rng.below(100_000);
        let b = a + rng.below(100_000 - a + 1);
        ranges.push(a..b);
    }
    for r in ranges {
        let got = step(
            &format!("read_range({r:?})"),
            s.read_range(&key, r.clone()).await,
        )?;
        let want = &data[r.start as usize..r.end as usize];
        ensure!(
            got.len() as u64 == r.end - r.start,
            "read_range({r:?}) returned {} bytes",
            got.len()
        );
        ensure!(
            got == want,
            "read_range({r:?}) returned other bytes: {}",
            show(&got)
        );
    }
    Ok(())
}

pub(super) async fn read_range_empty_ranges(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    step("write", s.write(&key, pattern(3, 10)).await)?;
    for r in [0..0, 5..5, 10..10] {
        let got = step(
            &format!("read_range({r:?})"),
            s.read_range(&key, r.clone()).await,
        )?;
        ensure!(
            got.is_empty(),
            "read_range({r:?}) returned {} bytes",
            got.len()
        );
    }
    let e = expect_err(
        "read_range(11..11)",
        s.read_range(&key, 11..11).await,
        "InvalidRange",
        is_invalid_range,
    )?;
    size_carried("read_range(11..11)", &e, 10)?;
    let empty = cx.key("empty");
    step("write empty", s.write(&empty, Bytes::new()).await)?;
    let got = step(
        "read_range(0..0) of an empty object",
        s.read_range(&empty, 0..0).await,
    )?;
    ensure!(
        got.is_empty(),
        "empty object: read_range(0..0) returned bytes"
    );
    expect_err(
        "read_range(0..1) of an empty object",
        s.read_range(&empty, 0..1).await,
        "InvalidRange",
        is_invalid_range,
    )?;
    Ok(())
}

pub(super) async fn read_range_past_end_invalid(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    step("write", s.write(&key, pattern(4, 1000)).await)?;
    for r in [
        0..1001,
        999..1001,
        1000..1001,
        2000..3000,
        0..u64::MAX,
        (u64::MAX - 1)..u64::MAX,
    ] {
        let e = expect_err(
            &format!("read_range({r:?})"),
            s.read_range(&key, r.clone()).await,
            "InvalidRange",
            is_invalid_range,
        )?;
        size_carried(&format!("read_range({r:?})"), &e, 1000)?;
    }
    Ok(())
}

pub(super) async fn read_range_inverted_invalid(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    step("write", s.write(&key, pattern(5, 100)).await)?;
    #[allow(clippy::reversed_empty_ranges)]
    for r in [10..5, 100..0, 1..0, u64::MAX..0] {
        expect_err(
            &format!("read_range({r:?})"),
            s.read_range(&key, r.clone()).await,
            "InvalidRange",
            is_invalid_range,
        )?;
    }
    Ok(())
}

pub(super) async fn sync_of_missing_not_found(cx: Context) -> Outcome {
    let key = cx.key("missing/object.sst");
    expect_err(
        "sync",
        cx.storage.sync(&key).await,
        "NotFound",
        Error::is_not_found,
    )?;
    Ok(())
}

pub(super) async fn missing_object_not_found(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("missing/object.sst");
    let nf = |e: &Error| e.is_not_found();
    expect_err("read", s.read(&key).await, "NotFound", nf)?;
    expect_err(
        "read_range",
        s.read_range(&key, 0..10).await,
        "NotFound",
        nf,
    )?;
    expect_err(
        "read_range(0..0)",
        s.read_range(&key, 0..0).await,
        "NotFound",
        nf,
    )?;
    expect_err(
        "read_ranges",
        s.read_ranges(&key, &[0..1, 2..3]).await,
        "NotFound",
        nf,
    )?;
    expect_err("head", s.head(&key).await, "NotFound", nf)?;
    ensure!(
        !step("exists", s.exists(&key).await)?,
        "exists() of a missing object is true"
    );
    // A key whose parent is missing, and one whose "parent" is an object.
    step(
        "write",
        s.write(&cx.key("file"), Bytes::from_static(b"x")).await,
    )?;
    expect_err(
        "read below an object",
        s.read(&cx.key("file/below")).await,
        "NotFound",
        nf,
    )?;
    expect_err(
        "head below an object",
        s.head(&cx.key("file/below")).await,
        "NotFound",
        nf,
    )?;
    ensure!(
        !step(
            "exists below an object",
            s.exists(&cx.key("file/below")).await
        )?,
        "exists below an object"
    );
    Ok(())
}

pub(super) async fn read_ranges_equal_read_range(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let len = 3 << 20;
    let data = pattern(8, len);
    step("write", s.write(&key, data.clone()).await)?;
    let mut rng = Rng::new(42);
    for round in 0..6 {
        let n = 1 + rng.below(40) as usize;
        let mut ranges = Vec::with_capacity(n);
        for _ in 0..n {
            let a = rng.below(len as u64);
            let span = match rng.below(4) {
                0 => 0,
                1 => rng.below(64),
                2 => rng.below(64 << 10),
                _ => rng.below(len as u64 - a + 1),
            };
            ranges.push(a..(a + span).min(len as u64));
        }
        if round == 0 {
            // Duplicates, adjacency, overlap, reverse order.
            ranges.extend([0..10, 0..10, 10..20, 5..15, 2_000_000..2_000_100, 100..200]);
        }
        let got = step(
            &format!("read_ranges (round {round})"),
            s.read_ranges(&key, &ranges).await,
        )?;
        ensure!(
            got.len() == ranges.len(),
            "read_ranges returned {} results for {} ranges",
            got.len(),
            ranges.len()
        );
        for (r, b) in ranges.iter().zip(&got) {
            let single = step("read_range", s.read_range(&key, r.clone()).await)?;
            ensure!(
                *b == single,
                "read_ranges result for {r:?} differs from read_range"
            );
            ensure!(
                *b == data[r.start as usize..r.end as usize],
                "read_ranges result for {r:?} is wrong"
            );
        }
    }
    let none = step("read_ranges(&[])", s.read_ranges(&key, &[]).await)?;
    ensure!(none.is_empty(), "read_ranges of no ranges returned results");
    Ok(())
}

pub(super) async fn read_ranges_errors_like_read_range(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    step("write", s.write(&key, pattern(9, 1000)).await)?;
    #[allow(clippy::reversed_empty_ranges)]
    let bad: [&[Range<u64>]; 3] = [&[0..10, 999..1001], &[5..4], &[0..1, 0..u64::MAX]];
    for ranges in bad {
        let e = expect_err(
            &format!("read_ranges({ranges:?})"),
            s.read_ranges(&key, ranges).await,
            "InvalidRange",
            is_invalid_range,
        )?;
        size_carried("read_ranges", &e, 1000)?;
    }
    expect_err(
        "read_ranges of a missing object",
        s.read_ranges(&cx.key("missing"), &[0..1]).await,
        "NotFound",
        Error::is_not_found,
    )?;
    Ok(())
}

pub(super) async fn head_matches_write(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("dir/obj");
    let written = step("write", s.write(&key, pattern(10, 1234)).await)?;
    ensure!(
        written.path == key,
        "write returned path {:?}, expected {key:?}",
        written.path
    );
    ensure!(written.size == 1234, "write returned size {}", written.size);
    let head = step("head", s.head(&key).await)?;
    ensure!(
        head.path == key,
        "head path {:?}, expected {key:?}",
        head.path
    );
    ensure!(head.size == 1234, "head size {}", head.size);
    if cx.caps.versions {
        ensure!(head.version.is_some(), "head returned no version");
        ensure!(
            head.version == written.version,
            "head version {:?} != write's {:?}",
            head.version,
            written.version
        );
    }
    ensure!(
        step("exists", s.exists(&key).await)?,
        "exists() is false after a write"
    );
    let whole = step("read", s.read(&key).await)?;
    ensure!(whole == pattern(10, 1234), "read returned other bytes");
    Ok(())
}

pub(super) async fn errors_name_operation_and_path(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("missing.sst");
    let e = expect_err(
        "read_range",
        s.read_range(&key, 0..1).await,
        "NotFound",
        Error::is_not_found,
    )?;
    let msg = e.to_string();
    ensure!(msg.contains(&key), "message {msg:?} does not name the key");
    ensure!(
        msg.contains("read_range"),
        "message {msg:?} does not name the operation"
    );
    ensure!(
        e.path() == Some(key.as_str()),
        "Error::path() = {:?}",
        e.path()
    );
    ensure!(
        e.operation() == Some(Operation::ReadRange),
        "Error::operation() = {:?}",
        e.operation()
    );
    ensure!(!e.is_retryable(), "NotFound must not be retryable");
    let bad = s
        .read("../x")
        .await
        .err()
        .ok_or("read(\"../x\") succeeded")?;
    ensure!(
        bad.to_string().contains("../x"),
        "InvalidPath message {bad} does not name the key"
    );
    ensure!(!bad.is_retryable(), "InvalidPath must not be retryable");
    Ok(())
}
