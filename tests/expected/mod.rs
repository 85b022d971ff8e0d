//! The conformance checks each kind of backend is expected to find not
//! applicable, by name (`Report::assert_outcomes`): every other check must
//! run and pass. A change of a backend's `Capabilities` that turns checks
//! on or off shows here as a diff.
#![allow(dead_code)]

/// The checks that need `Capabilities::appends`.
pub const APPENDS: [&str; 6] = [
    "append_offsets_contiguous",
    "concurrent_appends_disjoint_in_order",
    "sync_covers_earlier_appends",
    "reads_while_growing",
    "appender_refuses_existing",
    "append_after_finish_fails",
];

/// `LocalStorage` (and wrappers over it): every check but a key that is
/// an object and a directory at once.
pub const LOCAL: [&str; 1] = ["file_and_dir_keys"];

/// An object store through `ObjectStorage` (object_store 0.14): no
/// appends, no copy conditional on a version, `rename` is a copy then a
/// delete, and `sync` does not look for the object; then `more`.
pub fn object_store(more: &[&'static str]) -> Vec<&'static str> {
    let mut out = vec![
        "sync_of_missing_not_found",
        "copy_update_requires_current_version",
        "rename_update_requires_current_version",
        "rename_is_atomic",
    ];
    out.extend(APPENDS);
    out.extend_from_slice(more);
    out
}
