//! Retry policy: [`RetryConfig`], and the one retry loop of the crate.
//!
//! This is the only module that uses the `backoff` crate, so replacing it
//! would touch this file alone.
//!
//! The loop is where attempts are visible, so it is where they are
//! observed: each attempt is recorded on the operation's tracing span
//! (`attempt`) and counted (`seerstore_attempts_total`, feature
//! `metrics`); each retry emits a tracing event with its cause and delay
//! and is counted (`seerstore_retries_total`). A wrapper such as
//! `Instrumented` sits above the backend and so sees calls, not attempts.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, Operation, Result};

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
    /// Bound on each wait of an attempt: until the first byte of the
    /// answer, and then on any stall between two chunks of a response
    /// body, so a large read that keeps moving is never cut off. A request
    /// body (a PUT) is given [`attempt_timeout`](Self::attempt_timeout)
    /// plus the time to send it at 1 MiB/s, since its progress cannot be
    /// observed through object_store. `None` lets a stalled connection
    /// hang the call. Default 30 s.
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

/// A [`backoff::backoff::Backoff`] that gives up after `max_retries` delays.
///
/// `ExponentialBackoff` alone bounds retries by elapsed time; we bound them by
/// count, so `max_retries: 0` means exactly one attempt.
#[derive(Debug)]
struct Limited {
    inner: backoff::ExponentialBackoff,
    retries_left: u32,
}

impl backoff::backoff::Backoff for Limited {
    fn next_backoff(&mut self) -> Option<Duration> {
        if self.retries_left == 0 {
            return None;
        }
        self.retries_left -= 1;
        self.inner.next_backoff()
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

impl RetryConfig {
    fn policy(&self) -> Limited {
        let randomization_factor = if self.jitter { 0.5 } else { 0.0 };
        let inner = backoff::ExponentialBackoff {
            current_interval: self.initial_backoff,
            initial_interval: self.initial_backoff,
            randomization_factor,
            multiplier: self.multiplier,
            max_interval: self.max_backoff,
            max_elapsed_time: None,
            ..backoff::ExponentialBackoff::default()
        };
        Limited {
            inner,
            retries_left: self.max_retries,
        }
    }
}

/// The delays between retries of one call, for loops that cannot be written
/// as a closure (a `list` stream resuming after a transient error).
#[derive(Debug)]
pub(crate) struct RetryState {
    policy: Limited,
}

impl RetryState {
    pub(crate) fn new(config: &RetryConfig) -> Self {
        Self {
            policy: config.policy(),
        }
    }

    /// The delay before the next retry, or `None` once the retries are used up.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        backoff::backoff::Backoff::next_backoff(&mut self.policy)
    }
}

/// The slowest upload rate an attempt is given time for: a request body of
/// `n` bytes adds `n / MIN_UPLOAD_RATE` seconds to the first deadline of its
/// attempt. object_store's HTTP client sends the body itself, so its
/// progress cannot be watched; this keeps a slow upload that moves from
/// being cut off, and a stalled one bounded all the same.
pub(crate) const MIN_UPLOAD_RATE: u64 = 1024 * 1024;

/// The watchdog of one attempt: it expires `attempt_timeout` after the
/// attempt started (plus the time to send its request body), or after the
/// last sign of [`progress`](Self::progressed), whichever is later.
///
/// A cheap handle (clones share one deadline). Code inside an attempt that
/// reads a body calls [`progressed`](Self::progressed) when the answer's
/// head arrives and after each chunk, so that only waiting is bounded,
/// never a whole transfer.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    state: Option<std::sync::Arc<DeadlineState>>,
}

#[derive(Debug)]
struct DeadlineState {
    timeout: Duration,
    origin: tokio::time::Instant,
    /// The deadline, in nanoseconds after `origin`; only ever moves later.
    at: std::sync::atomic::AtomicU64,
}

impl Deadline {
    /// A deadline `timeout` from now, plus the time to send `upload`
    /// bytes at [`MIN_UPLOAD_RATE`]; `None`: never expires.
    pub(crate) fn start(timeout: Option<Duration>, upload: u64) -> Self {
        let state = timeout.map(|timeout| {
            let sending = Duration::from_secs_f64(upload as f64 / MIN_UPLOAD_RATE as f64);
            std::sync::Arc::new(DeadlineState {
                timeout,
                origin: tokio::time::Instant::now(),
                at: std::sync::atomic::AtomicU64::new(nanos(timeout + sending)),
            })
        });
        Self { state }
    }

