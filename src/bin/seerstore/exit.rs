//! Errors as one line on stderr and an exit code.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | the storage failed: I/O, network, timeout, conflict, unsupported |
//! | 2 | usage: a bad argument, URL, key or range (also clap's own errors) |
//! | 3 | not found: the object (or a `file://` directory) does not exist |
//! | 4 | `probe`: a conditional write the backend does not honour |

use std::io::Write;

/// The storage failed.
pub const FAILURE: i32 = 1;
/// Bad input: arguments, URL, key or range.
pub const USAGE: i32 = 2;
/// The object does not exist.
pub const NOT_FOUND: i32 = 3;
/// `probe` found that conditional writes are not honoured.
pub const PROBE_MISSING: i32 = 4;

/// An error on its way to stderr: the message (cause chain included) and
/// the exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: USAGE,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: NOT_FOUND,
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: FAILURE,
        }
    }

    pub fn io(what: &str, err: std::io::Error) -> Self {
        Self::other(format!("{what}: {}", chain(&err)))
    }
}

impl From<seerstore::Error> for CliError {
    fn from(err: seerstore::Error) -> Self {
        use seerstore::Error;
        let code = match &err {
            Error::NotFound { .. } => NOT_FOUND,
            Error::InvalidPath { .. } | Error::InvalidRange { .. } | Error::InvalidUrl { .. } => {
                USAGE
            }
            _ => FAILURE,
        };
        Self {
            message: chain(&err),
            code,
        }
    }
}

/// The error and its causes joined by `: `, skipping a cause whose text
/// the message already holds (seerstore's messages quote their source).
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    // One line, whatever a server put into its message.
    message.replace(['\n', '\r'], " ")
}

/// Prints `seerstore: <message>` and exits with the error's code.
pub fn fail(err: CliError) -> ! {
    let _ = writeln!(std::io::stderr(), "seerstore: {}", err.message);
    std::process::exit(err.code)
}

/// A panic (a bug) still ends as one line and exit code 101, without a
/// backtrace.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "seerstore: internal error: {info}");
        std::process::exit(101);
    }));
}
