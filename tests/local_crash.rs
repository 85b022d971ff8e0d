//! Crash consistency: a child process that keeps rewriting one large object
//! (with `write` and with `writer`) is killed with SIGKILL at seeded random
//! moments. The object must then be absent or exactly one whole version, and
//! `LocalStorage::open` must remove the temp files the child left.
//!
//! The child is this test binary, re-executed with `--exact
//! crash_child_writes_forever` and `CHILD_ROOT_ENV` set; run normally, that
//! test is a no-op.

mod support;

use std::time::Duration;

use bytes::Bytes;
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ROOT_ENV: &str = "SEERSTORE_CRASH_CHILD_ROOT";
const CHILD_START_ENV: &str = "SEERSTORE_CRASH_CHILD_START";
const KEY: &str = "db/000001.sst";
const CHUNK: usize = 64 * 1024;

/// Version `n`: an 8-byte header `n`, then bytes derived from `n` and the
/// offset; its length depends on `n` too.
fn version(n: u64) -> Vec<u8> {
    let len = 3 * 1024 * 1024 + usize::try_from(n % 7).unwrap_or(0) * 4099;
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(&n.to_le_bytes());
    let mut i = 0u64;
    while data.len() < len {
        data.push((n.wrapping_mul(131).wrapping_add(i / 5)) as u8);
        i += 1;
    }
    data
}

use support::Rng;

#[test]
fn crash_child_writes_forever() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT_ENV) else {
        return Ok(()); // only acts as the parent's child process
    };
    let start: u64 = std::env::var(CHILD_START_ENV)?.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = LocalStorage::open(root).await?;
        let mut announced = false;
        for n in start.. {
            let data = version(n);
            if n % 2 == 0 {
                storage.write(KEY, Bytes::from(data)).await?;
            } else {
                let mut writer = storage.writer(KEY).await?;
                for chunk in data.chunks(CHUNK) {
                    writer.write(Bytes::copy_from_slice(chunk)).await?;
                }
                writer.finish().await?;
            }
            if !announced {
                // The parent kills only after this: one object is in place.
                use std::io::Write;
                let mut stdout = std::io::stdout();
                stdout.write_all(b"ready\n")?;
                stdout.flush()?;
                announced = true;
            }
        }
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_leaves_old_or_new_and_open_sweeps() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let mut rng = Rng(0x5eed_5707_e000_0001);
    let mut rounds_with_object = 0;
    for round in 0..8u64 {
        let (mut child, _stdout) = support::spawn_ready_child(
            "crash_child_writes_forever",
            &[
                (CHILD_ROOT_ENV, root.as_os_str()),
                (CHILD_START_ENV, (round * 1000).to_string().as_ref()),
            ],
            round,
        )?;
        let delay = rng.next() % 400;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill()?; // SIGKILL
        child.wait()?;

        match std::fs::read(root.join(KEY)) {
            Ok(data) => {
                let header: [u8; 8] = data
                    .get(..8)
                    .ok_or("object shorter than its header")?
                    .try_into()?;
                let n = u64::from_le_bytes(header);
                assert!(
                    data == version(n),
                    "round {round}: object is not one whole version"
                );
                rounds_with_object += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let litter = support::temp_files(&root)?;
        eprintln!(
            "round {round}: killed after {delay} ms, {} temp file(s) left",
            litter.len()
        );
    }
    assert_eq!(
        rounds_with_object, 8,
        "every child published before it was killed"
    );

    // Plant an abandoned temp file too, so the sweep has work whatever the
    // kill moments were.
    std::fs::create_dir_all(root.join("db/deeper"))?;
    std::fs::write(root.join("db/deeper/.seerstore-tmp.dead.1"), b"litter")?;
    let storage = LocalStorage::open(&root).await?;
    let left = support::temp_files(&root)?;
    assert!(left.is_empty(), "temp files survived the sweep: {left:?}");
    // The sweep removed litter only: the object is still readable.
    let data = storage.read(KEY).await?;
    let n = u64::from_le_bytes(data[..8].try_into()?);
    assert_eq!(data, version(n));
    Ok(())
}
