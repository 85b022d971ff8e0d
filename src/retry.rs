//! Retry policy: [`RetryConfig`], and the one retry loop of the crate.
//!
//! This is the only module that uses the `backoff` crate, so replacing it
//! would touch this file alone.

use std::time::Duration;

/// How transient failures are retried, and how long one attempt may take.
///
/// Only errors for which [`Error::is_retryable`](crate::Error::is_retryable)
/// is `true` are retried; permanent ones fail at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt (0 = one attempt only). Default 3.
    pub max_retries: u32,
    /// Delay before the first retry. Default 100 ms.
    pub initial_backoff: Duration,
    /// Upper bound of any one delay. Default 5 s.
    pub max_backoff: Duration,
    /// Randomise each delay by ±50% so that clients do not retry in step.
    /// Default `true`.
    pub jitter: bool,
    /// Bound on each attempt, including reading the response body; `None`
    /// lets a stalled connection hang the call. Default 30 s.
    pub attempt_timeout: Option<Duration>,
    /// Growth factor of the delay between retries. Default 2.
    pub multiplier: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            jitter: true,
            attempt_timeout: Some(Duration::from_secs(30)),
            multiplier: 2.0,
        }
    }
}

impl RetryConfig {
    /// One attempt, no retries (the attempt timeout still applies).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// For unreliable networks: 5 retries from 50 ms up to 10 s.
    pub fn aggressive() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(10),
            ..Self::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    #[must_use]
    pub fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`attempt_timeout`](Self::attempt_timeout).
    #[must_use]
    pub fn with_attempt_timeout(mut self, attempt_timeout: Option<Duration>) -> Self {
        self.attempt_timeout = attempt_timeout;
        self
    }
}
