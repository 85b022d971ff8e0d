//! Streaming writes through `writer()`.

use bytes::Bytes;

use super::{ensure, expect_err, list_keys, pattern, step, Rng};
use crate::conformance::{Context, Outcome};
use crate::Error;

pub(super) async fn writer_publishes_on_finish_only(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("L1/000042.sst");
    let data = pattern(1, 300_000);
    let mut w = step("writer", s.writer(&key).await)?;
    for chunk in data.chunks(70_000) {
        step("writer.write", w.write(Bytes::copy_from_slice(chunk)).await)?;
        ensure!(
            !step("exists", s.exists(&key).await)?,
            "the object is visible before finish"
        );
        let listed = list_keys(s, "").await?;
        ensure!(
            !listed.iter().any(|k| k.starts_with(&cx.ns)),
            "list shows an unfinished write: {listed:?}"
        );
    }
    let meta = step("finish", w.finish().await)?;
    ensure!(
        meta.size == data.len() as u64,
        "finish returned size {}",
        meta.size
    );
    ensure!(meta.path == key, "finish returned path {:?}", meta.path);
    ensure!(
        step("read", s.read(&key).await)? == data,
        "the finished object differs"
    );
    let listed = list_keys(s, &cx.ns).await?;
    ensure!(
        listed == vec![key.clone()],
        "list after finish = {listed:?}"
    );
    Ok(())
}

pub(super) async fn writer_abort_leaves_nothing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("aborted.sst");
    let mut w = step("writer", s.writer(&key).await)?;
    step("writer.write", w.write(pattern(1, 100_000)).await)?;
    step("abort", w.abort().await)?;
    ensure!(
        !step("exists", s.exists(&key).await)?,
        "an aborted write is visible"
    );
    expect_err("read", s.read(&key).await, "NotFound", Error::is_not_found)?;
    let listed = list_keys(s, "").await?;
    ensure!(
        !listed.iter().any(|k| k.starts_with(&cx.ns)),
        "an aborted write left {listed:?}"
    );
    Ok(())
}

pub(super) async fn writer_drop_leaves_nothing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("dropped.sst");
    {
        let mut w = step("writer", s.writer(&key).await)?;
        step("writer.write", w.write(pattern(1, 100_000)).await)?;
        drop(w);
    }
    // A dropped writer may clean up in the background; give it turns.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    ensure!(
        !step("exists", s.exists(&key).await)?,
        "a dropped write is visible"
    );
    let listed = list_keys(s, "").await?;
    ensure!(
        !listed.iter().any(|k| k.starts_with(&cx.ns)),
        "a dropped write left {listed:?}"
    );
    Ok(())
}

pub(super) async fn writer_replaces_existing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let old = pattern(1, 5000);
    let new = pattern(2, 123_456);
    step("write old", s.write(&key, old.clone()).await)?;
    let mut w = step("writer", s.writer(&key).await)?;
    step("writer.write", w.write(new.slice(..60_000)).await)?;
    ensure!(
        step("read", s.read(&key).await)? == old,
        "the old object changed before finish"
    );
    step("writer.write", w.write(new.slice(60_000..)).await)?;
    step("finish", w.finish().await)?;
    ensure!(
        step("read", s.read(&key).await)? == new,
        "finish did not replace the object"
    );
    Ok(())
}

pub(super) async fn writer_large_object(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("large.sst");
    let total = cx.caps.large_object_bytes;
    let chunk = 1 << 20;
    let mut w = step("writer", s.writer(&key).await)?;
    let mut written = 0usize;
    let mut seed = 0u64;
    while written < total {
        let len = chunk.min(total - written);
        step("writer.write", w.write(pattern(seed, len)).await)?;
        written += len;
        seed += 1;
    }
    let meta = step("finish", w.finish().await)?;
    ensure!(
        meta.size == total as u64,
        "finish returned size {}, wrote {total}",
        meta.size
    );
    ensure!(
        step("head", s.head(&key).await)?.size == total as u64,
        "head size differs"
    );
    // Read back by ranges: whole chunks, and spans that cross chunk edges.
    let mut rng = Rng::new(5);
    for _ in 0..8 {
        let c = rng.below(total.div_ceil(chunk) as u64) as usize;
        let start = c * chunk;
        let len = chunk.min(total - start);
        let got = step(
            "read_range",
            s.read_range(&key, start as u64..(start + len) as u64).await,
        )?;
        ensure!(got == pattern(c as u64, len), "chunk {c} read back wrong");
    }
    if total > chunk {
        let edge = chunk as u64;
        let got = step(
            "read_range across a chunk edge",
            s.read_range(&key, edge - 8..edge + 8).await,
        )?;
        let mut want = pattern(0, chunk).slice(chunk - 8..).to_vec();
        want.extend_from_slice(&pattern(1, 8));
        ensure!(got == want, "bytes across a chunk edge read back wrong");
    }
    step("delete", s.delete(&key).await)?;
    Ok(())
}

pub(super) async fn writer_empty_object(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("empty");
    let w = step("writer", s.writer(&key).await)?;
    let meta = step("finish", w.finish().await)?;
    ensure!(meta.size == 0, "finish returned size {}", meta.size);
    let got = step("read", s.read(&key).await)?;
    ensure!(got.is_empty(), "empty object read back {} bytes", got.len());
    Ok(())
}
