//! The checks, one list. Each body returns `Err(message)` on a broken promise.

// The checks pass odd ranges on purpose.
#![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]

mod appends;
mod paths;
mod reads;
mod streaming;
mod writes;

use bytes::Bytes;
use futures::TryStreamExt;

use super::{Check, Requirement};
use crate::{Error, Storage};

/// Fails the check with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}
pub(crate) use ensure;

/// Declares a check from an `async fn(Context) -> Outcome`.
macro_rules! check {
    ($module:ident :: $name:ident, $requires:expr, $promise:expr) => {
        Check {
            name: stringify!($name),
            promise: $promise,
            requires: $requires,
            run: |cx| Box::pin($module::$name(cx)),
        }
    };
}

/// Every check, in running order.
pub(super) static ALL: &[Check] = &[
    // Paths
    check!(
        paths::invalid_paths_rejected_everywhere,
        Requirement::None,
        "invalid keys are rejected with InvalidPath by every method, before any I/O"
    ),
    check!(
        paths::longest_key_accepted,
        Requirement::None,
        "a key of the backend's maximum length is stored and listed"
    ),
    check!(
        paths::listed_paths_read_back,
        Requirement::None,
        "list yields keys relative to the root that read accepts as they are"
    ),
    check!(
        paths::list_prefix_whole_segments,
        Requirement::None,
        "a list prefix matches whole segments; \"\" lists all"
    ),
    check!(
        paths::file_and_dir_keys,
        Requirement::FileAndDirKeys,
        "a key and a key below it can both exist"
    ),
    check!(
        paths::invalid_list_prefix_rejected,
        Requirement::None,
        "an invalid list prefix yields InvalidPath"
    ),
    // Reads
    check!(
        reads::read_range_exact_bytes,
        Requirement::None,
        "read_range(a..b) returns exactly b - a bytes"
    ),
    check!(
        reads::read_range_empty_ranges,
        Requirement::None,
        "a == b <= size returns empty bytes, also at the end"
    ),
    check!(
        reads::read_range_past_end_invalid,
        Requirement::None,
        "a range past the end is InvalidRange carrying the size"
    ),
    check!(
        reads::read_range_inverted_invalid,
        Requirement::None,
        "an inverted range is InvalidRange"
    ),
    check!(
        reads::missing_object_not_found,
        Requirement::None,
        "every reading method reports a missing object as NotFound"
    ),
    check!(
        reads::read_ranges_equal_read_range,
        Requirement::None,
        "read_ranges equals read_range per range, in order"
    ),
    check!(
        reads::read_ranges_errors_like_read_range,
        Requirement::None,
        "read_ranges fails like read_range on a bad range or a missing object"
    ),
    check!(
        reads::head_matches_write,
        Requirement::None,
        "head reports the size and version the write returned"
    ),
    check!(
        reads::errors_name_operation_and_path,
        Requirement::None,
        "errors name the operation and the key"
    ),
    // Writes
    check!(
        writes::write_read_round_trip,
        Requirement::None,
        "write then read returns the same bytes, for empty to multi-MiB objects"
    ),
    check!(
        writes::overwrite_replaces_whole,
        Requirement::None,
        "an overwrite replaces the whole object"
    ),
    check!(
        writes::concurrent_readers_see_whole_objects,
        Requirement::None,
        "readers racing an overwrite see the whole old or the whole new object"
    ),
    check!(
        writes::cancelled_write_is_all_or_nothing,
        Requirement::None,
        "a dropped write future leaves the old or the new object, never a torn one"
    ),
    check!(
        writes::create_refuses_existing,
        Requirement::ConditionalCreate,
        "WriteMode::Create fails with AlreadyExists and changes nothing"
    ),
    check!(
        writes::racing_creates_one_winner,
        Requirement::AtomicCreate,
        "of racing creates exactly one wins"
    ),
    check!(
        writes::versions_change_on_write,
        Requirement::Versions,
        "each write returns a new version, and head agrees"
    ),
    check!(
        writes::update_requires_current_version,
        Requirement::ConditionalUpdate,
        "WriteMode::Update fails with Precondition unless the version is current"
    ),
    check!(
        writes::racing_updates_one_winner,
        Requirement::AtomicUpdate,
        "of racing updates from one version exactly one wins"
    ),
    check!(
        writes::delete_removes_and_missing_is_ok,
        Requirement::None,
        "delete removes the object; deleting a missing one is Ok"
    ),
    check!(
        writes::sync_is_a_barrier,
        Requirement::None,
        "sync of a written object is Ok"
    ),
    check!(
        writes::bad_input_changes_nothing,
        Requirement::None,
        "rejected calls leave the stored objects as they were"
    ),
    // Streaming writes
    check!(
        streaming::writer_publishes_on_finish_only,
        Requirement::None,
        "nothing is visible at the key until finish, then the whole object"
    ),
    check!(
        streaming::writer_abort_leaves_nothing,
        Requirement::None,
        "abort leaves nothing behind"
    ),
    check!(
        streaming::writer_drop_leaves_nothing,
        Requirement::None,
        "dropping a writer leaves nothing behind"
    ),
    check!(
        streaming::writer_replaces_existing,
        Requirement::None,
        "finish replaces an existing object; until then the old one stays"
    ),
    check!(
        streaming::writer_large_object,
        Requirement::None,
        "a large object streams through writer() and reads back by ranges"
    ),
    check!(
        streaming::writer_empty_object,
        Requirement::None,
        "a writer finished without chunks publishes an empty object"
    ),
    // Appends
    check!(
        appends::appends_not_supported_where_declared,
        Requirement::None,
        "appender is NotSupported (creating nothing) where Capabilities says so, and works elsewhere"
    ),
    check!(
        appends::append_offsets_contiguous,
        Requirement::Appends,
        "each append returns its end offset; an empty append the current end"
    ),
    check!(
        appends::concurrent_appends_disjoint_in_order,
        Requirement::Appends,
        "concurrent appends get disjoint, contiguous ranges, each caller's in call order"
    ),
    check!(
        appends::sync_covers_earlier_appends,
        Requirement::Appends,
        "sync returns a durable length covering every append that returned before it"
    ),
    check!(
        appends::reads_while_growing,
        Requirement::Appends,
        "head, list and read_range see an appended object grow; delete removes it"
    ),
    check!(
        appends::appender_refuses_existing,
        Requirement::Appends,
        "appender on an existing key is AlreadyExists and changes nothing"
    ),
    check!(
        appends::append_after_finish_fails,
        Requirement::Appends,
        "appends after finish fail with Closed and write nothing"
    ),
];

