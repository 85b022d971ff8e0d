//! Fault injection for users' own tests (feature `testing`).
//!
//! [`FaultInjector`] wraps any [`Storage`] and, following declarative
//! [`FaultRule`]s decided up front, fails, delays or loses the answer of
//! chosen calls: the `n`th write, a seeded fraction of reads, every call
//! under `L0/`. A database can test its own recovery — a failed manifest
//! update, a WAL write whose answer was lost, a slow compaction read —
//! against a real backend, without a network.
//!
//! # Where it sits in a stack
//!
//! Directly above the backend and beneath the code under test:
//! `your engine → FaultInjector → LocalStorage / ObjectStorage`. An
//! [`ObjectStorage`](crate::ObjectStorage) retries *inside* itself, so
//! faults injected above it are not retried by seerstore — the engine sees
//! each injected error, which is what a recovery test wants. To test
//! seerstore's own retries, inject faults beneath its retry layer (an
//! `object_store::ObjectStore` wrapper, or a network proxy) instead.
//!
//! # Determinism
//!
//! Each rule counts the calls it matches and, for [`Trigger::Fraction`],
//! draws from its own xorshift generator seeded from the injector's seed
//! and the rule's position. The same seed and the same sequence of calls
//! give the same faults; concurrent calls are numbered in the order they
//! reach the injector.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> seerstore::Result<()> {
//! use bytes::Bytes;
//! use seerstore::testing::{is_injected, FaultInjector, FaultKind, FaultRule};
//! use seerstore::{LocalStorage, Operation, Storage};
//!
//! let dir = tempfile::tempdir().expect("temp dir");
//! let storage = FaultInjector::new(LocalStorage::open(dir.path()).await?, 42)
//!     // The second write of the manifest fails; nothing reaches the disk.
//!     .with_rule(FaultRule::fail(FaultKind::Transient).on(Operation::Write).under("MANIFEST").nth(2))
//!     // Every WAL write lands, but its answer is lost.
//!     .with_rule(FaultRule::lose_answer(FaultKind::Timeout).on(Operation::Write).under("wal/"));
//!
//! storage.write("MANIFEST", Bytes::from_static(b"v1")).await?;
//! let err = storage.write("MANIFEST", Bytes::from_static(b"v2")).await.unwrap_err();
//! assert!(err.is_retryable() && is_injected(&err));
//! assert_eq!(storage.read("MANIFEST").await?, "v1");
//!
//! assert!(storage.write("wal/000001.log", Bytes::from_static(b"rec")).await.is_err());
//! assert_eq!(storage.read("wal/000001.log").await?, "rec"); // it landed
//!
//! assert_eq!(storage.stats().calls(Operation::Write), 3);
//! assert_eq!(storage.stats().faults(Operation::Write), 2);
//! # Ok(())
//! # }
//! ```

mod rules;
mod stats;
mod writer;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use crate::error::{Error, Operation, Result};
use crate::storage::{
    ListOptions, Listing, ObjectMeta, ReadOptions, ReadResult, Storage, StorageAppender,
    StorageWriter, WriteMode,
};

pub use rules::{FaultAction, FaultKind, FaultRule, Trigger};
use rules::{Injected, RuleState};
pub use stats::{FaultStats, OperationStats};
use writer::FaultWriter;

/// Whether `err` was injected by a [`FaultInjector`] (its `source()` chain
/// holds the injector's marker), rather than returned by a real backend.
pub fn is_injected(err: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.is::<Injected>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<Injected>()) {
                return true;
            }
        }
        cause = e.source();
    }
    matches!(err, Error::Timeout { timeout, .. } if timeout.is_zero())
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<RuleState>,
    per_operation: HashMap<Operation, OperationStats>,
}

/// What the rules decided for one call.
#[derive(Debug, Default)]
struct Decision {
    delay: Duration,
    fault: Option<FaultAction>,
}

/// The seed and the rules' counters, shared by a [`FaultInjector`] and its
/// clones, writers and streams.
#[derive(Debug)]
struct InjectorState {
    seed: u64,
    state: Mutex<State>,
}

