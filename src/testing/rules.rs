//! Declarative fault rules and the seeded generator that decides fractions.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Operation};
use crate::rng::XorShift;

/// The error a [`FaultRule`] injects. Each kind maps onto the [`Error`]
/// variant a real backend would return, so retry and recovery code sees
/// exactly what it would see in production.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// A reset connection: [`Error::Io`] with `ConnectionReset`;
    /// [`Error::is_retryable`] is `true`.
    Transient,
    /// An attempt that timed out: [`Error::Timeout`] (retryable), with a
    /// zero `timeout`, which is how [`is_injected`](super::is_injected)
    /// tells it from a real one.
    Timeout,
    /// [`Error::NotFound`] (permanent).
    NotFound,
    /// A permission error: [`Error::Io`] with `PermissionDenied` (permanent).
    PermissionDenied,
    /// [`Error::AlreadyExists`] (permanent).
    AlreadyExists,
    /// [`Error::Precondition`] (permanent).
    Precondition,
    /// [`Error::Io`] with any other `io::ErrorKind`.
    Io(std::io::ErrorKind),
}

/// The marker kept as the `source()` of every injected error, so a test can
/// tell an injected fault from a real one with [`is_injected`](super::is_injected).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Injected;

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fault injected by seerstore::testing::FaultInjector")
    }
}

impl std::error::Error for Injected {}

impl FaultKind {
    /// The error this kind injects for `op` on `path`.
    pub fn to_error(&self, op: Operation, path: &str) -> Error {
        let path = path.to_owned();
        let io = |kind: std::io::ErrorKind| std::io::Error::new(kind, Injected);
        match self {
            FaultKind::Transient => Error::Io {
                op,
                path,
                source: io(std::io::ErrorKind::ConnectionReset),
            },
            FaultKind::Timeout => Error::Timeout {
                op,
                path,
                timeout: Duration::ZERO,
            },
            FaultKind::NotFound => Error::NotFound {
                op,
                path,
                source: Some(Box::new(Injected)),
            },
            FaultKind::PermissionDenied => Error::Io {
                op,
                path,
                source: io(std::io::ErrorKind::PermissionDenied),
            },
            FaultKind::AlreadyExists => Error::AlreadyExists {
                op,
                path,
                source: Some(Box::new(Injected)),
            },
            FaultKind::Precondition => Error::Precondition {
                op,
                path,
                expected: String::new(),
                source: Some(Box::new(Injected)),
            },
            FaultKind::Io(kind) => Error::Io {
                op,
                path,
                source: io(*kind),
            },
        }
    }
}

/// What a rule does to a call it hits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Fails the call before it reaches the inner store: nothing happens.
    Fail(FaultKind),
    /// Waits, then passes the call on.
    Delay(Duration),
    /// Passes the call on, then discards its answer and fails: the write
    /// landed but the caller is told it did not (a lost response).
    LoseAnswer(FaultKind),
}

/// Which of the calls a rule matches it hits. Calls are numbered from 1,
/// counting only the calls that match the rule's operation and prefix.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Trigger {
    /// Every matching call.
    Always,
    /// The `n`th matching call only.
    Nth(u64),
    /// Matching calls `first..=last`.
    Calls(u64, u64),
    /// Every `n`th matching call (`n`, `2n`, ...).
    Every(u64),
    /// Each matching call with probability `p` (0.0..=1.0), drawn from the
    /// rule's own generator, seeded from the injector's seed and the rule's
    /// position: the same seed and the same sequence of calls give the same
    /// faults.
    Fraction(f64),
}

/// One declarative fault rule: which calls (operation, path prefix,
/// trigger) and what happens to them (action). Build with [`FaultRule::fail`],
/// [`FaultRule::delay`] or [`FaultRule::lose_answer`], then narrow.
///
/// ```
/// use seerstore::testing::{FaultKind, FaultRule};
/// use seerstore::Operation;
///
/// // The 3rd write under `L0/` fails with a reset connection.
/// let rule = FaultRule::fail(FaultKind::Transient)
///     .on(Operation::Write)
///     .under("L0/")
///     .nth(3);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub(crate) operation: Option<Operation>,
    pub(crate) prefix: Option<String>,
    pub(crate) trigger: Trigger,
    pub(crate) action: FaultAction,
    pub(crate) limit: Option<u64>,
}