/// Deterministic pseudo-random numbers, so failures repeat.
pub(crate) use crate::rng::XorShift as Rng;

/// `len` bytes that differ for each `seed` and each offset.
pub(crate) fn pattern(seed: u64, len: usize) -> Bytes {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Maps a storage error into a failure message naming the step.
pub(crate) fn step<T>(what: &str, result: crate::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: unexpected error: {e}"))
}

/// Expects an error accepted by `is`; `expected` names it in the message.
pub(crate) fn expect_err<T: std::fmt::Debug>(
    what: &str,
    result: crate::Result<T>,
    expected: &str,
    is: impl Fn(&Error) -> bool,
) -> Result<Error, String> {
    match result {
        Ok(v) => Err(format!("{what}: expected {expected}, got Ok({v:?})")),
        Err(e) if is(&e) => Ok(e),
        Err(e) => Err(format!("{what}: expected {expected}, got {e} ({e:?})")),
    }
}

/// Every key under `prefix`, sorted.
pub(crate) async fn list_keys(storage: &dyn Storage, prefix: &str) -> Result<Vec<String>, String> {
    let metas: Vec<_> = step(
        &format!("list({prefix:?})"),
        storage.list(prefix).try_collect::<Vec<_>>().await,
    )?;
    let mut keys: Vec<String> = metas.into_iter().map(|m| m.path).collect();
    keys.sort();
    Ok(keys)
}

/// Shortens a byte string for messages.
pub(crate) fn show(bytes: &[u8]) -> String {
    if bytes.len() <= 32 {
        format!("{bytes:?}")
    } else {
        format!("<{} bytes starting {:?}>", bytes.len(), &bytes[..16])
    }
}
