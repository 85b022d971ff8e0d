//! `copy`: the destination whole, on the condition of `mode`; the source
//! untouched; nothing changed by a refused call. What `copy` shares with
//! `rename` is checked through [`Move`] (`moves.rs`).

use bytes::Bytes;

use super::moves::Move;
use super::{ensure, pattern, step};
use crate::conformance::{Context, Outcome};
use crate::WriteMode;

pub(super) async fn copy_overwrite_copies_whole(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (from, to) = (cx.key("src"), cx.key("dst"));
    let data = pattern(1, (1 << 20) + 3);
    step("write source", s.write(&from, data.clone()).await)?;
    step("write destination", s.write(&to, pattern(2, 3 << 20)).await)?;
    let before = step("head source", s.head(&from).await)?;
    let copy = Move::Copy;
    copy.ensure_overwrite_moves(s, "copy onto an existing key", &from, &to, &data)
        .await?;
    let fresh = cx.key("other/deep/copy");
    copy.ensure_overwrite_moves(s, "copy to a new key", &from, &fresh, &data)
        .await?;
    let after = step("head source", s.head(&from).await)?;
    ensure!(
        after.size == before.size && after.version == before.version,
        "copy changed its source: {before:?} -> {after:?}"
    );
    ensure!(
        step("read source", s.read(&from).await)? == data,
        "copy changed the source's bytes"
    );
    let (empty, empty_copy) = (cx.key("empty"), cx.key("empty-copy"));
    step("write empty", s.write(&empty, Bytes::new()).await)?;
    let what = "copy of an empty object";
    copy.ensure_overwrite_moves(s, what, &empty, &empty_copy, &Bytes::new())
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
    Move::Copy
        .ensure_moved(s, "copy(Create)", &meta, &from, &to, &data)
        .await?;
    step("write source again", s.write(&from, pattern(4, 10)).await)?;
    Move::Copy.ensure_create_refused(&cx, &from, &to).await
}

pub(super) async fn copy_update_requires_current_version(cx: Context) -> Outcome {
    // Besides a stale version, one the destination never had.
    Move::Copy
        .update_requires_current_version(cx, [3000, 100, 200], true)
        .await
}

pub(super) async fn copy_bad_input_changes_nothing(cx: Context) -> Outcome {
    Move::Copy.bad_input_changes_nothing(cx).await
}
