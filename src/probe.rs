//! Finding out what a backend really does: [`probe`].
//!
//! Servers that speak a protocol can still ignore parts of it: an S3
//! implementation that ignores `If-None-Match` silently turns
//! `WriteMode::Create` into an overwrite. `probe` tries each promise that
//! differs between backends on scratch keys and reports what held, so a
//! database can refuse to start on a store that would break it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;

use crate::error::{Error, Result};
use crate::storage::{Storage, WriteMode};

/// Where `probe` writes its scratch keys (removed again before it returns).
pub const PROBE_PREFIX: &str = ".seerstore-probe";

/// Racing writers `probe` uses to test atomicity.
const RACERS: usize = 8;

/// What [`probe`] found. Each field is `true` when the promise held.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// `write` returned a version, `head` agreed, and a second write of
    /// other bytes changed it.
    pub versions: bool,
    /// A second `WriteMode::Create` of a key was refused with
    /// `AlreadyExists` and left the object unchanged.
    pub conditional_create: bool,
    /// Of racing creates exactly one won (true only if it was observed; a
    /// store without atomic creates may still look atomic by chance).
    pub atomic_create: bool,
    /// `WriteMode::Update` with the current version wrote, and with a stale
    /// version was refused with `Precondition`.
    pub conditional_update: bool,
    /// Of racing updates from one version exactly one won (same caveat).
    pub atomic_update: bool,
    /// `read_range` past the end was refused with `InvalidRange`.
    pub range_past_end_rejected: bool,
    /// Keys `a` and `a/b` could both be written and read back.
    pub file_and_dir_keys: bool,
    /// `appender` worked: two appends, a sync and `finish` read back as
    /// appended. `false` where the backend answered `NotSupported` (object
    /// stores). Not one of the promises [`missing`](Self::missing) lists.
    pub appends: bool,
    /// `copy` with `WriteMode::Create` onto an existing key was refused with
    /// `AlreadyExists` and left the destination unchanged (S3 without a
    /// copy-if-not-exists setting answers `NotSupported`: `false`).
    pub copy_create: bool,
    /// `copy` with `WriteMode::Update` of the destination's current version
    /// copied, and with a stale version was refused with `Precondition`.
    pub copy_update: bool,
    /// `list_dir` listed one level: the object directly under the prefix
    /// and the sub-prefix, not what lies below it.
    pub list_dir: bool,
    /// After every object below a sub-prefix was deleted, `list_dir` no
    /// longer listed it (stores that keep empty directories do).
    pub emptied_dirs_vanish: bool,
    /// `delete_many` of two objects and a missing key answered `Ok` for
    /// each, in order, and removed both objects.
    pub delete_many: bool,
}

