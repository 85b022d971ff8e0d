//! `seerstore bench`: an LSM engine's storage workloads against any URL,
//! optionally beside object_store used directly on the same backend.
//!
//! Workloads: SSTable writes streamed through `writer()`, 4 KiB random block
//! reads at concurrency 1, 16 and 64, small durable writes from 16 writers,
//! and listing. Every figure is measured in this run; with `--compare`, the
//! same operations go through object_store directly (LocalFileSystem with
//! fsync for `file://`, the store `object_store::parse_url_opts` builds
//! otherwise) and the last column is seerstore's ratio to it.

mod subject;
mod workloads;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::exit::CliError;
use subject::{direct_store, Subject};
use workloads::{progress, run_workloads, sizes};

/// The block size of the random-read and small-write workloads.
const BLOCK: u64 = 4096;

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The storage URL; a temporary local directory when `None`.
    pub url: Option<String>,
    /// Also run every workload through object_store directly.
    pub compare: bool,
    /// Print JSON instead of a table.
    pub json: bool,
    /// Multiplies the number of operations (1.0 = the standard set).
    pub scale: f64,
    /// Run the `wal` workload instead of the standard set.
    pub wal: bool,
}

/// One measured workload on one peer.
#[derive(Debug, Clone)]
struct Row {
    workload: String,
    peer: &'static str,
    ops: u64,
    bytes: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Row {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("seerstore-bench-{}-{nanos}", std::process::id())
}

/// Runs the standard workload set and prints the results.
pub async fn run(settings: Settings, options: &[(String, String)]) -> Result<i32, CliError> {
    let temp = match &settings.url {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(unique());
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::io(&format!("cannot create {}", dir.display()), e))?;
            Some(dir)
        }
    };
    let url = match (&settings.url, &temp) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => format!("file://{}", dir.display()),
        (None, None) => unreachable!("a temporary directory exists without --url"),
    };
    if settings.wal {
        let outcome = wal_bench(&settings, &url).await;
        if let Some(dir) = temp {
            let _ = std::fs::remove_dir_all(dir);
        }
        return outcome.map(|()| 0);
    }
    let outcome = bench(&settings, &url, options).await;
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let rows = outcome?;
    print(&settings, &url, &rows)?;
    Ok(0)
}

async fn bench(
    settings: &Settings,
    url: &str,
    options: &[(String, String)],
) -> Result<Vec<Row>, CliError> {
    let storage = seerstore::open_with(url, options.iter().cloned()).await?;
    let remote = !(url.starts_with("file://") || url.starts_with("memory://"));
    let sizes = sizes(remote, settings.scale);
    let hidden = settings.json;
    let base = unique();
    let mut subjects = vec![Subject::Seerstore(storage)];
    if settings.compare {
        subjects.push(direct_store(url, options)?);
    }
    let mut rows = Vec::new();
    for subject in &subjects {
        let outcome = run_workloads(subject, &base, &sizes, hidden).await;
        subject.clean(&base).await;
        rows.extend(
            outcome
                .map_err(|e| CliError::other(format!("{} bench failed: {e}", subject.peer())))?,
        );
    }
    Ok(rows)
}

