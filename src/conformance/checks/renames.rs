//! `rename`: the destination holds what the source held, the source is
//! gone; refused calls keep both; atomic where the backend says so. What
//! `rename` shares with `copy` is checked through [`Move`] (`moves.rs`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::moves::Move;
use super::{ensure, pattern, step};
use crate::conformance::{Context, Outcome};
use crate::WriteMode;

pub(super) async fn rename_moves_object(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("CURRENT.tmp"), cx.key("CURRENT"));
    let data = pattern(1, 70_000);
    step("write source", s.write(&from, data.clone()).await)?;
    let rename = Move::Rename;
    rename
        .ensure_overwrite_moves(s, "rename to a new key", &from, &to, &data)
        .await?;
    // Onto an existing key, into a new directory, and of an empty object.
    let next = pattern(2, 10);
    step("write source", s.write(&from, next.clone()).await)?;
    rename
        .ensure_overwrite_moves(s, "rename onto an existing key", &from, &to, &next)
        .await?;
    let deep = cx.key("archive/deep/CURRENT");
    rename
        .ensure_overwrite_moves(s, "rename into a new directory", &to, &deep, &next)
        .await?;
    let (empty, moved) = (cx.key("empty"), cx.key("empty-moved"));
    step("write empty", s.write(&empty, Bytes::new()).await)?;
    let what = "rename of an empty object";
    rename
        .ensure_overwrite_moves(s, what, &empty, &moved, &Bytes::new())
        .await
}

pub(super) async fn rename_create_refuses_existing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(3, 1000);
    step("write source", s.write(&from, data.clone()).await)?;
    step("write destination", s.write(&to, pattern(4, 500)).await)?;
    Move::Rename.ensure_create_refused(&cx, &from, &to).await?;
    let fresh = cx.key("fresh");
    let meta = step(
        "rename(Create) to a new key",
        s.rename(&from, &fresh, WriteMode::Create).await,
    )?;
    Move::Rename
        .ensure_moved(s, "rename(Create)", &meta, &from, &fresh, &data)
        .await
}

pub(super) async fn rename_update_requires_current_version(cx: Context) -> Outcome {
    Move::Rename
        .update_requires_current_version(cx, [300, 10, 20], false)
        .await
}

pub(super) async fn rename_bad_input_changes_nothing(cx: Context) -> Outcome {
    Move::Rename.bad_input_changes_nothing(cx).await
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
