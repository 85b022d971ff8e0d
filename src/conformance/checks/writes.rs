//! Writes: atomic, durable, conditional; delete and sync.

use std::sync::Arc;

use bytes::Bytes;

use super::{ensure, expect_err, list_keys, pattern, show, step};
use crate::conformance::{Context, Outcome};
use crate::{Error, WriteMode};

pub(super) async fn write_read_round_trip(cx: Context) -> Outcome {
    let s = &*cx.storage;
    for (i, len) in [0usize, 1, 4096, 65_537, (1 << 20) + 7, 5 << 20]
        .into_iter()
        .enumerate()
    {
        let key = cx.key(&format!("obj-{len}"));
        let data = pattern(i as u64, len);
        let meta = step(
            &format!("write of {len} bytes"),
            s.write(&key, data.clone()).await,
        )?;
        ensure!(
            meta.size == len as u64,
            "write of {len} bytes returned size {}",
            meta.size
        );
        let back = step("read", s.read(&key).await)?;
        ensure!(back == data, "read of {len} bytes returned {}", show(&back));
    }
    Ok(())
}

pub(super) async fn overwrite_replaces_whole(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    step("write v1", s.write(&key, pattern(1, 10_000)).await)?;
    step("write v2", s.write(&key, pattern(2, 100)).await)?;
    let back = step("read", s.read(&key).await)?;
    ensure!(
        back == pattern(2, 100),
        "after a shorter overwrite read returned {}",
        show(&back)
    );
    step("write v3", s.write(&key, pattern(3, 20_000)).await)?;
    ensure!(
        step("read", s.read(&key).await)? == pattern(3, 20_000),
        "after a longer overwrite"
    );
    ensure!(
        step("head", s.head(&key).await)?.size == 20_000,
        "head size after overwrite"
    );
    Ok(())
}

pub(super) async fn concurrent_readers_see_whole_objects(cx: Context) -> Outcome {
    let key = cx.key("obj");
    let versions: Vec<Bytes> = (0..6)
        .map(|v| pattern(100 + v, 64 << 10 | (v as usize * 977)))
        .collect();
    step(
        "write v0",
        cx.storage.write(&key, versions[0].clone()).await,
    )?;
    let versions = Arc::new(versions);
    let writer = {
        let (storage, key, versions) = (cx.storage.clone(), key.clone(), versions.clone());
        tokio::spawn(async move {
            for round in 0..4 {
                for v in versions.iter().skip(1) {
                    storage
                        .write(&key, v.clone())
                        .await
                        .map_err(|e| format!("overwrite (round {round}): {e}"))?;
                }
            }
            Ok::<(), String>(())
        })
    };
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (storage, key, versions) = (cx.storage.clone(), key.clone(), versions.clone());
        readers.push(tokio::spawn(async move {
            for _ in 0..25 {
                let got = storage
                    .read(&key)
                    .await
                    .map_err(|e| format!("read during overwrite: {e}"))?;
                if !versions.contains(&got) {
                    return Err(format!("a reader saw a torn object: {}", show(&got)));
                }
            }
            Ok::<(), String>(())
        }));
    }
    writer.await.map_err(|e| format!("writer task: {e}"))??;
    for r in readers {
        r.await.map_err(|e| format!("reader task: {e}"))??;
    }
    Ok(())
}

pub(super) async fn cancelled_write_is_all_or_nothing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let old = pattern(1, 1 << 20);
    let new = pattern(2, 3 << 20);
    step("write old", s.write(&key, old.clone()).await)?;
    for attempt in 0..8 {
        // Poll the write a little (0..7 polls), then drop it.
        let mut fut = s.write(&key, new.clone());
        for _ in 0..attempt {
            if futures::poll!(fut.as_mut()).is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(fut);
        let got = step("read after a dropped write", s.read(&key).await)?;
        ensure!(
            got == old || got == new,
            "after a dropped write the object is torn: {}",
            show(&got)
        );
    }
    // The key still takes ordinary writes, and nothing else appeared.
    step(
        "write after the cancellations",
        s.write(&key, old.clone()).await,
    )?;
    let keys = list_keys(s, &cx.ns).await?;
    ensure!(keys == vec![key.clone()], "dropped writes left {keys:?}");
    Ok(())
}

