//! The proxy's declarative fault rules: which requests a [`Rule`] picks
//! (method, target), when it fires among them ([`Trigger`]: nth, every kth,
//! a seeded fraction), the [`Fault`] it injects, and the [`ProxyConfig`]
//! that holds them with the proxy's bounds.

use std::net::SocketAddr;
use std::time::Duration;

use super::pace::Pace;

/// What happens to a request a rule picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Reset the connection before forwarding anything.
    ResetBeforeRequest,
    /// Forward, pass at most this many bytes of the answer, then reset.
    ResetAfterResponseBytes(usize),
    /// Forward, hold the answer back this long, then drop the connection.
    Stall(Duration),
    /// Answer with this status without forwarding (500, 503, 429, 408).
    Status(u16),
    /// Forward (the request lands), then reset instead of answering.
    LoseAnswer,
    /// Answer with this status and S3 error code without forwarding.
    Canned(u16, &'static str),
    /// Forward, and relay the answer at this many bytes a second.
    ThrottleAnswer(u64),
    /// Forward the request body at this many bytes a second.
    ThrottleRequest(u64),
    /// Forward, relay this many bytes of the answer, hold the rest back
    /// this long, then relay it.
    PauseAnswer(usize, Duration),
}

impl Fault {
    /// A short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::ResetBeforeRequest => "reset before request",
            Fault::ResetAfterResponseBytes(_) => "reset mid-answer",
            Fault::Stall(_) => "stall",
            Fault::Status(500) => "500",
            Fault::Status(503) => "503 SlowDown",
            Fault::Status(429) => "429",
            Fault::Status(408) => "408",
            Fault::Status(_) => "other status",
            Fault::LoseAnswer => "answer lost",
            Fault::Canned(..) => "canned answer",
            Fault::ThrottleAnswer(_) => "throttled answer",
            Fault::ThrottleRequest(_) => "throttled request",
            Fault::PauseAnswer(..) => "paused answer",
        }
    }

    /// Whether the server saw the request.
    pub fn forwards(&self) -> bool {
        !matches!(
            self,
            Fault::ResetBeforeRequest | Fault::Status(_) | Fault::Canned(..)
        )
    }

    /// How the answer is paced, if it is.
    pub(super) fn answer_pace(&self) -> Pace {
        match *self {
            Fault::ThrottleAnswer(rate) => Pace::Rate(rate),
            Fault::PauseAnswer(after, pause) => Pace::PauseAfter(after as u64, pause),
            _ => Pace::Free,
        }
    }
}

/// When a rule fires, among the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// The nth matching request (1-based), once.
    Nth(usize),
    /// Every kth matching request.
    Every(usize),
    /// Each matching request with this probability (seeded).
    Fraction(f64),
}

/// One declarative rule: which requests, when, and what fault.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Only requests with this method (`PUT`, `GET`, ...), if set.
    pub method: Option<&'static str>,
    /// Only requests whose target (path and query) contains this, if set.
    pub target_contains: Option<String>,
    pub trigger: Trigger,
    pub fault: Fault,
}

impl Rule {
    /// A rule for every request.
    pub fn new(trigger: Trigger, fault: Fault) -> Self {
        Self {
            method: None,
            target_contains: None,
            trigger,
            fault,
        }
    }

    /// Restricts the rule to one method.
    pub fn method(mut self, method: &'static str) -> Self {
        self.method = Some(method);
        self
    }

    /// Restricts the rule to targets containing `needle`.
    pub fn target_contains(mut self, needle: impl Into<String>) -> Self {
        self.target_contains = Some(needle.into());
        self
    }

    pub(super) fn matches(&self, method: &str, target: &str) -> bool {
        self.method.is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .target_contains
                .as_deref()
                .is_none_or(|needle| target.contains(needle))
    }
}

/// The proxy's settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The server requests are forwarded to (on loopback).
    pub upstream: SocketAddr,
    /// Seed of the random fractions.
    pub seed: u64,
    /// Checked in order; the first that fires decides.
    pub rules: Vec<Rule>,
    /// No more faults after this many.
    pub max_faults: usize,
    /// No more faults once this long has passed since the start.
    pub fault_window: Duration,
    /// The proxy closes everything and stops after this long.
    pub lifetime: Duration,
}

impl ProxyConfig {
    /// Forwards everything to `upstream` until rules are added; at most
    /// 10,000 faults within 10 minutes, stopping after 15.
    pub fn new(upstream: SocketAddr, seed: u64) -> Self {
        Self {
            upstream,
            seed,
            rules: Vec::new(),
            max_faults: 10_000,
            fault_window: Duration::from_secs(600),
            lifetime: Duration::from_secs(900),
        }
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

impl Trigger {
    /// Whether the `n`th request (1-based) that rule number `rule` matched
    /// is picked; `request` is its arrival index, which with `seed` draws
    /// the random fraction.
    pub(super) fn fires(&self, n: usize, seed: u64, rule: usize, request: u64) -> bool {
        match *self {
            Trigger::Nth(k) => n == k,
            Trigger::Every(k) => k > 0 && n % k == 0,
            Trigger::Fraction(p) => {
                let draw = splitmix(seed ^ ((rule as u64) << 48) ^ request);
                (draw >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
            }
        }
    }
}

/// splitmix64: a well-mixed 64-bit hash of `x`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
