//! `copy`: the destination whole, on the condition of `mode`; the source
//! untouched; nothing changed by a refused call.

use bytes::Bytes;

use super::{
    ensure, expect_err, is_invalid_path, list_keys, pattern, show, snapshot, step, unchanged,
};
use crate::conformance::{Context, Outcome};
use crate::{Error, ObjectMeta, Storage, WriteMode};

/// Checks that `to` holds `data` and that `meta` (what the call returned)
/// describes it.
pub(super) async fn ensure_holds(
    s: &dyn Storage,
    what: &str,
    meta: &ObjectMeta,
    to: &str,
    data: &Bytes,
) -> Outcome {
    ensure!(
        meta.path == to && meta.size == data.len() as u64,
        "{what} returned {:?} of {} bytes, expected {to:?} of {}",
        meta.path,
        meta.size,
        data.len()
    );
    let back = step(&format!("read({to:?}) after {what}"), s.read(to).await)?;
    ensure!(
        back == data,
        "after {what}, {to:?} holds {} instead of the source's {}",
        show(&back),
        show(data)
    );
    let head = step(&format!("head({to:?}) after {what}"), s.head(to).await)?;
    ensure!(
        head.version == meta.version,
        "{what} returned version {:?}, head says {:?}",
        meta.version,
        head.version
    );
    Ok(())
}

/// The modes to try where a call must fail whatever the mode: those the
/// backend honours.
pub(super) fn modes(cx: &Context) -> Vec<WriteMode> {
    let mut modes = vec![WriteMode::Overwrite];
    if cx.caps.conditional_create && cx.caps.copy_create {
        modes.push(WriteMode::Create);
    }
    if cx.caps.conditional_update && cx.caps.copy_update {
        modes.push(WriteMode::Update("no-such-version".into()));
    }
    modes
}

pub(super) async fn copy_overwrite_copies_whole(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(1, (1 << 20) + 3);
    step("write source", s.write(&from, data.clone()).await)?;
    step("write destination", s.write(&to, pattern(2, 3 << 20)).await)?;
    let before = step("head source", s.head(&from).await)?;
    let meta = step(
        "copy onto an existing key",
        s.copy(&from, &to, WriteMode::Overwrite).await,
    )?;
    ensure_holds(s, "copy onto an existing key", &meta, &to, &data).await?;
    let fresh = cx.key("other/deep/copy");
    let meta = step(
        "copy to a new key",
        s.copy(&from, &fresh, WriteMode::Overwrite).await,
    )?;
    ensure_holds(s, "copy to a new key", &meta, &fresh, &data).await?;
    let after = step("head source", s.head(&from).await)?;
    ensure!(
        after.size == before.size && after.version == before.version,
        "copy changed its source: {before:?} -> {after:?}"
    );
    ensure!(
        step("read source", s.read(&from).await)? == data,
        "copy changed the source's bytes"
    );
    let empty = cx.key("empty");
    step("write empty", s.write(&empty, Bytes::new()).await)?;
    let meta = step(
        "copy of an empty object",
        s.copy(&empty, &cx.key("empty-copy"), WriteMode::Overwrite)
            .await,
    )?;
    ensure_holds(
        s,
        "copy of an empty object",
        &meta,
        &cx.key("empty-copy"),
        &Bytes::new(),
    )
    .await
}

pub(super) async fn copy_create_refuses_existing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(3, 5000);
    step("write source", s.write(&from, data.clone()).await)?;
    let meta = step(
        "copy(Create) to a new key",
        s.copy(&from, &to, WriteMode::Create).await,
    )?;
    ensure_holds(s, "copy(Create)", &meta, &to, &data).await?;
    step("write source again", s.write(&from, pattern(4, 10)).await)?;
    let before = snapshot(s, &cx.ns).await?;
    let e = expect_err(
        "copy(Create) onto an existing key",
        s.copy(&from, &to, WriteMode::Create).await,
        "AlreadyExists",
        Error::is_already_exists,
    )?;
    ensure!(
        e.path() == Some(to.as_str()),
        "AlreadyExists names {:?}, expected the destination {to:?}",
        e.path()
    );
    unchanged(
        "a refused copy(Create)",
        &before,
        &snapshot(s, &cx.ns).await?,
    )
}

