//! The `seerstore` binary against file:// directories and memory://:
//! put (stdin and file), cat with ranges, ls / -l / --json, stat, rm,
//! probe, and every error path with its exit code and message.
#![cfg(feature = "cli")]

mod cli_common;

use cli_common::{data, seerstore};

const USAGE: i32 = 2;
const NOT_FOUND: i32 = 3;

struct Db {
    _dir: tempfile::TempDir,
    url: String,
}

fn db() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}", dir.path().display());
    Db { _dir: dir, url }
}

impl Db {
    fn at(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }
}

#[test]
fn put_from_stdin_and_from_a_file_then_cat_them_back() {
    let db = db();
    // More than one of put's 4 MiB chunks, so the writer sees several.
    let big = data(9 * 1024 * 1024 + 17);
    seerstore(&["put", &db.at("L0/1.sst")], Some(&big)).ok();
    let run = seerstore(&["cat", &db.at("L0/1.sst")], None);
    assert_eq!(run.code, 0);
    assert!(run.stdout == big, "cat returned other bytes");

    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), b"from a file").expect("write");
    let path = file.path().to_str().expect("utf-8 path");
    seerstore(&["put", &db.at("L0/2.sst"), path], None).ok();
    assert_eq!(
        seerstore(&["cat", &db.at("L0/2.sst")], None).ok(),
        "from a file"
    );

    // An empty stdin is an empty object.
    seerstore(&["put", &db.at("empty")], Some(b"")).ok();
    assert_eq!(seerstore(&["cat", &db.at("empty")], None).ok(), "");
}

#[test]
fn cat_ranges() {
    let db = db();
    seerstore(&["put", &db.at("k")], Some(b"0123456789")).ok();
    let cat = |range: &str| seerstore(&["cat", "--range", range, &db.at("k")], None);
    assert_eq!(cat("2..5").ok(), "234");
    assert_eq!(cat("7..").ok(), "789");
    assert_eq!(cat("..3").ok(), "012");
    assert_eq!(cat("4..4").ok(), "");
    assert_eq!(cat("0..10").ok(), "0123456789");
    cat("5..3").fails(USAGE, "invalid range \"5..3\"");
    cat("x..3").fails(USAGE, "invalid range");
    cat("..").fails(USAGE, "invalid range");
    cat("3").fails(USAGE, "invalid range");
    cat("0..11").fails(USAGE, "invalid range 0..11 (object size 10)");
    cat("11..").fails(USAGE, "invalid range 11..10");
}

#[test]
fn ls_lists_keys_sorted_relative_to_the_url() {
    let db = db();
    for key in ["L1/b.sst", "L0/2.sst", "L0/10.sst", "MANIFEST", "L00/x"] {
        seerstore(&["put", &db.at(key)], Some(key.as_bytes())).ok();
    }
    assert_eq!(
        seerstore(&["ls", &db.url], None).ok(),
        "L0/10.sst\nL0/2.sst\nL00/x\nL1/b.sst\nMANIFEST\n"
    );
    // Relative to the URL; a trailing slash is the same directory.
    assert_eq!(
        seerstore(&["ls", &db.at("L0")], None).ok(),
        "10.sst\n2.sst\n"
    );
    assert_eq!(
        seerstore(&["ls", &db.at("L0/")], None).ok(),
        "10.sst\n2.sst\n"
    );

    let long = seerstore(&["ls", "-l", &db.at("L0")], None).ok();
    let rows: Vec<Vec<&str>> = long.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][..2], ["10.sst", "9"]);
    assert_eq!(&rows[1][..2], ["2.sst", "8"]);
    assert!(rows
        .iter()
        .all(|r| r.len() == 3 && !r[2].is_empty() && r[2] != "-"));

    let json: serde_json::Value =
        serde_json::from_str(&seerstore(&["ls", "--json", &db.at("L1")], None).ok()).expect("json");
    assert_eq!(json[0]["key"], "b.sst");
    assert_eq!(json[0]["size"], 8);
    assert!(json[0]["version"].is_string());
    assert_eq!(json.as_array().map(Vec::len), Some(1));

    // An empty directory lists nothing.
    std::fs::create_dir(db._dir.path().join("void")).expect("mkdir");
    assert_eq!(seerstore(&["ls", &db.at("void")], None).ok(), "");
}

