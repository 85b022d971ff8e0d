//! Fuzzes key validation and storage-URL parsing.
//!
//! Keys: whatever `validate_path` accepts has no empty, `.` or `..`
//! segment, no `\`, no control character, fits `MAX_PATH_BYTES`, and is
//! returned unchanged; `validate_prefix` agrees with it on keys.
//!
//! URLs: `seerstore::open` never panics, and a password it was given in
//! the URL never appears in the error. `file:` URLs are skipped (they would
//! create directories on the fuzzing machine).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use seerstore::path::{validate_path, validate_prefix, MAX_PATH_BYTES};
use seerstore::Operation;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fn check_key(key: &str) {
    let Ok(valid) = validate_path(Operation::Read, key) else {
        return;
    };
    assert_eq!(valid, key);
    assert!(key.len() <= MAX_PATH_BYTES);
    assert!(!key.contains('\\'));
    assert!(!key.chars().any(char::is_control));
    for segment in key.split('/') {
        assert!(!segment.is_empty() && segment != "." && segment != "..");
    }
    assert_eq!(validate_prefix(Operation::List, key).ok(), Some(key));
}

fn check_url(text: &str) {
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("file:") || !lower.contains(':') {
        return;
    }
    let password = url::Url::parse(text)
        .ok()
        .and_then(|u| u.password().map(str::to_owned));
    if let Err(err) = runtime().block_on(seerstore::open(text)) {
        // A password that also occurs elsewhere in the URL (in the path,
        // say) may rightly be shown there.
        if let Some(password) = password.filter(|p| p.len() >= 4 && text.matches(p.as_str()).count() == 1) {
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(&password), "password shown: {shown}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_key(text);
        check_url(text);
    }
});