impl InjectorState {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters
        // inconsistent in a way that matters to a test: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the call, runs every rule over it: delays add up, the first
    /// failing or answer-losing rule wins.
    fn decide(&self, op: Operation, path: &str) -> Decision {
        let mut state = self.lock();
        let mut decision = Decision::default();
        let mut delayed = false;
        for rule in state.rules.iter_mut() {
            if !rule.consider(op, path) {
                continue;
            }
            match &rule.rule.action {
                FaultAction::Delay(d) => {
                    rule.hits += 1;
                    decision.delay += *d;
                    delayed = true;
                }
                action if decision.fault.is_none() => {
                    rule.hits += 1;
                    decision.fault = Some(action.clone());
                }
                _ => {}
            }
        }
        let counts = state.per_operation.entry(op).or_default();
        counts.calls += 1;
        counts.delayed += u64::from(delayed);
        match decision.fault {
            Some(FaultAction::Fail(_)) => counts.failed += 1,
            Some(FaultAction::LoseAnswer(_)) => counts.lost_answers += 1,
            _ => {}
        }
        decision
    }

    /// Applies the decision around `call`.
    async fn run<T, F>(&self, op: Operation, path: &str, call: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let decision = self.decide(op, path);
        if !decision.delay.is_zero() {
            tokio::time::sleep(decision.delay).await;
        }
        match decision.fault {
            Some(FaultAction::Fail(kind)) => Err(kind.to_error(op, path)),
            Some(FaultAction::LoseAnswer(kind)) => {
                // The call's own outcome is discarded whatever it was.
                let _ = call.await;
                Err(kind.to_error(op, path))
            }
            _ => call.await,
        }
    }
}

/// A [`Storage`] wrapper that injects faults by declarative, seeded
/// [`FaultRule`]s. See the [module docs](self) for an example and where it
/// belongs in a stack.
///
/// Every call is counted ([`stats`](Self::stats)) whether or not a rule hits
/// it. With no rules it passes every call through unchanged (it passes the
/// conformance suite).
pub struct FaultInjector<S: Storage> {
    inner: S,
    shared: Arc<InjectorState>,
}

impl<S: Storage> FaultInjector<S> {
    /// Wraps `inner`, with no rules; `seed` seeds the rules' generators.
    pub fn new(inner: S, seed: u64) -> Self {
        Self {
            inner,
            shared: Arc::new(InjectorState {
                seed,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Adds a rule (rules are tried in the order added).
    pub fn with_rule(self, rule: FaultRule) -> Self {
        self.add_rule(rule);
        self
    }

    /// Adds several rules.
    pub fn with_rules(self, rules: impl IntoIterator<Item = FaultRule>) -> Self {
        for rule in rules {
            self.add_rule(rule);
        }
        self
    }

    /// Adds a rule to a running injector (e.g. to start failing mid-test).
    pub fn add_rule(&self, rule: FaultRule) {
        let mut state = self.shared.lock();
        let index = state.rules.len() as u64;
        state
            .rules
            .push(RuleState::new(rule, self.shared.seed, index));
    }

    /// Removes every rule (counters are kept): from now on calls pass
    /// through, e.g. to check that the code under test recovers.
    pub fn clear_rules(&self) {
        self.shared.lock().rules.clear();
    }

    /// The rules, in order.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.shared
            .lock()
            .rules
            .iter()
            .map(|r| r.rule.clone())
            .collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        let state = self.shared.lock();
        FaultStats {
            per_operation: state.per_operation.clone(),
            rule_hits: state.rules.iter().map(|r| r.hits).collect(),
        }
    }

    /// The seed the rules' generators were seeded with.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The wrapped store.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// A listing as the rules for [`Operation::List`] on `prefix` make it.
    fn faulty_list<'a>(
        &'a self,
        prefix: &str,
        inner: BoxStream<'a, Result<ObjectMeta>>,
    ) -> BoxStream<'a, Result<ObjectMeta>> {
        let op = Operation::List;
        let decision = self.shared.decide(op, prefix);
        let prefix = prefix.to_owned();
        let delay = decision.delay;
        let stream = match decision.fault {
            Some(FaultAction::Fail(kind)) | Some(FaultAction::LoseAnswer(kind)) => {
                // A listing has no side effect: a lost answer is a failure.
                stream::once(async move { Err(kind.to_error(op, &prefix)) }).boxed()
            }
            _ => inner,
        };
        if delay.is_zero() {
            stream
        } else {
            stream::once(async move {
                tokio::time::sleep(delay).await;
                stream
            })
            .flatten()
            .boxed()
        }
    }
}

impl<S: Storage> fmt::Debug for FaultInjector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("FaultInjector")
            .field("seed", &self.shared.seed)
            .field(
                "rules",
                &state.rules.iter().map(|r| &r.rule).collect::<Vec<_>>(),
            )
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S: Storage + fmt::Display> fmt::Display for FaultInjector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = self.shared.lock().rules.len();
        write!(
            f,
            "FaultInjector(seed {}, {rules} rules) over {}",
            self.shared.seed, self.inner
        )
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: Storage> Storage for FaultInjector<S> {
    async fn read_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        self.shared
            .run(
                Operation::ReadRange,
                path,
                self.inner.read_range(path, range),
            )
            .await
    }