impl Probe {
    /// The promises `WriteMode` relies on that did not hold, by name.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (held, name) in [
            (self.versions, "versions"),
            (self.conditional_create, "conditional_create"),
            (self.atomic_create, "atomic_create"),
            (self.conditional_update, "conditional_update"),
            (self.atomic_update, "atomic_update"),
            (self.range_past_end_rejected, "range_past_end_rejected"),
            (self.file_and_dir_keys, "file_and_dir_keys"),
            (self.copy_create, "copy_create"),
            (self.copy_update, "copy_update"),
            (self.list_dir, "list_dir"),
            (self.emptied_dirs_vanish, "emptied_dirs_vanish"),
            (self.delete_many, "delete_many"),
        ] {
            if !held {
                out.push(name);
            }
        }
        out
    }

    /// The conformance capabilities this probe observed.
    #[cfg(feature = "conformance")]
    #[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
    pub fn capabilities(&self) -> crate::conformance::Capabilities {
        let mut caps = crate::conformance::Capabilities::all()
            .versions(self.versions)
            .file_and_dir_keys(self.file_and_dir_keys);
        caps.conditional_create = self.conditional_create;
        caps.atomic_create = self.atomic_create && self.conditional_create;
        caps.conditional_update = self.conditional_update && self.versions;
        caps.atomic_update = self.atomic_update && caps.conditional_update;
        caps.appends = self.appends;
        caps.copy_create = self.copy_create;
        caps.copy_update = self.copy_update;
        caps.emptied_dirs_vanish = self.emptied_dirs_vanish;
        // Not observable in a few calls, so not claimed.
        caps.atomic_rename = false;
        caps.consistent_reads = false;
        caps
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "NO" };
        writeln!(f, "versions                 {}", yes(self.versions))?;
        writeln!(
            f,
            "conditional create       {}",
            yes(self.conditional_create)
        )?;
        writeln!(f, "  atomic under racing    {}", yes(self.atomic_create))?;
        writeln!(
            f,
            "conditional update       {}",
            yes(self.conditional_update)
        )?;
        writeln!(f, "  atomic under racing    {}", yes(self.atomic_update))?;
        writeln!(
            f,
            "range past end rejected  {}",
            yes(self.range_past_end_rejected)
        )?;
        writeln!(
            f,
            "keys a and a/b together  {}",
            yes(self.file_and_dir_keys)
        )?;
        writeln!(f, "appends                  {}", yes(self.appends))?;
        writeln!(f, "copy refuses existing    {}", yes(self.copy_create))?;
        writeln!(f, "copy on a version        {}", yes(self.copy_update))?;
        writeln!(f, "list_dir one level       {}", yes(self.list_dir))?;
        writeln!(
            f,
            "  emptied dirs vanish    {}",
            yes(self.emptied_dirs_vanish)
        )?;
        write!(f, "delete_many              {}", yes(self.delete_many))
    }
}

/// Tries the promises that differ between backends on scratch keys under
/// [`PROBE_PREFIX`] and reports which held. It writes a few small objects
/// and removes them before returning (also when a step fails).
///
/// A promise that fails by the store refusing it (`NotSupported`, a
/// conflict where none was due, a conflict not reported) is reported as
/// `false`; any other error (a network failure, missing permissions) is
/// returned, since then nothing can be concluded.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> seerstore::Result<()> {
/// let dir = tempfile::tempdir().expect("temp dir");
/// let storage = seerstore::LocalStorage::open(dir.path()).await?;
/// let found = seerstore::probe(&storage).await?;
/// assert!(found.conditional_create && found.conditional_update);
/// assert!(!found.file_and_dir_keys); // a filesystem
/// assert!(found.appends);
/// # Ok(()) }
/// ```
pub async fn probe(storage: &dyn Storage) -> Result<Probe> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let base = format!(
        "{PROBE_PREFIX}/{}-{nanos}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    );
    let result = run(storage, &base).await;
    // Clean up whatever was written, whatever happened.
    if let Ok(keys) = storage
        .list(&base)
        .map_ok(|m| m.path)
        .try_collect::<Vec<_>>()
        .await
    {
        for key in keys {
            let _ = storage.delete(&key).await;
        }
    }
    result
}

