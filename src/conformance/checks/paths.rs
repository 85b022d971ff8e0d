//! Key rules: rejected before any I/O, listed back in the form read takes.

use bytes::Bytes;
use futures::StreamExt;

use super::{
    bad_keys, ensure, expect_err, is_invalid_path, list_keys, pattern, step, BAD_PREFIXES,
};
use crate::conformance::{Context, Outcome};
use crate::{Error, WriteMode};

pub(super) async fn invalid_paths_rejected_everywhere(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let before = list_keys(s, "").await?;
    for key in bad_keys() {
        let k = key.as_str();
        let d = Bytes::from_static(b"x");
        expect_err(
            &format!("read({k:?})"),
            s.read(k).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("read_range({k:?})"),
            s.read_range(k, 0..1).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("read_ranges({k:?})"),
            s.read_ranges(k, &[0..1]).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("head({k:?})"),
            s.head(k).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("exists({k:?})"),
            s.exists(k).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("write({k:?})"),
            s.write(k, d.clone()).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        for mode in [WriteMode::Create, WriteMode::Update("v".into())] {
            expect_err(
                &format!("write_with({k:?}, {mode:?})"),
                s.write_with(k, d.clone(), mode).await,
                "InvalidPath",
                is_invalid_path,
            )?;
        }
        match s.writer(k).await {
            Ok(_) => return Err(format!("writer({k:?}): expected InvalidPath, got a writer")),
            Err(e) => ensure!(
                is_invalid_path(&e),
                "writer({k:?}): expected InvalidPath, got {e}"
            ),
        }
        expect_err(
            &format!("delete({k:?})"),
            s.delete(k).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        expect_err(
            &format!("sync({k:?})"),
            s.sync(k).await,
            "InvalidPath",
            is_invalid_path,
        )?;
    }
    let after = list_keys(s, "").await?;
    ensure!(
        before == after,
        "rejected calls changed the stored keys: {before:?} -> {after:?}"
    );
    Ok(())
}

pub(super) async fn longest_key_accepted(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let budget = cx.caps.max_key_bytes.min(crate::path::MAX_PATH_BYTES);
    // ns/ + segments of at most max_segment_bytes joined by '/'.
    let mut key = format!("{}/", cx.ns);
    let seg_max = cx.caps.max_segment_bytes.min(200);
    while key.len() < budget {
        let room = budget - key.len();
        let seg = room.min(seg_max);
        if seg == 0 {
            break;
        }
        key.push_str(&"s".repeat(seg));
        if key.len() + 2 <= budget {
            key.push('/');
        } else {
            break;
        }
    }
    let key = key.trim_end_matches('/').to_owned();
    ensure!(
        key.len() <= budget,
        "built key of {} bytes over {budget}",
        key.len()
    );
    let data = pattern(1, 100);
    step(
        &format!("write of a {}-byte key", key.len()),
        s.write(&key, data.clone()).await,
    )?;
    let back = step("read of the long key", s.read(&key).await)?;
    ensure!(back == data, "the long key read back other bytes");
    let keys = list_keys(s, &cx.ns).await?;
    ensure!(
        keys == vec![key.clone()],
        "list did not return the long key: {keys:?}"
    );
    step("delete", s.delete(&key).await)?;
    Ok(())
}

pub(super) async fn listed_paths_read_back(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let names = [
        "plain.sst",
        "L0/000001.sst",
        "L0/deep/er/000002.sst",
        "with space.log",
        "percent%20sign",
        "hash#and+plus=eq",
        "ünïcödé/ключ.sst",
        ".hidden",
        "a..b",
        "MANIFEST-000001",
    ];
    let mut expected = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let key = cx.key(name);
        step(
            &format!("write({key:?})"),
            s.write(&key, pattern(i as u64, 10 + i)).await,
        )?;
        expected.push(key);
    }
    expected.sort();
    let listed = list_keys(s, &cx.ns).await?;
    ensure!(
        listed == expected,
        "list({:?}) = {listed:?}, expected {expected:?}",
        cx.ns
    );
    let all = list_keys(s, "").await?;
    for key in &expected {
        ensure!(all.contains(key), "list(\"\") misses {key:?}");
    }
    let metas: Vec<_> = s.list(&cx.ns).collect().await;
    for meta in metas {
        let meta = step("list entry", meta)?;
        let i = names
            .iter()
            .position(|n| cx.key(n) == meta.path)
            .ok_or_else(|| format!("unexpected listed key {:?}", meta.path))?;
        ensure!(
            meta.size == (10 + i) as u64,
            "listed size of {:?} is {}, wrote {}",
            meta.path,
            meta.size,
            10 + i
        );
        let back = step(
            &format!("read(listed {:?})", meta.path),
            s.read(&meta.path).await,
        )?;
        ensure!(
            back == pattern(i as u64, 10 + i),
            "read of listed {:?} returned other bytes",
            meta.path
        );
    }
    Ok(())
}

pub(super) async fn list_prefix_whole_segments(cx: Context) -> Outcome {
    let s = &*cx.storage;
    for name in ["L0/a.sst", "L0/sub/b.sst", "L00/c.sst", "L0x", "M/d.sst"] {
        step(
            "write",
            s.write(&cx.key(name), Bytes::from_static(b"x")).await,
        )?;
    }
    let l0 = list_keys(s, &cx.key("L0")).await?;
    let want = vec![cx.key("L0/a.sst"), cx.key("L0/sub/b.sst")];
    ensure!(l0 == want, "list(\"L0\") = {l0:?}, expected {want:?}");
    let l0_slash = list_keys(s, &format!("{}/", cx.key("L0"))).await?;
    ensure!(
        l0_slash == want,
        "list(\"L0/\") = {l0_slash:?}, expected {want:?}"
    );
    let sub = list_keys(s, &cx.key("L0/sub")).await?;
    ensure!(
        sub == vec![cx.key("L0/sub/b.sst")],
        "list(\"L0/sub\") = {sub:?}"
    );
    let missing = list_keys(s, &cx.key("nothing/here")).await?;
    ensure!(missing.is_empty(), "list of a missing prefix = {missing:?}");
    let ns = list_keys(s, &cx.ns).await?;
    ensure!(ns.len() == 5, "list(ns) = {ns:?}, expected 5 keys");
    // A prefix lists keys strictly below it, not an object named like it.
    let one = list_keys(s, &cx.key("L0x")).await?;
    ensure!(
        one.is_empty(),
        "list of an object's own key = {one:?}, expected nothing"
    );
    // Nor is a prefix running through an object an error: nothing is below.
    let below = list_keys(s, &cx.key("L0x/below")).await?;
    ensure!(
        below.is_empty(),
        "list below an object = {below:?}, expected nothing"
    );
    Ok(())
}

pub(super) async fn file_and_dir_keys(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (a, ab) = (cx.key("a"), cx.key("a/b"));
    step("write a", s.write(&a, Bytes::from_static(b"file")).await)?;
    step(
        "write a/b",
        s.write(&ab, Bytes::from_static(b"below")).await,
    )?;
    ensure!(step("read a", s.read(&a).await)? == "file", "a changed");
    ensure!(step("read a/b", s.read(&ab).await)? == "below", "a/b wrong");
    let keys = list_keys(s, &cx.ns).await?;
    ensure!(keys == vec![a.clone(), ab.clone()], "list = {keys:?}");
    Ok(())
}

pub(super) async fn invalid_list_prefix_rejected(cx: Context) -> Outcome {
    let s = &*cx.storage;
    for prefix in BAD_PREFIXES {
        let first = s.list(prefix).next().await;
        match first {
            Some(Err(Error::InvalidPath { .. })) => {}
            other => {
                return Err(format!(
                    "list({prefix:?}) yielded {other:?}, expected InvalidPath"
                ))
            }
        }
    }
    let _ = cx;
    Ok(())
}
