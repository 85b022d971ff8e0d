//! The conformance suite: every promise of the [`Storage`] contract as a
//! named check, run against any backend.
//!
//! One list ([`checks`]) drives every backend; what a backend cannot do is
//! declared once in its [`Capabilities`], and the checks that need it are
//! reported as not applicable, by name, instead of being left out silently.
//!
//! Authors of other backends enable the `conformance` feature and run the
//! suite from a test:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use seerstore::conformance::{run, Capabilities};
//!
//! let store = object_store::memory::InMemory::new();
//! let storage = Arc::new(seerstore::ObjectStorage::new(Arc::new(store)));
//! // Every promise but an atomic rename: on object stores `rename` is a
//! // copy then a delete.
//! let caps = Capabilities::all().atomic_rename(false).conditional_copy(true, false);
//! let report = run(storage, &caps).await;
//! // Or `report.assert_outcomes(&[..])`, naming the checks expected to be
//! // not applicable, so that a change of `caps` shows as a diff.
//! report.assert_passed();
//! # }
//! ```
//!
//! Each check works under its own key namespace (the check's name), so the
//! storage must start empty under those names; checks run one after another.

mod capabilities;
mod checks;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::Storage;

pub use capabilities::{Capabilities, Requirement};

/// What one check gets: the storage under test, its capabilities, and the
/// key namespace reserved for the check.
#[derive(Debug, Clone)]
pub struct Context {
    /// The storage under test.
    pub storage: Arc<dyn Storage>,
    /// Its declared capabilities.
    pub caps: Capabilities,
    /// The check's own namespace: every key it writes starts with it.
    pub ns: String,
}

impl Context {
    /// A key inside the check's namespace.
    pub fn key(&self, rest: &str) -> String {
        format!("{}/{}", self.ns, rest)
    }
}

/// The outcome of one check body: `Err` carries the failure message.
pub type Outcome = std::result::Result<(), String>;

/// One named promise of the contract.
#[derive(Clone, Copy)]
pub struct Check {
    /// The check's name (also its key namespace).
    pub name: &'static str,
    /// The contract line it checks.
    pub promise: &'static str,
    /// What it needs from the backend.
    pub requires: Requirement,
    run: fn(Context) -> BoxFuture<'static, Outcome>,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("requires", &self.requires)
            .finish()
    }
}

/// The status of one check in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The promise held.
    Passed,
    /// The promise was broken; the message says how.
    Failed(String),
    /// The backend declared it cannot keep this promise.
    NotApplicable(&'static str),
}

/// The results of a [`run`].
#[derive(Debug, Clone)]
pub struct Report {
    /// Each check's name and status, in suite order.
    pub results: Vec<(&'static str, Status)>,
}

impl Report {
    /// Checks that passed.
    pub fn passed(&self) -> usize {
        self.count(|s| matches!(s, Status::Passed))
    }

    /// Checks that failed.
    pub fn failed(&self) -> usize {
        self.count(|s| matches!(s, Status::Failed(_)))
    }

    /// Checks not applicable to the backend.
    pub fn not_applicable(&self) -> usize {
        self.count(|s| matches!(s, Status::NotApplicable(_)))
    }

    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.results.iter().filter(|(_, s)| f(s)).count()
    }

    /// Panics, listing every failed check, unless all applicable checks
    /// passed (and at least one ran).
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed() > 0, "no conformance check ran");
        let failures: Vec<String> = self
            .results
            .iter()
            .filter_map(|(name, status)| match status {
                Status::Failed(msg) => Some(format!("  {name}: {msg}")),
                _ => None,
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} conformance check(s) failed:\n{}\n\n{self}",
            failures.len(),
            failures.join("\n")
        );
    }
}

impl Report {
    /// Names of the checks that were not applicable, in suite order.
    pub fn not_applicable_names(&self) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|(_, s)| matches!(s, Status::NotApplicable(_)))
            .map(|(name, _)| *name)
            .collect()
    }

    /// [`assert_passed`](Self::assert_passed), and that exactly the checks
    /// named in `not_applicable` were not applicable (in any order): every
    /// other check of the suite ran and passed. Pin a backend's list with
    /// this, so that a change of its [`Capabilities`] that turns checks on
    /// or off shows as a diff of the list.
    #[track_caller]
    pub fn assert_outcomes(&self, not_applicable: &[&str]) {
        self.assert_passed();
        let mut found = self.not_applicable_names();
        found.sort_unstable();
        let mut expected = not_applicable.to_vec();
        expected.sort_unstable();
        assert_eq!(
            found, expected,
            "the checks not applicable differ from those expected\n\n{self}"
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, status) in &self.results {
            match status {
                Status::Passed => writeln!(f, "  ok    {name}")?,
                Status::Failed(msg) => writeln!(f, "  FAIL  {name}: {msg}")?,
                Status::NotApplicable(why) => writeln!(f, "  n/a   {name} (backend lacks {why})")?,
            }
        }
        write!(
            f,
            "{} passed, {} failed, {} not applicable",
            self.passed(),
            self.failed(),
            self.not_applicable()
        )
    }
}

/// Every check of the suite, in the order they run.
pub fn checks() -> &'static [Check] {
    checks::ALL
}

/// Runs every check against `storage`, each in its own namespace, and
/// reports each by name. A panicking check counts as failed.
///
/// Set `SEERSTORE_CONFORMANCE_ONLY=name` to run only checks whose name
/// contains `name`.
pub async fn run(storage: Arc<dyn Storage>, caps: &Capabilities) -> Report {
    let only = std::env::var("SEERSTORE_CONFORMANCE_ONLY").ok();
    run_filtered(storage, caps, |name| {
        only.as_deref().is_none_or(|o| name.contains(o))
    })
    .await
}

/// Like [`run`], for the checks whose name `filter` accepts.
pub async fn run_filtered(
    storage: Arc<dyn Storage>,
    caps: &Capabilities,
    filter: impl Fn(&str) -> bool,
) -> Report {
    let mut results = Vec::new();
    for check in checks().iter().filter(|c| filter(c.name)) {
        if !check.requires.holds(caps) {
            results.push((check.name, Status::NotApplicable(check.requires.name())));
            continue;
        }
        let cx = Context {
            storage: storage.clone(),
            caps: caps.clone(),
            ns: check.name.to_owned(),
        };
        let outcome = std::panic::AssertUnwindSafe((check.run)(cx))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned());
                Err(format!("panicked: {msg}"))
            });
        results.push((
            check.name,
            match outcome {
                Ok(()) => Status::Passed,
                Err(msg) => Status::Failed(msg),
            },
        ));
    }
    Report { results }
}
