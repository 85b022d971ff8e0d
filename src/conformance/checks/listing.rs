//! `list_with` offsets and `list_dir`'s one level.

use bytes::Bytes;
use futures::TryStreamExt;

use super::{ensure, is_invalid_path, step, BAD_PREFIXES};
use crate::conformance::{Context, Outcome};
use crate::{Error, ListOptions, Listing, Storage};

/// Every key `list_with(prefix, offset)` yields, sorted.
async fn keys_after(
    s: &dyn Storage,
    prefix: &str,
    offset: Option<&str>,
) -> crate::Result<Vec<String>> {
    let options = ListOptions {
        offset: offset.map(str::to_owned),
    };
    let mut keys: Vec<String> = s
        .list_with(prefix, options)
        .map_ok(|m| m.path)
        .try_collect()
        .await?;
    keys.sort();
    Ok(keys)
}

async fn write_all(cx: &Context, names: &[&str]) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    for name in names {
        let key = cx.key(name);
        step(
            &format!("write({key:?})"),
            cx.storage.write(&key, Bytes::from(key.clone())).await,
        )?;
        keys.push(key);
    }
    keys.sort();
    Ok(keys)
}

pub(super) async fn list_with_offset_yields_keys_after(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let all = write_all(
        &cx,
        &[
            "j", "k/a", "k/b/1", "k/b/2", "k/c", "k/c0", "k/d/x/y", "k0/z",
        ],
    )
    .await?;
    let prefix = cx.key("k");
    let under: Vec<&String> = all
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}/")))
        .collect();
    for rest in [
        "k/a",   // a key
        "k/b",   // a prefix of keys
        "k/b/1", // a key inside a sub-prefix
        "k/bb",  // between keys
        "k/c",   // a key that prefixes another key's name
        "k/0",   // before every key under the prefix
        "a",     // before the prefix
        "k",     // the prefix itself
        "k/zzz", // past every key under the prefix
        "z",     // past the prefix
    ] {
        let offset = cx.key(rest);
        let want: Vec<String> = under
            .iter()
            .filter(|k| k.as_str() > offset.as_str())
            .map(|k| (*k).clone())
            .collect();
        let got = step(
            &format!("list_with({prefix:?}, offset {offset:?})"),
            keys_after(s, &prefix, Some(&offset)).await,
        )?;
        ensure!(
            got == want,
            "list_with({prefix:?}, offset {offset:?}) = {got:?}, expected {want:?}"
        );
        // From the root: the same keys of this check, plus `k0/z` and others
        // after the offset, never one at or before it.
        let from_root = step(
            &format!("list_with(\"\", offset {offset:?})"),
            keys_after(s, "", Some(&offset)).await,
        )?;
        let ours: Vec<String> = from_root
            .iter()
            .filter(|k| k.starts_with(&format!("{}/", cx.ns)))
            .cloned()
            .collect();
        let want_root: Vec<String> = all
            .iter()
            .filter(|k| k.as_str() > offset.as_str())
            .cloned()
            .collect();
        ensure!(
            ours == want_root,
            "list_with(\"\", offset {offset:?}) yields {ours:?} of this check's keys, expected {want_root:?}"
        );
        if let Some(early) = from_root.iter().find(|k| k.as_str() <= offset.as_str()) {
            return Err(format!(
                "list_with(\"\", offset {offset:?}) yields {early:?}, not after the offset"
            ));
        }
    }
    let no_offset = step("list_with(no offset)", keys_after(s, &prefix, None).await)?;
    let empty_offset = step(
        "list_with(offset \"\")",
        keys_after(s, &prefix, Some("")).await,
    )?;
    let want: Vec<String> = under.iter().map(|k| (*k).clone()).collect();
    ensure!(
        no_offset == want && empty_offset == want,
        "list_with without an offset = {no_offset:?}, with \"\" = {empty_offset:?}, expected {want:?}"
    );
    Ok(())
}

pub(super) async fn list_with_invalid_offset_rejected(cx: Context) -> Outcome {
    let s = &*cx.storage;
    write_all(&cx, &["a", "b"]).await?;
    for offset in [
        "/abs",
        "a//b",
        "../x",
        "x/../y",
        "nul\0byte",
        ".seerstore-tmp.1",
    ] {
        match keys_after(s, &cx.ns, Some(offset)).await {
            Err(Error::InvalidPath { .. }) => {}
            other => {
                return Err(format!(
                    "list_with(offset {offset:?}) yielded {other:?}, expected InvalidPath"
                ))
            }
        }
    }
    Ok(())
}

fn names(listing: &Listing) -> Vec<&str> {
    listing.objects.iter().map(|m| m.path.as_str()).collect()
}

async fn level(s: &dyn Storage, prefix: &str) -> Result<Listing, String> {
    step(&format!("list_dir({prefix:?})"), s.list_dir(prefix).await)
}

