//! `strace`, for the tests that count syscalls as the kernel sees them
//! (`tests/local_*strace.rs`).
//!
//! strace is a Debian package; `scripts/test.sh` installs it when run as
//! root. Without it a test skips with a `SKIPPED` line on stderr (counted
//! by the test command), and fails under CI (`CI` set): there, a check that
//! passes by skipping would prove nothing.

use std::process::Command;

/// Whether `strace` can run here; else says `SKIPPED` (or panics under CI).
pub fn have_strace() -> bool {
    if Command::new("strace").arg("-V").output().is_ok() {
        return true;
    }
    let msg = "strace is not installed (apt-get install -y strace)";
    if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
        panic!("{msg}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
    false
}
