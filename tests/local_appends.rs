//! LocalStorage's appender beyond the conformance checks: cancellation at
//! every await point, bytes buffered at drop, `open`'s sweep, and a failed
//! write reaching every waiting caller and closing the appender.

use std::future::Future;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use seerstore::{Error, LocalStorage, Storage, StorageAppender};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Polls `fut` once and drops it; `Some` if it finished in that poll.
fn poll_once_then_drop<F: Future>(fut: F) -> Option<F::Output> {
    fut.now_or_never()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_appender_call_creates_the_object_or_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let first = poll_once_then_drop(storage.appender("wal/1.log"));
    assert!(
        first.is_none(),
        "appender() finished without the blocking pool"
    );
    storage.settle().await;
    // The blocking task ran to its end: the object exists, empty, and the
    // key is taken.
    assert_eq!(storage.head("wal/1.log").await?.size, 0);
    let again = storage.appender("wal/1.log").await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_appends_leave_no_hole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let log = storage.appender("wal/2.log").await?;
    // 1 MiB appends, each polled once: those that wait for buffer space
    // (more than 8 MiB buffered) are dropped there.
    let mut expected = Vec::new();
    let (mut kept, mut dropped) = (0, 0);
    for i in 0..48u8 {
        let data = Bytes::from(vec![i; 1 << 20]);
        match poll_once_then_drop(log.append(data.clone())) {
            Some(end) => {
                expected.extend_from_slice(&data);
                assert_eq!(end?, expected.len() as u64, "append {i}");
                kept += 1;
            }
            None => dropped += 1,
        }
    }
    eprintln!("appends kept {kept}, dropped while waiting for space {dropped}");
    assert_eq!(log.sync().await?, expected.len() as u64);
    let stored = storage.read("wal/2.log").await?;
    assert!(
        stored == expected,
        "the log is not the kept appends in order"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_sync_still_flushes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let log = storage.appender("wal/3.log").await?;
    log.append(Bytes::from_static(b"record-1")).await?;
    assert!(
        poll_once_then_drop(log.sync()).is_none(),
        "sync finished before any flush"
    );
    storage.settle().await;
    // The flush it asked for ran: the bytes are in the file, and a new
    // sync finds them durable.
    assert_eq!(storage.head("wal/3.log").await?.size, 8);
    let before = LocalStorage::append_flushes();
    assert_eq!(log.sync().await?, 8);
    assert_eq!(
        LocalStorage::append_flushes(),
        before,
        "a sync of durable bytes flushed again"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_finish_still_closes_and_flushes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let log = storage.appender("wal/4.log").await?;
    log.append(Bytes::from_static(b"last")).await?;
    assert!(poll_once_then_drop(log.finish()).is_none());
    let refused = log.append(Bytes::from_static(b"more")).await;
    assert!(matches!(refused, Err(Error::Closed { .. })), "{refused:?}");
    storage.settle().await;
    assert_eq!(storage.read("wal/4.log").await?, "last");
    assert_eq!(log.finish().await?.size, 4);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_appender_writes_what_is_buffered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let log = storage.appender("wal/5.log").await?;
    log.append(Bytes::from_static(b"never synced")).await?;
    drop(log);
    storage.settle().await;
    assert_eq!(storage.read("wal/5.log").await?, "never synced");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sweep_leaves_a_live_appended_object_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    let log = storage.appender("wal/6.log").await?;
    log.append(Bytes::from_static(b"before")).await?;
    log.sync().await?;
    let other = LocalStorage::open(dir.path()).await?; // sweeps
    log.append(Bytes::from_static(b"-after")).await?;
    log.sync().await?;
    assert_eq!(other.read("wal/6.log").await?, "before-after");
    let listed: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(other.list("wal")).await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 12);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_and_existing_objects_create_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;
    for key in ["", "/abs", "a//b", "a/../b", "dir/", ".seerstore-tmp.x"] {
        let result = storage.appender(key).await;
        assert!(
            matches!(result, Err(Error::InvalidPath { .. })),
            "{key:?}: {result:?}"
        );
    }
    storage
        .write("L0/1.sst", Bytes::from_static(b"sst"))
        .await?;
    let result = storage.appender("L0").await;
    assert!(
        matches!(result, Err(Error::AlreadyExists { .. })),
        "{result:?}"
    );
    let result = storage.appender("L0/1.sst").await;
    assert!(
        matches!(result, Err(Error::AlreadyExists { .. })),
        "{result:?}"
    );
    assert_eq!(storage.read("L0/1.sst").await?, "sst");
    let keys: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(storage.list("")).await?;
    assert_eq!(keys.len(), 1, "{keys:?}");
    Ok(())
}

const FAIL_ROOT_ENV: &str = "SEERSTORE_APPEND_FAIL_ROOT";
/// The file size limit of the child (`prlimit --fsize`): writes past it
/// fail with `EFBIG`, as a full disk fails them with `ENOSPC`.
const FSIZE_LIMIT: u64 = 256 << 10;

/// Runs under `prlimit --fsize` with SIGXFSZ ignored (see the parent).
#[test]
fn failing_child() -> TestResult {
    let Some(root) = std::env::var_os(FAIL_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(root).await?;
        let log: Arc<dyn StorageAppender> = storage.appender("wal/full.log").await?;
        // 16 committers until the limit: every one gets the failure.
        let tasks: Vec<_> = (0..16u8)
            .map(|c| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut durable = 0;
                    loop {
                        if let Err(e) = log.append(Bytes::from(vec![c; 4096])).await {
                            return Ok::<_, Error>((durable, e));
                        }
                        durable = match log.sync().await {
                            Ok(d) => d,
                            Err(e) => return Ok((durable, e)),
                        };
                    }
                })
            })
            .collect();
        let mut last_durable = 0;
        for task in tasks {
            let (durable, err) = task.await??;
            last_durable = last_durable.max(durable);
            match &err {
                // Those waiting for the failed write see the disk's error;
                // those arriving after it, the appender closed by it.
                Error::Io { source, .. } => {
                    assert_eq!(source.raw_os_error(), Some(27), "not EFBIG: {err}")
                }
                Error::Closed { .. } => {
                    let cause = std::error::Error::source(&err).ok_or("no cause")?;
                    assert!(cause.to_string().contains("too large"), "{err}");
                }
                other => panic!("unexpected error {other}"),
            }
        }
        assert!(last_durable <= FSIZE_LIMIT && last_durable > 0);
        for refused in [
            log.append(Bytes::from_static(b"x")).await.err(),
            log.sync().await.err(),
            log.finish().await.err(),
        ] {
            let refused = refused.ok_or("a call after the failure succeeded")?;
            assert!(refused.is_closed(), "{refused}");
            assert!(refused.to_string().contains("unknown"), "{refused}");
        }
        // What was durable is there.
        let stored = storage.read("wal/full.log").await?;
        assert!(stored.len() as u64 >= last_durable);
        println!("child-ok durable={last_durable}");
        Ok(())
    })
}

#[test]
fn a_failed_write_reaches_every_waiter_and_closes_the_appender() -> TestResult {
    let dir = tempfile::tempdir()?;
    // An ignored signal stays ignored across exec: the shell drops SIGXFSZ
    // so that the child gets EFBIG instead of dying.
    let script = format!(
        "trap '' XFSZ; exec prlimit --fsize={FSIZE_LIMIT} \"$0\" --exact failing_child --nocapture --test-threads=1"
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .arg(std::env::current_exe()?)
        .env(FAIL_ROOT_ENV, dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child-ok"),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
