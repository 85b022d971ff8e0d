//! `wal`: durable 4 KiB commits from 1, 4, 16 and 64 concurrent committers
//! through an appender (append + sync: group commit), one object per commit
//! (seerstore `write`), object_store `put` with fsync, and plain std
//! (`write_all` + `fdatasync` from one thread), all in one run. The
//! workload is `seerstore bench --workload wal`'s (src/bin/seerstore/wal.rs);
//! after criterion's figures this prints that command's table, with
//! flushes per commit and the ratios to the peers and to the group-commit
//! limit.

#![allow(missing_docs)] // criterion's macros make undocumented items

#[path = "../src/bin/seerstore/wal.rs"]
mod wal;

use std::time::Duration;

use criterion::Criterion;

fn bench(c: &mut Criterion, runtime: &tokio::runtime::Runtime, fixture: &wal::Fixture) {
    for committers in wal::LEVELS {
        let mut group = c.benchmark_group(format!("wal c={committers}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for peer in wal::Peer::ALL {
            group.bench_function(peer.name(), |b| {
                b.iter_custom(|iters| {
                    // One iteration = one commit, at this concurrency.
                    let commits = iters.max(committers as u64);
                    let run = runtime
                        .block_on(fixture.run(peer, committers, commits))
                        .expect("wal run");
                    run.elapsed.mul_f64(iters as f64 / commits as f64)
                })
            });
        }
        group.finish();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = runtime
        .block_on(wal::Fixture::new(dir.path()))
        .expect("fixture");
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &runtime, &fixture);
    criterion.final_summary();
    let runs = runtime
        .block_on(wal::compare(&fixture, 2000, 3, |_| {}))
        .expect("wal compare");
    println!(
        "\nwal: median of 3 interleaved rounds of 2000 commits\n{}",
        wal::table(&runs)
    );
}
