//! Object metadata from a file's `stat`: THE version token of a local
//! object (`head`, `list`, write results and reads all use it) and its
//! `ObjectMeta`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{FileType, Stat};

use crate::storage::ObjectMeta;

/// THE version token of a file, used by `head`, `list`, write results and
/// reads alike: `"{dev:x}-{ino:x}-{mtime}-{ctime}-{size}"`, each time as
/// `secs.nanos` (nine digits). Every publish stamps its file with a
/// modification time above every other one its directory ever held (see
/// [`rename_checked`](super::dirlock::rename_checked)), so a version never
/// repeats for a key even when the filesystem hands a freed inode number
/// back within one tick of a coarse ctime; the ctime still tells apart
/// changes made in place by other programs. Written by hand: `list` makes
/// one per key, and `format!` costs as much as the `stat` behind it.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
pub(crate) fn version_of(stat: &Stat) -> String {
    let mut out = String::with_capacity(80);
    push_hex(&mut out, stat.st_dev as u64);
    out.push('-');
    push_hex(&mut out, stat.st_ino as u64);
    out.push('-');
    push_time(&mut out, stat.st_mtime as i64, stat.st_mtime_nsec as u64);
    out.push('-');
    push_time(&mut out, stat.st_ctime as i64, stat.st_ctime_nsec as u64);
    out.push('-');
    push_signed(&mut out, stat.st_size as i64);
    out
}

/// `secs.nanos`, the nanoseconds as nine digits.
fn push_time(out: &mut String, secs: i64, nanos: u64) {
    push_signed(out, secs);
    out.push('.');
    let mut digits = [b'0'; 9];
    let mut n = nanos % 1_000_000_000;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(digits.iter().map(|&d| char::from(d)));
}

fn push_hex(out: &mut String, value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut at = buf.len();
    let mut v = value;
    loop {
        at -= 1;
        buf[at] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&d| char::from(d)));
}

fn push_signed(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut v = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&d| char::from(d)));
}

/// Metadata of the regular file `key` from its `stat`.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
pub(crate) fn meta_of(key: impl Into<String>, stat: &Stat) -> ObjectMeta {
    let secs = stat.st_mtime as i64;
    let nanos = u32::try_from(stat.st_mtime_nsec as i64).unwrap_or(0);
    let last_modified = u64::try_from(secs)
        .ok()
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::new(secs, nanos)));
    ObjectMeta::new(key, u64::try_from(stat.st_size as i64).unwrap_or(0))
        .with_version(Some(version_of(stat)))
        .with_last_modified(last_modified.or(Some(SystemTime::UNIX_EPOCH)))
}

/// Whether `stat` describes a regular file.
pub(crate) fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written token is the documented format.
    #[test]
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn version_matches_the_documented_format() {
        let file = tempfile::tempfile().expect("temp file");
        let stat = rustix::fs::fstat(&file).expect("stat");
        let expected = format!(
            "{:x}-{:x}-{}.{:09}-{}.{:09}-{}",
            stat.st_dev as u64,
            stat.st_ino as u64,
            stat.st_mtime as i64,
            stat.st_mtime_nsec as u64,
            stat.st_ctime as i64,
            stat.st_ctime_nsec as u64,
            stat.st_size as i64
        );
        assert_eq!(version_of(&stat), expected);
        let mut out = String::new();
        push_signed(&mut out, -12);
        push_hex(&mut out, 0);
        push_hex(&mut out, 0xabc);
        assert_eq!(out, "-120abc");
    }

    /// Two files on one inode number with one ctime and size (a freed
    /// inode reused within a coarse tick) differ by their stamps.
    #[test]
    fn the_stamp_tells_reused_inodes_apart() {
        let file = tempfile::tempfile().expect("temp file");
        let first = rustix::fs::fstat(&file).expect("stat");
        let mut second = first;
        second.st_mtime_nsec = (first.st_mtime_nsec + 1) % 1_000_000_000;
        assert_ne!(version_of(&first), version_of(&second));
    }
}
