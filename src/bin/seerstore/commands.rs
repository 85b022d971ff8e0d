//! The subcommands.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;
use seerstore::{ObjectMeta, Storage};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::exit::{CliError, PROBE_MISSING};
use crate::target::{self, Create};
use crate::{Cli, Command};

/// Bytes `put` reads from its input and `get` from the object per step:
/// memory stays at about this much whatever the object's size.
const TRANSFER_STEP: usize = 4 * 1024 * 1024;

/// Runs the command; `Ok` carries the exit code.
pub async fn run(cli: Cli) -> Result<i32, CliError> {
    let options = target::options(&cli.options)?;
    match cli.command {
        Command::Bench {
            url,
            compare,
            json,
            scale,
            workload,
        } => {
            if !(scale.is_finite() && scale > 0.0) {
                return Err(CliError::usage(format!(
                    "--scale must be positive, got {scale}"
                )));
            }
            let wal = match workload.as_str() {
                "standard" => false,
                "wal" => true,
                other => {
                    return Err(CliError::usage(format!(
                        "--workload must be standard or wal, got {other:?}"
                    )))
                }
            };
            let settings = crate::bench::Settings {
                url,
                compare,
                json,
                scale,
                wal,
            };
            crate::bench::run(settings, &options).await
        }
        Command::Ls { url, long, json } => {
            let storage = target::prefix(&url, &options, Create::No).await?;
            ls(&*storage, long, json).await
        }
        Command::Stat { url, json } => {
            let target = target::object(&url, &options, Create::No).await?;
            let meta = target.storage.head(&target.key).await?;
            if json {
                println_out(&meta_json(&meta).to_string())?;
            } else {
                stat(&meta)?;
            }
            Ok(0)
        }
        Command::Cat { url, range } => {
            let range = range.as_deref().map(parse_range).transpose()?;
            let target = target::object(&url, &options, Create::No).await?;
            cat(&*target.storage, &target.key, range).await
        }
        Command::Put { url, file } => {
            // Open the input first: a missing file changes nothing.
            let input: Box<dyn AsyncRead + Unpin + Send> = match &file {
                Some(path) => Box::new(tokio::fs::File::open(path).await.map_err(|e| {
                    let what = format!("cannot read {}", path.display());
                    if e.kind() == std::io::ErrorKind::NotFound {
                        CliError::not_found(format!("{what}: {e}"))
                    } else {
                        CliError::io(&what, e)
                    }
                })?),
                None => Box::new(tokio::io::stdin()),
            };
            let target = target::object(&url, &options, Create::Yes).await?;
            put(&*target.storage, &target.key, input).await
        }
        Command::Rm { url, force } => {
            let target = target::object(&url, &options, Create::No).await?;
            if !force && !target.storage.exists(&target.key).await? {
                return Err(
                    seerstore::Error::not_found(seerstore::Operation::Delete, target.key).into(),
                );
            }
            target.storage.delete(&target.key).await?;
            Ok(0)
        }
        Command::Probe { url, json } => {
            let storage = target::prefix(&url, &options, Create::No).await?;
            let found = seerstore::probe(&*storage).await?;
            let missing = found.missing();
            if json {
                let value = serde_json::json!({
                    "versions": found.versions,
                    "conditional_create": found.conditional_create,
                    "atomic_create": found.atomic_create,
                    "conditional_update": found.conditional_update,
                    "atomic_update": found.atomic_update,
                    "range_past_end_rejected": found.range_past_end_rejected,
                    "file_and_dir_keys": found.file_and_dir_keys,
                    "appends": found.appends,
                    "copy_create": found.copy_create,
                    "copy_update": found.copy_update,
                    "list_dir": found.list_dir,
                    "emptied_dirs_vanish": found.emptied_dirs_vanish,
                    "delete_many": found.delete_many,
                    "missing": missing,
                });
                println_out(&value.to_string())?;
            } else {
                println_out(&found.to_string())?;
            }
            let conditional_writes_hold = found.conditional_create
                && found.atomic_create
                && found.conditional_update
                && found.atomic_update;
            Ok(if conditional_writes_hold {
                0
            } else {
                PROBE_MISSING
            })
        }
    }
}

