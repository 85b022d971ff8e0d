//! `Update(v)` is atomic across `LocalStorage` instances and processes on
//! one root: of racing `Update(v)`s exactly one wins, every round, and a
//! delete racing an `Update` happens wholly before or after it.
//!
//! The second process is this test binary, re-executed with `--exact
//! update_child` and `CHILD_ROOT_ENV` set; run normally, that test is a
//! no-op. Parent and child start each round together over a pipe.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use seerstore::{Error, LocalStorage, Storage, WriteMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_UPDATE_CHILD_ROOT";
const ROUNDS: usize = 100;
const RACERS: usize = 8;

/// Starts `RACERS` `Update(version)`s of `key` at once; how many won.
async fn race(storage: &LocalStorage, key: &str, version: &str, tag: u8) -> Result<usize, Error> {
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let storage = storage.clone();
        let barrier = barrier.clone();
        let key = key.to_owned();
        let mode = WriteMode::Update(version.to_owned());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let data = Bytes::from(vec![tag.wrapping_add(i as u8); 4096]);
            storage.write_with(&key, data, mode).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.map_err(|e| Error::Io {
            op: seerstore::Operation::Write,
            path: key.to_owned(),
            source: std::io::Error::other(e),
        })? {
            Ok(_) => won += 1,
            Err(Error::Precondition { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(won)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_one_winner_every_round() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let a = LocalStorage::open(tmp.path()).await?;
    let b = LocalStorage::open(tmp.path()).await?;
    for round in 0..ROUNDS {
        let key = format!("m/{round}");
        let version = a
            .write(&key, Bytes::from_static(b"base"))
            .await?
            .version
            .ok_or("no version")?;
        let (x, y) = tokio::join!(race(&a, &key, &version, 0), race(&b, &key, &version, 100));
        let won = x? + y?;
        assert_eq!(won, 1, "round {round}: {won} racing Update(v)s won");
    }
    Ok(())
}

/// The child: per round, reads `go <round> <version>` from stdin, races,
/// and answers `won <n>`.
#[test]
fn update_child() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(root).await?;
        let stdin = std::io::stdin();
        let mut out = std::io::stdout();
        for line in stdin.lock().lines() {
            let line = line?;
            let mut words = line.split(' ');
            let (Some("go"), Some(key), Some(version)) = (words.next(), words.next(), words.next())
            else {
                break;
            };
            let won = race(&storage, key, version, 100).await?;
            writeln!(out, "won {won}")?;
            out.flush()?;
        }
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_one_winner_every_round() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let storage = LocalStorage::open(tmp.path()).await?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "update_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROOT_ENV, tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut to_child = child.stdin.take().ok_or("no stdin")?;
    let mut from_child = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    for round in 0..ROUNDS {
        let key = format!("m/{round}");
        let version = storage
            .write(&key, Bytes::from_static(b"base"))
            .await?
            .version
            .ok_or("no version")?;
        writeln!(to_child, "go {key} {version}")?;
        to_child.flush()?;
        let ours = race(&storage, &key, &version, 0).await?;
        // The child's answer; the test harness prints its own text too,
        // on the same line at first ("test update_child ... won 1").
        let theirs =
            tokio::task::block_in_place(|| -> Result<usize, Box<dyn std::error::Error>> {
                loop {
                    let mut line = String::new();
                    if from_child.read_line(&mut line)? == 0 {
                        return Err("the child exited".into());
                    }
                    if let Some(at) = line.find("won ") {
                        return Ok(line[at + 4..].trim().parse()?);
                    }
                }
            })?;
        assert_eq!(
            ours + theirs,
            1,
            "round {round}: {} racing Update(v)s won ({ours} here, {theirs} in the child)",
            ours + theirs
        );
    }
    drop(to_child);
    assert!(child.wait()?.success());
    Ok(())
}

/// A delete racing an `Update(v)` from another instance: if both succeed,
/// the delete came after the update and nothing is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_racing_update_is_ordered() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let a = LocalStorage::open(tmp.path()).await?;
    let b = LocalStorage::open(tmp.path()).await?;
    for round in 0..300 {
        let key = format!("d/{round}");
        let version = a
            .write(&key, Bytes::from_static(b"base"))
            .await?
            .version
            .ok_or("no version")?;
        let update = a.write_with(
            &key,
            Bytes::from_static(b"next"),
            WriteMode::Update(version),
        );
        let (updated, deleted) = tokio::join!(update, b.delete(&key));
        deleted?;
        match updated {
            Ok(_) => assert!(
                !a.exists(&key).await?,
                "round {round}: the update and the delete both won, and the update's object survived"
            ),
            Err(Error::Precondition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
