//! Whether a write whose answer may have been lost landed: the one rule
//! for a retried conditional PUT and a retried multipart completion.
//!
//! A non-idempotent write (a conditional PUT, completing a multipart
//! upload) can land and lose its answer; its retry then fails (the
//! condition no longer holds, the upload is gone). Such a failure is
//! success only on evidence that the object now at the key is exactly what
//! this call wrote — never because of its size alone, which a rewritten
//! SSTable of the same size shares with the old one:
//!
//! * a single PUT: the object holds exactly its bytes;
//! * a multipart upload: the object's ETag is the one S3 gives this
//!   upload (md5 of the parts' binary md5s, then `-N`), which proves it
//!   without reading; otherwise (Azure, GCS, an S3 store whose ETags are
//!   not md5s) the object is read back and each part-sized piece must have
//!   the md5 of the part sent. (Azure's committed block list would say the
//!   same, but object_store 0.14 has no call that reads it.)
//!
//! The object is fetched once; a size that differs settles it before any
//! byte of the body is read.

use bytes::Bytes;
use futures::StreamExt;
use md5::{Digest, Md5};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutPayload};

use crate::retry::Deadline;

/// What a multipart upload wrote, as far as it can be recognised at the key
/// afterwards.
#[derive(Debug, Clone)]
pub(crate) struct PartsDigest {
    /// The size of every part but the last.
    pub(crate) part_size: u64,
    /// The md5 of each part, in order.
    pub(crate) parts: Vec<[u8; 16]>,
    /// The size of the object.
    pub(crate) size: u64,
}

impl PartsDigest {
    /// The ETag S3 gives the completed upload (without quotes).
    fn s3_e_tag(&self) -> String {
        let mut whole = Md5::new();
        for part in &self.parts {
            whole.update(part);
        }
        let digest: [u8; 16] = whole.finalize().into();
        format!("{}-{}", hex(&digest), self.parts.len())
    }
}

/// What one call wrote.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Written<'a> {
    /// A single PUT of these bytes.
    Bytes(&'a Bytes),
    /// A multipart upload.
    Parts(&'a PartsDigest),
}

impl Written<'_> {
    fn size(&self) -> u64 {
        match self {
            Written::Bytes(bytes) => bytes.len() as u64,
            Written::Parts(digest) => digest.size,
        }
    }
}

/// The md5 of a part.
pub(crate) fn md5(part: &PutPayload) -> [u8; 16] {
    let mut hasher = Md5::new();
    for chunk in part.iter() {
        hasher.update(chunk);
    }
    hasher.finalize().into()
}

/// The object at `location` if it is exactly what `written` describes;
/// `None` if it is missing or differs. Marks progress on `deadline` for the
/// answer's head and each chunk read.
pub(crate) async fn landed(
    store: &dyn ObjectStore,
    location: &Path,
    written: Written<'_>,
    deadline: &Deadline,
) -> object_store::Result<Option<object_store::ObjectMeta>> {
    let current = match store.get_opts(location, GetOptions::default()).await {
        Ok(current) => current,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    deadline.progressed();
    let meta = current.meta.clone();
    if meta.size != written.size() {
        return Ok(None);
    }
    if let Written::Parts(digest) = written {
        let e_tag = meta.e_tag.as_deref().map(|t| t.trim_matches('"'));
        if e_tag == Some(digest.s3_e_tag().as_str()) {
            return Ok(Some(meta));
        }
    }
    // Rare (a lost answer): the body is compared as it streams in, never
    // held whole.
    let mut check = Check::new(written);
    let mut chunks = current.into_stream();
    while let Some(chunk) = chunks.next().await.transpose()? {
        deadline.progressed();
        if !check.feed(&chunk) {
            return Ok(None);
        }
    }
    Ok(check.finish().then_some(meta))
}

/// Compares a body, chunk by chunk, with what was written.
enum Check<'a> {
    Bytes { expected: &'a Bytes, offset: usize },
    Parts(PartsCheck<'a>),
}

/// Compares a body with a multipart upload's part md5s, piece by piece.
struct PartsCheck<'a> {
    digest: &'a PartsDigest,
    /// The part being hashed, and how much of it has been.
    part: usize,
    in_part: u64,
    hasher: Md5,
}

impl<'a> Check<'a> {
    fn new(written: Written<'a>) -> Self {
        match written {
            Written::Bytes(expected) => Check::Bytes {
                expected,
                offset: 0,
            },
            Written::Parts(digest) => Check::Parts(PartsCheck {
                digest,
                part: 0,
                in_part: 0,
                hasher: Md5::new(),
            }),
        }
    }

    /// `false` as soon as the body differs.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        match self {
            Check::Bytes { expected, offset } => {
                let end = *offset + chunk.len();
                let same = expected.get(*offset..end) == Some(chunk);
                *offset = end;
                same
            }
            Check::Parts(parts) => parts.feed(chunk),
        }
    }

    /// Whether the whole body matched.
    fn finish(self) -> bool {
        match self {
            Check::Bytes { expected, offset } => offset == expected.len(),
            Check::Parts(parts) => parts.finish(),
        }
    }
}

