//! Reading a GET's body inside an attempt, with the attempt's
//! [`Deadline`] told of every chunk: `attempt_timeout` then bounds the
//! wait for the first byte and each stall between chunks, never the whole
//! transfer (a 512 MiB read at 10 MB/s takes 50 s, and must not be cut off
//! and refetched every 30 s).
//!
//! A new call site that GETs a body (e.g. a read returning data and
//! metadata together) runs its attempt in
//! [`retry_read`](crate::retry::retry_read) and collects the body here with
//! the `Deadline` the attempt was given.

use bytes::Bytes;
use futures::StreamExt;
use object_store::GetResult;

use crate::retry::Deadline;

/// The whole body of `result`, zero-copy when it comes as one chunk.
/// Marks progress on `deadline` once for the answer's head and once per
/// chunk.
pub(crate) async fn collect(result: GetResult, deadline: &Deadline) -> object_store::Result<Bytes> {
    // The head arrived: the wait for the first byte is over.
    deadline.progressed();
    let expected = usize::try_from(result.range.end - result.range.start).unwrap_or(0);
    let mut chunks = result.into_stream();
    let Some(first) = chunks.next().await.transpose()? else {
        return Ok(Bytes::new());
    };
    deadline.progressed();
    let Some(second) = chunks.next().await.transpose()? else {
        return Ok(first);
    };
    deadline.progressed();
    let mut body = Vec::with_capacity(expected.max(first.len() + second.len()));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = chunks.next().await.transpose()? {
        deadline.progressed();
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}
