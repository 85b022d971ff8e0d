//! What a [`FaultInjector`](super::FaultInjector) counted: calls and
//! injected faults per operation, and how often each rule was applied.

use std::collections::HashMap;

use crate::error::Operation;

/// Counters of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationStats {
    /// Calls that reached the injector.
    pub calls: u64,
    /// Calls failed before reaching the inner store.
    pub failed: u64,
    /// Calls that reached the inner store and whose answer was replaced.
    pub lost_answers: u64,
    /// Calls delayed.
    pub delayed: u64,
}

/// A snapshot of a [`FaultInjector`](super::FaultInjector)'s counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub(super) per_operation: HashMap<Operation, OperationStats>,
    pub(super) rule_hits: Vec<u64>,
}

impl FaultStats {
    /// The counters of `op` (zero if it was never called).
    pub fn operation(&self, op: Operation) -> OperationStats {
        self.per_operation.get(&op).copied().unwrap_or_default()
    }

    /// Calls of `op`.
    pub fn calls(&self, op: Operation) -> u64 {
        self.operation(op).calls
    }

    /// Injected errors on `op` (failed calls and lost answers).
    pub fn faults(&self, op: Operation) -> u64 {
        let s = self.operation(op);
        s.failed + s.lost_answers
    }

    /// Calls of every operation.
    pub fn total_calls(&self) -> u64 {
        self.per_operation.values().map(|s| s.calls).sum()
    }

    /// Injected errors on every operation.
    pub fn total_faults(&self) -> u64 {
        self.per_operation
            .values()
            .map(|s| s.failed + s.lost_answers)
            .sum()
    }

    /// How many times each rule was applied, in the order they were added.
    pub fn rule_hits(&self) -> &[u64] {
        &self.rule_hits
    }
}