    /// A byte arrived: the deadline moves to `attempt_timeout` from now
    /// (never earlier than it was).
    pub(crate) fn progressed(&self) {
        if let Some(state) = &self.state {
            let at = nanos(state.origin.elapsed() + state.timeout);
            state.at.fetch_max(at, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Completes once the deadline has passed (never, without a timeout).
    pub(crate) async fn expired(&self) {
        let Some(state) = &self.state else {
            return std::future::pending().await;
        };
        loop {
            let at = state.origin
                + Duration::from_nanos(state.at.load(std::sync::atomic::Ordering::Relaxed));
            if tokio::time::Instant::now() >= at {
                return;
            }
            tokio::time::sleep_until(at).await;
        }
    }

    /// Runs `request` until it ends or this deadline passes (`None` then).
    pub(crate) async fn bound<T>(&self, request: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            outcome = request => Some(outcome),
            () = self.expired() => None,
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `attempt` until it succeeds, fails permanently, or the retries in
/// `config` are used up; returns the last error then.
///
/// `attempt` gets the attempt number (1 for the first). Each attempt is
/// bounded by `config.attempt_timeout` as a whole ([`Error::Timeout`],
/// which is retryable): right for requests whose answer is small. An
/// attempt that reads a body uses [`retry_read`]; one that sends a body,
/// [`retry_write`]. Only errors with [`Error::is_retryable`] are retried.
///
/// Each attempt holds a permit of `limit` (when given) from before it
/// starts until it ends. Waiting for the permit is not part of the
/// attempt: the attempt timeout starts once the permit is held, and no
/// permit is held during the delays between attempts.
pub(crate) async fn retry<T, F, Fut>(
    config: &RetryConfig,
    limit: Option<&Semaphore>,
    op: Operation,
    path: &str,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry_with_deadline(config, limit, op, path, 0, |n, _| attempt(n)).await
}

/// Like [`retry`], for an attempt that reads a response body: it gets the
/// attempt's [`Deadline`] and marks progress on it (the answer's head, each
/// chunk; `object::body::collect` does both), so `attempt_timeout` bounds
/// the wait for the first byte and each stall between chunks, never the
/// whole transfer.
pub(crate) async fn retry_read<T, F, Fut>(
    config: &RetryConfig,
    limit: Option<&Semaphore>,
    op: Operation,
    path: &str,
    attempt: F,
) -> Result<T>
where
    F: FnMut(u32, Deadline) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry_with_deadline(config, limit, op, path, 0, attempt).await
}

/// Like [`retry_read`], for an attempt that sends a request body of
/// `upload` bytes: its first deadline leaves time to send it at
/// [`MIN_UPLOAD_RATE`].
pub(crate) async fn retry_write<T, F, Fut>(
    config: &RetryConfig,
    limit: Option<&Semaphore>,
    op: Operation,
    path: &str,
    upload: u64,
    attempt: F,
) -> Result<T>
where
    F: FnMut(u32, Deadline) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry_with_deadline(config, limit, op, path, upload, attempt).await
}

/// The one retry loop behind [`retry`], [`retry_read`] and [`retry_write`].
async fn retry_with_deadline<T, F, Fut>(
    config: &RetryConfig,
    limit: Option<&Semaphore>,
    op: Operation,
    path: &str,
    upload: u64,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(u32, Deadline) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    // Shared with the notify callback below, which names the failed attempt.
    let number = &std::sync::atomic::AtomicU32::new(0);
    let attempt_timeout = config.attempt_timeout;
    // `retry_notify` creates the next attempt's future before sleeping; the
    // mutex lets the future call `attempt` only once the delay is over, so no
    // work of an attempt (not even its synchronous part) precedes its delay.
    let attempt = &std::sync::Mutex::new(&mut attempt);
    let operation = || {
        let this_attempt = number.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        async move {
            let _permit = permit(limit).await;
            crate::trace::record_attempt(this_attempt);
            count_attempt(op);
            let deadline = Deadline::start(attempt_timeout, upload);
            let fut = match attempt.lock() {
                Ok(mut attempt) => (*attempt)(this_attempt, deadline.clone()),
                Err(poisoned) => (*poisoned.into_inner())(this_attempt, deadline.clone()),
            };
            // Without a timeout the deadline never passes.
            let outcome = match deadline.bound(fut).await {
                Some(outcome) => outcome,
                None => Err(Error::Timeout {
                    op,
                    path: path.to_owned(),
                    timeout: attempt_timeout.unwrap_or_default(),
                }),
            };
            outcome.map_err(|err| {
                if err.is_retryable() {
                    backoff::Error::transient(err)
                } else {
                    backoff::Error::permanent(err)
                }
            })
        }
    };
    let notify = |err: Error, delay: Duration| {
        let failed = number.load(std::sync::atomic::Ordering::Relaxed);
        on_retry(op, failed, &err, delay);
    };
    backoff::future::retry_notify(config.policy(), operation, notify).await
}

/// A slot of `limit`, if there is a limit; held until dropped. (The
/// semaphore is never closed, so acquiring cannot fail.)
pub(crate) async fn permit(limit: Option<&Semaphore>) -> Option<SemaphorePermit<'_>> {
    match limit {
        Some(limit) => limit.acquire().await.ok(),
        None => None,
    }
}

/// Counts one attempt of `op` (metric `seerstore_attempts_total`).
pub(crate) fn count_attempt(op: Operation) {
    #[cfg(feature = "metrics")]
    metrics::counter!(crate::instrumented::ATTEMPTS, "operation" => op.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = op;
}

/// What happens when attempt `failed` of `op` failed with the retryable
/// `cause` and the loop waits `delay`: the trace event and the retry
/// counter (metric `seerstore_retries_total`).
pub(crate) fn on_retry(op: Operation, failed: u32, cause: &Error, delay: Duration) {
    crate::trace::retry_event(op, failed, cause, delay);
    #[cfg(feature = "metrics")]
    metrics::counter!(
        crate::instrumented::RETRIES,
        "operation" => op.as_str(),
        "cause" => cause.kind(),
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    fn transient() -> Error {
        Error::Timeout {
            op: Operation::Read,
            path: "k".into(),
            timeout: Duration::from_secs(1),
        }
    }

    fn config(max_retries: u32) -> RetryConfig {
        RetryConfig {
            max_retries,
            jitter: false,
            ..RetryConfig::default()
        }
    }

    /// [`config`] with an attempt timeout of one second.
    fn timed(max_retries: u32) -> RetryConfig {
        RetryConfig {
            attempt_timeout: Some(Duration::from_secs(1)),
            ..config(max_retries)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_up_to_the_limit() {
        let calls = AtomicU32::new(0);
        let out: Result<()> = retry(&config(3), None, Operation::Read, "k", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(transient()) }
        })
        .await;
        assert!(matches!(out, Err(Error::Timeout { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn success_after_transient_errors_is_returned() {
        let out = retry(&config(3), None, Operation::Read, "k", |n| async move {
            if n < 3 {
                Err(transient())
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(out.ok(), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let out: Result<()> = retry(&config(3), None, Operation::Read, "k", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::not_found(Operation::Read, "k")) }
        })
        .await;
        assert!(matches!(out, Err(Error::NotFound { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_retries_is_one_attempt() {
        let calls = AtomicU32::new(0);
        let out: Result<()> = retry(&config(0), None, Operation::Read, "k", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(transient()) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn delays_grow_and_are_capped() {
        let config = RetryConfig {
            max_retries: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            jitter: false,
            attempt_timeout: None,
            multiplier: 2.0,
        };
        let starts = Mutex::new(Vec::new());
        let begin = tokio::time::Instant::now();
        let _: Result<()> = retry(&config, None, Operation::Read, "k", |_| {
            starts
                .lock()
                .expect("lock")
                .push(begin.elapsed().as_millis());
            async { Err(transient()) }
        })
        .await;
        let starts = starts.into_inner().expect("lock");
        let gaps: Vec<u128> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, vec![100, 200, 400, 500, 500, 500]);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_half_of_the_delay() {
        let config = RetryConfig {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1000),
            jitter: true,
            attempt_timeout: None,
            ..RetryConfig::default()
        };
        let begin = tokio::time::Instant::now();
        let _: Result<()> = retry(&config, None, Operation::Read, "k", |_| async {
            Err(transient())
        })
        .await;
        let waited = begin.elapsed();
        assert!(waited >= Duration::from_millis(500) && waited <= Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_keeps_moving_is_not_cut_off() {
        let config = timed(0);
        // Ten seconds in all, never more than half a second without progress.
        let out = retry_read(
            &config,
            None,
            Operation::Read,
            "k",
            |_, deadline| async move {
                for _ in 0..20 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    deadline.progressed();
                }
                Ok(())
            },
        )
        .await;
        assert!(out.is_ok(), "{out:?}");
        // The same attempt without progress is cut off.
        let out = retry(&config, None, Operation::Read, "k", |_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(())
        })
        .await;
        assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_between_chunks_times_out_and_is_retried() {
        let config = timed(1);
        let out = retry_read(
            &config,
            None,
            Operation::Read,
            "k",
            |n, deadline| async move {
                tokio::time::sleep(Duration::from_millis(900)).await;
                deadline.progressed();
                if n == 1 {
                    // Stalls after the first chunk.
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                }
                deadline.progressed();
                Ok(n)
            },
        )
        .await;
        assert_eq!(out.ok(), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_gets_time_to_send_its_body() {
        let config = timed(0);
        // 4 MiB: 1 s plus 4 s at the slowest rate allowed.
        let attempt = |_, _| async {
            tokio::time::sleep(Duration::from_millis(4900)).await;
            Ok(())
        };
        let out = retry_write(&config, None, Operation::Write, "k", 4 << 20, attempt).await;
        assert!(out.is_ok(), "{out:?}");
        let attempt = |_, _| async {
            tokio::time::sleep(Duration::from_millis(5100)).await;
            Ok(())
        };
        let out = retry_write(&config, None, Operation::Write, "k", 4 << 20, attempt).await;
        assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_attempt_times_out_and_is_retried() {
        let config = timed(2);
        let out = retry(&config, None, Operation::Read, "k", |n| async move {
            if n == 1 {
                futures::future::pending::<()>().await;
            }
            Ok(n)
        })
        .await;
        assert_eq!(out.ok(), Some(2));

        let out: Result<()> = retry(&config, None, Operation::Read, "k", |_| {
            futures::future::pending::<Result<()>>()
        })
        .await;
        match out {
            Err(Error::Timeout { timeout, path, .. }) => {
                assert_eq!(timeout, Duration::from_secs(1));
                assert_eq!(path, "k");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
