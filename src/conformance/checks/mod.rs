//! The checks, one list. Each body returns `Err(message)` on a broken promise.

// The checks pass odd ranges on purpose.
#![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]

mod appends;
mod copies;
mod deletes;
mod listing;
mod moves;
mod paths;
mod read_with;
mod read_with_races;
mod reads;
mod renames;
mod streaming;
mod support;
mod writes;

use super::{Check, Requirement};
pub(crate) use support::{
    bad_keys, expect_err, is_invalid_path, is_invalid_range, list_keys, pattern, show,
    size_carried, snapshot, step, unchanged, Rng, BAD_PREFIXES,
};

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
        reads::sync_of_missing_not_found,
        Requirement::SyncChecksExistence,
        "sync of a missing object is NotFound"
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
    // read_with
    check!(
        read_with::read_with_pairs_data_and_meta,
        Requirement::None,
        "read_with returns the bytes asked for with the whole object's size and the current version, and the range read"
    ),
    check!(
        read_with::read_with_if_match,
        Requirement::Versions,
        "if_match of the current version reads; of a stale or unknown one is Precondition"
    ),
    check!(
        read_with::read_with_if_none_match,
        Requirement::Versions,
        "if_none_match of the current version is NotModified; of another one a plain read"
    ),
    check!(
        read_with::read_with_invalid_ranges,
        Requirement::None,
        "an inverted or past-end range is InvalidRange carrying the size"
    ),
    check!(
        read_with::read_with_clamp_to_size,
        Requirement::None,
        "clamp_to_size cuts a range at the end; a start past the end is still InvalidRange"
    ),
    check!(
        read_with::read_with_missing_and_invalid,
        Requirement::None,
        "read_with of a missing object is NotFound, of an invalid key InvalidPath"
    ),
    check!(
        read_with_races::read_with_consistent_under_replacement,
        Requirement::ConsistentReads,
        "while the object is replaced, read_with pairs each version with its own bytes and size"
    ),
    check!(
        read_with_races::read_with_compare_and_swap_counter,
        Requirement::AtomicUpdate,
        "increments by read_with and write_with(Update(version)) from racing tasks are never lost"
    ),
    // Listing
    check!(
        listing::list_with_offset_yields_keys_after,
        Requirement::None,
        "list_with(p, offset k) yields exactly the keys under p greater than k"
    ),
    check!(
        listing::list_with_invalid_offset_rejected,
        Requirement::None,
        "an offset that cannot be (a prefix of) a key yields InvalidPath"
    ),
    check!(
        listing::list_dir_lists_one_level,
        Requirement::None,
        "list_dir gives the objects directly under p and its sub-prefixes, as sorted paths from the root"
    ),
    check!(
        listing::list_dir_missing_and_invalid,
        Requirement::None,
        "list_dir of a missing prefix is empty, of an invalid one InvalidPath"
    ),
    check!(
        listing::list_dir_hides_unfinished_writes,
        Requirement::None,
        "temporary files of unfinished writes never appear in list_dir"
    ),
    check!(
        listing::list_dir_forgets_emptied_dirs,
        Requirement::EmptiedDirsVanish,
        "a sub-prefix whose objects were all deleted is no longer listed"
    ),
    // delete_many
    check!(
        deletes::delete_many_results_in_order,
        Requirement::None,
        "delete_many returns one result per path, in order: missing Ok, invalid InvalidPath, the others deleted"
    ),
    check!(
        deletes::delete_many_deletes_many_keys,
        Requirement::None,
        "delete_many of more keys than one batch request takes deletes them all"
    ),
    // copy
    check!(
        copies::copy_overwrite_copies_whole,
        Requirement::None,
        "copy puts the whole source at the destination and leaves the source as it was"
    ),
    check!(
        copies::copy_create_refuses_existing,
        Requirement::CopyCreate,
        "copy(Create) onto an existing key is AlreadyExists and changes nothing"
    ),
    check!(
        copies::copy_update_requires_current_version,
        Requirement::CopyUpdate,
        "copy(Update(v)) is Precondition unless v is the destination's current version"
    ),
    check!(
        copies::copy_bad_input_changes_nothing,
        Requirement::None,
        "copy of a missing source is NotFound, onto itself or with an invalid key InvalidPath; nothing changes"
    ),
    // rename
    check!(
        renames::rename_moves_object,
        Requirement::None,
        "after rename the destination holds the source's bytes and the source is gone"
    ),
    check!(
        renames::rename_create_refuses_existing,
        Requirement::CopyCreate,
        "rename(Create) onto an existing key is AlreadyExists and keeps both"
    ),
    check!(
        renames::rename_update_requires_current_version,
        Requirement::CopyUpdate,
        "rename(Update(v)) is Precondition unless v is the destination's current version"
    ),
    check!(
        renames::rename_bad_input_changes_nothing,
        Requirement::None,
        "rename of a missing source is NotFound, onto itself or with an invalid key InvalidPath; nothing changes"
    ),
    check!(
        renames::rename_is_atomic,
        Requirement::AtomicRename,
        "no reader sees a renamed object at both keys"
    ),
];
