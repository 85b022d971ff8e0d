//! `rename`: the destination holds what the source held, the source is
//! gone; refused calls keep both; atomic where the backend says so.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::copies::{copy_or_rename_bad_input, ensure_holds};
use super::{ensure, expect_err, pattern, snapshot, step, unchanged};
use crate::conformance::{Context, Outcome};
use crate::{Error, Storage, WriteMode};

async fn ensure_gone(s: &dyn Storage, what: &str, key: &str) -> Outcome {
    ensure!(
        !step(
            &format!("exists({key:?}) after {what}"),
            s.exists(key).await
        )?,
        "after {what} the source {key:?} still exists"
    );
    expect_err(
        &format!("read of the source after {what}"),
        s.read(key).await,
        "NotFound",
        Error::is_not_found,
    )?;
    Ok(())
}

pub(super) async fn rename_moves_object(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("CURRENT.tmp"), cx.key("CURRENT"));
    let data = pattern(1, 70_000);
    step("write source", s.write(&from, data.clone()).await)?;
    let meta = step(
        "rename to a new key",
        s.rename(&from, &to, WriteMode::Overwrite).await,
    )?;
    ensure_holds(s, "rename to a new key", &meta, &to, &data).await?;
    ensure_gone(s, "rename to a new key", &from).await?;
    // Onto an existing key, into a new directory, and of an empty object.
    let next = pattern(2, 10);
    step("write source", s.write(&from, next.clone()).await)?;
    let meta = step(
        "rename onto an existing key",
        s.rename(&from, &to, WriteMode::Overwrite).await,
    )?;
    ensure_holds(s, "rename onto an existing key", &meta, &to, &next).await?;
    ensure_gone(s, "rename onto an existing key", &from).await?;
    let deep = cx.key("archive/deep/CURRENT");
    let meta = step(
        "rename into a new directory",
        s.rename(&to, &deep, WriteMode::Overwrite).await,
    )?;
    ensure_holds(s, "rename into a new directory", &meta, &deep, &next).await?;
    ensure_gone(s, "rename into a new directory", &to).await?;
    let (empty, moved) = (cx.key("empty"), cx.key("empty-moved"));
    step("write empty", s.write(&empty, Bytes::new()).await)?;
    let meta = step(
        "rename of an empty object",
        s.rename(&empty, &moved, WriteMode::Overwrite).await,
    )?;
    ensure_holds(s, "rename of an empty object", &meta, &moved, &Bytes::new()).await?;
    ensure_gone(s, "rename of an empty object", &empty).await
}

pub(super) async fn rename_create_refuses_existing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(3, 1000);
    step("write source", s.write(&from, data.clone()).await)?;
    step("write destination", s.write(&to, pattern(4, 500)).await)?;
    let before = snapshot(s, &cx.ns).await?;
    let e = expect_err(
        "rename(Create) onto an existing key",
        s.rename(&from, &to, WriteMode::Create).await,
        "AlreadyExists",
        Error::is_already_exists,
    )?;
    ensure!(
        e.path() == Some(to.as_str()),
        "AlreadyExists names {:?}, expected the destination {to:?}",
        e.path()
    );
    unchanged(
        "a refused rename(Create)",
        &before,
        &snapshot(s, &cx.ns).await?,
    )?;
    let fresh = cx.key("fresh");
    let meta = step(
        "rename(Create) to a new key",
        s.rename(&from, &fresh, WriteMode::Create).await,
    )?;
    ensure_holds(s, "rename(Create)", &meta, &fresh, &data).await?;
    ensure_gone(s, "rename(Create)", &from).await
}

pub(super) async fn rename_update_requires_current_version(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(5, 300);
    step("write source", s.write(&from, data.clone()).await)?;
    let stale = step("write dst v1", s.write(&to, pattern(6, 10)).await)?.version;
    let current = step("write dst v2", s.write(&to, pattern(7, 20)).await)?.version;
    let (Some(stale), Some(current)) = (stale, current) else {
        return Err("writes returned no version".into());
    };
    let before = snapshot(s, &cx.ns).await?;
    expect_err(
        "rename(Update) on a stale version",
        s.rename(&from, &to, WriteMode::Update(stale)).await,
        "Precondition",
        Error::is_precondition,
    )?;
    expect_err(
        "rename(Update) onto a missing key",
        s.rename(
            &from,
            &cx.key("missing"),
            WriteMode::Update(current.clone()),
        )
        .await,
        "Precondition",
        Error::is_precondition,
    )?;
    unchanged(
        "a refused rename(Update)",
        &before,
        &snapshot(s, &cx.ns).await?,
    )?;
    let meta = step(
        "rename(Update) on the current version",
        s.rename(&from, &to, WriteMode::Update(current)).await,
    )?;
    ensure_holds(s, "rename(Update)", &meta, &to, &data).await?;
    ensure_gone(s, "rename(Update)", &from).await
}

pub(super) async fn rename_bad_input_changes_nothing(cx: Context) -> Outcome {
    copy_or_rename_bad_input(cx, "rename").await
}

/// Renames along a chain of keys while others look at both ends of the
/// one in progress.
const RENAMES: usize = 40;

pub(super) async fn rename_is_atomic(cx: Context) -> Outcome {
    let key = |i: usize| cx.key(&format!("chain/{i:03}"));
    let data = pattern(9, 4096);
    step("write", cx.storage.write(&key(0), data.clone()).await)?;
    // The index of the key the object was last renamed to; renames only go
    // forward, so an object seen at `i + 1` and then still at `i` was at
    // both keys at once (a copy not yet followed by its delete).
    let at = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    for _ in 0..2 {
        let (storage, ns, at, done) = (cx.storage.clone(), cx.ns.clone(), at.clone(), done.clone());
        watchers.push(tokio::spawn(async move {
            let key = |i: usize| format!("{ns}/chain/{i:03}");
            while !done.load(Ordering::Acquire) {
                let i = at.load(Ordering::Acquire);
                let ahead = storage.exists(&key(i + 1)).await;
                let behind = storage.exists(&key(i)).await;
                match (ahead, behind) {
                    (Ok(true), Ok(true)) => {
                        return Err(format!(
                            "a reader saw the object at {:?} and then still at {:?}: \
                             the rename was not atomic",
                            key(i + 1),
                            key(i)
                        ))
                    }
                    (Ok(_), Ok(_)) => {}
                    (Err(e), _) | (_, Err(e)) => return Err(format!("exists: {e}")),
                }
                // A store that answers without waiting (in memory) must not
                // keep the renames from running.
                tokio::task::yield_now().await;
            }
            Ok::<(), String>(())
        }));
    }
    let mut result = Ok(());
    for i in 0..RENAMES {
        if let Err(e) = cx
            .storage
            .rename(&key(i), &key(i + 1), WriteMode::Overwrite)
            .await
        {
            result = Err(format!("rename {i}: {e}"));
            break;
        }
        at.store(i + 1, Ordering::Release);
    }
    done.store(true, Ordering::Release);
    for w in watchers {
        w.await.map_err(|e| format!("reader task: {e}"))??;
    }
    result?;
    ensure!(
        step("read", cx.storage.read(&key(RENAMES)).await)? == data,
        "the object at the end of the chain is not the one renamed"
    );
    let left = super::list_keys(&*cx.storage, &cx.ns).await?;
    ensure!(
        left == vec![key(RENAMES)],
        "after the renames the namespace holds {left:?}"
    );
    Ok(())
}
