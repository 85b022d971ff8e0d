//! A symlink swapped in between check and use: one thread atomically
//! exchanges a directory inside the root with a symlink to a directory
//! outside it (`renameat2(RENAME_EXCHANGE)`), thousands of times, while
//! tasks read, write, stream, list and delete through that directory. Nothing
//! outside the root may ever be read or changed: every open resolves the
//! whole key beneath the root in one step (`openat2(RESOLVE_BENEATH)`), so
//! there is no window between a check and the use.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use rustix::fs::{renameat_with, RenameFlags, CWD};
use seerstore::{LocalStorage, Storage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SECRET: &[u8] = b"outside secret";
const SWAPS: u64 = 100_000;

fn outside_listing(outside: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(outside)? {
        let entry = entry?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path())?,
        ));
    }
    out.sort();
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_a_directory_for_a_symlink_never_escapes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside)?;
    // The same names as inside, so a read that escaped would find them.
    std::fs::write(outside.join("f"), SECRET)?;
    std::fs::write(outside.join("g"), SECRET)?;
    let before = outside_listing(&outside)?;

    let root = tmp.path().join("root");
    let storage = Arc::new(LocalStorage::open(&root).await?);
    storage.write("d/f", Bytes::from_static(b"inside")).await?;
    storage.write("d/g", Bytes::from_static(b"inside")).await?;
    std::os::unix::fs::symlink(&outside, root.join("swap"))?;

    let done = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (d, swap, done) = (root.join("d"), root.join("swap"), done.clone());
        std::thread::spawn(move || -> std::io::Result<()> {
            for _ in 0..SWAPS {
                renameat_with(CWD, &d, CWD, &swap, RenameFlags::EXCHANGE)?;
                std::thread::yield_now();
            }
            done.store(true, Ordering::Release);
            Ok(())
        })
    };

    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for worker in 0..4u64 {
        let (storage, done, ok) = (storage.clone(), done.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !done.load(Ordering::Acquire) {
                n += 1;
                let result = match (worker + n) % 6 {
                    0 => storage.read("d/f").await.map(|data| {
                        assert_ne!(&data[..], SECRET, "read outside the root");
                    }),
                    1 => storage
                        .read_range("d/g", 0..6)
                        .await
                        .map(|data| assert_eq!(&data[..], b"inside")),
                    2 => storage
                        .write("d/f", Bytes::from_static(b"inside"))
                        .await
                        .map(drop),
                    3 => {
                        async {
                            let mut w = storage.writer("d/g").await?;
                            w.write(Bytes::from_static(b"ins")).await?;
                            w.write(Bytes::from_static(b"ide")).await?;
                            w.finish().await.map(drop)
                        }
                        .await
                    }
                    4 => storage
                        .list("d")
                        .try_collect::<Vec<_>>()
                        .await
                        .map(|listed| {
                            for meta in listed {
                                assert!(meta.path.starts_with("d/"), "{meta:?}");
                            }
                        }),
                    _ => {
                        async {
                            storage
                                .write(&format!("d/new{worker}"), Bytes::from_static(b"x"))
                                .await?;
                            storage.delete(&format!("d/new{worker}")).await
                        }
                        .await
                    }
                };
                // Failures are expected while `d` is a symlink to outside
                // (the kernel refuses the escape); what matters is that
                // nothing outside is touched.
                if result.is_ok() {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    swapper.join().map_err(|_| "swapper panicked")??;
    for task in tasks {
        task.await?;
    }

    assert_eq!(
        outside_listing(&outside)?,
        before,
        "a file outside the root was changed or created"
    );
    let succeeded = ok.load(Ordering::Relaxed);
    eprintln!("symlink race: {SWAPS} swaps, {succeeded} calls succeeded");
    assert!(
        succeeded > 0,
        "no call ever succeeded; the race proved nothing"
    );
    Ok(())
}
