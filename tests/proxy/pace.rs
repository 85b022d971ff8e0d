//! Pacing what the proxy relays: a slow but steady rate, or a pause after
//! some bytes (see `Fault::ThrottleAnswer`, `ThrottleRequest`, `PauseAnswer`).

use std::io;
use std::time::Duration;

use tokio::io::AsyncWrite;

/// How bytes written through a [`Paced`] writer are let through.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pace {
    /// As fast as the peer takes them.
    Free,
    /// At most this many bytes a second, steadily.
    Rate(u64),
    /// This many bytes, then a pause of this long, then the rest.
    PauseAfter(u64, Duration),
}

/// Bytes written in pieces of at most this size when paced.
const PACE_CHUNK: usize = 16 * 1024;

/// A writer that lets bytes through at a [`Pace`].
pub(super) struct Paced<'a, W> {
    pub(super) inner: &'a mut W,
    pace: Pace,
    sent: u64,
    started: tokio::time::Instant,
    paused: bool,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<'a, W> Paced<'a, W> {
    pub(super) fn new(inner: &'a mut W, pace: Pace) -> Self {
        Self {
            inner,
            pace,
            sent: 0,
            started: tokio::time::Instant::now(),
            paused: false,
            sleep: None,
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Paced<'_, W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        loop {
            if let Some(sleep) = this.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            let allowed = match this.pace {
                Pace::Free => buf.len(),
                Pace::Rate(rate) => {
                    let due = this.started
                        + Duration::from_secs_f64(this.sent as f64 / rate.max(1) as f64);
                    if tokio::time::Instant::now() < due {
                        this.sleep = Some(Box::pin(tokio::time::sleep_until(due)));
                        continue;
                    }
                    buf.len().min(PACE_CHUNK)
                }
                Pace::PauseAfter(after, pause) => {
                    if !this.paused && this.sent >= after {
                        this.paused = true;
                        this.sleep = Some(Box::pin(tokio::time::sleep(pause)));
                        continue;
                    }
                    if this.paused {
                        buf.len()
                    } else {
                        buf.len()
                            .min(usize::try_from(after - this.sent).unwrap_or(usize::MAX))
                    }
                }
            };
            return match std::pin::Pin::new(&mut *this.inner).poll_write(cx, &buf[..allowed]) {
                Poll::Ready(Ok(n)) => {
                    this.sent += n as u64;
                    Poll::Ready(Ok(n))
                }
                other => other,
            };
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}