#[test]
fn stat_prints_size_version_and_time() {
    let db = db();
    seerstore(&["put", &db.at("L0/1.sst")], Some(b"12345")).ok();
    let text = seerstore(&["stat", &db.at("L0/1.sst")], None).ok();
    assert!(text.contains("key      1.sst\n"), "{text}");
    assert!(text.contains("size     5\n"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&seerstore(&["stat", "--json", &db.at("L0/1.sst")], None).ok())
            .expect("json");
    assert_eq!(json["size"], 5);
    let version = json["version"].as_str().expect("a version");
    assert!(text.contains(&format!("version  {version}\n")), "{text}");
    let modified = json["last_modified"].as_str().expect("a time");
    assert!(
        modified.ends_with('Z') && modified.len() == 30,
        "{modified}"
    );
    assert!(text.contains(&format!("modified {modified}")), "{text}");
}

#[test]
fn rm_deletes_and_a_missing_object_is_not_found_unless_forced() {
    let db = db();
    seerstore(&["put", &db.at("L0/1.sst")], Some(b"x")).ok();
    seerstore(&["rm", &db.at("L0/1.sst")], None).ok();
    seerstore(&["cat", &db.at("L0/1.sst")], None).fails(NOT_FOUND, "not found");
    seerstore(&["rm", &db.at("L0/1.sst")], None).fails(NOT_FOUND, "delete \"1.sst\": not found");
    seerstore(&["rm", "-f", &db.at("L0/1.sst")], None).ok();
}

#[test]
fn probe_reports_what_a_directory_honours() {
    let db = db();
    let text = seerstore(&["probe", &db.url], None).ok();
    assert!(text.contains("conditional create       yes"), "{text}");
    assert!(text.contains("keys a and a/b together  NO"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&seerstore(&["probe", "--json", &db.url], None).ok()).expect("json");
    assert_eq!(json["conditional_update"], true);
    assert_eq!(json["file_and_dir_keys"], false);
    assert_eq!(json["missing"], serde_json::json!(["file_and_dir_keys"]));
    // The scratch keys are gone again.
    assert_eq!(seerstore(&["ls", &db.url], None).ok(), "");
}

#[test]
fn memory_urls_work_within_one_run() {
    // Each run has its own empty in-memory store: probe and ls are the
    // meaningful commands.
    let json: serde_json::Value =
        serde_json::from_str(&seerstore(&["probe", "--json", "memory:///t"], None).ok())
            .expect("json");
    // object_store has no copy conditional on a version.
    assert_eq!(json["missing"], serde_json::json!(["copy_update"]));
    assert_eq!(seerstore(&["ls", "memory:///t"], None).ok(), "");
    seerstore(&["put", "memory:///t/k"], Some(b"x")).ok();
    seerstore(&["cat", "memory:///t/k"], None).fails(NOT_FOUND, "not found");
}

#[test]
fn error_paths_have_one_line_and_an_exit_code() {
    let db = db();
    seerstore(&["cat", &db.at("missing.sst")], None)
        .fails(NOT_FOUND, "head \"missing.sst\": not found");
    seerstore(&["stat", &db.at("missing.sst")], None).fails(NOT_FOUND, "not found");
    seerstore(&["ls", &db.at("no/such/dir")], None).fails(NOT_FOUND, "no such directory");
    seerstore(&["cat", "not a url"], None).fails(USAGE, "invalid storage URL");
    seerstore(&["cat", "ftp://host/x"], None).fails(USAGE, "unknown scheme \"ftp\"");
    seerstore(&["cat", "file:///x.sst"], None).fails(USAGE, "refusing to use / as a storage root");
    seerstore(&["ls", "file:///"], None).fails(USAGE, "refusing to use / as a storage root");
    seerstore(&["cat", &format!("{}/", db.url)], None)
        .fails(USAGE, "names a directory or prefix, not an object");
    seerstore(&["cat", &db.at("..%2Fb")], None).fails(USAGE, "invalid path");
    seerstore(&["put", &db.at("k"), "/no/such/input"], None)
        .fails(NOT_FOUND, "cannot read /no/such/input");
    seerstore(&["-o", "novalue", "ls", &db.url], None).fails(USAGE, "expected KEY=VALUE");
    // Nothing was created by the failed commands.
    assert_eq!(seerstore(&["ls", &db.url], None).ok(), "");
    assert!(!db._dir.path().join("no").exists());

    // Clap's own usage errors exit 2 as well.
    let run = seerstore(&["frobnicate"], None);
    assert_eq!(run.code, USAGE);
    assert!(run.stderr.contains("unrecognized subcommand"), "{run:?}");
}

#[test]
fn credentials_in_a_url_are_never_printed() {
    let url = "s3://bucket/a/k.sst?secret_access_key=hunter2&session_token=tok3n&bogus=1";
    let run = seerstore(&["cat", url], None);
    run.fails(USAGE, "unknown option \"bogus\"");
    assert!(
        !run.stderr.contains("hunter2") && !run.stderr.contains("tok3n"),
        "{run:?}"
    );
    let run = seerstore(
        &[
            "cat",
            "-o",
            "secret_access_key=hunter2",
            "-o",
            "bogus=1",
            url,
        ],
        None,
    );
    assert!(!run.stderr.contains("hunter2"), "{run:?}");
}

#[test]
fn commands_leave_the_directory_to_its_owner() {
    // An abandoned temp file of a crashed writer: the database's own open
    // sweeps it; a look with the command line does not.
    let db = db();
    std::fs::create_dir(db._dir.path().join("L0")).expect("mkdir");
    let abandoned = db._dir.path().join("L0/.seerstore-tmp.1.0.0");
    std::fs::write(&abandoned, b"half").expect("write");
    seerstore(&["put", &db.at("L0/1.sst")], Some(b"x")).ok();
    assert_eq!(seerstore(&["ls", &db.url], None).ok(), "L0/1.sst\n");
    seerstore(&["stat", &db.at("L0/1.sst")], None).ok();
    assert!(abandoned.exists());
}

#[test]
fn verbose_traces_calls_and_keeps_errors_to_one_seerstore_line() {
    let db = db();
    seerstore(&["put", &db.at("k")], Some(b"0123456789")).ok();
    let run = seerstore(&["-v", "cat", "--range", "2..4", &db.at("k")], None);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, b"23");
    assert!(run.stderr.contains("operation=\"read_range\""), "{run:?}");
    assert!(run.stderr.contains("bytes=2"), "{run:?}");

    let run = seerstore(&["-v", "cat", &db.at("missing")], None);
    assert_eq!(run.code, NOT_FOUND);
    assert!(run.stderr.contains("error=\"not_found\""), "{run:?}");
    let ours: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("seerstore: "))
        .collect();
    assert_eq!(ours.len(), 1, "{run:?}");
}