pub(super) async fn copy_update_requires_current_version(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(5, 3000);
    step("write source", s.write(&from, data.clone()).await)?;
    let stale = step("write dst v1", s.write(&to, pattern(6, 100)).await)?.version;
    let current = step("write dst v2", s.write(&to, pattern(7, 200)).await)?.version;
    let (Some(stale), Some(current)) = (stale, current) else {
        return Err("writes returned no version".into());
    };
    let before = snapshot(s, &cx.ns).await?;
    for (what, version) in [
        ("a stale version", stale),
        ("a made-up one", "no-such-version".into()),
    ] {
        expect_err(
            &format!("copy(Update) on {what}"),
            s.copy(&from, &to, WriteMode::Update(version)).await,
            "Precondition",
            Error::is_precondition,
        )?;
    }
    expect_err(
        "copy(Update) onto a missing key",
        s.copy(
            &from,
            &cx.key("missing"),
            WriteMode::Update(current.clone()),
        )
        .await,
        "Precondition",
        Error::is_precondition,
    )?;
    unchanged(
        "a refused copy(Update)",
        &before,
        &snapshot(s, &cx.ns).await?,
    )?;
    let meta = step(
        "copy(Update) on the current version",
        s.copy(&from, &to, WriteMode::Update(current)).await,
    )?;
    ensure_holds(s, "copy(Update)", &meta, &to, &data).await
}

pub(super) async fn copy_bad_input_changes_nothing(cx: Context) -> Outcome {
    copy_or_rename_bad_input(cx, "copy").await
}

/// The refusals `copy` and `rename` share: a missing source, a key onto
/// itself, invalid keys; none of them changes anything.
pub(super) async fn copy_or_rename_bad_input(cx: Context, op: &str) -> Outcome {
    let s = &*cx.storage;
    let call = |from: String, to: String, mode: WriteMode| async move {
        if op == "copy" {
            s.copy(&from, &to, mode).await
        } else {
            s.rename(&from, &to, mode).await
        }
    };
    let (obj, other) = (cx.key("obj"), cx.key("other"));
    step("write", s.write(&obj, pattern(8, 100)).await)?;
    step("write", s.write(&other, pattern(9, 50)).await)?;
    let (keys_before, before) = (list_keys(s, "").await?, snapshot(s, &cx.ns).await?);
    let missing = cx.key("missing");
    // A missing source, with a destination the mode would accept.
    let mut to_missing = vec![
        (cx.key("new"), WriteMode::Overwrite),
        (other.clone(), WriteMode::Overwrite),
    ];
    if cx.caps.conditional_create && cx.caps.copy_create {
        to_missing.push((cx.key("new"), WriteMode::Create));
    }
    if cx.caps.conditional_update && cx.caps.copy_update {
        if let Some(v) = before
            .iter()
            .find(|o| o.path == other)
            .and_then(|o| o.version.clone())
        {
            to_missing.push((other.clone(), WriteMode::Update(v)));
        }
    }
    for (to, mode) in to_missing {
        let e = expect_err(
            &format!("{op} of a missing source to {to:?} ({mode:?})"),
            call(missing.clone(), to, mode).await,
            "NotFound",
            Error::is_not_found,
        )?;
        ensure!(
            e.path() == Some(missing.as_str()),
            "{op} of a missing source: NotFound names {:?}, expected {missing:?}",
            e.path()
        );
    }
    for mode in modes(&cx) {
        expect_err(
            &format!("{op} of a key onto itself ({mode:?})"),
            call(obj.clone(), obj.clone(), mode.clone()).await,
            "InvalidPath",
            is_invalid_path,
        )?;
        for bad in ["../escape", "a//b", "/abs", "trailing/", ".seerstore-tmp.1"] {
            let bad_in_ns = format!("{}/{bad}", cx.ns);
            for (from, to) in [
                (bad.to_owned(), other.clone()),
                (obj.clone(), bad.to_owned()),
                (obj.clone(), bad_in_ns),
            ] {
                expect_err(
                    &format!("{op}({from:?}, {to:?}, {mode:?})"),
                    call(from, to, mode.clone()).await,
                    "InvalidPath",
                    is_invalid_path,
                )?;
            }
        }
    }
    let keys_after = list_keys(s, "").await?;
    ensure!(
        keys_before == keys_after,
        "refused {op}s changed the stored keys: {keys_before:?} -> {keys_after:?}"
    );
    unchanged(
        &format!("refused {op}s"),
        &before,
        &snapshot(s, &cx.ns).await?,
    )
}