pub(super) async fn create_refuses_existing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("manifest");
    let meta = step(
        "first create",
        s.write_with(&key, pattern(1, 50), WriteMode::Create).await,
    )?;
    ensure!(meta.size == 50, "create returned size {}", meta.size);
    expect_err(
        "second create",
        s.write_with(&key, pattern(2, 60), WriteMode::Create).await,
        "AlreadyExists",
        Error::is_already_exists,
    )?;
    ensure!(
        step("read", s.read(&key).await)? == pattern(1, 50),
        "a refused create changed the object"
    );
    step("delete", s.delete(&key).await)?;
    step(
        "create after delete",
        s.write_with(&key, pattern(3, 5), WriteMode::Create).await,
    )?;
    ensure!(
        step("read", s.read(&key).await)? == pattern(3, 5),
        "create after delete"
    );
    Ok(())
}

pub(super) async fn racing_creates_one_winner(cx: Context) -> Outcome {
    let key = cx.key("manifest");
    let lost = Error::is_already_exists;
    race(&cx, &key, 1000, 4096, || WriteMode::Create, lost, "create").await
}

/// Races `concurrency` conditional writes of `key` (racer `i` writes
/// `pattern(seed + i, len)` with `mode()`); exactly one must win and leave
/// its bytes, the others must lose with the conflict `lost` accepts.
async fn race(
    cx: &Context,
    key: &str,
    seed: u64,
    len: usize,
    mode: impl Fn() -> WriteMode,
    lost: fn(&Error) -> bool,
    what: &str,
) -> Outcome {
    let n = cx.caps.concurrency.max(2);
    let mut tasks = Vec::new();
    for i in 0..n {
        let (storage, key, mode) = (cx.storage.clone(), key.to_owned(), mode());
        tasks.push(tokio::spawn(async move {
            let data = pattern(seed + i as u64, len);
            (i, storage.write_with(&key, data, mode).await)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, result) = t.await.map_err(|e| format!("task: {e}"))?;
        match result {
            Ok(_) => winners.push(i),
            Err(e) if lost(&e) => {}
            Err(e) => return Err(format!("racing {what} {i}: unexpected error {e}")),
        }
    }
    ensure!(
        winners.len() == 1,
        "{} of {n} racing {what}s won: {winners:?}",
        winners.len()
    );
    let got = step("read", cx.storage.read(key).await)?;
    ensure!(
        got == pattern(seed + winners[0] as u64, len),
        "the object is not the winner's"
    );
    Ok(())
}

pub(super) async fn versions_change_on_write(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let v1 = step("write 1", s.write(&key, pattern(1, 10)).await)?.version;
    // Different bytes: S3-style ETags are digests of the content, so the
    // same bytes may keep the same version, which Update handles correctly.
    let v2 = step("write 2", s.write(&key, pattern(2, 10)).await)?.version;
    ensure!(
        v1.is_some() && v2.is_some(),
        "writes returned no version: {v1:?} {v2:?}"
    );
    ensure!(v1 != v2, "two writes returned the same version {v1:?}");
    let head = step("head", s.head(&key).await)?.version;
    ensure!(
        head == v2,
        "head version {head:?} is not the last write's {v2:?}"
    );
    Ok(())
}

pub(super) async fn update_requires_current_version(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("manifest");
    let v1 = step("write", s.write(&key, pattern(1, 100)).await)?
        .version
        .ok_or("write returned no version")?;
    let v2 = step(
        "update from v1",
        s.write_with(&key, pattern(2, 100), WriteMode::Update(v1.clone()))
            .await,
    )?
    .version
    .ok_or("update returned no version")?;
    ensure!(v2 != v1, "update returned the old version");
    ensure!(
        step("read", s.read(&key).await)? == pattern(2, 100),
        "update did not write"
    );
    let is_pre = |e: &Error| e.is_precondition();
    expect_err(
        "stale update",
        s.write_with(&key, pattern(3, 100), WriteMode::Update(v1.clone()))
            .await,
        "Precondition",
        is_pre,
    )?;
    expect_err(
        "update with a made-up version",
        s.write_with(
            &key,
            pattern(3, 100),
            WriteMode::Update("no-such-version".into()),
        )
        .await,
        "Precondition",
        is_pre,
    )?;
    expect_err(
        "update of a missing key",
        s.write_with(
            &cx.key("missing"),
            pattern(3, 100),
            WriteMode::Update(v2.clone()),
        )
        .await,
        "Precondition",
        is_pre,
    )?;
    ensure!(
        step("read", s.read(&key).await)? == pattern(2, 100),
        "a refused update changed the object"
    );
    ensure!(
        !step("exists", s.exists(&cx.key("missing")).await)?,
        "a refused update created an object"
    );
    step(
        "update from v2",
        s.write_with(&key, pattern(4, 7), WriteMode::Update(v2))
            .await,
    )?;
    ensure!(
        step("read", s.read(&key).await)? == pattern(4, 7),
        "second update"
    );
    Ok(())
}

pub(super) async fn racing_updates_one_winner(cx: Context) -> Outcome {
    let key = cx.key("manifest");
    let v0 = step("write", cx.storage.write(&key, pattern(0, 100)).await)?
        .version
        .ok_or("write returned no version")?;
    let mode = || WriteMode::Update(v0.clone());
    race(&cx, &key, 2000, 100, mode, Error::is_precondition, "update").await
}

pub(super) async fn delete_removes_and_missing_is_ok(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("dir/obj");
    step("delete of a never-written key", s.delete(&key).await)?;
    step("write", s.write(&key, pattern(1, 10)).await)?;
    step(
        "write sibling",
        s.write(&cx.key("dir/sibling"), pattern(2, 10)).await,
    )?;
    step("delete", s.delete(&key).await)?;
    ensure!(
        !step("exists", s.exists(&key).await)?,
        "exists after delete"
    );
    expect_err(
        "read after delete",
        s.read(&key).await,
        "NotFound",
        Error::is_not_found,
    )?;
    let keys = list_keys(s, &cx.ns).await?;
    ensure!(
        keys == vec![cx.key("dir/sibling")],
        "list after delete = {keys:?}"
    );
    step("second delete", s.delete(&key).await)?;
    ensure!(
        step("read sibling", s.read(&cx.key("dir/sibling")).await)? == pattern(2, 10),
        "delete touched a sibling"
    );
    Ok(())
}

pub(super) async fn sync_is_a_barrier(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("wal/000001.log");
    step("write", s.write(&key, pattern(1, 4096)).await)?;
    step("sync", s.sync(&key).await)?;
    ensure!(
        step("read", s.read(&key).await)? == pattern(1, 4096),
        "sync changed the object"
    );
    Ok(())
}

pub(super) async fn bad_input_changes_nothing(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let key = cx.key("obj");
    let data = pattern(1, 1000);
    let meta = step("write", s.write(&key, data.clone()).await)?;
    let before = list_keys(s, "").await?;
    let _ = s.read_range(&key, 10..5).await;
    let _ = s.read_range(&key, 0..u64::MAX).await;
    let _ = s.read_ranges(&key, &[0..1, 2000..3000]).await;
    let _ = s.write(&format!("{key}/../x"), pattern(2, 10)).await;
    if cx.caps.conditional_create {
        let _ = s.write_with(&key, pattern(3, 10), WriteMode::Create).await;
    }
    if cx.caps.conditional_update {
        let _ = s
            .write_with(&key, pattern(3, 10), WriteMode::Update("stale".into()))
            .await;
    }
    let _ = s.delete(&format!("/{key}")).await;
    let _ = s.writer(&format!("{key}/")).await.map(|_| ());
    let after = list_keys(s, "").await?;
    ensure!(
        before == after,
        "rejected calls changed the keys: {before:?} -> {after:?}"
    );
    ensure!(
        step("read", s.read(&key).await)? == data,
        "rejected calls changed the object"
    );
    if cx.caps.versions {
        let now = step("head", s.head(&key).await)?.version;
        ensure!(
            now == meta.version,
            "rejected calls changed the version: {:?} -> {now:?}",
            meta.version
        );
    }
    Ok(())
}
