//! A write-ahead log on seerstore: segments appended through
//! `Storage::appender`, records framed with a length and a CRC-32, many
//! committers sharing device flushes (group commit), and recovery that
//! stops at the first torn record.
//!
//! ```text
//! cargo run --example wal
//! ```
//!
//! Frame: `len: u32 LE | crc32(payload): u32 LE | payload`. A crash can
//! leave a torn frame only at the end of the last segment, past the last
//! synced length; recovery reads frames until one is short or fails its
//! CRC, and the next segment starts fresh (an appender never reopens an
//! existing object).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use seerstore::{LocalStorage, Storage, StorageAppender};

const FRAME_HEADER: usize = 8;
/// A segment is closed (finished) and a new one started past this size.
const SEGMENT_BYTES: u64 = 8 << 10;

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: a
/// WAL frame is small, and this keeps the example free of dependencies.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn frame(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_HEADER + payload.len());
    out.put_u32_le(payload.len() as u32);
    out.put_u32_le(crc32(payload));
    out.put_slice(payload);
    out.freeze()
}

/// The payloads of the whole frames at the start of `segment`, stopping at
/// the first short or corrupt one.
fn read_frames(segment: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    while segment.len() - at >= FRAME_HEADER {
        let word = |i: usize| {
            u32::from_le_bytes([segment[i], segment[i + 1], segment[i + 2], segment[i + 3]])
        };
        let (len, crc) = (word(at) as usize, word(at + 4));
        let Some(payload) = segment.get(at + FRAME_HEADER..at + FRAME_HEADER + len) else {
            break; // torn: the frame runs past the end
        };
        if crc32(payload) != crc {
            break; // torn or never written
        }
        out.push(Bytes::copy_from_slice(payload));
        at += FRAME_HEADER + len;
    }
    out
}

fn segment_key(n: u64) -> String {
    format!("wal/{n:06}.log")
}

/// Every record of every segment, in order.
async fn recover(storage: &dyn Storage) -> seerstore::Result<Vec<Bytes>> {
    use futures::TryStreamExt;
    let mut keys: Vec<String> = storage.list("wal").map_ok(|m| m.path).try_collect().await?;
    keys.sort(); // zero-padded numbers sort in order
    let mut records = Vec::new();
    for key in keys {
        records.extend(read_frames(&storage.read(&key).await?));
    }
    Ok(records)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let storage = LocalStorage::open(dir.path()).await?;

    // 8 committers, 100 commits each, on segments of about 8 KiB.
    let mut segment = 1;
    let mut log: Arc<dyn StorageAppender> = storage.appender(&segment_key(segment)).await?;
    let flushes_before = LocalStorage::append_flushes();
    for batch in 0..10u32 {
        let tasks: Vec<_> = (0..8u32)
            .map(|committer| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..10u32 {
                        let payload = format!("batch {batch} committer {committer} commit {i}");
                        log.append(frame(payload.as_bytes())).await?;
                        // Durable once sync returns: acknowledge the commit.
                        log.sync().await?;
                    }
                    Ok::<_, seerstore::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        if log.sync().await? >= SEGMENT_BYTES {
            log.finish().await?;
            segment += 1;
            log = storage.appender(&segment_key(segment)).await?;
        }
    }
    log.finish().await?;
    let flushes = LocalStorage::append_flushes() - flushes_before;
    println!("800 commits in {segment} segments, {flushes} device flushes");

    // A crash mid-append leaves a torn frame at the end of the last segment.
    let torn = frame(b"never acknowledged");
    let last = dir.path().join(segment_key(segment));
    let mut bytes = std::fs::read(&last)?;
    bytes.extend_from_slice(&torn[..torn.len() / 2]);
    std::fs::write(&last, bytes)?;

    let records = recover(&storage).await?;
    println!(
        "recovered {} records; the torn one is dropped",
        records.len()
    );
    assert_eq!(records.len(), 800);
    assert!(records.iter().all(|r| r.starts_with(b"batch ")));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
