//! `delete_many`: one result per path, in order, and every key gone.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{ensure, is_invalid_path, list_keys, step};
use crate::conformance::{Context, Outcome};

/// More keys than one S3 `DeleteObjects` request takes (1,000), and more
/// than four Azure batches (256).
const MANY_KEYS: usize = 1_200;

pub(super) async fn delete_many_results_in_order(cx: Context) -> Outcome {
    let s = &*cx.storage;
    let (a, b, kept) = (cx.key("a"), cx.key("dir/b"), cx.key("kept"));
    for key in [&a, &b, &kept] {
        step("write", s.write(key, Bytes::from_static(b"x")).await)?;
    }
    let paths = vec![
        a.clone(),
        cx.key("missing"),
        "../escape".to_owned(),
        b.clone(),
        format!("{}//b", cx.ns),
        cx.key("dir/missing/deeper"),
    ];
    let results = s.delete_many(&paths).await;
    ensure!(
        results.len() == paths.len(),
        "delete_many of {} paths returned {} results",
        paths.len(),
        results.len()
    );
    for (i, (path, result)) in paths.iter().zip(&results).enumerate() {
        let invalid = path.starts_with("..") || path.contains("//");
        match result {
            Ok(()) if !invalid => {}
            Err(e) if invalid && is_invalid_path(e) => {
                ensure!(
                    e.path() == Some(path.as_str()),
                    "result {i}: InvalidPath names {:?}, expected {path:?}",
                    e.path()
                );
            }
            other => {
                let want = if invalid { "InvalidPath" } else { "Ok" };
                return Err(format!(
                    "delete_many result {i} for {path:?} is {other:?}, expected {want}"
                ));
            }
        }
    }
    let left = list_keys(s, &cx.ns).await?;
    ensure!(
        left == vec![kept.clone()],
        "after delete_many the namespace holds {left:?}, expected only {kept:?}"
    );
    ensure!(
        s.delete_many(&[]).await.is_empty(),
        "delete_many of no paths returned results"
    );
    let again = s.delete_many(&[a.clone(), b.clone()]).await;
    ensure!(
        again.iter().all(Result::is_ok),
        "a second delete_many of deleted keys: {again:?}"
    );
    Ok(())
}

pub(super) async fn delete_many_deletes_many_keys(cx: Context) -> Outcome {
    let s = cx.storage.clone();
    let keys: Vec<String> = (0..MANY_KEYS)
        .map(|i| cx.key(&format!("many/{:02}/{i:05}", i % 7)))
        .collect();
    let kept = cx.key("many-kept");
    step("write", s.write(&kept, Bytes::from_static(b"kept")).await)?;
    futures::stream::iter(keys.iter().cloned())
        .map(|key| {
            let s = s.clone();
            async move {
                s.write(&key, Bytes::from(key.clone()))
                    .await
                    .map_err(|e| format!("write({key:?}): {e}"))
            }
        })
        .buffer_unordered(cx.caps.concurrency.max(1))
        .try_collect::<Vec<_>>()
        .await?;
    ensure!(
        list_keys(&*s, &cx.key("many")).await?.len() == MANY_KEYS,
        "not every key was written"
    );
    let results = s.delete_many(&keys).await;
    ensure!(
        results.len() == MANY_KEYS,
        "delete_many of {MANY_KEYS} paths returned {} results",
        results.len()
    );
    if let Some((i, e)) = results
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
    {
        return Err(format!("delete_many result {i} for {:?}: {e}", keys[i]));
    }
    let left = list_keys(&*s, &cx.ns).await?;
    ensure!(
        left == vec![kept.clone()],
        "after delete_many of {MANY_KEYS} keys {} remain ({:?}...)",
        left.len(),
        left.iter().take(3).collect::<Vec<_>>()
    );
    Ok(())
}