pub(super) async fn list_dir_lists_one_level(cx: Context) -> Outcome {
    let s = &*cx.storage;
    write_all(
        &cx,
        &[
            "d/b.sst",
            "d/a.sst",
            "d/sub/x",
            "d/sub/y/z",
            "d/t/1",
            "d0/q",
            "top",
        ],
    )
    .await?;
    let d = cx.key("d");
    for prefix in [d.clone(), format!("{d}/")] {
        let got = level(s, &prefix).await?;
        let want_objects = [cx.key("d/a.sst"), cx.key("d/b.sst")];
        ensure!(
            names(&got) == want_objects,
            "list_dir({prefix:?}).objects = {:?}, expected {want_objects:?}",
            names(&got)
        );
        let want_dirs = [cx.key("d/sub"), cx.key("d/t")];
        ensure!(
            got.dirs == want_dirs,
            "list_dir({prefix:?}).dirs = {:?}, expected {want_dirs:?}",
            got.dirs
        );
        for meta in &got.objects {
            ensure!(
                meta.size == meta.path.len() as u64,
                "list_dir reports size {} for {:?}, which holds {} bytes",
                meta.size,
                meta.path,
                meta.path.len()
            );
        }
    }
    let sub = level(s, &cx.key("d/sub")).await?;
    ensure!(
        names(&sub) == [cx.key("d/sub/x")] && sub.dirs == [cx.key("d/sub/y")],
        "list_dir(d/sub) = {:?} and dirs {:?}",
        names(&sub),
        sub.dirs
    );
    let ns = level(s, &cx.ns).await?;
    ensure!(
        names(&ns) == [cx.key("top")] && ns.dirs == [cx.key("d"), cx.key("d0")],
        "list_dir(ns) = {:?} and dirs {:?}",
        names(&ns),
        ns.dirs
    );
    // The root level holds this check's namespace as one dir, and nothing
    // of it as an object or a deeper dir.
    let root = level(s, "").await?;
    ensure!(
        root.dirs.contains(&cx.ns),
        "list_dir(\"\").dirs = {:?} misses {:?}",
        root.dirs,
        cx.ns
    );
    let mut sorted = root.dirs.clone();
    sorted.sort();
    ensure!(
        sorted == root.dirs,
        "list_dir(\"\").dirs not sorted: {:?}",
        root.dirs
    );
    if let Some(bad) = root
        .dirs
        .iter()
        .chain(root.objects.iter().map(|m| &m.path))
        .find(|p| p.contains('/') || p.ends_with('/'))
    {
        return Err(format!(
            "list_dir(\"\") reports {bad:?}, which is not at the root level"
        ));
    }
    Ok(())
}

pub(super) async fn list_dir_missing_and_invalid(cx: Context) -> Outcome {
    let s = &*cx.storage;
    write_all(&cx, &["d/a"]).await?;
    for prefix in [
        cx.key("missing"),
        cx.key("d/a"),
        cx.key("d/a/below"),
        cx.key("d0"),
    ] {
        let got = level(s, &prefix).await?;
        ensure!(
            got.objects.is_empty() && got.dirs.is_empty(),
            "list_dir of the missing prefix {prefix:?} = {:?} and dirs {:?}",
            names(&got),
            got.dirs
        );
    }
    for prefix in BAD_PREFIXES {
        match s.list_dir(prefix).await {
            Err(e) if is_invalid_path(&e) => {}
            other => {
                return Err(format!(
                    "list_dir({prefix:?}) = {other:?}, expected InvalidPath"
                ))
            }
        }
    }
    Ok(())
}

pub(super) async fn list_dir_hides_unfinished_writes(cx: Context) -> Outcome {
    let s = &*cx.storage;
    write_all(&cx, &["d/done"]).await?;
    let mut pending = step("writer", s.writer(&cx.key("d/pending")).await)?;
    step(
        "writer.write",
        pending.write(Bytes::from(vec![7u8; 64 << 10])).await,
    )?;
    let mut nested = step("writer", s.writer(&cx.key("d/new/pending")).await)?;
    step("writer.write", nested.write(Bytes::from_static(b"x")).await)?;
    let got = level(s, &cx.key("d")).await;
    let _ = nested.abort().await;
    let got = got?;
    ensure!(
        names(&got) == [cx.key("d/done")],
        "list_dir shows {:?} while writes are unfinished, expected only the finished object",
        names(&got)
    );
    // A dir that holds only an unfinished write is no sub-prefix of any key.
    ensure!(
        got.dirs.is_empty() || got.dirs == [cx.key("d/new")],
        "list_dir dirs = {:?} while writes are unfinished",
        got.dirs
    );
    step("writer.finish", pending.finish().await)?;
    let after = level(s, &cx.key("d")).await?;
    ensure!(
        names(&after) == [cx.key("d/done"), cx.key("d/pending")],
        "list_dir after finish = {:?}",
        names(&after)
    );
    Ok(())
}

pub(super) async fn list_dir_forgets_emptied_dirs(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let keys = write_all(&cx, &["e/gone/x", "e/gone/deeper/y", "e/kept"]).await?;
    for key in keys.iter().filter(|k| k.contains("/gone/")) {
        step("delete", s.delete(key).await)?;
    }
    let got = level(s, &cx.key("e")).await?;
    ensure!(
        names(&got) == [cx.key("e/kept")] && got.dirs.is_empty(),
        "after deleting every object below e/gone, list_dir(e) = {:?} and dirs {:?}",
        names(&got),
        got.dirs
    );
    Ok(())
}