impl FaultRule {
    /// A rule that applies `action` to every call, until narrowed.
    pub fn new(action: FaultAction) -> Self {
        Self {
            operation: None,
            prefix: None,
            trigger: Trigger::Always,
            action,
            limit: None,
        }
    }

    /// Hit calls fail with `kind` without reaching the inner store.
    pub fn fail(kind: FaultKind) -> Self {
        Self::new(FaultAction::Fail(kind))
    }

    /// Hit calls wait `delay` (on the tokio timer), then proceed.
    pub fn delay(delay: Duration) -> Self {
        Self::new(FaultAction::Delay(delay))
    }

    /// Hit calls proceed, then their answer is replaced by `kind`.
    pub fn lose_answer(kind: FaultKind) -> Self {
        Self::new(FaultAction::LoseAnswer(kind))
    }

    /// Only calls of `operation` match. `write` and `write_with` are
    /// [`Operation::Write`]; `writer()` and the returned writer's `write`,
    /// `finish` and `abort` are [`Operation::Writer`].
    pub fn on(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Only keys starting with `prefix` (plain string prefix) match; for
    /// `list`, the listed prefix.
    pub fn under(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets the trigger (default [`Trigger::Always`]).
    pub fn when(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// Hits the `n`th matching call only (numbered from 1).
    pub fn nth(self, n: u64) -> Self {
        self.when(Trigger::Nth(n))
    }

    /// Hits each matching call with probability `p`, seeded.
    pub fn fraction(self, p: f64) -> Self {
        self.when(Trigger::Fraction(p))
    }

    /// Stops after `max` hits.
    pub fn at_most(mut self, max: u64) -> Self {
        self.limit = Some(max);
        self
    }

    pub(crate) fn matches(&self, op: Operation, path: &str) -> bool {
        self.operation.is_none_or(|o| o == op)
            && self.prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            FaultAction::Fail(kind) => write!(f, "fail {kind:?}")?,
            FaultAction::Delay(d) => write!(f, "delay {d:?}")?,
            FaultAction::LoseAnswer(kind) => write!(f, "lose answer as {kind:?}")?,
        }
        match self.operation {
            Some(op) => write!(f, " on {op}")?,
            None => f.write_str(" on any operation")?,
        }
        if let Some(prefix) = &self.prefix {
            write!(f, " under {prefix:?}")?;
        }
        match self.trigger {
            Trigger::Always => f.write_str(", every call")?,
            Trigger::Nth(n) => write!(f, ", call {n}")?,
            Trigger::Calls(a, b) => write!(f, ", calls {a}..={b}")?,
            Trigger::Every(n) => write!(f, ", every {n}th call")?,
            Trigger::Fraction(p) => write!(f, ", fraction {p}")?,
        }
        if let Some(max) = self.limit {
            write!(f, ", at most {max} times")?;
        }
        Ok(())
    }
}

/// A rule with its state: matching calls seen, hits, generator.
#[derive(Debug, Clone)]
pub(crate) struct RuleState {
    pub(crate) rule: FaultRule,
    pub(crate) seen: u64,
    pub(crate) hits: u64,
    pub(crate) rng: XorShift,
}

impl RuleState {
    pub(crate) fn new(rule: FaultRule, seed: u64, index: u64) -> Self {
        Self {
            rule,
            seen: 0,
            hits: 0,
            rng: XorShift::stream(seed, index),
        }
    }

    /// Counts a matching call and decides whether the rule hits it; the
    /// caller counts the hit (`hits += 1`) when it applies the action.
    pub(crate) fn consider(&mut self, op: Operation, path: &str) -> bool {
        if !self.rule.matches(op, path) {
            return false;
        }
        self.seen += 1;
        let n = self.seen;
        // Draw for every matching call, hit or not, so one call's outcome
        // does not shift the next call's draw.
        let draw = match self.rule.trigger {
            Trigger::Fraction(_) => Some(self.rng.next_f64()),
            _ => None,
        };
        if self.rule.limit.is_some_and(|max| self.hits >= max) {
            return false;
        }
        match self.rule.trigger {
            Trigger::Always => true,
            Trigger::Nth(k) => n == k,
            Trigger::Calls(a, b) => (a..=b).contains(&n),
            Trigger::Every(k) => k > 0 && n % k == 0,
            Trigger::Fraction(p) => draw.is_some_and(|d| d < p),
        }
    }
}
