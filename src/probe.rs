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
        write!(f, "appends                  {}", yes(self.appends))
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
    let conflict_or_unsupported = |e: &Error| {
        e.is_already_exists() || e.is_precondition() || matches!(e, Error::NotSupported { .. })
    };

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

    Ok(Probe {
        appends,
        versions,
        conditional_create,
        atomic_create,
        conditional_update,
        atomic_update,
        range_past_end_rejected,
        file_and_dir_keys,
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
