//! What the proxy records and counts: every request it saw ([`Seen`]),
//! the faults it injected (in all and by kind), the exchanges in flight,
//! and the errors that ended connections; and, under the same lock, the
//! decision which rule fires for a request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use super::rules::{Fault, ProxyConfig};

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When its head arrived.
    pub at: Instant,
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub fault: Option<Fault>,
    /// The first KiB of the body (lossy UTF-8): what a bulk delete names.
    pub body: String,
    /// The server's answer, if one came.
    pub status: Option<u16>,
}

/// What the proxy has counted and logged so far.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) requests: usize,
    pub(super) faults: usize,
    /// Matching requests seen per rule.
    pub(super) matched: Vec<usize>,
    pub(super) by_kind: BTreeMap<&'static str, usize>,
    pub(super) log: Vec<Seen>,
    /// Exchanges in progress (request head arrived, answer not yet
    /// relayed or given up), and the most at once.
    pub(super) in_flight: usize,
    pub(super) max_in_flight: usize,
    /// Connections that ended with an I/O error (the client or server went
    /// away mid-exchange).
    pub(super) errors: Vec<String>,
}

/// What the accept loop and every connection share: the settings, the
/// start (for the fault window) and the record.
pub(super) struct Shared {
    pub(super) config: ProxyConfig,
    pub(super) started: Instant,
    pub(super) state: Mutex<State>,
}

impl Shared {
    /// Notes the start of request `index`'s body.
    pub(super) fn body(&self, index: usize, head: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = state.log.get_mut(index) {
            seen.body = String::from_utf8_lossy(head).into_owned();
        }
    }

    /// Notes the server's answer to request `index`.
    pub(super) fn answered(&self, index: usize, status: u16) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = state.log.get_mut(index) {
            seen.status = Some(status);
        }
    }

    /// Logs a request and decides its fate; returns its index in the log.
    pub(super) fn decide(&self, method: &str, target: &str) -> (usize, Option<Fault>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let index = state.requests as u64;
        state.requests += 1;
        if state.matched.len() < self.config.rules.len() {
            state.matched.resize(self.config.rules.len(), 0);
        }
        let open = state.faults < self.config.max_faults
            && self.started.elapsed() < self.config.fault_window;
        let mut fault = None;
        for (i, rule) in self.config.rules.iter().enumerate() {
            if !rule.matches(method, target) {
                continue;
            }
            state.matched[i] += 1;
            let n = state.matched[i];
            let fires = rule.trigger.fires(n, self.config.seed, i, index);
            if fires && open {
                fault = Some(rule.fault);
                break;
            }
        }
        if let Some(f) = fault {
            state.faults += 1;
            *state.by_kind.entry(f.kind()).or_default() += 1;
        }
        state.log.push(Seen {
            at: Instant::now(),
            method: method.to_owned(),
            target: target.to_owned(),
            fault,
            body: String::new(),
            status: None,
        });
        (state.log.len() - 1, fault)
    }
}

/// Counts an exchange in progress while it lives.
pub(super) struct Exchange<'a>(&'a Shared);

impl<'a> Exchange<'a> {
    pub(super) fn start(shared: &'a Shared) -> Self {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        Self(shared)
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight -= 1;
    }
}