    async fn read_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.shared
            .run(
                Operation::ReadRanges,
                path,
                self.inner.read_ranges(path, ranges),
            )
            .await
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        self.shared
            .run(Operation::Read, path, self.inner.read(path))
            .await
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.shared
            .run(Operation::Head, path, self.inner.head(path))
            .await
    }

    async fn exists(&self, path: &str) -> Result<bool> {
        self.shared
            .run(Operation::Exists, path, self.inner.exists(path))
            .await
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<ObjectMeta> {
        self.shared
            .run(Operation::Write, path, self.inner.write(path, data))
            .await
    }

    async fn write_with(&self, path: &str, data: Bytes, mode: WriteMode) -> Result<ObjectMeta> {
        self.shared
            .run(
                Operation::Write,
                path,
                self.inner.write_with(path, data, mode),
            )
            .await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn StorageWriter>> {
        let inner = self
            .shared
            .run(Operation::Writer, path, self.inner.writer(path))
            .await?;
        Ok(Box::new(FaultWriter {
            inner: Some(inner),
            path: path.to_owned(),
            shared: Arc::clone(&self.shared),
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.shared
            .run(Operation::Delete, path, self.inner.delete(path))
            .await
    }

    fn list(&self, prefix: &str) -> BoxStream<'_, Result<ObjectMeta>> {
        self.faulty_list(prefix, self.inner.list(prefix))
    }

    async fn sync(&self, path: &str) -> Result<()> {
        self.shared
            .run(Operation::Sync, path, self.inner.sync(path))
            .await
    }

    async fn read_with(&self, path: &str, options: ReadOptions) -> Result<ReadResult> {
        self.shared
            .run(
                Operation::ReadWith,
                path,
                self.inner.read_with(path, options),
            )
            .await
    }

    fn list_with(&self, prefix: &str, options: ListOptions) -> BoxStream<'_, Result<ObjectMeta>> {
        self.faulty_list(prefix, self.inner.list_with(prefix, options))
    }

    async fn list_dir(&self, prefix: &str) -> Result<Listing> {
        self.shared
            .run(Operation::ListDir, prefix, self.inner.list_dir(prefix))
            .await
    }

    /// Each path is a [`Operation::Delete`] call the rules see: a failed
    /// path is left out of the batch the inner store gets; a lost answer is
    /// deleted and then reported failed.
    async fn delete_many(&self, paths: &[String]) -> Vec<Result<()>> {
        let mut delay = Duration::ZERO;
        let decisions: Vec<Option<FaultAction>> = paths
            .iter()
            .map(|path| {
                let decision = self.shared.decide(Operation::Delete, path);
                delay += decision.delay;
                decision.fault
            })
            .collect();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let passed: Vec<String> = paths
            .iter()
            .zip(&decisions)
            .filter(|(_, fault)| !matches!(fault, Some(FaultAction::Fail(_))))
            .map(|(path, _)| path.clone())
            .collect();
        let mut inner = self.inner.delete_many(&passed).await.into_iter();
        paths
            .iter()
            .zip(decisions)
            .map(|(path, fault)| match fault {
                Some(FaultAction::Fail(kind)) => Err(kind.to_error(Operation::Delete, path)),
                Some(FaultAction::LoseAnswer(kind)) => {
                    let _ = inner.next();
                    Err(kind.to_error(Operation::Delete, path))
                }
                _ => inner.next().unwrap_or(Ok(())),
            })
            .collect()
    }

    /// Rules see the destination key.
    async fn copy(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        self.shared
            .run(Operation::Copy, to, self.inner.copy(from, to, mode))
            .await
    }

    /// Rules see the destination key.
    async fn rename(&self, from: &str, to: &str, mode: WriteMode) -> Result<ObjectMeta> {
        self.shared
            .run(Operation::Rename, to, self.inner.rename(from, to, mode))
            .await
    }

    async fn appender(&self, path: &str) -> Result<Arc<dyn StorageAppender>> {
        self.shared
            .run(Operation::Append, path, self.inner.appender(path))
            .await
    }
}
