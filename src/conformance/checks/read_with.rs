//! `read_with`: data and metadata of one version, conditions, ranges.

use std::ops::Range;

use bytes::Bytes;

use super::{
    bad_keys, ensure, expect_err, is_invalid_path, is_invalid_range, pattern, show, size_carried,
    step,
};
use crate::conformance::{Context, Outcome};
use crate::{Error, Operation, ReadOptions, ReadResult, Storage};

/// `read_with` of `range`, on no condition.
pub(super) async fn read_with_range(
    s: &dyn Storage,
    key: &str,
    range: Option<Range<u64>>,
) -> crate::Result<ReadResult> {
    s.read_with(
        key,
        ReadOptions {
            range,
            ..Default::default()
        },
    )
    .await
}

/// Checks one answer against the object it must come from: the bytes of
/// `range` (the whole object for `None`), the whole size, `version`.
fn ensure_answer(
    what: &str,
    got: &ReadResult,
    key: &str,
    data: &Bytes,
    range: Range<u64>,
    version: &Option<String>,
) -> Outcome {
    ensure!(
        got.meta.path == key,
        "{what}: meta.path {:?}, expected {key:?}",
        got.meta.path
    );
    ensure!(
        got.meta.size == data.len() as u64,
        "{what}: meta.size {} is not the whole object's {}",
        got.meta.size,
        data.len()
    );
    ensure!(
        got.range == range,
        "{what}: reported range {:?}, expected {range:?}",
        got.range
    );
    let want = &data[range.start as usize..range.end as usize];
    ensure!(
        got.data == want,
        "{what}: returned {} for {range:?}",
        show(&got.data)
    );
    ensure!(
        &got.meta.version == version,
        "{what}: meta.version {:?}, head says {version:?}",
        got.meta.version
    );
    Ok(())
}

pub(super) async fn read_with_pairs_data_and_meta(cx: Context) -> Outcome {
    let s = &*cx.storage;
    for len in [0usize, 1, 10_000, (1 << 20) + 3] {
        let key = cx.key(&format!("obj-{len}"));
        let data = pattern(len as u64, len);
        step("write", s.write(&key, data.clone()).await)?;
        let version = step("head", s.head(&key).await)?.version;
        let size = len as u64;
        let whole = step("read_with(whole)", read_with_range(s, &key, None).await)?;
        ensure_answer("read_with(whole)", &whole, &key, &data, 0..size, &version)?;
        let mut ranges = vec![0..0, 0..size, size..size];
        if size > 0 {
            ranges.extend([0..1, size - 1..size, size / 3..size / 2 + 1]);
        }
        for r in ranges {
            let what = format!("read_with({r:?}) of {len} bytes");
            let got = step(&what, read_with_range(s, &key, Some(r.clone())).await)?;
            ensure_answer(&what, &got, &key, &data, r, &version)?;
        }
    }
    Ok(())
}

/// `manifest` written twice, 100 bytes then the 150 bytes of `data`:
/// `(key, data, the first (now stale) version, the second as
/// `ensure_answer` expects it, the second unwrapped)`.
async fn two_versions(
    cx: &Context,
) -> Result<(String, Bytes, String, Option<String>, String), String> {
    let s = &*cx.storage;
    let key = cx.key("manifest");
    let old = step("write v1", s.write(&key, pattern(1, 100)).await)?.version;
    let data = pattern(2, 150);
    let current = step("write v2", s.write(&key, data.clone()).await)?.version;
    let (Some(old), Some(current_v)) = (old, current.clone()) else {
        return Err("writes returned no version".into());
    };
    Ok((key, data, old, current, current_v))
}

pub(super) async fn read_with_if_match(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (key, data, old, current, current_v) = two_versions(&cx).await?;
    let with = |if_match: &str, range: Option<Range<u64>>| ReadOptions {
        range,
        if_match: Some(if_match.to_owned()),
        ..Default::default()
    };
    let got = step(
        "read_with(if_match = current)",
        s.read_with(&key, with(&current_v, None)).await,
    )?;
    ensure_answer("if_match = current", &got, &key, &data, 0..150, &current)?;
    let got = step(
        "read_with(10..20, if_match = current)",
        s.read_with(&key, with(&current_v, Some(10..20))).await,
    )?;
    ensure_answer(
        "10..20, if_match = current",
        &got,
        &key,
        &data,
        10..20,
        &current,
    )?;
    for (what, version) in [
        ("a stale version", old.as_str()),
        ("a made-up version", "no-such-version"),
    ] {
        let e = expect_err(
            &format!("read_with(if_match = {what})"),
            s.read_with(&key, with(version, None)).await,
            "Precondition",
            Error::is_precondition,
        )?;
        ensure!(
            e.path() == Some(key.as_str()),
            "Precondition names {:?}, expected {key:?}",
            e.path()
        );
        expect_err(
            &format!("read_with(0..10, if_match = {what})"),
            s.read_with(&key, with(version, Some(0..10))).await,
            "Precondition",
            Error::is_precondition,
        )?;
    }
    expect_err(
        "read_with(if_match) of a missing object",
        s.read_with(&cx.key("missing"), with(&current_v, None))
            .await,
        "NotFound",
        Error::is_not_found,
    )?;
    Ok(())
}

