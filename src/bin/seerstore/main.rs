//! `seerstore`: look at and move objects in any storage `seerstore::open`
//! accepts (feature `cli`).
//!
//! ```text
//! seerstore ls    [-l] [--json] URL        keys below URL, sorted, one a line
//! seerstore stat  [--json] URL             size, version, modification time
//! seerstore cat   [--range A..B] URL       bytes to stdout
//! seerstore put   URL [FILE]               FILE (or stdin) streamed to URL
//! seerstore rm    [-f] URL                 delete the object
//! seerstore probe [--json] URL             what the backend really honours
//! ```
//!
//! Global options: `-o KEY=VALUE` (a storage option, as in a URL's query;
//! repeatable) and `-v` (trace calls and retries to stderr).
//!
//! An object URL is opened at its parent (`file:///data/db/L0/1.sst` is the
//! key `1.sst` in `file:///data/db/L0`; `s3://b/a/1.sst?endpoint=…` is the
//! key `1.sst` under `s3://b/a?endpoint=…`), so no command opens `/` as a
//! root. Exit codes: see [`exit`].

mod bench;
mod commands;
mod exit;
// The library's own decoding of URL escapes, compiled in here too: the
// key of an object URL is decoded exactly as `open` decodes a path,
// without making the function public API.
#[path = "../../open/percent.rs"]
mod percent;
mod target;
mod wal;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Look at and move objects in local directories and object stores.
///
/// URLs: file:///abs/dir, memory://, s3://bucket/prefix, gs://bucket/prefix,
/// az://container/prefix, with options in the query string
/// (s3://b/p?endpoint=http://127.0.0.1:9000&allow_http=true); credentials
/// come from the environment or from --option.
///
/// Exit codes: 0 success, 1 failure of the storage (I/O, network, conflict),
/// 2 usage (bad argument, URL, key or range), 3 not found, 4 probe found a
/// conditional write the backend does not honour.
#[derive(Debug, Parser)]
#[command(name = "seerstore", version, max_term_width = 100)]
struct Cli {
    /// A storage option, as in a URL's query (repeatable), e.g.
    /// `-o secret_access_key=...`; kept out of shell history's URLs.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE", global = true)]
    options: Vec<String>,

    /// Trace every storage call (when it ends: key, bytes, attempts, error
    /// kind, time) and every retry to stderr. Fields never hold credentials
    /// or URLs.
    #[arg(short = 'v', long = "verbose", global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an LSM engine's storage workloads and print a results table:
    /// SSTable writes, 4 KiB random reads at concurrency 1/16/64, small
    /// durable writes, listing (or, with `--workload wal`, WAL commits). Without --url, on a temporary local
    /// directory that is removed afterwards.
    Bench {
        /// Any URL `open` takes (a prefix: objects are written under a
        /// unique subdirectory and removed afterwards).
        #[arg(long)]
        url: Option<String>,
        /// Also run every workload through object_store directly on the
        /// same backend, and print seerstore's ratio to it.
        #[arg(long)]
        compare: bool,
        /// Print JSON instead of a table (no progress bars).
        #[arg(long)]
        json: bool,
        /// Multiply the number of operations (e.g. 0.1 for a quick look).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// `standard` (the set above) or `wal`: durable 4 KiB commits from
        /// 1/4/16/64 committers through an appender (group commit), one
        /// object per commit, object_store puts and plain std, side by side
        /// (local directories only).
        #[arg(long, default_value = "standard")]
        workload: String,
    },
    /// List the keys below URL (recursively), relative to URL, sorted.
    Ls {
        /// A directory or prefix.
        url: String,
        /// Also print each object's size and version: KEY<TAB>SIZE<TAB>VERSION.
        #[arg(short = 'l', long = "long")]
        long: bool,
        /// Print a JSON array of objects.
        #[arg(long)]
        json: bool,
    },
    /// Print an object's metadata.
    Stat {
        /// An object.
        url: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write an object's bytes (or a range of them) to stdout.
    Cat {
        /// An object.
        url: String,
        /// Bytes A..B (end exclusive), A.. (to the end) or ..B (the first B).
        #[arg(long, value_name = "A..B")]
        range: Option<String>,
    },
    /// Stream FILE (or stdin) into an object, replacing it atomically.
    Put {
        /// The object to write.
        url: String,
        /// The file to read; stdin when absent.
        file: Option<PathBuf>,
    },
    /// Delete an object.
    Rm {
        /// An object.
        url: String,
        /// Succeed when the object does not exist.
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
    /// Find out which promises the backend at URL really keeps: writes and
    /// removes a few scratch objects under URL/.seerstore-probe.
    Probe {
        /// A directory or prefix where scratch objects may be written.
        url: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    exit::quiet_panics();
    let cli = Cli::parse();
    if cli.verbose {
        trace_to_stderr();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => exit::fail(exit::CliError::other(format!(
            "cannot start the runtime: {e}"
        ))),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(err) => exit::fail(err),
    }
}

/// Prints seerstore's spans (when they close, with their fields and time)
/// and retry events to stderr.
fn trace_to_stderr() {
    use tracing_subscriber::fmt::format::FmtSpan;
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .finish();
    // Only fails if a subscriber is already set, which nothing else does.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
