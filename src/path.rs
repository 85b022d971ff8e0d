//! Key validation, shared by every backend.
//!
//! A key is a relative path of `/`-separated segments. Validation runs before
//! any I/O, so a rejected key never touches the disk or the network.

use crate::error::{Error, Operation, Result};

/// The longest key accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// Segments starting with this are reserved for temporary files of
/// unfinished writes (see [`LocalStorage`](crate::LocalStorage)); a key with
/// such a segment is refused on every backend, so keys stay portable and no
/// legal key can be hidden from `list` or removed by `open`'s sweep.
pub const RESERVED_PREFIX: &str = ".seerstore-tmp";

/// Checks `path` against the key rules and returns it unchanged.
///
/// Rejected with [`Error::InvalidPath`]: an empty key, a leading or trailing
/// `/`, an empty segment (`a//b`), a `.` or `..` segment, `\`, NUL or any
/// other control character, a segment starting with [`RESERVED_PREFIX`], and
/// keys longer than [`MAX_PATH_BYTES`].
///
/// ```
/// use seerstore::path::validate_path;
/// use seerstore::error::Operation;
/// assert!(validate_path(Operation::Read, "L0/000123.sst").is_ok());
/// assert!(validate_path(Operation::Read, "../etc/passwd").is_err());
/// ```
pub fn validate_path(op: Operation, path: &str) -> Result<&str> {
    if path.is_empty() {
        return Err(Error::invalid_path(op, path, "empty path"));
    }
    check_rules(op, path, path)?;
    Ok(path)
}

/// Checks a `list` prefix: `""` lists everything; otherwise the key rules
/// apply, except that one trailing `/` is accepted and dropped
/// (`"L0/"` lists the same as `"L0"`). Returns the normalised prefix.
pub fn validate_prefix(op: Operation, prefix: &str) -> Result<&str> {
    if prefix.is_empty() {
        return Ok(prefix);
    }
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        return Err(Error::invalid_path(
            op,
            prefix,
            "prefix \"/\" (use \"\" to list everything)",
        ));
    }
    check_rules(op, prefix, trimmed)?;
    Ok(trimmed)
}

/// Whether `key` lies strictly under `prefix` by whole segments, as `list`
/// means it: `"L0"` holds `"L0/x"`, but neither `"L00/x"` nor `"L0"`
/// itself. `""` holds every key.
pub fn in_prefix(key: &str, prefix: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    match key.strip_prefix(prefix) {
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

fn check_rules(op: Operation, original: &str, path: &str) -> Result<()> {
    let reject = |reason: &str| Err(Error::invalid_path(op, original, reason));
    if original.len() > MAX_PATH_BYTES {
        return reject("longer than 1024 bytes");
    }
    if path.starts_with('/') {
        return reject("absolute path (leading '/')");
    }
    if path.ends_with('/') {
        return reject("trailing '/'");
    }
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return if c == '\0' {
            reject("NUL byte")
        } else {
            reject("control character")
        };
    }
    if path.contains('\\') {
        return reject("backslash");
    }
    for segment in path.split('/') {
        match segment {
            "" => return reject("empty segment ('//')"),
            "." => return reject("'.' segment"),
            ".." => return reject("'..' segment"),
            s if s.starts_with(RESERVED_PREFIX) => {
                return reject("segment uses the reserved temporary-file prefix \".seerstore-tmp\"")
            }
            _ => {}
        }
    }
    Ok(())
}

/// One key breaking each rule of [`validate_path`], and one a byte too
/// long: the validator's tests and the conformance suite's `bad_keys`.
#[cfg(any(test, feature = "conformance"))]
pub(crate) fn rejected_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "",
        "/abs",
        "a/",
        "a//b",
        ".",
        "..",
        "a/./b",
        "a/../b",
        "../escape",
        "x/..",
        "back\\slash",
        "nul\0byte",
        "new\nline",
        "del\u{7f}",
        ".seerstore-tmp.1",
        "a/.seerstore-tmp-x/b",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    keys.push("k".repeat(MAX_PATH_BYTES + 1));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "L0/000123.sst",
            "MANIFEST-000001",
            "a.b/c..d/.hidden",
            "ünïcödé/ключ",
        ] {
            assert_eq!(validate_path(Operation::Read, key).ok(), Some(key), "{key}");
        }
    }

    #[test]
    fn rejects_every_rule() {
        for key in &rejected_keys() {
            let err = validate_path(Operation::Write, key).expect_err(key);
            assert!(
                matches!(
                    err,
                    Error::InvalidPath {
                        op: Operation::Write,
                        ..
                    }
                ),
                "{key}: {err}"
            );
        }
        assert!(validate_path(Operation::Read, &"a".repeat(MAX_PATH_BYTES)).is_ok());
    }

    #[test]
    fn prefixes() {
        assert_eq!(validate_prefix(Operation::List, "").ok(), Some(""));
        assert_eq!(validate_prefix(Operation::List, "L0/").ok(), Some("L0"));
        assert_eq!(validate_prefix(Operation::List, "L0").ok(), Some("L0"));
        for bad in ["/", "//", "L0//", "/L0", "..", "a/../b"] {
            assert!(validate_prefix(Operation::List, bad).is_err(), "{bad}");
        }
        assert!(in_prefix("L0/x", "L0"));
        assert!(!in_prefix("L0", "L0"));
        assert!(!in_prefix("L00/x", "L0"));
        assert!(in_prefix("anything", ""));
    }
}
