//! `read_with` while the object is being replaced: the data and the
//! version always belong together, and compare-and-swap on them loses
//! nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::read_with::read_with_range;
use super::{ensure, show, step};
use crate::conformance::{Context, Outcome};
use crate::{ReadOptions, Storage, WriteMode};

/// Writes the replacing writer makes, and reads each reader makes.
const REPLACEMENTS: usize = 40;
const READS_PER_READER: usize = 30;
const READERS: usize = 3;

/// The body of replacement `n`: the counter repeated, a length that differs
/// from its neighbours, so a mix of two versions shows in bytes and size.
fn body(n: usize) -> Bytes {
    let word = format!("[{n:06}]");
    Bytes::from(word.repeat(64 + (n % 7) * 37))
}

/// What a reader saw: the version and size reported, and the bytes.
struct Seen {
    version: Option<String>,
    size: u64,
    whole: bool,
    data: Bytes,
}

pub(super) async fn read_with_consistent_under_replacement(cx: Context) -> Outcome {
    let key = cx.key("obj");
    // version -> body of each write, as the writes returned them.
    let written: Arc<Mutex<HashMap<Option<String>, Bytes>>> = Arc::default();
    let first = step("write 0", cx.storage.write(&key, body(0)).await)?;
    lock(&written).insert(first.version, body(0));
    // The writer replaces the object once per completed read, so that reads
    // overlap writes without a fast writer starving every read (a default
    // `read_with` retries when the version moves under it).
    let (reads_done, mut reads_seen) = tokio::sync::watch::channel(0usize);
    let reads_done = Arc::new(reads_done);
    let writer = {
        let (storage, key, written) = (cx.storage.clone(), key.clone(), written.clone());
        tokio::spawn(async move {
            for n in 1..=REPLACEMENTS {
                let meta = storage
                    .write(&key, body(n))
                    .await
                    .map_err(|e| format!("replacement {n}: {e}"))?;
                lock(&written).insert(meta.version, body(n));
                // Err: every reader is done; write the rest at once.
                let _ = reads_seen.changed().await;
            }
            Ok::<(), String>(())
        })
    };
    let mut readers = Vec::new();
    for reader in 0..READERS {
        let (storage, key, reads_done) = (cx.storage.clone(), key.clone(), reads_done.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::with_capacity(READS_PER_READER);
            for i in 0..READS_PER_READER {
                // Alternate whole reads and reads of a head range.
                let whole = (i + reader) % 2 == 0;
                let range = if whole { None } else { Some(0..16) };
                let got = read_with_range(&*storage, &key, range)
                    .await
                    .map_err(|e| format!("read_with during replacement: {e}"))?;
                seen.push(Seen {
                    version: got.meta.version,
                    size: got.meta.size,
                    whole,
                    data: got.data,
                });
                reads_done.send_modify(|n| *n += 1);
            }
            Ok::<Vec<Seen>, String>(seen)
        }));
    }
    drop(reads_done);
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.map_err(|e| format!("reader task: {e}"))??);
    }
    writer.await.map_err(|e| format!("writer task: {e}"))??;
    let written = lock(&written);
    for seen in all {
        if !cx.caps.versions {
            // Without versions only the bytes can be checked: a whole body.
            ensure!(
                !seen.whole || (0..=REPLACEMENTS).any(|n| body(n) == seen.data),
                "a reader saw a torn object: {}",
                show(&seen.data)
            );
            continue;
        }
        let Some(body) = written.get(&seen.version) else {
            return Err(format!(
                "read_with reported version {:?}, which no write returned",
                seen.version
            ));
        };
        ensure!(
            seen.size == body.len() as u64,
            "read_with paired version {:?} (of {} bytes) with size {}",
            seen.version,
            body.len(),
            seen.size
        );
        let want = if seen.whole { &body[..] } else { &body[..16] };
        ensure!(
            seen.data == want,
            "read_with paired version {:?} with the bytes of another: {} instead of {}",
            seen.version,
            show(&seen.data),
            show(want)
        );
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Increments each task makes, and the conflicts it may meet on the way.
const INCREMENTS_PER_TASK: usize = 4;
const MAX_ATTEMPTS_PER_TASK: usize = 2000;

/// The counter's body: its value and who wrote it (unique per write, so a
/// retried write is never mistaken for another task's identical one).
fn counter_body(value: usize, task: usize, attempt: usize) -> Bytes {
    Bytes::from(format!("{value} by task {task} attempt {attempt}"))
}

fn counter_value(data: &[u8]) -> Result<usize, String> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the counter holds {}", show(data)))
}

/// One task's increments: read the counter with its version, write the
/// next value on that version, start over on a conflict.
async fn increment(storage: Arc<dyn Storage>, key: String, task: usize) -> Result<(), String> {
    let mut done = 0;
    for attempt in 0..MAX_ATTEMPTS_PER_TASK {
        if done == INCREMENTS_PER_TASK {
            return Ok(());
        }
        let current = match storage.read_with(&key, ReadOptions::default()).await {
            Ok(current) => current,
            // A default `read_with` gives up (retryably) when the counter
            // moved under each of its attempts: try again, as a client would.
            Err(e) if e.is_retryable() => continue,
            Err(e) => return Err(format!("task {task}: read_with: {e}")),
        };
        let value = counter_value(&current.data)?;
        let version = current
            .meta
            .version
            .ok_or_else(|| format!("task {task}: read_with returned no version"))?;
        match storage
            .write_with(
                &key,
                counter_body(value + 1, task, attempt),
                WriteMode::Update(version),
            )
            .await
        {
            Ok(_) => done += 1,
            Err(e) if e.is_precondition() => {}
            Err(e) => return Err(format!("task {task}: write_with(Update): {e}")),
        }
    }
    Err(format!(
        "task {task}: {done} of {INCREMENTS_PER_TASK} increments in {MAX_ATTEMPTS_PER_TASK} attempts"
    ))
}

pub(super) async fn read_with_compare_and_swap_counter(cx: Context) -> Outcome {
    let key = cx.key("counter");
    step(
        "write 0",
        cx.storage.write(&key, counter_body(0, 0, 0)).await,
    )?;
    let tasks = cx.caps.concurrency.clamp(2, 8);
    let handles: Vec<_> = (0..tasks)
        .map(|task| tokio::spawn(increment(cx.storage.clone(), key.clone(), task)))
        .collect();
    for h in handles {
        h.await.map_err(|e| format!("counter task: {e}"))??;
    }
    let end = step("read", cx.storage.read(&key).await)?;
    let value = counter_value(&end)?;
    ensure!(
        value == tasks * INCREMENTS_PER_TASK,
        "{tasks} tasks made {INCREMENTS_PER_TASK} increments each, the counter is at {value}: increments were lost"
    );
    Ok(())
}
