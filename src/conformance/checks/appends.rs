//! Appends through `appender()`: offsets, order under concurrency, syncs,
//! reads of a growing object, and the refusals.

use bytes::Bytes;
use futures::future::join_all;

use super::{ensure, expect_err, list_keys, pattern, step};
use crate::conformance::{Context, Outcome};
use crate::Error;

/// Backends that declare no appends refuse them with `NotSupported` and
/// create nothing; the others create the object. Invalid keys are
/// `InvalidPath` everywhere.
pub(super) async fn appends_not_supported_where_declared(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000001.log");
    expect_err(
        "appender(\"a//b\")",
        s.appender("a//b").await,
        "InvalidPath",
        |e| matches!(e, Error::InvalidPath { .. }),
    )?;
    if cx.caps.appends {
        let log = step("appender", s.appender(&key).await)?;
        step("finish", log.finish().await)?;
        ensure!(
            step("exists", s.exists(&key).await)?,
            "appender created nothing"
        );
        return Ok(());
    }
    expect_err("appender", s.appender(&key).await, "NotSupported", |e| {
        matches!(e, Error::NotSupported { .. })
    })?;
    let listed = list_keys(s, &cx.ns).await?;
    ensure!(listed.is_empty(), "a refused appender left {listed:?}");
    Ok(())
}

/// Each append returns the end offset of its data; a zero-length append
/// returns the current end; the object reads back as the concatenation.
pub(super) async fn append_offsets_contiguous(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000001.log");
    let log = step("appender", s.appender(&key).await)?;
    let mut expected = Vec::new();
    for (i, len) in [1usize, 0, 4096, 3, 70_000, 0, 17].into_iter().enumerate() {
        let data = pattern(i as u64, len);
        expected.extend_from_slice(&data);
        let end = step("append", log.append(data).await)?;
        ensure!(
            end == expected.len() as u64,
            "append #{i} of {len} bytes returned end {end}, expected {}",
            expected.len()
        );
    }
    let durable = step("sync", log.sync().await)?;
    ensure!(
        durable >= expected.len() as u64,
        "sync returned {durable}, less than the {} bytes appended",
        expected.len()
    );
    ensure!(
        step("read", s.read(&key).await)? == expected,
        "the appended object differs from the appended bytes"
    );
    let meta = step("finish", log.finish().await)?;
    ensure!(
        meta.size == expected.len() as u64 && meta.path == key,
        "finish returned {meta:?}"
    );
    Ok(())
}

/// Concurrent appenders get disjoint, contiguous ranges; each caller's own
/// appends land in its call order; every byte is where its offset says.
pub(super) async fn concurrent_appends_disjoint_in_order(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000002.log");
    let log = step("appender", s.appender(&key).await)?;
    let tasks = cx.caps.concurrency.max(2);
    let per_task = 50usize;
    let results = join_all((0..tasks).map(|t| {
        let log = log.clone();
        async move {
            let mut out = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let len = 1 + (t * 131 + i * 17) % 600;
                let data = pattern((t * per_task + i) as u64 + 1000, len);
                let end = log.append(data.clone()).await?;
                out.push((end, data));
                tokio::task::yield_now().await;
            }
            Ok::<_, Error>(out)
        }
    }))
    .await;
    let mut records = Vec::new();
    for (t, result) in results.into_iter().enumerate() {
        let mine = step("append", result)?;
        ensure!(
            mine.windows(2).all(|w| w[0].0 < w[1].0),
            "task {t}'s appends did not land in its call order"
        );
        records.extend(mine);
    }
    records.sort_by_key(|(end, _)| *end);
    let mut at = 0u64;
    for (end, data) in &records {
        ensure!(
            *end == at + data.len() as u64,
            "ranges are not contiguous: a record of {} bytes ends at {end}, the previous at {at}",
            data.len()
        );
        at = *end;
    }
    step("sync", log.sync().await)?;
    let all = step("read", s.read(&key).await)?;
    ensure!(
        all.len() as u64 == at,
        "object has {} bytes, appended {at}",
        all.len()
    );
    for (end, data) in &records {
        let start = (*end as usize) - data.len();
        ensure!(
            all[start..*end as usize] == data[..],
            "the bytes at {start}..{end} are not the record appended there"
        );
    }
    step("finish", log.finish().await)?;
    Ok(())
}