async fn ls(storage: &dyn Storage, long: bool, json: bool) -> Result<i32, CliError> {
    let mut metas: Vec<ObjectMeta> = storage.list("").try_collect().await?;
    metas.sort_by(|a, b| a.path.cmp(&b.path));
    if json {
        let all: Vec<_> = metas.iter().map(meta_json).collect();
        println_out(&serde_json::Value::Array(all).to_string())?;
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for meta in &metas {
        let line = if long {
            writeln!(
                out,
                "{}\t{}\t{}",
                meta.path,
                meta.size,
                meta.version.as_deref().unwrap_or("-")
            )
        } else {
            writeln!(out, "{}", meta.path)
        };
        line.map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)?;
    Ok(0)
}

fn stat(meta: &ObjectMeta) -> Result<(), CliError> {
    let mut text = format!("key      {}\nsize     {}\n", meta.path, meta.size);
    text.push_str(&format!(
        "version  {}\n",
        meta.version.as_deref().unwrap_or("-")
    ));
    text.push_str(&format!(
        "modified {}",
        meta.last_modified
            .map(rfc3339)
            .unwrap_or_else(|| "-".into())
    ));
    println_out(&text)
}

fn meta_json(meta: &ObjectMeta) -> serde_json::Value {
    serde_json::json!({
        "key": meta.path,
        "size": meta.size,
        "version": meta.version,
        "last_modified": meta.last_modified.map(rfc3339),
    })
}

/// A range from `A..B`, `A..` or `..B`; the open ends are filled in once
/// the object's size is known.
#[derive(Debug, Clone, Copy)]
pub struct RangeArg {
    start: Option<u64>,
    end: Option<u64>,
}

fn parse_range(text: &str) -> Result<RangeArg, CliError> {
    let bad = || {
        CliError::usage(format!(
            "invalid range {text:?}: expected A..B, A.. or ..B with A <= B (bytes, end exclusive)"
        ))
    };
    let (start, end) = text.split_once("..").ok_or_else(bad)?;
    let number = |s: &str| -> Result<Option<u64>, CliError> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| bad())
        }
    };
    let range = RangeArg {
        start: number(start)?,
        end: number(end)?,
    };
    match range {
        RangeArg {
            start: Some(a),
            end: Some(b),
        } if a > b => Err(bad()),
        RangeArg {
            start: None,
            end: None,
        } => Err(bad()),
        _ => Ok(range),
    }
}

async fn cat(storage: &dyn Storage, key: &str, range: Option<RangeArg>) -> Result<i32, CliError> {
    // A head first: its size bounds the reads, so even a whole object is
    // copied in chunks, never held in memory at once.
    let size = storage.head(key).await?.size;
    let range = match range {
        None => 0..size,
        Some(RangeArg { start, end }) => start.unwrap_or(0)..end.unwrap_or(size),
    };
    seerstore::check_range(seerstore::Operation::ReadRange, key, &range, size)?;
    let mut stdout = tokio::io::stdout();
    let mut at = range.start;
    while at < range.end {
        let end = range.end.min(at + TRANSFER_STEP as u64);
        let bytes = storage.read_range(key, at..end).await?;
        if let Err(e) = stdout.write_all(&bytes).await {
            return quiet_broken_pipe(e);
        }
        at = end;
    }
    if let Err(e) = stdout.flush().await {
        return quiet_broken_pipe(e);
    }
    Ok(0)
}

async fn put(
    storage: &dyn Storage,
    key: &str,
    mut input: Box<dyn AsyncRead + Unpin + Send>,
) -> Result<i32, CliError> {
    let mut writer = storage.writer(key).await?;
    loop {
        let mut chunk = Vec::with_capacity(TRANSFER_STEP);
        let read = (&mut input)
            .take(TRANSFER_STEP as u64)
            .read_to_end(&mut chunk)
            .await;
        match read {
            Err(e) => {
                // Nothing is published; the error that matters is the input's.
                let _ = writer.abort().await;
                return Err(CliError::io("cannot read the input", e));
            }
            Ok(0) => break,
            Ok(_) => writer.write(Bytes::from(chunk)).await?,
        }
    }
    writer.finish().await?;
    Ok(0)
}

fn println_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

fn stdout_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // The reader went away (`| head`): not an error of ours.
        std::process::exit(0);
    }
    CliError::io("cannot write to stdout", e)
}

fn quiet_broken_pipe(e: std::io::Error) -> Result<i32, CliError> {
    Err(stdout_error(e))
}

/// `2026-11-25T04:43:31.123456789Z`, from the civil-from-days algorithm.
fn rfc3339(time: SystemTime) -> String {
    let Ok(since) = time.duration_since(UNIX_EPOCH) else {
        return "before 1970".into();
    };
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos()
    )
}