pub(super) async fn read_with_if_none_match(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (key, data, old, current, current_v) = two_versions(&cx).await?;
    let with = |if_none_match: &str, range: Option<Range<u64>>| ReadOptions {
        range,
        if_none_match: Some(if_none_match.to_owned()),
        ..Default::default()
    };
    for range in [None, Some(0..10)] {
        let e = expect_err(
            &format!("read_with({range:?}, if_none_match = current)"),
            s.read_with(&key, with(&current_v, range)).await,
            "NotModified",
            Error::is_not_modified,
        )?;
        ensure!(
            e.path() == Some(key.as_str()) && e.operation() == Some(Operation::ReadWith),
            "NotModified names {:?} {:?}, expected read_with {key:?}",
            e.operation(),
            e.path()
        );
    }
    for (what, version) in [
        ("a stale version", old.as_str()),
        ("a made-up version", "no-such-version"),
    ] {
        let got = step(
            &format!("read_with(if_none_match = {what})"),
            s.read_with(&key, with(version, None)).await,
        )?;
        ensure_answer(
            &format!("if_none_match = {what}"),
            &got,
            &key,
            &data,
            0..150,
            &current,
        )?;
        let got = step(
            &format!("read_with(5..9, if_none_match = {what})"),
            s.read_with(&key, with(version, Some(5..9))).await,
        )?;
        ensure_answer(
            &format!("5..9, if_none_match = {what}"),
            &got,
            &key,
            &data,
            5..9,
            &current,
        )?;
    }
    Ok(())
}

pub(super) async fn read_with_invalid_ranges(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let size = 1000u64;
    step("write", s.write(&key, pattern(3, size as usize)).await)?;
    for r in [
        5..3,
        1000..999,
        0..1001,
        999..1001,
        1001..1001,
        1001..2000,
        0..u64::MAX,
    ] {
        let what = format!("read_with({r:?}) of {size} bytes");
        let e = expect_err(
            &what,
            read_with_range(s, &key, Some(r.clone())).await,
            "InvalidRange",
            is_invalid_range,
        )?;
        size_carried(&what, &e, size)?;
        if r.start <= r.end {
            // Inverted ranges are refused before the size is known.
            ensure!(
                e.path() == Some(key.as_str()),
                "{what}: InvalidRange names {:?}",
                e.path()
            );
        }
    }
    Ok(())
}

pub(super) async fn read_with_clamp_to_size(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let data = pattern(4, 1000);
    step("write", s.write(&key, data.clone()).await)?;
    let version = step("head", s.head(&key).await)?.version;
    let clamped = |range: Option<Range<u64>>| ReadOptions {
        range,
        clamp_to_size: true,
        ..Default::default()
    };
    for (asked, cut) in [
        (Some(0..u64::MAX), 0..1000),
        (Some(600..u64::MAX), 600..1000),
        (Some(990..1010), 990..1000),
        (Some(10..20), 10..20),
        (Some(0..1000), 0..1000),
        (Some(1000..1005), 1000..1000),
        (None, 0..1000),
    ] {
        let what = format!("read_with({asked:?}, clamp_to_size)");
        let got = step(&what, s.read_with(&key, clamped(asked)).await)?;
        ensure_answer(&what, &got, &key, &data, cut, &version)?;
    }
    for r in [1001..1002, 1001..u64::MAX, 20..10] {
        let what = format!("read_with({r:?}, clamp_to_size) of 1000 bytes");
        let e = expect_err(
            &what,
            s.read_with(&key, clamped(Some(r))).await,
            "InvalidRange",
            is_invalid_range,
        )?;
        size_carried(&what, &e, 1000)?;
    }
    let empty = cx.key("empty");
    step("write empty", s.write(&empty, Bytes::new()).await)?;
    let got = step(
        "read_with(0..MAX, clamp_to_size) of an empty object",
        s.read_with(&empty, clamped(Some(0..u64::MAX))).await,
    )?;
    ensure!(
        got.data.is_empty() && got.range == (0..0) && got.meta.size == 0,
        "clamped read of an empty object: range {:?}, size {}, {} bytes",
        got.range,
        got.meta.size,
        got.data.len()
    );
    Ok(())
}

pub(super) async fn read_with_missing_and_invalid(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("missing");
    for range in [None, Some(0..10), Some(5..3)] {
        let what = format!("read_with({range:?}) of a missing object");
        // An inverted range may be refused before the object is looked up.
        let ok = |e: &Error| e.is_not_found() || (range == Some(5..3) && is_invalid_range(e));
        let e = expect_err(
            &what,
            read_with_range(s, &key, range.clone()).await,
            "NotFound",
            ok,
        )?;
        if e.is_not_found() {
            ensure!(
                e.path() == Some(key.as_str()) && e.operation() == Some(Operation::ReadWith),
                "{what}: the error names {:?} {:?}, expected read_with {key:?}",
                e.operation(),
                e.path()
            );
        }
    }
    let clamped = ReadOptions {
        range: Some(0..u64::MAX),
        clamp_to_size: true,
        ..Default::default()
    };
    expect_err(
        "clamped read_with of a missing object",
        s.read_with(&key, clamped).await,
        "NotFound",
        Error::is_not_found,
    )?;
    for bad in bad_keys() {
        expect_err(
            &format!("read_with({bad:?})"),
            read_with_range(s, &bad, None).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("read_with({bad:?}, 0..1)"),
            read_with_range(s, &bad, Some(0..1)).await,
            "InvalidPath",
            is_invalid_path,
        )?;
    }
    Ok(())
}