fn print(settings: &Settings, url: &str, rows: &[Row]) -> Result<(), CliError> {
    let baseline = |row: &Row| {
        rows.iter()
            .find(|r| r.peer == "object_store" && r.workload == row.workload)
            .map(|b| row.ops_per_sec() / b.ops_per_sec().max(1e-9))
    };
    let mut out = String::new();
    if settings.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": r.workload,
                    "peer": r.peer,
                    "ops": r.ops,
                    "seconds": r.elapsed.as_secs_f64(),
                    "ops_per_sec": r.ops_per_sec(),
                    "mb_per_sec": r.mb_per_sec(),
                    "p50_us": r.p50.as_secs_f64() * 1e6,
                    "p99_us": r.p99.as_secs_f64() * 1e6,
                    "ratio_to_object_store": if r.peer == "seerstore" { baseline(r) } else { None },
                })
            })
            .collect();
        let doc = serde_json::json!({ "url": seerstore::redact_url(url), "results": list });
        out.push_str(&doc.to_string());
        out.push('\n');
    } else {
        out.push_str(&format!(
            "seerstore bench on {}\n\n",
            seerstore::redact_url(url)
        ));
        out.push_str(&format!(
            "{:<26} {:<13} {:>12} {:>9} {:>10} {:>10} {:>14}\n",
            "workload", "peer", "ops/s", "MB/s", "p50", "p99", "vs object_store"
        ));
        for r in rows {
            let ratio = match (r.peer, baseline(r)) {
                ("seerstore", Some(x)) => format!("{x:.2}x"),
                _ => String::new(),
            };
            out.push_str(&format!(
                "{:<26} {:<13} {:>12.0} {:>9.1} {:>10} {:>10} {:>14}\n",
                r.workload,
                r.peer,
                r.ops_per_sec(),
                r.mb_per_sec(),
                format!("{:.1?}", r.p50),
                format!("{:.1?}", r.p99),
                ratio
            ));
        }
        out.push_str(&format!(
            "\n{} cores; figures from this run only (compare side by side, not across machines)\n",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ));
    }
    write_stdout(&out)
}

/// The `wal` workload (see `wal.rs`) in a fresh directory under the local
/// URL, removed afterwards.
async fn wal_bench(settings: &Settings, url: &str) -> Result<(), CliError> {
    let parsed = url::Url::parse(url).map_err(|e| CliError::usage(format!("bad URL: {e}")))?;
    if parsed.scheme() != "file" {
        return Err(CliError::usage(
            "--workload wal needs a local directory (file:// or no --url): \
             object stores have no appends",
        ));
    }
    let dir = std::path::Path::new(parsed.path()).join(unique());
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::io(&format!("cannot create {}", dir.display()), e))?;
    let commits = ((2000.0 * settings.scale).round() as u64).max(1);
    let bar = progress(
        "wal",
        (crate::wal::LEVELS.len() * crate::wal::Peer::ALL.len() * 3) as u64,
        settings.json,
    );
    let outcome = async {
        let fixture = crate::wal::Fixture::new(&dir).await?;
        crate::wal::compare(&fixture, commits, 3, |label| {
            bar.set_message(label.to_owned());
            bar.inc(1);
        })
        .await
    }
    .await;
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);
    let runs = outcome.map_err(|e| CliError::other(format!("wal bench failed: {e}")))?;
    let out = if settings.json {
        let results: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": format!("wal 4 KiB c={}", r.committers),
                    "peer": r.peer.name(),
                    "committers": r.committers,
                    "ops": r.commits,
                    "seconds": r.elapsed.as_secs_f64(),
                    "ops_per_sec": r.commits_per_sec(),
                    "p50_us": r.quantile(0.5).as_secs_f64() * 1e6,
                    "p99_us": r.quantile(0.99).as_secs_f64() * 1e6,
                    "flushes_per_commit": r.flushes_per_commit(),
                    "group_commit_limit": crate::wal::limit(&runs, r.committers),
                })
            })
            .collect();
        let doc = serde_json::json!({ "url": seerstore::redact_url(url), "results": results });
        format!("{doc}\n")
    } else {
        format!(
            "seerstore bench --workload wal on {} (4 KiB records; each commit = append + sync;\n\
             median of 3 interleaved rounds of {commits} commits; x limit = commits/s over\n\
             committers / one plain-std commit time)\n\n{}",
            seerstore::redact_url(url),
            crate::wal::table(&runs)
        )
    };
    write_stdout(&out)
}

/// Writes a finished report to stdout; a closed pipe (`| head`) is not an
/// error.
fn write_stdout(out: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::io("cannot write to stdout", e)),
    }
}
