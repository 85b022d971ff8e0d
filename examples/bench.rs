//! The benchmark runner: seerstore's local backend beside its peers, all
//! measured in the same run.
//!
//! ```text
//! cargo run --release --example bench -- --workload random-read --concurrency 64 [--json out.json]
//! ```
//!
//! Prints, per peer, ops/s, MB/s, p50/p99 latency and seerstore's ops/s as a
//! multiple of the peer's. Peers run interleaved, round after round, and
//! each keeps its median round. `--help` lists every option.

#[path = "../benches/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::process::ExitCode;

use common::{compare, Bench, Options, Peer, Sample, Workload};

const USAGE: &str = "\
usage: bench [--workload NAME|all] [--concurrency N] [--ops N] [--rounds N]
             [--threads N] [--file-size MiB] [--block-size BYTES] [--ranges N]
             [--object-size MiB] [--keys N] [--peers a,b,...] [--dir PATH]
             [--cold] [--json PATH]

workloads: random-read (default), read-ranges, sstable-write, sstable-writer,
           small-writes, list, all
peers:     seerstore, seerstore-blocking, object_store, opendal, tokio-fs,
           plain-threads, device (cold reads only)
--ops is per peer and round (default depends on the workload);
--concurrency: operations in flight (tasks; writer threads for plain-threads
writes); --threads: OS threads of the plain-thread read limit (default: cores, or
--concurrency with --cold);
--cold: drop the read file from the page cache before every round, and run
the device peer (O_DIRECT pread on --concurrency threads) beside the others.
Every run also prints the bytes fetched from the device per byte asked, the
average requests in flight at the disks (device-wide) and CPU time per op.";

struct Args {
    workloads: Vec<Workload>,
    concurrency: Option<usize>,
    ops: Option<u64>,
    rounds: usize,
    threads: Option<usize>,
    file_size_mib: Option<u64>,
    block_size: Option<u64>,
    ranges: Option<usize>,
    object_size_mib: Option<usize>,
    keys: Option<usize>,
    peers: Option<Vec<String>>,
    dir: Option<std::path::PathBuf>,
    json: Option<std::path::PathBuf>,
    cold: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workloads: vec![Workload::RandomRead],
        concurrency: None,
        ops: None,
        rounds: 3,
        threads: None,
        file_size_mib: None,
        block_size: None,
        ranges: None,
        object_size_mib: None,
        keys: None,
        peers: None,
        dir: None,
        json: None,
        cold: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--cold" {
            args.cold = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--workload" => {
                args.workloads = if value == "all" {
                    Workload::ALL.to_vec()
                } else {
                    vec![Workload::parse(&value).ok_or(format!("unknown workload {value}"))?]
                }
            }
            "--concurrency" => args.concurrency = Some(number(&value)? as usize),
            "--ops" => args.ops = Some(number(&value)?),
            "--rounds" => args.rounds = number(&value)? as usize,
            "--threads" => args.threads = Some(number(&value)? as usize),
            "--file-size" => args.file_size_mib = Some(number(&value)?),
            "--block-size" => args.block_size = Some(number(&value)?),
            "--ranges" => args.ranges = Some(number(&value)? as usize),
            "--object-size" => args.object_size_mib = Some(number(&value)? as usize),
            "--keys" => args.keys = Some(number(&value)? as usize),
            "--peers" => args.peers = Some(value.split(',').map(str::to_owned).collect()),
            "--dir" => args.dir = Some(value.into()),
            "--json" => args.json = Some(value.into()),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

fn default_ops(workload: Workload) -> u64 {
    match workload {
        Workload::RandomRead => 200_000,
        Workload::ReadRanges => 20_000,
        Workload::SstableWrite | Workload::SstableWriter => 4,
        Workload::SmallWrites => 1_600,
        Workload::List => 10,
    }
}

fn options_for(workload: Workload, args: &Args) -> Options {
    let mut o = Options::new(workload);
    if let Some(v) = args.concurrency {
        o.concurrency = v;
    }
    if let Some(v) = args.threads {
        o.threads = v;
    }
    if let Some(v) = args.file_size_mib {
        o.file_size = v << 20;
    }
    if let Some(v) = args.block_size {
        o.block_size = v;
    }
    if let Some(v) = args.ranges {
        o.ranges_per_call = v;
    }
    if let Some(v) = args.object_size_mib {
        o.object_size = v << 20;
    }
    if let Some(v) = args.keys {
        o.keys = v;
    }
    o.dir = args.dir.clone();
    o.cold = args.cold;
    if o.cold && args.threads.is_none() {
        // Cold reads wait for the device: plain threads at the same queue
        // depth as the async peers.
        o.threads = o.concurrency;
    }
    o
}

