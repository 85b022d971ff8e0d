//! `seerstore bench`: the standard workload set runs on a temporary local
//! directory (which it removes) and on any URL, with object_store beside it
//! under --compare. Small --scale: this checks the command, not speed.
#![cfg(feature = "cli")]

mod common_servers;

use std::process::Command;

use common_servers::var;

fn bench(args: &[&str], tmpdir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seerstore"))
        .arg("bench")
        .args(args)
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run seerstore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WORKLOADS: [&str; 6] = [
    "sstable-write 16 MiB",
    "random-read 4 KiB c=1",
    "random-read 4 KiB c=16",
    "random-read 4 KiB c=64",
    "small-writes 4 KiB x16",
    "list",
];

#[test]
fn default_run_uses_a_temporary_directory_and_removes_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = bench(&["--json", "--scale", "0.02", "--compare"], tmp.path());
    assert_eq!(code, 0, "stderr: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(doc["url"].as_str().expect("url").starts_with("file://"));
    let results = doc["results"].as_array().expect("results");
    for peer in ["seerstore", "object_store"] {
        for workload in WORKLOADS {
            let found = results.iter().find(|r| {
                r["peer"] == peer
                    && r["workload"]
                        .as_str()
                        .is_some_and(|w| w.starts_with(workload))
            });
            let row = found.unwrap_or_else(|| panic!("no {peer} {workload} in {stdout}"));
            assert!(row["ops"].as_u64().expect("ops") > 0, "{row}");
            assert!(row["ops_per_sec"].as_f64().expect("ops/s") > 0.0, "{row}");
            if peer == "seerstore" {
                assert!(row["ratio_to_object_store"].as_f64().is_some(), "{row}");
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("tmp").collect();
    assert!(
        left.is_empty(),
        "bench left {left:?} in its temporary directory"
    );
}

#[test]
fn runs_on_a_url_and_prints_a_table() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = bench(&["--url", "memory://", "--scale", "0.02"], tmp.path());
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.starts_with("seerstore bench on memory://"),
        "{stdout}"
    );
    for workload in WORKLOADS {
        assert!(stdout.contains(workload), "no {workload} row in {stdout}");
    }
    assert!(
        !stdout.contains("object_store "),
        "no comparison without --compare: {stdout}"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (code, _, stderr) = bench(&["--scale", "0"], tmp.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--scale"), "{stderr}");
    let (code, _, stderr) = bench(&["--url", "ftp://x/y"], tmp.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("seerstore: "), "{stderr}");
}

/// Runs the bench with --compare at a tiny scale and checks that every
/// workload ran on both peers.
fn bench_on_server(url: &str, options: &[String]) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<&str> = vec!["--url", url, "--compare", "--json", "--scale", "0.05"];
    for option in options {
        args.push("-o");
        args.push(option);
    }
    let (code, stdout, stderr) = bench(&args, tmp.path());
    assert_eq!(code, 0, "stderr: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 2 * WORKLOADS.len(), "{stdout}");
    for option in options {
        let secret = option.split_once('=').map(|(_, v)| v).unwrap_or_default();
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a credential was printed"
        );
    }
}

#[test]
fn bench_runs_against_s3s_fs() {
    let (Some(endpoint), Some(bucket), Some(key), Some(secret)) = (
        var("s3s-fs", "S3S_ENDPOINT"),
        var("s3s-fs", "S3S_BUCKET"),
        var("s3s-fs", "S3S_ACCESS_KEY_ID"),
        var("s3s-fs", "S3S_SECRET_ACCESS_KEY"),
    ) else {
        return;
    };
    let url = format!(
        "s3://{bucket}/{}?endpoint={endpoint}&region=us-east-1&allow_http=true",
        common_servers::unique_prefix("cli-bench")
    );
    bench_on_server(
        &url,
        &[
            format!("access_key_id={key}"),
            format!("secret_access_key={secret}"),
        ],
    );
}

#[test]
fn bench_runs_against_azurite() {
    let (Some(endpoint), Some(container), Some(account), Some(key)) = (
        var("Azurite", "AZURITE_ENDPOINT"),
        var("Azurite", "AZURITE_CONTAINER"),
        var("Azurite", "AZURITE_ACCOUNT"),
        var("Azurite", "AZURITE_KEY"),
    ) else {
        return;
    };
    let url = format!(
        "az://{container}/{}",
        common_servers::unique_prefix("cli-bench")
    );
    bench_on_server(
        &url,
        &[
            format!("endpoint={endpoint}"),
            "allow_http=true".to_owned(),
            format!("account_name={account}"),
            format!("access_key={key}"),
        ],
    );
}
