//! What the checks share: deterministic data, the keys and prefixes every
//! backend must refuse, error predicates, and snapshots that show a refused
//! call changed nothing.

use bytes::Bytes;
use futures::TryStreamExt;

use super::ensure;
use crate::conformance::Outcome;
use crate::{Error, Storage};

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

/// An `InvalidPath` error.
pub(crate) fn is_invalid_path(e: &Error) -> bool {
    matches!(e, Error::InvalidPath { .. })
}

/// Keys every backend must refuse: one for each rule of the contract's
/// key syntax (the same list the validator's own tests use).
pub(crate) fn bad_keys() -> Vec<String> {
    crate::path::rejected_keys()
}

/// Listing prefixes every backend must refuse with `InvalidPath` (from
/// `list` and `list_dir` alike): absolute, empty segment, dot segments, a
/// NUL byte, and the reserved temp-file name.
pub(crate) const BAD_PREFIXES: [&str; 7] = [
    "/",
    "/abs",
    "a//b",
    "..",
    "a/../b",
    "x\0y",
    ".seerstore-tmp.1",
];

/// An `InvalidRange` error.
pub(crate) fn is_invalid_range(e: &Error) -> bool {
    matches!(e, Error::InvalidRange { .. })
}

/// Checks the size an InvalidRange carries, where it carries one.
pub(crate) fn size_carried(what: &str, e: &Error, size: u64) -> Outcome {
    if let Error::InvalidRange {
        size: Some(carried),
        ..
    } = e
    {
        ensure!(
            *carried == size,
            "{what}: InvalidRange carries size {carried}, object has {size}"
        );
    }
    Ok(())
}

/// One stored object as seen by `head` and `read`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) version: Option<String>,
    pub(crate) data: Bytes,
}

/// Every object under `prefix`, sorted by key, with its version and bytes:
/// compared before and after calls that must change nothing.
pub(crate) async fn snapshot(storage: &dyn Storage, prefix: &str) -> Result<Vec<Seen>, String> {
    let mut seen = Vec::new();
    for path in list_keys(storage, prefix).await? {
        let meta = step(&format!("head({path:?})"), storage.head(&path).await)?;
        let data = step(&format!("read({path:?})"), storage.read(&path).await)?;
        seen.push(Seen {
            path,
            size: meta.size,
            version: meta.version,
            data,
        });
    }
    Ok(seen)
}

/// Fails unless `after` equals `before`, naming `what` changed them.
pub(crate) fn unchanged(what: &str, before: &[Seen], after: &[Seen]) -> Outcome {
    if before == after {
        return Ok(());
    }
    let keys = |v: &[Seen]| v.iter().map(|s| s.path.clone()).collect::<Vec<_>>();
    if keys(before) != keys(after) {
        return Err(format!(
            "{what} changed the stored keys: {:?} -> {:?}",
            keys(before),
            keys(after)
        ));
    }
    for (b, a) in before.iter().zip(after) {
        ensure!(
            b == a,
            "{what} changed {:?}: size {} -> {}, version {:?} -> {:?}, bytes {} -> {}",
            b.path,
            b.size,
            a.size,
            b.version,
            a.version,
            show(&b.data),
            show(&a.data)
        );
    }
    Ok(())
}