fn fmt_latency(d: std::time::Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn print_table(workload: Workload, options: &Options, ops: u64, results: &[(Peer, Sample)]) {
    println!(
        "\n## {}{} (concurrency {}, {} ops per peer and round)\n",
        workload.name(),
        if options.cold {
            ", cold page cache"
        } else {
            ""
        },
        options.concurrency,
        ops
    );
    let ops_of = |wanted: Peer| {
        results
            .iter()
            .find(|(p, _)| *p == wanted)
            .map(|(_, s)| s.ops_per_sec())
    };
    let seer = ops_of(Peer::Seerstore);
    let device = ops_of(Peer::Device);
    let list = workload == Workload::List;
    print!("| peer | ops/s | MB/s | p50 | p99 |");
    if list {
        print!(" first key p50 |");
    }
    if device.is_some() {
        print!(" ÷ device |");
    }
    println!(" device B per B | in flight | CPU/op | seerstore ÷ peer |");
    print!("|---|---:|---:|---:|---:|");
    if list {
        print!("---:|");
    }
    if device.is_some() {
        print!("---:|");
    }
    println!("---:|---:|---:|---:|");
    for (peer, sample) in results {
        print!(
            "| {} | {:.0} | {:.1} | {} | {} |",
            peer.name(),
            sample.ops_per_sec(),
            sample.mb_per_sec(),
            fmt_latency(Sample::quantile(&sample.latencies, 0.5)),
            fmt_latency(Sample::quantile(&sample.latencies, 0.99)),
        );
        if list {
            print!(
                " {} |",
                fmt_latency(Sample::quantile(&sample.first_item, 0.5))
            );
        }
        if let Some(device) = device {
            print!(" {:.2}× |", sample.ops_per_sec() / device);
        }
        print!(
            " {:.2} | {:.1} | {} |",
            sample.device_bytes_per_byte(),
            sample.counters.queue_depth(sample.elapsed),
            fmt_latency(sample.cpu_per_op()),
        );
        match seer {
            Some(seer) => println!(" {:.2}× |", seer / sample.ops_per_sec()),
            None => println!(" – |"),
        }
    }
}

/// One workload's results: its options, ops per round and each peer's sample.
type Results = (Workload, Options, u64, Vec<(Peer, Sample)>);

fn json_of(all: &[Results]) -> String {
    let mut out = String::from("{\n  \"workloads\": [\n");
    for (wi, (workload, options, ops, results)) in all.iter().enumerate() {
        let seer = results
            .iter()
            .find(|(p, _)| *p == Peer::Seerstore)
            .map(|(_, s)| s.ops_per_sec());
        let _ = writeln!(
            out,
            "    {{\"workload\": \"{}\", \"concurrency\": {}, \"ops_per_round\": {}, \"peers\": [",
            workload.name(),
            options.concurrency,
            ops
        );
        for (pi, (peer, s)) in results.iter().enumerate() {
            let ratio = seer.map_or("null".to_owned(), |v| format!("{:.4}", v / s.ops_per_sec()));
            let _ = writeln!(
                out,
                "      {{\"peer\": \"{}\", \"ops_per_sec\": {:.1}, \"mb_per_sec\": {:.2}, \"p50_us\": {:.2}, \"p99_us\": {:.2}, \"first_item_p50_us\": {:.2}, \"device_bytes_per_byte\": {:.3}, \"queue_depth\": {:.2}, \"cpu_us_per_op\": {:.2}, \"seerstore_ratio\": {}}}{}",
                peer.name(),
                s.ops_per_sec(),
                s.mb_per_sec(),
                Sample::quantile(&s.latencies, 0.5).as_secs_f64() * 1e6,
                Sample::quantile(&s.latencies, 0.99).as_secs_f64() * 1e6,
                Sample::quantile(&s.first_item, 0.5).as_secs_f64() * 1e6,
                s.device_bytes_per_byte(),
                s.counters.queue_depth(s.elapsed),
                s.cpu_per_op().as_secs_f64() * 1e6,
                ratio,
                if pi + 1 < results.len() { "," } else { "" }
            );
        }
        let _ = writeln!(out, "    ]}}{}", if wi + 1 < all.len() { "," } else { "" });
    }
    out.push_str("  ]\n}\n");
    out
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut all = Vec::new();
    for &workload in &args.workloads {
        let options = options_for(workload, &args);
        let mut peers = Peer::for_workload_cold(workload, options.cold);
        if let Some(wanted) = &args.peers {
            peers.retain(|p| wanted.iter().any(|w| w == p.name()));
        }
        let ops = args.ops.unwrap_or_else(|| default_ops(workload));
        let bench = match Bench::new(workload, options.clone()) {
            Ok(bench) => bench,
            Err(e) => {
                eprintln!("setting up {}: {e}", workload.name());
                return ExitCode::FAILURE;
            }
        };
        let results = compare(&bench, &peers, ops, args.rounds);
        print_table(workload, &options, ops, &results);
        all.push((workload, options, ops, results));
    }
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, json_of(&all)) {
            eprintln!("writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
