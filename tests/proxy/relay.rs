//! The connection relay: one client connection served exchange by
//! exchange, each request decided, forwarded on a connection of its own
//! and its answer relayed, or the rule's fault injected instead.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::answers::{canned, synthesized};
use super::http::{
    copy_body, read_head, request_framing, response_framing, write_limited, Framing,
};
use super::pace::{Pace, Paced};
use super::record::{Exchange, Shared};
use super::rules::Fault;

/// Resets the client connection (RST, not FIN).
fn reset(client_w: &OwnedWriteHalf) {
    let _ = client_w.as_ref().set_zero_linger();
}

/// Serves one client connection until it closes or a fault ends it.
pub(super) async fn serve(client: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    client.set_nodelay(true)?;
    let (client_r, mut client_w) = client.into_split();
    let mut client_r = BufReader::new(client_r);
    loop {
        let Some(request) = read_head(&mut client_r).await? else {
            return Ok(());
        };
        let method = request.first.clone();
        let (index, fault) = shared.decide(&method, &request.second);
        let _exchange = Exchange::start(&shared);
        let framing = request_framing(&request);
        match fault {
            Some(Fault::ResetBeforeRequest) => {
                // Read the body (for the log), then reset: nothing reached
                // the server.
                let mut sink = Tee::<OwnedWriteHalf>::new(None);
                copy_body(&mut client_r, Some(&mut sink), framing, &mut None).await?;
                shared.body(index, &sink.head);
                reset(&client_w);
                return Ok(());
            }
            Some(fault @ (Fault::Status(_) | Fault::Canned(..))) => {
                let mut sink = Tee::<OwnedWriteHalf>::new(None);
                copy_body(&mut client_r, Some(&mut sink), framing, &mut None).await?;
                shared.body(index, &sink.head);
                let answer = match fault {
                    Fault::Canned(status, code) => canned(status, code),
                    Fault::Status(status) => synthesized(status),
                    _ => unreachable!(),
                };
                client_w.write_all(&answer).await?;
                if request.close {
                    return Ok(());
                }
                continue;
            }
            _ => {}
        }
        // Forward the request, on a connection of its own: a server may
        // close a connection after answering without reading the whole
        // request (a 412 to a conditional PUT), and a proxy that reused it
        // would turn the next request into a failure of its own making.
        let stream = TcpStream::connect(shared.config.upstream).await?;
        stream.set_nodelay(true)?;
        let (r, up_w) = stream.into_split();
        let mut up_r = BufReader::new(r);
        let up_r = &mut up_r;
        // A server may answer (412, 413) and close without reading the
        // whole body: keep reading the client's body (so the client
        // connection stays in step), drop what the server refuses, and
        // relay its answer.
        let mut up_w = up_w;
        up_w.write_all(&request.raw).await?;
        let mut up_w = Tee::new(Some(up_w));
        let request_pace = match fault {
            Some(Fault::ThrottleRequest(rate)) => Pace::Rate(rate),
            _ => Pace::Free,
        };
        let mut paced = Paced::new(&mut up_w, request_pace);
        copy_body(&mut client_r, Some(&mut paced), framing, &mut None).await?;
        up_w.flush().await?;
        shared.body(index, &up_w.head);
        // Relay the answer (skipping past interim 1xx answers).
        let mut budget = match fault {
            Some(Fault::ResetAfterResponseBytes(n)) => Some(n),
            _ => None,
        };
        let mut out = Paced::new(&mut client_w, fault.map_or(Pace::Free, |f| f.answer_pace()));
        loop {
            let Some(response) = read_head(up_r).await? else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            let status = response.first_status();
            shared.answered(index, status);
            let framing = response_framing(&method, &response);
            match fault {
                Some(Fault::Stall(delay)) => {
                    tokio::time::sleep(delay).await;
                    return Ok(());
                }
                Some(Fault::LoseAnswer) => {
                    // Let the server finish the answer, so the request
                    // certainly landed, then reset.
                    copy_body::<_, OwnedWriteHalf>(up_r, None, framing, &mut None).await?;
                    reset(out.inner);
                    return Ok(());
                }
                _ => {}
            }
            if let Some(left) = budget.as_mut() {
                // Withhold at least the answer's last byte.
                let total = match framing {
                    Framing::None => Some(response.raw.len()),
                    Framing::Length(n) => usize::try_from(n).ok().map(|n| n + response.raw.len()),
                    _ => None,
                };
                if let Some(total) = total {
                    *left = (*left).min(total.saturating_sub(1));
                }
            }
            // A limited answer always ends in a reset: cut short where its
            // length is known, before the last chunk, or (for an answer
            // that ends when the connection closes) instead of the close.
            if !write_limited(&mut out, &response.raw, &mut budget).await?
                || !copy_body(up_r, Some(&mut out), framing, &mut budget).await?
                || budget.is_some()
            {
                out.flush().await?;
                reset(out.inner);
                return Ok(());
            }
            out.flush().await?;
            if (100..200).contains(&status) {
                continue;
            }
            if response.close || matches!(framing, Framing::UntilClose) {
                return Ok(());
            }
            break;
        }
        if request.close {
            return Ok(());
        }
    }
}

/// Bytes of each request body kept in the log.
const CAPTURE: usize = 1024;

/// Where a request body goes: to the server (if any), and its first
/// [`CAPTURE`] bytes to the log. After a failed write to the server
/// (which answered early and closed), everything is accepted and dropped.
struct Tee<W> {
    inner: Option<W>,
    failed: bool,
    head: Vec<u8>,
}

impl<W> Tee<W> {
    fn new(inner: Option<W>) -> Self {
        Self {
            inner,
            failed: false,
            head: Vec::new(),
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Tee<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = match (&mut this.inner, this.failed) {
            (Some(w), false) => match std::pin::Pin::new(w).poll_write(cx, buf) {
                std::task::Poll::Pending => return std::task::Poll::Pending,
                std::task::Poll::Ready(Ok(n)) => n,
                std::task::Poll::Ready(Err(_)) => {
                    this.failed = true;
                    buf.len()
                }
            },
            _ => buf.len(),
        };
        let room = CAPTURE.saturating_sub(this.head.len());
        this.head.extend_from_slice(&buf[..n.min(room)]);
        std::task::Poll::Ready(Ok(n))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = &mut *self;
        match (&mut this.inner, this.failed) {
            (Some(w), false) => match std::pin::Pin::new(w).poll_flush(cx) {
                std::task::Poll::Ready(Err(_)) => {
                    this.failed = true;
                    std::task::Poll::Ready(Ok(()))
                }
                other => other,
            },
            _ => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match &mut self.inner {
            Some(w) => std::pin::Pin::new(w).poll_shutdown(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}