impl PartsCheck<'_> {
    fn feed(&mut self, mut chunk: &[u8]) -> bool {
        let digest = self.digest;
        while !chunk.is_empty() {
            let room = usize::try_from(digest.part_size - self.in_part).unwrap_or(usize::MAX);
            let take = room.min(chunk.len());
            self.hasher.update(&chunk[..take]);
            self.in_part += take as u64;
            chunk = &chunk[take..];
            if self.in_part == digest.part_size {
                let done: [u8; 16] = std::mem::take(&mut self.hasher).finalize().into();
                if digest.parts.get(self.part) != Some(&done) {
                    return false;
                }
                self.part += 1;
                self.in_part = 0;
            }
        }
        true
    }

    fn finish(self) -> bool {
        let digest = self.digest;
        if self.in_part == 0 {
            return self.part == digest.parts.len();
        }
        let last: [u8; 16] = self.hasher.finalize().into();
        self.part + 1 == digest.parts.len() && digest.parts.get(self.part) == Some(&last)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_e_tag_of_known_parts() {
        // Two parts "a" and "b": md5(md5("a") ‖ md5("b")) + "-2".
        let parts = [b"a", b"b"].map(|p| md5(&PutPayload::from(Bytes::from_static(p))));
        let digest = PartsDigest {
            part_size: 1,
            parts: parts.to_vec(),
            size: 2,
        };
        let mut whole = Md5::new();
        whole.update(parts[0]);
        whole.update(parts[1]);
        let expected: [u8; 16] = whole.finalize().into();
        assert_eq!(digest.s3_e_tag(), format!("{}-2", hex(&expected)));
        assert_eq!(hex(&parts[0]), "0cc175b9c0f1b6a831c399e269772661");
    }

    #[test]
    fn parts_are_checked_across_chunk_boundaries() {
        let data = b"0123456789";
        let parts = [&data[..4], &data[4..8], &data[8..]]
            .map(|p| md5(&PutPayload::from(Bytes::copy_from_slice(p))));
        let digest = PartsDigest {
            part_size: 4,
            parts: parts.to_vec(),
            size: 10,
        };
        let mut check = Check::new(Written::Parts(&digest));
        assert!(check.feed(b"012") && check.feed(b"34567") && check.feed(b"89"));
        assert!(check.finish());
        let mut check = Check::new(Written::Parts(&digest));
        assert!(check.feed(b"0123") && !check.feed(b"4X67"));
        let mut check = Check::new(Written::Parts(&digest));
        assert!(check.feed(b"01234567") && check.feed(b"8Y"));
        assert!(!check.finish());
    }

    #[test]
    fn bytes_are_compared_exactly() {
        let expected = Bytes::from_static(b"abcdef");
        let mut check = Check::new(Written::Bytes(&expected));
        assert!(check.feed(b"abc") && check.feed(b"def") && check.finish());
        let mut check = Check::new(Written::Bytes(&expected));
        assert!(check.feed(b"abc") && !check.feed(b"deX"));
        let mut check = Check::new(Written::Bytes(&expected));
        assert!(check.feed(b"abcdef") && !check.feed(b"g"));
    }
}