/// Every committer's sync covers its own earlier append, also when many
/// sync at once.
pub(super) async fn sync_covers_earlier_appends(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000003.log");
    let log = step("appender", s.appender(&key).await)?;
    let committers = cx.caps.concurrency.max(2);
    let results = join_all((0..committers).map(|c| {
        let log = log.clone();
        async move {
            for i in 0..20u64 {
                let end = log.append(pattern(c as u64 * 100 + i, 512)).await?;
                let durable = log.sync().await?;
                if durable < end {
                    return Ok(Some((end, durable)));
                }
            }
            Ok::<_, Error>(None)
        }
    }))
    .await;
    for result in results {
        if let Some((end, durable)) = step("append + sync", result)? {
            return Err(format!(
                "sync returned durable length {durable} below the end {end} of an earlier append"
            ));
        }
    }
    let size = step("head", s.head(&key).await)?.size;
    ensure!(
        size == committers as u64 * 20 * 512,
        "head reports {size} bytes after every sync"
    );
    step("finish", log.finish().await)?;
    Ok(())
}

/// The object exists from `appender` on; `head`, `list`, `read_range` see
/// each synced length while it grows; `delete` removes it.
pub(super) async fn reads_while_growing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000004.log");
    let log = step("appender", s.appender(&key).await)?;
    ensure!(
        step("head", s.head(&key).await)?.size == 0,
        "a new appended object is not empty"
    );
    let mut expected: Vec<u8> = Vec::new();
    for round in 0..5u64 {
        let data = pattern(round + 77, 1000 + round as usize * 3000);
        expected.extend_from_slice(&data);
        step("append", log.append(data).await)?;
        step("sync", log.sync().await)?;
        let size = step("head", s.head(&key).await)?.size;
        ensure!(
            size == expected.len() as u64,
            "round {round}: head says {size}, synced {}",
            expected.len()
        );
        let tail = step("read_range", s.read_range(&key, size - 1000..size).await)?;
        ensure!(
            tail == expected[expected.len() - 1000..],
            "round {round}: the last synced bytes read back wrong"
        );
        let listed = step(
            "list",
            futures::TryStreamExt::try_collect::<Vec<_>>(s.list(&cx.ns)).await,
        )?;
        ensure!(
            listed.len() == 1 && listed[0].path == key && listed[0].size == size,
            "round {round}: list shows {listed:?}"
        );
    }
    step("delete", s.delete(&key).await)?;
    ensure!(
        !step("exists", s.exists(&key).await)?,
        "a deleted appended object still exists"
    );
    Ok(())
}

/// `appender` on an existing key is `AlreadyExists` and leaves the object
/// as it was.
pub(super) async fn appender_refuses_existing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000005.log");
    step("write", s.write(&key, Bytes::from_static(b"old")).await)?;
    expect_err(
        "appender on a written object",
        s.appender(&key).await,
        "AlreadyExists",
        Error::is_already_exists,
    )?;
    ensure!(
        step("read", s.read(&key).await)? == "old",
        "a refused appender changed the object"
    );
    let other = cx.key("wal/000006.log");
    let log = step("appender", s.appender(&other).await)?;
    step("append", log.append(Bytes::from_static(b"x")).await)?;
    expect_err(
        "a second appender on the same key",
        s.appender(&other).await,
        "AlreadyExists",
        Error::is_already_exists,
    )?;
    step("finish", log.finish().await)?;
    ensure!(
        step("read", s.read(&other).await)? == "x",
        "a refused second appender changed the object"
    );
    Ok(())
}

/// After `finish`, appends (also empty ones) fail with `Closed` and write
/// nothing; the object stays readable.
pub(super) async fn append_after_finish_fails(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000007.log");
    let log = step("appender", s.appender(&key).await)?;
    step("append", log.append(Bytes::from_static(b"last")).await)?;
    let meta = step("finish", log.finish().await)?;
    ensure!(meta.size == 4, "finish returned size {}", meta.size);
    expect_err(
        "append after finish",
        log.append(Bytes::from_static(b"more")).await,
        "Closed",
        Error::is_closed,
    )?;
    expect_err(
        "empty append after finish",
        log.append(Bytes::new()).await,
        "Closed",
        Error::is_closed,
    )?;
    ensure!(
        step("read", s.read(&key).await)? == "last",
        "an append after finish changed the object"
    );
    Ok(())
}