/// `Ok(false)` for an error that answers the question, `Err` otherwise.
fn refused(result: Result<()>, accept: impl Fn(&Error) -> bool) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if accept(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn run(storage: &dyn Storage, base: &str) -> Result<Probe> {
    let key = |name: &str| format!("{base}/{name}");

    // Versions.
    let v1 = storage
        .write(&key("versions"), Bytes::from_static(b"one"))
        .await?;
    let v2 = storage
        .write(&key("versions"), Bytes::from_static(b"two"))
        .await?;
    let head = storage.head(&key("versions")).await?;
    let versions = v1.version.is_some() && v2.version != v1.version && head.version == v2.version;

    // Conditional create: the first must win, the second must be refused.
    let create = key("create");
    let first = storage
        .write_with(&create, Bytes::from_static(b"first"), WriteMode::Create)
        .await
        .map(|_| ());
    let conditional_create = if refused(first, conflict_or_unsupported)? {
        let second = storage
            .write_with(&create, Bytes::from_static(b"second"), WriteMode::Create)
            .await;
        match second {
            Ok(_) => false,
            Err(e) if e.is_already_exists() => storage.read(&create).await? == "first",
            Err(e) => return Err(e),
        }
    } else {
        false
    };
    let atomic_create =
        conditional_create && race_creates(storage, &key("race-create")).await? == 1;

    // Conditional update: current version writes, stale version is refused.
    let update = key("update");
    let meta = storage.write(&update, Bytes::from_static(b"base")).await?;
    let conditional_update = match (versions, meta.version) {
        (true, Some(v0)) => {
            let fresh = storage
                .write_with(
                    &update,
                    Bytes::from_static(b"next"),
                    WriteMode::Update(v0.clone()),
                )
                .await
                .map(|_| ());
            if refused(fresh, conflict_or_unsupported)? {
                let stale = storage
                    .write_with(&update, Bytes::from_static(b"stale"), WriteMode::Update(v0))
                    .await;
                match stale {
                    Ok(_) => false,
                    Err(e) if e.is_precondition() => storage.read(&update).await? == "next",
                    Err(e) => return Err(e),
                }
            } else {
                false
            }
        }
        _ => false,
    };
    let atomic_update =
        conditional_update && race_updates(storage, &key("race-update")).await? == 1;

    // Range past the end.
    let range_key = key("range");
    storage
        .write(&range_key, Bytes::from_static(b"0123456789"))
        .await?;
    let range_past_end_rejected = match storage.read_range(&range_key, 5..11).await {
        Err(Error::InvalidRange { .. }) => true,
        Ok(_) => false,
        Err(e) => return Err(e),
    };

    // `a` and `a/b` together.
    let (a, ab) = (key("nest"), key("nest/below"));
    storage.write(&a, Bytes::from_static(b"a")).await?;
    let file_and_dir_keys = match storage.write(&ab, Bytes::from_static(b"ab")).await {
        Ok(_) => storage.read(&a).await? == "a" && storage.read(&ab).await? == "ab",
        Err(_) => false,
    };

    let appends = probe_appends(storage, &key("append")).await?;
    let copy_create = conditional_create && probe_copy_create(storage, base).await?;
    let copy_update = conditional_update && probe_copy_update(storage, base).await?;
    let (list_dir, emptied_dirs_vanish, delete_many) = probe_levels(storage, base).await?;

    Ok(Probe {
        appends,
        versions,
        conditional_create,
        atomic_create,
        conditional_update,
        atomic_update,
        range_past_end_rejected,
        file_and_dir_keys,
        copy_create,
        copy_update,
        list_dir,
        emptied_dirs_vanish,
        delete_many,
    })
}

/// Whether `appender` works: `false` on `NotSupported`, an error for
/// anything else that fails.
async fn probe_appends(storage: &dyn Storage, key: &str) -> Result<bool> {
    let log = match storage.appender(key).await {
        Ok(log) => log,
        Err(Error::NotSupported { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    log.append(Bytes::from_static(b"one")).await?;
    let end = log.append(Bytes::from_static(b"two")).await?;
    let durable = log.sync().await?;
    let meta = log.finish().await?;
    Ok(end == 6 && durable >= 6 && meta.size == 6 && storage.read(key).await? == "onetwo")
}

/// A refused call: `NotSupported` or the conflict of its mode answer
/// "no"; a conflict where none was due too.
fn conflict_or_unsupported(e: &Error) -> bool {
    e.is_already_exists() || e.is_precondition() || matches!(e, Error::NotSupported { .. })
}

/// `copy(Create)` to a new key copies; onto it again is refused and changes
/// nothing.
async fn probe_copy_create(storage: &dyn Storage, base: &str) -> Result<bool> {
    let (from, to) = (format!("{base}/copy-src"), format!("{base}/copy-create"));
    storage.write(&from, Bytes::from_static(b"source")).await?;
    let first = storage
        .copy(&from, &to, WriteMode::Create)
        .await
        .map(|_| ());
    if !refused(first, conflict_or_unsupported)? {
        return Ok(false);
    }
    storage.write(&from, Bytes::from_static(b"changed")).await?;
    match storage.copy(&from, &to, WriteMode::Create).await {
        Ok(_) => Ok(false),
        Err(e) if e.is_already_exists() => Ok(storage.read(&to).await? == "source"),
        Err(Error::NotSupported { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `copy(Update)` on the destination's version copies; on a stale one is
/// refused and changes nothing.
async fn probe_copy_update(storage: &dyn Storage, base: &str) -> Result<bool> {
    let (from, to) = (format!("{base}/copy-src"), format!("{base}/copy-update"));
    storage.write(&from, Bytes::from_static(b"source")).await?;
    let Some(v0) = storage
        .write(&to, Bytes::from_static(b"old"))
        .await?
        .version
    else {
        return Ok(false);
    };
    let fresh = storage
        .copy(&from, &to, WriteMode::Update(v0.clone()))
        .await
        .map(|_| ());
    if !refused(fresh, conflict_or_unsupported)? {
        return Ok(false);
    }
    storage.write(&from, Bytes::from_static(b"changed")).await?;
    match storage.copy(&from, &to, WriteMode::Update(v0)).await {
        Ok(_) => Ok(false),
        Err(e) if e.is_precondition() => Ok(storage.read(&to).await? == "source"),
        Err(Error::NotSupported { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `list_dir` of a level holding an object and a sub-prefix, the same after
/// the sub-prefix's only object was deleted, and `delete_many` on the way:
/// `(list_dir, emptied_dirs_vanish, delete_many)`.
async fn probe_levels(storage: &dyn Storage, base: &str) -> Result<(bool, bool, bool)> {
    let level = format!("{base}/level");
    let (top, below, other) = (
        format!("{level}/top"),
        format!("{level}/sub/below"),
        format!("{base}/other"),
    );
    for key in [&top, &below, &other] {
        storage.write(key, Bytes::from_static(b"x")).await?;
    }
    let listed = storage.list_dir(&level).await?;
    let objects: Vec<&str> = listed.objects.iter().map(|m| m.path.as_str()).collect();
    let list_dir = objects == [top.as_str()] && listed.dirs == [format!("{level}/sub")];

    let paths = [below.clone(), format!("{base}/missing"), other.clone()];
    let results = storage.delete_many(&paths).await;
    let all_ok = results.len() == paths.len() && results.iter().all(|r| r.is_ok());
    let delete_many = all_ok && !storage.exists(&below).await? && !storage.exists(&other).await?;

    let emptied_dirs_vanish = storage.list_dir(&level).await?.dirs.is_empty();
    Ok((list_dir, emptied_dirs_vanish, delete_many))
}

/// Races creates of one key; returns how many won.
async fn race_creates(storage: &dyn Storage, key: &str) -> Result<usize> {
    let attempts = (0..RACERS)
        .map(|i| storage.write_with(key, Bytes::from(format!("racer {i}")), WriteMode::Create));
    count_winners(futures::future::join_all(attempts).await)
}

/// Races updates from one version; returns how many won.
async fn race_updates(storage: &dyn Storage, key: &str) -> Result<usize> {
    let v0 = storage
        .write(key, Bytes::from_static(b"v0"))
        .await?
        .version
        .unwrap_or_default();
    let attempts = (0..RACERS).map(|i| {
        storage.write_with(
            key,
            Bytes::from(format!("racer {i}")),
            WriteMode::Update(v0.clone()),
        )
    });
    count_winners(futures::future::join_all(attempts).await)
}

fn count_winners<T>(results: Vec<Result<T>>) -> Result<usize> {
    let mut winners = 0;
    for result in results {
        match result {
            Ok(_) => winners += 1,
            Err(e) if e.is_already_exists() || e.is_precondition() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(winners)
}
