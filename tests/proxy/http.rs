//! Just enough HTTP/1.1 for the proxy: reading a request or response
//! head, where its body ends ([`Framing`]), and copying a body with an
//! optional byte budget (what a mid-answer reset cuts at).

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 64 * 1024;

/// A parsed request or response head.
pub(super) struct Head {
    pub(super) raw: Vec<u8>,
    /// Method (request) or status code (response) and the target.
    pub(super) first: String,
    pub(super) second: String,
    pub(super) content_length: Option<u64>,
    pub(super) chunked: bool,
    pub(super) close: bool,
}

pub(super) async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = r.read_until(b'\n', &mut raw).await?;
        if n == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if raw.len() > MAX_HEAD {
            return Err(io::Error::other("head too large"));
        }
        let line = &raw[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Stray empty line between messages.
                raw.clear();
                continue;
            }
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.lines();
    let start = lines.next().unwrap_or_default();
    let mut parts = start.split_whitespace();
    let first = parts.next().unwrap_or_default().to_owned();
    let second = parts.next().unwrap_or_default().to_owned();
    let mut head = Head {
        raw,
        first,
        second,
        content_length: None,
        chunked: false,
        close: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some(head))
}

/// Where a message body ends.
#[derive(Clone, Copy)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes to `w` at most `*budget` more bytes (when limited); `Ok(false)`
/// once the budget is spent (what fit was written).
pub(super) async fn write_limited<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &[u8],
    budget: &mut Option<usize>,
) -> io::Result<bool> {
    match budget {
        None => {
            w.write_all(buf).await?;
            Ok(true)
        }
        Some(left) => {
            let n = buf.len().min(*left);
            w.write_all(&buf[..n]).await?;
            *left -= n;
            Ok(n == buf.len() && *left > 0)
        }
    }
}

/// Copies a body framed by `framing` from `r` to `w` (`None`: read and
/// discard). `Ok(false)` if the budget ran out first.
pub(super) async fn copy_body<R, W>(
    r: &mut R,
    mut w: Option<&mut W>,
    framing: Framing,
    budget: &mut Option<usize>,
) -> io::Result<bool>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    match framing {
        Framing::None => Ok(true),
        Framing::Length(len) => copy_exact(r, w, len, &mut buf, budget).await,
        Framing::UntilClose => loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(true);
            }
            if let Some(w) = w.as_mut() {
                if !write_limited(w, &buf[..n], budget).await? {
                    return Ok(false);
                }
            }
        },
        Framing::Chunked => {
            let mut line = Vec::new();
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let text = String::from_utf8_lossy(&line);
                let size = text.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| io::Error::other(format!("bad chunk size {text:?}")))?;
                if size == 0 && budget.is_some() {
                    // A limited copy never lets the body end.
                    return Ok(false);
                }
                if let Some(w) = w.as_mut() {
                    if !write_limited(w, &line, budget).await? {
                        return Ok(false);
                    }
                }
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        line.clear();
                        if r.read_until(b'\n', &mut line).await? == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        if let Some(w) = w.as_mut() {
                            if !write_limited(w, &line, budget).await? {
                                return Ok(false);
                            }
                        }
                        if line == b"\r\n" || line == b"\n" {
                            return Ok(true);
                        }
                    }
                }
                // The chunk and its CRLF.
                if !copy_exact(r, w.as_deref_mut(), size + 2, &mut buf, budget).await? {
                    return Ok(false);
                }
            }
        }
    }
}

/// Copies exactly `len` bytes from `r` to `w` (`None`: discards them)
/// through `buf`; `Ok(false)` if the budget ran out first.
async fn copy_exact<R, W>(
    r: &mut R,
    mut w: Option<&mut W>,
    len: u64,
    buf: &mut [u8],
    budget: &mut Option<usize>,
) -> io::Result<bool>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = r.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n as u64;
        if let Some(w) = w.as_mut() {
            if !write_limited(w, &buf[..n], budget).await? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

pub(super) fn request_framing(head: &Head) -> Framing {
    if head.chunked {
        Framing::Chunked
    } else {
        match head.content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    }
}

pub(super) fn response_framing(request_method: &str, head: &Head) -> Framing {
    let status: u16 = head.first_status();
    if request_method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        Framing::None
    } else if head.chunked {
        Framing::Chunked
    } else {
        match head.content_length {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

impl Head {
    /// The status code of a response head (`HTTP/1.1 200 OK`).
    pub(super) fn first_status(&self) -> u16 {
        self.second.parse().unwrap_or(0)
    }
}
